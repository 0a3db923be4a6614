"""Property tests: the reader never raises anything but a one-line NoticeFormatError,
every row is accounted for, and the two episode paths agree."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.notice_files import read_notice_bytes
from domain.episodes import EpisodePolicy, apply_to_existing, plan_new_tenancies, with_keys
from domain.notices import NoticeFormatError, ParseOptions, parse_notices, to_notice_rows

TODAY = date(2026, 11, 20)
HEADERS = [
    "Personnummer", "Hyresgäst", "Adress", "Lgh nr", "Kontraktsnr", "Händelse", "Datum",
    "Delgivningsdatum", "Skuld", "Månadshyra", "Avhysningsdatum", "E-post",
]  # fmt: skip
CELL_VALUES = st.one_of(
    st.text(max_size=15),
    st.sampled_from(
        [
            "", "800101-1231", "701063-2391", "12345", "Uppsägning", "Utslag", "Reglerad",
            "Avhysning bokad", "2026-11-02", "02.11.2026", "20261102", "2/11/2026",
            "2026-12-14 09:00", "12 345,50", "-5", "1e400", "=cmd()", "Andersson, Anna",
            "K1", '"', ";", "\n", "\u00a0", "NaN",
        ]
    ),
)  # fmt: skip


def _read_and_parse(data: bytes):
    raw = read_notice_bytes(data)
    options = ParseOptions(company_id="c", today=TODAY)
    return parse_notices(raw.frame, options, raw.first_data_row, raw.ragged)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    try:
        parsed = _read_and_parse(data)
    except NoticeFormatError as error:
        assert "\n" not in str(error)
        return
    assert parsed.accepted.height + parsed.rejected.height == parsed.rows_read


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(CELL_VALUES, min_size=0, max_size=14), max_size=12),
    separator=st.sampled_from([";", ",", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    title=st.booleans(),
)
def test_random_csv_shapes_account_for_every_row(
    rows: list[list[str]], separator: str, encoding: str, title: bool
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    if title:
        writer.writerow(["Export från hyresvärden"])
    writer.writerow(HEADERS)
    writer.writerows(rows)
    try:
        data = buffer.getvalue().encode(encoding)
    except UnicodeEncodeError:
        data = buffer.getvalue().encode("utf-8")
    try:
        parsed = _read_and_parse(data)
    except NoticeFormatError as error:
        assert "\n" not in str(error)
        return
    assert parsed.accepted.height + parsed.rejected.height == parsed.rows_read
    assert parsed.rows_read <= len(rows)
    assert parsed.rejected["reason"].null_count() == 0
    # every accepted row satisfies the pydantic contract of a notice row
    to_notice_rows(parsed.accepted)
    numbers = pl.concat([parsed.accepted["row_number"], parsed.rejected["row_number"]])
    assert numbers.n_unique() == numbers.len()


EVENTS = [
    "termination_notice", "payment_order", "decision", "eviction_scheduled",
    "eviction_executed", "settled", "withdrawn",
]  # fmt: skip
#: Service dates whose deadline (+ 21 days) lands on a working day, on midsummer eve
#: (rolled to Monday) and on nyårsafton (rolled over New Year).
SERVICE_DATES = [date(2022, 3, 1), date(2022, 6, 3), date(2025, 12, 10)]


@st.composite
def event_histories(draw: st.DrawFn) -> pl.DataFrame:
    """Events of a few tenancies over a few years, in date order of arrival."""
    count = draw(st.integers(min_value=1, max_value=25))
    start = date(2022, 1, 1)
    records = []
    for index in range(count):
        records.append(
            {
                "row_number": index + 2,
                "contract_ref": draw(st.sampled_from(["K1", "K2", "K3"])),
                "event_type": draw(st.sampled_from(EVENTS)),
                "event_date": start + timedelta(days=draw(st.integers(0, 1500))),
                "personnummer": "198001011231",
                "personnummer_valid": True,
                "tenant_name": draw(st.sampled_from(["A", "B", None])),
                "debt_amount": draw(st.one_of(st.none(), st.floats(0, 1e5))),
                "service_date": draw(st.one_of(st.none(), st.sampled_from(SERVICE_DATES))),
            }
        )
    frame = pl.DataFrame(records, infer_schema_length=None)
    for name in (
        "co_tenant_name", "co_tenant_personnummer", "street_address", "apartment",
        "postal_code", "town", "email", "phone", "language",
    ):  # fmt: skip
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name))
    frame = frame.with_columns(
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("eviction_at"),
        pl.col("debt_amount").cast(pl.Float64),
        pl.lit(None, dtype=pl.Float64).alias("monthly_rent"),
        pl.col("tenant_name").cast(pl.String),
        pl.col("service_date").cast(pl.Date),
    )
    return (
        with_keys(frame, "c")
        .with_row_index("notice_id")
        .with_columns(pl.col("notice_id").cast(pl.Int64))
    )


@settings(max_examples=200, deadline=None)
@given(event_histories())
def test_vectorised_and_incremental_episode_paths_agree(notices: pl.DataFrame) -> None:
    policy = EpisodePolicy()
    received = date(2026, 11, 20)
    plan = plan_new_tenancies(notices, policy, received)
    incremental = apply_to_existing({}, notices.to_dicts(), policy, received, 0)

    vectorised = sorted(
        (
            row["tenancy_key"],
            row["first_notice_date"],
            row["status"],
            row["last_event_date"],
            row["is_recurrence"],
            row["prev_seg_index"] is not None,
            row["reached_payment_order"],
            row["deadline_date"],
        )
        for row in plan.episodes.iter_rows(named=True)
    )
    python = sorted(
        (
            e.tenancy_key,
            e.first_notice_date,
            e.status,
            e.last_event_date,
            e.is_recurrence,
            e.prev_seg_index is not None,
            bool(e.values.get("reached_payment_order")),
            e.values.get("deadline_date"),
        )
        for e in incremental.episodes
    )
    assert vectorised == python
    assert plan.transitions.height == len(incremental.transitions)
    assert plan.assignment.height == notices.height == len(incremental.assignment)
    steps = sorted(
        plan.transitions.select("from_status", "to_status", "effective_date", "reason").rows(),
        key=repr,
    )
    assert steps == sorted(
        ((t["from_status"], t["to_status"], t["effective_date"], t["reason"])
         for t in incremental.transitions),
        key=repr,
    )  # fmt: skip


def _summary(episodes) -> list[tuple]:
    return sorted(
        (e.tenancy_key, e.first_notice_date, e.status, e.last_event_date, e.is_recurrence,
         e.prev_seg_index is not None or e.prev_id is not None)
        for e in episodes
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(event_histories(), st.integers(0, 1500))
def test_two_files_in_date_order_give_the_same_episodes_as_one(
    notices: pl.DataFrame, cut_days: int
) -> None:
    """Events split at a date into two deliveries (the stored-episode path decides the
    second against the first's state) end where one file through the polars path ends."""
    policy = EpisodePolicy()
    received = date(2026, 11, 20)
    cut = date(2022, 1, 1) + timedelta(days=cut_days)
    plan = plan_new_tenancies(notices, policy, received)
    states: dict = {}
    first = apply_to_existing(
        states, notices.filter(pl.col("event_date") < cut).to_dicts(), policy, received, 0
    )
    second = apply_to_existing(
        states,
        notices.filter(pl.col("event_date") >= cut).to_dicts(),
        policy,
        received,
        len(first.episodes),
    )
    stored = [e for tenancy in states.values() for e in tenancy]
    vectorised = sorted(
        (r["tenancy_key"], r["first_notice_date"], r["status"], r["last_event_date"],
         r["is_recurrence"], r["prev_seg_index"] is not None)
        for r in plan.episodes.iter_rows(named=True)
    )  # fmt: skip
    assert vectorised == _summary(stored)
    assert plan.transitions.height == len(first.transitions) + len(second.transitions)


ENDED = frozenset({"settled", "eviction_executed", "withdrawn", "closed"})


def _close_ended(states: dict) -> None:
    """What the outcome rules do between two deliveries: every ended episode is closed,
    with its outcome dated the day it ended (confirmed by the company)."""
    for tenancy in states.values():
        for episode in tenancy:
            if episode.status in ENDED:
                episode.status = "closed"
                episode.values.update(
                    outcome="settled_without_intervention",
                    outcome_certainty="confirmed",
                    outcome_date=episode.status_date,
                    outcome_source="notice:settled",
                )


@settings(max_examples=200, deadline=None)
@given(event_histories(), st.integers(0, 1500))
def test_closing_between_deliveries_does_not_change_the_episodes(
    notices: pl.DataFrame, cut_days: int
) -> None:
    """The outcome rules closing ended episodes between two files changes nothing but the
    status word: a later decision or eviction booking re-opens the closed episode where the
    one-file path re-opens the ended one, and a new termination notice or payment order
    opens the same linked episode. Terminal events after the closure leave it closed (the
    outcome rules decide on them), so they are the only transitions the paths differ in."""
    policy = EpisodePolicy()
    received = date(2026, 11, 20)
    cut = date(2022, 1, 1) + timedelta(days=cut_days)
    plan = plan_new_tenancies(notices, policy, received)
    states: dict = {}
    first = apply_to_existing(
        states, notices.filter(pl.col("event_date") < cut).to_dicts(), policy, received, 0
    )
    _close_ended(states)
    second = apply_to_existing(
        states,
        notices.filter(pl.col("event_date") >= cut).to_dicts(),
        policy,
        received,
        len(first.episodes),
    )

    def ended(status: str) -> str:
        return "ended" if status in ENDED else status

    stored = [e for tenancy in states.values() for e in tenancy]
    python = sorted(
        (e.tenancy_key, e.first_notice_date, ended(e.status), e.last_event_date,
         e.prev_seg_index is not None or e.prev_id is not None)
        for e in stored
    )  # fmt: skip
    vectorised = sorted(
        (r["tenancy_key"], r["first_notice_date"], ended(r["status"]), r["last_event_date"],
         r["prev_seg_index"] is not None)
        for r in plan.episodes.iter_rows(named=True)
    )  # fmt: skip
    # Not compared: is_recurrence. A report after the closure (settled after withdrawn)
    # moves the one-file path's end date but not the closed episode's outcome date, from
    # which the stored path counts the recurrence window (as before this rule).
    assert python == vectorised
    # Every step into an open status (new, moved up, re-opened) happens in both paths.
    open_steps = sorted(
        plan.transitions.filter(~pl.col("to_status").is_in(list(ENDED)))
        .select("to_status", "effective_date")
        .rows()
    )
    steps = [*first.transitions, *second.transitions]
    assert open_steps == sorted(
        (t["to_status"], t["effective_date"]) for t in steps if t["to_status"] not in ENDED
    )
    reopened = [t for t in second.transitions if t["from_status"] == "closed"]
    assert all(t["reason"].startswith("Ärendet öppnat igen: ") for t in reopened)
    assert all(e.values.get("outcome") is None for e in stored if e.reopened)
    assert all(e.status != "closed" for e in stored if e.reopened)
