"""Episode grouping as pure functions: tenancy keys, segmentation, status by event date."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from domain.episodes import (
    EpisodePolicy,
    EpisodeState,
    add_months,
    apply_to_existing,
    deadline,
    plan_new_tenancies,
    with_keys,
)

FIELDS = (
    "tenant_name", "co_tenant_name", "co_tenant_personnummer", "street_address", "apartment",
    "postal_code", "town", "email", "phone", "language", "contract_ref",
)  # fmt: skip


def notices(*events: tuple[str | None, str, date], pnr: str = "198001011231") -> pl.DataFrame:
    """Notices as (contract_ref, event_type, event_date)."""
    frame = pl.DataFrame(
        {
            "row_number": list(range(2, 2 + len(events))),
            "contract_ref": [e[0] for e in events],
            "event_type": [e[1] for e in events],
            "event_date": [e[2] for e in events],
        },
        schema={
            "row_number": pl.Int64,
            "contract_ref": pl.String,
            "event_type": pl.String,
            "event_date": pl.Date,
        },
    ).with_columns(
        *[pl.lit(None, dtype=pl.String).alias(f) for f in FIELDS if f != "contract_ref"],
        personnummer=pl.lit(pnr),
        personnummer_valid=pl.lit(True),
        debt_amount=pl.lit(None, dtype=pl.Float64),
        monthly_rent=pl.lit(None, dtype=pl.Float64),
        service_date=pl.lit(None, dtype=pl.Date),
        eviction_at=pl.lit(None, dtype=pl.Datetime("us", "UTC")),
    )
    frame = frame.with_columns(street_address=pl.lit("Storgatan 1"), apartment=pl.lit("1001"))
    keyed = with_keys(frame, "bo")
    return keyed.with_row_index("notice_id").with_columns(pl.col("notice_id").cast(pl.Int64))


def test_tenancy_key_uses_contract_else_hashed_person_and_address() -> None:
    frame = notices(
        ("k 1", "termination_notice", date(2026, 1, 1)), (None, "decision", date(2026, 2, 1))
    )
    keys = frame["tenancy_key"].to_list()
    assert keys[0] == "bo|k|K1"
    assert keys[1].startswith("bo|a|") and "198001011231" not in keys[1]
    assert frame["natural_key"].str.len_chars().to_list() == [64, 64]


def test_same_notice_has_same_natural_key_in_any_file() -> None:
    one = notices(("K1", "termination_notice", date(2026, 1, 1)))
    two = notices(
        ("K1", "termination_notice", date(2026, 1, 1)), ("K1", "decision", date(2026, 2, 1))
    )
    assert one["natural_key"][0] == two["natural_key"][0]
    assert two["natural_key"][0] != two["natural_key"][1]


def test_status_follows_event_date_not_file_order() -> None:
    frame = notices(
        ("K1", "eviction_scheduled", date(2026, 3, 1)),
        ("K1", "termination_notice", date(2026, 1, 1)),
        ("K1", "payment_order", date(2026, 2, 1)),
    )
    plan = plan_new_tenancies(frame, EpisodePolicy(), date(2026, 3, 5))
    episode = plan.episodes.row(0, named=True)
    assert plan.episodes.height == 1
    assert episode["status"] == "eviction_scheduled"
    assert episode["first_notice_date"] == date(2026, 1, 1)
    assert episode["deadline_date"] == date(2026, 1, 29)  # no service date: notice + 28 days
    steps = plan.transitions.select("from_status", "to_status").rows()
    assert steps == [
        (None, "termination_notice"),
        ("termination_notice", "payment_order"),
        ("payment_order", "eviction_scheduled"),
    ]
    assert all("1001" not in r and "Storgatan" not in r for r in plan.transitions["reason"])


def test_new_episode_after_terminal_and_recurrence_window() -> None:
    frame = notices(
        ("K1", "termination_notice", date(2020, 1, 1)),
        ("K1", "settled", date(2020, 2, 1)),
        ("K1", "decision", date(2020, 1, 20)),  # after settlement in the file, dated before it
        ("K1", "payment_order", date(2023, 1, 1)),  # opens a new one, 35 months later
        ("K1", "eviction_executed", date(2023, 5, 1)),
        ("K1", "termination_notice", date(2024, 1, 1)),  # within 24 months: recurrence
    )
    plan = plan_new_tenancies(frame, EpisodePolicy(recurrence_months=24), date(2024, 1, 5))
    rows = (
        plan.episodes.sort("seg_index")
        .select("status", "prev_seg_index", "is_recurrence", "last_event_date")
        .rows()
    )
    assert rows == [
        ("settled", None, False, date(2020, 2, 1)),
        ("eviction_executed", 0, False, date(2023, 5, 1)),
        ("termination_notice", 1, True, date(2024, 1, 1)),
    ]


def test_existing_episode_is_moved_forward_and_late_events_do_not_move_it_back() -> None:
    state = EpisodeState(
        tenancy_key="bo|k|K1",
        status="decision",
        first_notice_date=date(2026, 1, 1),
        last_event_date=date(2026, 3, 1),
        status_date=date(2026, 3, 1),
        values={"_seen": True, "debt_amount": 5000.0},
        id=7,
    )
    frame = notices(
        ("K1", "payment_order", date(2026, 2, 1)),
        ("K1", "settled", date(2026, 3, 10)),
    )
    plan = apply_to_existing(
        {"bo|k|K1": [state]}, frame.to_dicts(), EpisodePolicy(), date(2026, 3, 12), 0
    )
    assert [e.id for e in plan.episodes] == [7]
    assert state.status == "settled" and state.status_date == date(2026, 3, 10)
    assert state.values["reached_payment_order"] is True
    assert [(t["from_status"], t["to_status"]) for t in plan.transitions] == [
        ("decision", "settled")
    ]


def test_deadline_and_months() -> None:
    policy = EpisodePolicy(payment_days=21, deadline_margin_days=28)
    assert deadline(date(2026, 11, 4), date(2026, 11, 2), policy) == date(2026, 11, 25)
    assert deadline(None, date(2026, 11, 2), policy) == date(2026, 11, 30)
    assert deadline(None, None, policy) is None  # no termination notice: no right, no date
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 2, 29), 24) == date(2026, 2, 28)


# --- the deadline to pay: lag (1930:173) and only a termination notice gives one ----------


@pytest.mark.parametrize(
    ("served", "last_day"),
    [
        (date(2026, 11, 4), date(2026, 11, 25)),  # Wednesday: unchanged
        (date(2026, 11, 7), date(2026, 11, 30)),  # Saturday 28th -> Monday
        (date(2026, 11, 8), date(2026, 11, 30)),  # Sunday 29th -> Monday
        (date(2026, 5, 29), date(2026, 6, 22)),  # Fri 19 June, midsommarafton -> Monday
        (date(2026, 12, 3), date(2026, 12, 28)),  # julafton, juldagen, annandag, Sunday
        (date(2026, 12, 10), date(2027, 1, 4)),  # nyårsafton, nyårsdagen, weekend
        (date(2026, 12, 16), date(2027, 1, 7)),  # Wed 6 January, trettondedag jul
        (date(2026, 4, 10), date(2026, 5, 4)),  # Fri 1 May -> Monday 4 May
    ],
)
def test_deadline_on_a_day_off_moves_to_the_next_working_day(served: date, last_day: date) -> None:
    policy = EpisodePolicy(payment_days=21, deadline_margin_days=28)
    assert deadline(served, None, policy) == last_day
    frame = notices(("K1", "termination_notice", served)).with_columns(service_date=pl.lit(served))
    planned = plan_new_tenancies(frame, policy, served).episodes.row(0, named=True)
    assert planned["deadline_date"] == last_day
    state = apply_to_existing({}, frame.to_dicts(), policy, served, 0).episodes[0]
    assert state.values["deadline_date"] == last_day


def test_margin_estimate_is_rolled_too() -> None:
    # Termination notice Saturday 7 Nov 2026 with unknown service: + 28 = Saturday 5 Dec.
    policy = EpisodePolicy(payment_days=21, deadline_margin_days=28)
    assert deadline(None, date(2026, 11, 7), policy) == date(2026, 12, 7)


def _with_service(frame: pl.DataFrame, served: dict[str, date]) -> pl.DataFrame:
    """Set the service date on the rows of the given event types."""
    expr = pl.lit(None, dtype=pl.Date)
    for event, day in served.items():
        expr = pl.when(pl.col("event_type") == event).then(pl.lit(day)).otherwise(expr)
    return frame.with_columns(service_date=expr)


def _both_paths(frame: pl.DataFrame) -> list[tuple[date | None, date | None]]:
    """(service_date, deadline_date) of the single episode, from both paths (must agree)."""
    policy = EpisodePolicy(payment_days=21, deadline_margin_days=28)
    planned = plan_new_tenancies(frame, policy, date(2026, 12, 1)).episodes.row(0, named=True)
    state = apply_to_existing({}, frame.to_dicts(), policy, date(2026, 12, 1), 0).episodes[0]
    return [
        (planned["service_date"], planned["deadline_date"]),
        (state.values.get("service_date"), state.values.get("deadline_date")),
    ]


def test_payment_order_episode_has_no_deadline_even_with_a_service_date() -> None:
    # A payment order's service date is not a 12:44 service: no right to keep the home.
    frame = _with_service(
        notices(("K1", "payment_order", date(2026, 11, 2)), ("K1", "decision", date(2026, 11, 20))),
        {"payment_order": date(2026, 11, 4), "decision": date(2026, 11, 23)},
    )
    assert _both_paths(frame) == [(None, None), (None, None)]


def test_service_date_comes_only_from_the_termination_notice() -> None:
    frame = _with_service(
        notices(
            ("K1", "termination_notice", date(2026, 10, 1)),
            ("K1", "payment_order", date(2026, 11, 2)),
        ),
        {"payment_order": date(2026, 11, 4), "termination_notice": date(2026, 10, 5)},
    )
    # Served Monday 5 Oct + 21 = Monday 26 Oct; the payment order's date is ignored.
    expected = (date(2026, 10, 5), date(2026, 10, 26))
    assert _both_paths(frame) == [expected, expected]


def test_termination_notice_without_service_date_uses_the_margin_not_the_payment_order() -> None:
    # The episode began with a payment order (2 Oct); the termination notice (9 Oct)
    # is what the margin counts from: 9 Oct + 28 = Friday 6 Nov.
    frame = _with_service(
        notices(
            ("K1", "payment_order", date(2026, 10, 2)),
            ("K1", "termination_notice", date(2026, 10, 9)),
        ),
        {"payment_order": date(2026, 10, 3)},
    )
    assert _both_paths(frame) == [(None, date(2026, 11, 6)), (None, date(2026, 11, 6))]


@pytest.mark.parametrize(
    ("events", "served", "estimated"),
    [
        ([("termination_notice", date(2026, 10, 1))], {}, True),  # margin: our guess
        (
            [("termination_notice", date(2026, 10, 1))],
            {"termination_notice": date(2026, 10, 5)},
            False,
        ),  # served: the law's date
        ([("payment_order", date(2026, 10, 1))], {}, False),  # no deadline at all
        (
            [("payment_order", date(2026, 10, 1)), ("termination_notice", date(2026, 10, 9))],
            {"payment_order": date(2026, 10, 3)},
            True,  # a payment order's service date is no 12:44 service
        ),
    ],
)
def test_deadline_is_marked_estimated_only_without_a_service_date(
    events: list[tuple[str, date]], served: dict[str, date], estimated: bool
) -> None:
    frame = _with_service(notices(*[("K1", kind, day) for kind, day in events]), served)
    policy = EpisodePolicy(payment_days=21, deadline_margin_days=28)
    planned = plan_new_tenancies(frame, policy, date(2026, 12, 1)).episodes.row(0, named=True)
    state = apply_to_existing({}, frame.to_dicts(), policy, date(2026, 12, 1), 0).episodes[0]
    assert planned["deadline_estimated"] is estimated
    assert bool(state.values.get("deadline_estimated")) is estimated


def test_stored_episode_gets_a_deadline_only_when_a_termination_notice_arrives() -> None:
    policy = EpisodePolicy(payment_days=21, deadline_margin_days=28)
    opened_by_order = EpisodeState(
        tenancy_key="bo|k|K1",
        status="payment_order",
        first_notice_date=date(2026, 10, 2),
        last_event_date=date(2026, 10, 2),
        status_date=date(2026, 10, 2),
        values={"_seen": True, "deadline_date": None, "termination_date": None},
        id=7,
    )
    decision = _with_service(
        notices(("K1", "decision", date(2026, 10, 20))), {"decision": date(2026, 10, 21)}
    )
    apply_to_existing({"bo|k|K1": [opened_by_order]}, decision.to_dicts(), policy, date.today(), 0)
    assert opened_by_order.values["deadline_date"] is None
    assert opened_by_order.values.get("service_date") is None

    termination = _with_service(
        notices(("K1", "termination_notice", date(2026, 10, 9))),
        {"termination_notice": date(2026, 10, 13)},
    )
    apply_to_existing(
        {"bo|k|K1": [opened_by_order]}, termination.to_dicts(), policy, date.today(), 0
    )
    # Served Tuesday 13 Oct + 21 = Tuesday 3 Nov.
    assert opened_by_order.values["service_date"] == date(2026, 10, 13)
    assert opened_by_order.values["deadline_date"] == date(2026, 11, 3)


def test_stored_margin_counts_from_the_first_termination_notice() -> None:
    policy = EpisodePolicy(payment_days=21, deadline_margin_days=28)
    stored = EpisodeState(
        tenancy_key="bo|k|K1",
        status="termination_notice",
        first_notice_date=date(2026, 10, 9),
        last_event_date=date(2026, 10, 9),
        status_date=date(2026, 10, 9),
        values={"_seen": True, "deadline_date": date(2026, 11, 6)},
        id=7,
    )
    stored.values["termination_date"] = date(2026, 10, 9)
    again = notices(("K1", "termination_notice", date(2026, 10, 16)))
    apply_to_existing({"bo|k|K1": [stored]}, again.to_dicts(), policy, date.today(), 0)
    assert stored.values["deadline_date"] == date(2026, 11, 6)  # still 9 Oct + 28


def test_withdrawn_is_terminal_and_a_later_notice_opens_a_new_episode() -> None:
    frame = notices(
        ("K1", "payment_order", date(2026, 3, 1)),
        ("K1", "withdrawn", date(2026, 4, 1)),
        ("K1", "termination_notice", date(2026, 9, 1)),
    )
    plan = plan_new_tenancies(frame, EpisodePolicy(), date(2026, 9, 5))
    rows = plan.episodes.sort("seg_index").select("status", "prev_seg_index", "is_recurrence")
    assert rows.rows() == [("withdrawn", None, False), ("termination_notice", 0, True)]
    reasons = plan.transitions.filter(pl.col("to_status") == "withdrawn")["reason"].to_list()
    assert reasons == ["Ansökan återkallad (underrättelse från hyresvärden)"]
    incremental = apply_to_existing({}, frame.to_dicts(), EpisodePolicy(), date(2026, 9, 5), 0)
    assert sorted(e.status for e in incremental.episodes) == ["termination_notice", "withdrawn"]


def test_settlement_dated_before_a_later_booking_does_not_end_the_episode() -> None:
    """The reviewer's example in one file: the booking re-opens what the settlement ended."""
    frame = notices(
        ("K1", "termination_notice", date(2026, 10, 1)),
        ("K1", "eviction_scheduled", date(2026, 11, 20)),
        ("K1", "settled", date(2026, 11, 10)),
    )
    plan = plan_new_tenancies(frame, EpisodePolicy(), date(2026, 11, 25))
    assert plan.episodes["status"].to_list() == ["eviction_scheduled"]
    steps = plan.transitions.select("from_status", "to_status", "effective_date").rows()
    assert steps == [
        (None, "termination_notice", date(2026, 10, 1)),
        ("termination_notice", "settled", date(2026, 11, 10)),
        ("settled", "eviction_scheduled", date(2026, 11, 20)),
    ]
    assert plan.transitions["reason"][2] == (
        "Ärendet är öppet igen: Avhysning bokad har ett senare datum än skulden reglerad "
        "(underrättelse från hyresvärden)"
    )
    # A termination notice after the re-opened episode belongs to it: it never ended.
    later = notices(
        ("K1", "termination_notice", date(2026, 10, 1)),
        ("K1", "settled", date(2026, 11, 10)),
        ("K1", "decision", date(2026, 11, 20)),
        ("K1", "termination_notice", date(2026, 12, 1)),
    )
    assert plan_new_tenancies(later, EpisodePolicy(), date(2026, 12, 5)).episodes.height == 1


def test_stored_booked_episode_is_not_ended_by_a_settlement_dated_before_the_booking() -> None:
    state = EpisodeState(
        tenancy_key="bo|k|K1",
        status="eviction_scheduled",
        first_notice_date=date(2026, 10, 1),
        last_event_date=date(2026, 11, 20),
        status_date=date(2026, 11, 20),
        values={"_seen": True},
        id=7,
    )
    frame = notices(("K1", "settled", date(2026, 11, 10)))
    plan = apply_to_existing(
        {"bo|k|K1": [state]}, frame.to_dicts(), EpisodePolicy(), date(2026, 11, 25), 0
    )
    assert state.status == "eviction_scheduled" and plan.transitions == []
    assert plan.assignment[0] is state  # the settlement stays in the episode's history
    # Dated on the booking's day (or later) it does end the episode.
    same_day = notices(("K1", "settled", date(2026, 11, 20)))
    apply_to_existing(
        {"bo|k|K1": [state]}, same_day.to_dicts(), EpisodePolicy(), date(2026, 11, 25), 0
    )
    assert state.status == "settled"


def _closed(
    status_date: date, *, last_event: date, outcome: str, certainty: str | None, source: str
) -> EpisodeState:
    """A stored episode the outcome rules closed, as ingest loads it."""
    return EpisodeState(
        tenancy_key="bo|k|K1",
        status="closed",
        first_notice_date=date(2026, 3, 1),
        last_event_date=last_event,
        status_date=status_date,
        values={
            "_seen": True,
            "outcome": outcome,
            "outcome_certainty": certainty,
            "outcome_date": status_date,
            "outcome_source": source,
        },
        id=7,
    )


def test_booking_after_a_presumed_settlement_reopens_the_closed_episode() -> None:
    """Closed by silence after a decision: a later eviction booking opens it again."""
    state = _closed(
        date(2026, 5, 1),  # silence: ended with its last event
        last_event=date(2026, 5, 1),
        outcome="settled_without_intervention",
        certainty="presumed",
        source="rule:silence",
    )
    frame = notices(("K1", "eviction_scheduled", date(2026, 12, 1)))
    plan = apply_to_existing(
        {"bo|k|K1": [state]}, frame.to_dicts(), EpisodePolicy(), date(2026, 12, 2), 0
    )
    assert state.status == "eviction_scheduled" and state.reopened
    assert plan.episodes == [state] and plan.assignment[0] is state
    assert [state.values[k] for k in ("outcome", "outcome_certainty", "outcome_date")] == [
        None,
        None,
        None,
    ]
    assert state.values["outcome_source"] is None
    (step,) = plan.transitions
    assert (step["from_status"], step["to_status"], step["effective_date"]) == (
        "closed",
        "eviction_scheduled",
        date(2026, 12, 1),
    )
    assert step["reason"] == (
        "Ärendet öppnat igen: Avhysning bokad 1 december 2026 efter att ärendet avslutats "
        "(reglerad utan insats, antaget)"
    )


@pytest.mark.parametrize("kind", ["decision", "eviction_scheduled"])
def test_event_on_or_before_the_outcome_date_stays_in_history(kind: str) -> None:
    state = _closed(
        date(2026, 6, 1),
        last_event=date(2026, 6, 1),
        outcome="settled_with_support",
        certainty="confirmed",
        source="notice:settled",
    )
    frame = notices(("K1", kind, date(2026, 6, 1)), ("K1", kind, date(2026, 5, 1)))
    plan = apply_to_existing(
        {"bo|k|K1": [state]}, frame.to_dicts(), EpisodePolicy(), date(2026, 6, 5), 0
    )
    assert state.status == "closed" and not state.reopened and plan.transitions == []
    assert state.values["outcome"] == "settled_with_support"
    assert len(plan.assignment) == 2
    assert all(episode is state for episode in plan.assignment.values())


def test_terminal_event_after_closure_does_not_reopen() -> None:
    state = _closed(
        date(2026, 6, 1),
        last_event=date(2026, 6, 1),
        outcome="unknown",
        certainty=None,
        source="rule:silence",
    )
    frame = notices(("K1", "settled", date(2026, 7, 1)))
    plan = apply_to_existing(
        {"bo|k|K1": [state]}, frame.to_dicts(), EpisodePolicy(), date(2026, 7, 2), 0
    )
    assert state.status == "closed" and plan.transitions == [] and not state.reopened


@pytest.mark.parametrize("kind", ["termination_notice", "payment_order"])
def test_opening_event_after_closure_still_opens_a_linked_episode(kind: str) -> None:
    """A new notice of the chain's start is a new debt: a new episode, as after settled."""
    state = _closed(
        date(2026, 6, 1),
        last_event=date(2026, 6, 1),
        outcome="settled_without_intervention",
        certainty="confirmed",
        source="notice:settled",
    )
    frame = notices(("K1", kind, date(2026, 9, 1)))
    plan = apply_to_existing(
        {"bo|k|K1": [state]}, frame.to_dicts(), EpisodePolicy(), date(2026, 9, 2), 0
    )
    assert state.status == "closed" and not state.reopened
    (new,) = plan.episodes
    assert (new.status, new.prev_id, new.is_recurrence) == (kind, 7, True)


def test_reopened_episode_is_closed_again_by_a_later_settlement() -> None:
    state = _closed(
        date(2026, 6, 1),
        last_event=date(2026, 6, 1),
        outcome="settled_without_intervention",
        certainty="confirmed",
        source="notice:settled",
    )
    frame = notices(("K1", "decision", date(2026, 7, 1)), ("K1", "settled", date(2026, 8, 1)))
    plan = apply_to_existing(
        {"bo|k|K1": [state]}, frame.to_dicts(), EpisodePolicy(), date(2026, 8, 2), 0
    )
    assert [(t["from_status"], t["to_status"]) for t in plan.transitions] == [
        ("closed", "decision"),
        ("decision", "settled"),
    ]
    assert state.status == "settled" and state.reopened
    assert plan.transitions[0]["reason"].endswith("(reglerad utan insats, bekräftat)")
