"""Grouping notices into arrears episodes (ärenden) and moving them through their states.

An episode belongs to a tenancy: the company plus its contract reference, or, when
the reference is missing, the personnummer (or name) plus address and apartment.
Events are placed by their EVENT DATE, not by arrival. While an episode is open its
status is the highest step of the legal chain it has reached (domain.vocabulary.EVENT_RANK).
A terminal event (settled, withdrawn, eviction executed) ends it only when no
non-terminal event of the episode is dated after it: a decision or eviction booking
dated after a settlement means the settlement did not hold, so the episode is open
again at that later status (a transition says so), and a settlement that arrives
late, dated before the episode's latest event, is kept as a notice without ending
it. On the same day the terminal event wins. A termination notice or payment order
dated after an episode became terminal (settled, withdrawn, eviction executed,
closed) opens a new episode linked to the earlier one; it is a recurrence when it
comes within ``recurrence_months``.

An episode the outcome rules (or the advisor) closed behaves the same way: a decision
or eviction booking dated after it ended re-opens it at that status, its stored
outcome is cleared and a transition says why, so a booked eviction always stays on
the advisor's list. "Ended" is the outcome date, except for an episode closed by
silence: there the outcome date only says when we stopped waiting, and any later
event of the chain shows the silence was wrong, so its last event counts. An event
dated on or before that day only joins the episode's history, and a terminal event
never moves a closed episode (the outcome rules decide on it).

A closure for silence is provisional. Any termination notice, payment order, decision
or eviction booking dated after the episode's last event and no later than the closure
plus the company's silence window (:func:`silence_reopen_until`) re-opens it: the
presumed outcome is withdrawn with a transition that says so, and it stays one episode
(no new letter, no recurrence). Only a termination notice or payment order dated later
than that opens a new, linked episode.

Two paths give the same result for events that arrive in date order:
:func:`plan_new_tenancies` (polars, for tenancies seen for the first time: the bulk
of a large file) and :func:`apply_to_existing` (plain Python, for the few tenancies
that already have episodes in the database, where each event is decided against
the stored state).

The deadline to pay (``deadline_date``) exists only where the law gives one: a
termination notice (Jordabalken 12:44) lets the tenant keep the home by paying within
``payment_days`` of its service date (delgivningsdatum). Only termination-notice rows
give the episode its service date; without one the configured margin after the
termination notice is an estimate (``deadline_estimated``: the letter then says so and
never states that date as the legal one); an episode with no termination notice known
(opened by a payment order) has no deadline, and the letter tells the tenant to ask the
landlord. The last day moves to the next working day by lag (1930:173).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from domain.formatting import sv_date
from domain.outcomes import SOURCE_SILENCE, add_months
from domain.vocabulary import (
    EVENT_LABEL_SV,
    EVENT_RANK,
    OUTCOME_LABEL_SV,
    EventType,
    OutcomeCertainty,
)
from domain.working_days import roll_to_working_day, roll_to_working_day_expr

TERMINATION = EventType.TERMINATION_NOTICE.value
OPENING_EVENTS = frozenset({TERMINATION, EventType.PAYMENT_ORDER.value})
TERMINAL_EVENTS = frozenset(
    {EventType.SETTLED.value, EventType.EVICTION_EXECUTED.value, EventType.WITHDRAWN.value}
)
PAYMENT_ORDER_OR_LATER = frozenset(
    {
        EventType.PAYMENT_ORDER.value,
        EventType.DECISION.value,
        EventType.EVICTION_SCHEDULED.value,
        EventType.EVICTION_EXECUTED.value,
    }
)
CLOSED_RANK = 6
RANKS: dict[str, int] = {str(k): v for k, v in EVENT_RANK.items()} | {"closed": CLOSED_RANK}

#: Fields an episode takes from its latest notice that has a value for them.
LATEST_FIELDS = (
    "tenant_name",
    "co_tenant_name",
    "co_tenant_personnummer",
    "street_address",
    "apartment",
    "postal_code",
    "town",
    "email",
    "phone",
    "language",
    "contract_ref",
    "debt_amount",
    "monthly_rent",
    "eviction_at",
)


@dataclass(frozen=True)
class EpisodePolicy:
    """The configured rules episodes follow (booking and outcomes sections of config)."""

    payment_days: int = 21
    deadline_margin_days: int = 28
    recurrence_months: int = 24
    # How long after a closure for silence a notice still belongs to the same chain: the
    # company's silence (outcomes.follow_up_days plus its reporting delay, domain.rhythm).
    silence_days: int = 90


def deadline(
    service_date: date | None, termination_date: date | None, policy: EpisodePolicy
) -> date | None:
    """The last day to pay and keep the home (Jordabalken 12:44), or None when there is none.

    ``service_date`` is the termination notice's service date and ``termination_date``
    the date of the (first) termination notice. Served: service + ``payment_days``;
    a termination notice with an unknown service date: its date + the configured
    margin (an estimate); no termination notice: no right to keep the home by paying,
    so no date. A last day on a weekend, public holiday or big eve moves to the next
    working day (lag 1930:173 om beräkning av lagstadgad tid).
    """
    if service_date is not None:
        last = service_date + timedelta(days=policy.payment_days)
    elif termination_date is not None:
        last = termination_date + timedelta(days=policy.deadline_margin_days)
    else:
        return None
    return roll_to_working_day(last)


def deadline_is_estimated(service_date: date | None, termination_date: date | None) -> bool:
    """True when :func:`deadline` can only estimate: a termination notice, no service date.

    The three weeks of Jordabalken 12:44 run from the day the tenant was served, which
    only the landlord knows; the configured margin after the notice date is our guess,
    and the guess may fall after the real last day.
    """
    return service_date is None and termination_date is not None


def transition_reason(event_type: str, first: bool) -> str:
    """A short Swedish reason for a status change (no personal data)."""
    label = EVENT_LABEL_SV[EventType(event_type)]
    if first:
        return f"Nytt ärende: {label} (underrättelse från hyresvärden)"
    return f"{label} (underrättelse från hyresvärden)"


def reopen_reason(event_type: str, terminal_status: str) -> str:
    """Why an ended episode is open again: a later event of the chain (no personal data)."""
    label = EVENT_LABEL_SV[EventType(event_type)]
    ended = EVENT_LABEL_SV[EventType(terminal_status)].lower()
    return (
        f"Ärendet är öppet igen: {label} har ett senare datum än {ended} "
        "(underrättelse från hyresvärden)"
    )


CERTAINTY_LABEL_SV: dict[str, str] = {
    OutcomeCertainty.CONFIRMED: "bekräftat",
    OutcomeCertainty.PRESUMED: "antaget",
}

#: The stored outcome of a closed episode, cleared when a later event re-opens it.
OUTCOME_FIELDS = ("outcome", "outcome_certainty", "outcome_date", "outcome_source")


def closed_reopen_reason(
    event_type: str, event_date: date, outcome: str | None, certainty: str | None
) -> str:
    """Why a closed episode is open again, naming the outcome it had (no personal data).

    ``Ärendet öppnat igen: Avhysning bokad 1 december 2026 efter att ärendet avslutats
    (reglerad utan insats, antaget)``: the advisor sees at once that a presumed
    settlement did not hold.
    """
    label = EVENT_LABEL_SV[EventType(event_type)]
    had = [OUTCOME_LABEL_SV.get(outcome or "", ""), CERTAINTY_LABEL_SV.get(certainty or "", "")]
    detail = ", ".join(part for part in had if part)
    suffix = f" ({detail})" if detail else ""
    return f"Ärendet öppnat igen: {label} {sv_date(event_date)} efter att ärendet avslutats{suffix}"


def silence_reopen_until(outcome_date: date | None, silence_days: int) -> date | None:
    """The last event date that re-opens an episode closed for silence instead of a new one.

    A closure for silence is provisional: a notice dated on or before it shows the
    episode was still running (we had not heard yet), and one dated after it by no more
    than the silence window belongs to the same chain too. Only a termination notice or
    payment order dated later than this opens a new (linked) episode.
    """
    if outcome_date is None:
        return None
    return outcome_date + timedelta(days=silence_days)


#: How the transition of a withdrawn closure for silence begins (counted by the demo).
PROVISIONAL_REOPEN_PREFIX = "Antaget utfall återkallat"


def provisional_reopen_reason(
    event_type: str, event_date: date, outcome: str | None, certainty: str | None
) -> str:
    """Why an episode closed for silence is open again: the presumed outcome is withdrawn.

    ``Antaget utfall återkallat (reglerad utan insats, antaget): Betalningsföreläggande
    12 maj 2026 visar att ärendet pågick; underrättelsen kom efter att ärendet avslutats
    för tystnad`` (no personal data).
    """
    label = EVENT_LABEL_SV[EventType(event_type)]
    had = [OUTCOME_LABEL_SV.get(outcome or "", ""), CERTAINTY_LABEL_SV.get(certainty or "", "")]
    detail = ", ".join(part for part in had if part)
    suffix = f" ({detail})" if detail else ""
    return (
        f"{PROVISIONAL_REOPEN_PREFIX}{suffix}: {label} {sv_date(event_date)} visar att ärendet "
        "pågick; underrättelsen kom efter att ärendet avslutats för tystnad"
    )


def _sha_column(texts: pl.Series, algorithm: str, width: int) -> pl.Series:
    """Hex digests of a string column, in chunks so a million rows stay small in memory."""
    out = []
    for start in range(0, texts.len(), 100_000):
        chunk = texts.slice(start, 100_000).to_list()
        out.append(
            pl.Series(
                [hashlib.new(algorithm, t.encode("utf-8")).hexdigest()[:width] for t in chunk],
                dtype=pl.String,
            )
        )
    return pl.concat(out) if out else pl.Series([], dtype=pl.String)


def with_keys(notices: pl.DataFrame, company_id: str) -> pl.DataFrame:
    """Add ``tenancy_key`` and ``natural_key`` (sha256 of company, contract reference,
    event type, event date and personnummer; the tenancy stands in for a missing number).

    Without a contract reference the tenancy is the personnummer (or the name) with the
    address and apartment, hashed so the key is short and holds no personal data.
    """
    ref = pl.col("contract_ref").str.to_uppercase().str.replace_all(r"\s+", "")
    notices = notices.with_columns(_ref=ref)
    address_part = pl.concat_str(
        [
            pl.coalesce(pl.col("personnummer"), "n:" + pl.col("tenant_name").str.to_lowercase()),
            pl.col("street_address").str.to_lowercase().str.replace_all(r"[\s,.]+", " "),
            pl.col("apartment").str.to_lowercase().str.replace_all(r"\s+", ""),
        ],
        separator="\x1f",
        ignore_nulls=False,
    ).fill_null("")
    without_ref = notices.select(pl.col("_ref").is_null()).to_series()
    prefix = company_id + "|"
    if without_ref.any():
        texts = notices.filter(without_ref).select(address_part).to_series()
        hashes = _sha_column(texts, "sha1", 40)
        # Put the hashes back in row order: scatter into a full-length column.
        positions = without_ref.arg_true()
        column = pl.Series([None] * notices.height, dtype=pl.String).scatter(positions, hashes)
        notices = notices.with_columns(_addr_hash=column)
    else:
        notices = notices.with_columns(_addr_hash=pl.lit(None, dtype=pl.String))
    notices = notices.with_columns(
        tenancy_key=pl.when(pl.col("_ref").is_not_null())
        .then(pl.lit(prefix + "k|") + pl.col("_ref"))
        .otherwise(pl.lit(prefix + "a|") + pl.col("_addr_hash"))
    )
    material = notices.select(
        pl.concat_str(
            [
                pl.lit(company_id),
                pl.col("_ref").fill_null(""),
                pl.col("event_type"),
                pl.col("event_date").cast(pl.String),
                pl.coalesce(pl.col("personnummer"), "t:" + pl.col("tenancy_key")),
            ],
            separator="\x1f",
        ).alias("m")
    ).to_series()
    keys = _sha_column(material, "sha256", 64)
    return notices.with_columns(natural_key=keys).drop("_ref", "_addr_hash")


def _rank_expr() -> pl.Expr:
    """The step of the legal chain an event reaches (EVENT_RANK), as an expression."""
    return pl.col("event_type").replace_strict(RANKS, return_dtype=pl.Int32)


def order_events(notices: pl.DataFrame) -> pl.DataFrame:
    """Events in the order they happened: tenancy, event date, step of the chain, row."""
    return notices.with_columns(_rank=_rank_expr()).sort(
        ["tenancy_key", "event_date", "_rank", "notice_id"]
    )


@dataclass
class NewTenancyPlan:
    """Episodes for tenancies seen for the first time, as frames ready to insert."""

    episodes: pl.DataFrame  # seg_index, prev_seg_index, and Episode columns
    assignment: pl.DataFrame  # notice_id -> seg_index
    transitions: pl.DataFrame  # seg_index, notice_id, from_status, to_status, effective_date


def plan_new_tenancies(
    notices: pl.DataFrame, policy: EpisodePolicy, received_on: date
) -> NewTenancyPlan:
    """Segment each tenancy's events into episodes, vectorised (see the module docstring).

    ``notices`` needs notice_id, tenancy_key, event_type, event_date and the
    LATEST_FIELDS, personnummer, personnummer_valid, service_date columns.
    """
    ordered = order_events(notices)
    # Integer tenancy and segment numbers (rows are sorted): windows over ints are cheap.
    first_of_tenancy = (pl.col("tenancy_key") != pl.col("tenancy_key").shift(1)).fill_null(True)
    by_tenancy = "_t"
    opening = pl.col("event_type").is_in(list(OPENING_EVENTS))
    terminal = pl.col("event_type").is_in(list(TERMINAL_EVENTS))
    ordered = ordered.with_columns(
        _t=first_of_tenancy.cast(pl.Int64).cum_sum(),
        _first=first_of_tenancy,
        _opening=opening,
        _terminal=terminal.cast(pl.Int32),
    )
    # Right after a terminal event the episode has ended (a later non-terminal event
    # re-opens it, so only the directly preceding event matters); an opening event then
    # starts a new episode. Same-day events sort terminal last, so "after" is strict.
    ordered = ordered.with_columns(
        _boundary=pl.col("_opening")
        & (pl.col("_terminal").shift(1).over(by_tenancy).fill_null(0) == 1)
    )
    ordered = ordered.with_columns(
        seg_index=(pl.col("_first") | pl.col("_boundary")).cast(pl.Int64).cum_sum() - 1,
        _seg=pl.col("_boundary").cast(pl.Int32).cum_sum().over(by_tenancy),
    )
    segment = "seg_index"
    is_terminal = pl.col("_terminal") == 1
    ordered = ordered.with_columns(
        _prev_terminal=pl.col("_terminal").shift(1).over(segment),
        _prev_type=pl.col("event_type").shift(1).over(segment),
        _run=pl.col("_terminal").cum_sum().over(segment),
    ).with_columns(
        # The open status's rank: the highest non-terminal step since the last terminal.
        _prev_max=pl.when(~is_terminal)
        .then(pl.col("_rank"))
        .cum_max()
        .shift(1)
        .over([segment, "_run"]),
        _reopen=~is_terminal & (pl.col("_prev_terminal") == 1),
    )
    ordered = ordered.with_columns(
        _is_transition=pl.col("_prev_type").is_null()
        | (
            is_terminal
            & ((pl.col("_prev_terminal") == 0) | (pl.col("event_type") != pl.col("_prev_type")))
        )
        | pl.col("_reopen")
        | (
            ~is_terminal
            & (pl.col("_prev_terminal") == 0)
            & (pl.col("_prev_max").is_null() | (pl.col("_rank") > pl.col("_prev_max")))
        )
    )
    labels = {e.value: EVENT_LABEL_SV[e] for e in EventType}
    transitions = (
        ordered.filter(pl.col("_is_transition"))
        .select(
            "seg_index",
            "notice_id",
            "_reopen",
            pl.col("event_type").alias("to_status"),
            pl.col("event_date").alias("effective_date"),
            pl.col("event_type").shift(1).over("seg_index").alias("from_status"),
        )
        .with_columns(
            reason=pl.when(pl.col("from_status").is_null())
            .then(pl.col("to_status").replace_strict(_first_reasons(), return_dtype=pl.String))
            .when(pl.col("_reopen"))
            .then(
                pl.lit("Ärendet är öppet igen: ")
                + pl.col("to_status").replace_strict(labels, return_dtype=pl.String)
                + pl.lit(" har ett senare datum än ")
                + pl.col("from_status")
                .replace_strict(labels, default="", return_dtype=pl.String)
                .str.to_lowercase()
                + pl.lit(" (underrättelse från hyresvärden)")
            )
            .otherwise(pl.col("to_status").replace_strict(_next_reasons(), return_dtype=pl.String))
        )
        .drop("_reopen")
    )
    status = transitions.group_by("seg_index").agg(
        pl.col("to_status").last().alias("status"),
        pl.col("effective_date").last().alias("_status_date"),
    )
    latest = [pl.col(name).drop_nulls().last().alias(name) for name in LATEST_FIELDS]
    episodes = (
        ordered.group_by("seg_index")
        .agg(
            pl.col("tenancy_key").first(),
            pl.col("_t").first(),
            pl.col("_seg").first(),
            *latest,
            pl.col("personnummer").drop_nulls().last().alias("personnummer"),
            pl.col("personnummer_valid")
            .filter(pl.col("personnummer").is_not_null())
            .last()
            .alias("personnummer_valid"),
            pl.col("service_date")
            .filter(pl.col("event_type") == TERMINATION)
            .drop_nulls()
            .first()
            .alias("service_date"),
            pl.col("event_date")
            .filter(pl.col("event_type") == TERMINATION)
            .min()
            .alias("_termination_date"),
            pl.col("event_date").min().alias("first_notice_date"),
            pl.col("event_date").max().alias("last_event_date"),
            pl.col("event_type")
            .is_in(list(PAYMENT_ORDER_OR_LATER))
            .any()
            .alias("reached_payment_order"),
        )
        .join(status, on="seg_index", how="left")
        .sort("seg_index")
    )
    months = policy.recurrence_months
    episodes = episodes.with_columns(
        personnummer_valid=pl.col("personnummer_valid").fill_null(False),
        opened_on=pl.lit(received_on),
        deadline_date=_deadline_expr(episodes, policy),
        deadline_estimated=(
            pl.col("service_date").is_null() & pl.col("_termination_date").is_not_null()
        ),
        prev_seg_index=pl.when(pl.col("_seg") > 0).then(pl.col("seg_index") - 1),
        _prev_terminal_on=pl.col("_status_date").shift(1).over("_t"),
    ).with_columns(
        is_recurrence=(
            pl.col("prev_seg_index").is_not_null()
            & (
                pl.col("first_notice_date")
                <= pl.col("_prev_terminal_on").dt.offset_by(f"{months}mo")
            )
        ).fill_null(False)
    )
    assignment = ordered.select("notice_id", "seg_index")
    return NewTenancyPlan(
        episodes=episodes.drop(
            "_t", "_seg", "_status_date", "_prev_terminal_on", "_termination_date"
        ),
        assignment=assignment,
        transitions=transitions,
    )


def _deadline_expr(episodes: pl.DataFrame, policy: EpisodePolicy) -> pl.Expr:
    """:func:`deadline` for a frame with ``service_date`` and ``_termination_date``."""
    last = (
        pl.when(pl.col("service_date").is_not_null())
        .then(pl.col("service_date") + pl.duration(days=policy.payment_days))
        .when(pl.col("_termination_date").is_not_null())
        .then(pl.col("_termination_date") + pl.duration(days=policy.deadline_margin_days))
        .otherwise(pl.lit(None, dtype=pl.Date))
    )
    span = episodes.select(last.min().alias("first"), last.max().alias("last"))
    first_day, last_day = span.row(0)
    if first_day is None:
        return pl.lit(None, dtype=pl.Date)
    return roll_to_working_day_expr(last, first_day.year, last_day.year)


def _first_reasons() -> dict[str, str]:
    """Transition reasons for an episode's first status, per event type."""
    return {e.value: transition_reason(e.value, True) for e in EventType}


def _next_reasons() -> dict[str, str]:
    """Transition reasons for later status changes, per event type."""
    return {e.value: transition_reason(e.value, False) for e in EventType}


# ---------------------------------------------------------------------------
# Tenancies that already have episodes: decide each event against the stored state.


@dataclass
class EpisodeState:
    """What is needed of a stored (or newly planned) episode to place an event."""

    tenancy_key: str
    status: str
    first_notice_date: date
    last_event_date: date
    status_date: date  # when the current status was reached (terminal: when it ended)
    values: dict[str, Any] = field(default_factory=dict)  # LATEST_FIELDS and the rest
    id: int | None = None  # None: new, identified by seg_index
    seg_index: int | None = None
    prev_id: int | None = None
    prev_seg_index: int | None = None
    is_recurrence: bool = False
    changed: bool = False
    reopened: bool = False  # a closed episode opened again: its stored outcome is cleared
    # Closed for silence: opening events dated up to this day re-open it (provisional).
    reopen_until: date | None = None

    @property
    def rank(self) -> int:
        """Where the current status stands in the chain (closed ranks above all)."""
        return RANKS[self.status]

    @property
    def terminal(self) -> bool:
        """Settled, executed or closed: a new notice opens a new episode."""
        return self.status in TERMINAL_EVENTS or self.status == "closed"


def status_reached_on(
    status: str,
    last_event_date: date,
    outcome_date: date | None,
    outcome_source: str | None,
    transition_date: date | None,
) -> date:
    """The day a stored episode reached its current status (closed: the day it ended).

    An episode closed by silence ended with its last event: its outcome date only says
    when we stopped waiting, so a later event of the chain re-opens it. Another closed
    episode ended on its outcome date; an open one on its latest transition into the
    status (its last event when none is stored).
    """
    if status == "closed" and outcome_source == SOURCE_SILENCE:
        return last_event_date
    if status == "closed":
        return outcome_date or last_event_date
    return transition_date or last_event_date


@dataclass
class ExistingPlan:
    """What :func:`apply_to_existing` decided."""

    episodes: list[EpisodeState]  # updated existing ones and new ones
    assignment: dict[int, EpisodeState]  # notice_id -> episode
    transitions: list[dict[str, Any]]  # episode (EpisodeState), notice_id, statuses, date


def _candidate(episodes: list[EpisodeState], event_date: date) -> EpisodeState:
    """The episode covering a date: the latest one that began on or before it, else the first."""
    ordered = sorted(episodes, key=lambda e: (e.first_notice_date, e.id or 0, e.seg_index or 0))
    covering = [e for e in ordered if e.first_notice_date <= event_date]
    return covering[-1] if covering else ordered[0]


def apply_to_existing(
    episodes: dict[str, list[EpisodeState]],
    events: list[dict[str, Any]],
    policy: EpisodePolicy,
    received_on: date,
    first_seg_index: int,
) -> ExistingPlan:
    """Place each event (sorted by date) on its tenancy's episodes; open new ones as needed.

    ``events`` are notice dicts with notice_id, tenancy_key, event_type, event_date
    and the notice fields. New episodes get seg_index numbers from ``first_seg_index``.
    """
    ordered = sorted(
        events,
        key=lambda e: (e["tenancy_key"], e["event_date"], RANKS[e["event_type"]], e["notice_id"]),
    )
    plan = ExistingPlan(episodes=[], assignment={}, transitions=[])
    touched: dict[int, EpisodeState] = {}
    next_seg = first_seg_index
    for event in ordered:
        key, kind, when = event["tenancy_key"], event["event_type"], event["event_date"]
        tenancy = episodes.setdefault(key, [])
        target = _candidate(tenancy, when) if tenancy else None
        if target is None or (
            target.terminal
            and kind in OPENING_EVENTS
            and when > (target.reopen_until or target.status_date)
        ):
            new = EpisodeState(
                tenancy_key=key,
                status=kind,
                first_notice_date=when,
                last_event_date=when,
                status_date=when,
                seg_index=next_seg,
                changed=True,
            )
            next_seg += 1
            if target is not None:
                new.prev_id, new.prev_seg_index = target.id, target.seg_index
                limit = add_months(target.status_date, policy.recurrence_months)
                new.is_recurrence = when <= limit
            new.values["opened_on"] = received_on
            tenancy.append(new)
            plan.transitions.append(_transition(new, event, None))
            _absorb(new, event, policy)
            touched[id(new)] = new
            plan.assignment[event["notice_id"]] = new
            continue
        change, reopen = _status_change(target, kind, when)
        if change:
            transition = _transition(target, event, target.status)
            if reopen and target.status == "closed":
                values = target.values
                explain = (
                    provisional_reopen_reason
                    if target.reopen_until is not None
                    else closed_reopen_reason
                )
                transition["reason"] = explain(
                    kind, when, values.get("outcome"), values.get("outcome_certainty")
                )
                target.reopen_until = None
                values.update(dict.fromkeys(OUTCOME_FIELDS))
                target.reopened = True
            elif reopen:
                transition["reason"] = reopen_reason(kind, target.status)
            plan.transitions.append(transition)
            target.status, target.status_date = kind, when
        _absorb(target, event, policy)
        target.changed = True
        touched[id(target)] = target
        plan.assignment[event["notice_id"]] = target
    plan.episodes = list(touched.values())
    return plan


def _status_change(target: EpisodeState, kind: str, when: date) -> tuple[bool, bool]:
    """Whether an event changes a stored episode's status, and whether it re-opens it.

    The same rule as :func:`plan_new_tenancies`: a terminal event ends an open episode
    unless a later-dated event of the episode is already known (same day: it ends it);
    a different terminal event dated on or after the current one replaces it; a
    non-terminal event dated after everything in an ended episode re-opens it; an open
    episode moves up the chain only. A closed episode (outcome stored) re-opens for a
    non-terminal event dated after it ended (``status_date``); terminal events and
    earlier-dated ones leave it closed (the outcome rules own its outcome).
    """
    if target.status == "closed":
        reopen = kind not in TERMINAL_EVENTS and when > target.status_date
        return reopen, reopen
    if target.status in TERMINAL_EVENTS:
        if kind in TERMINAL_EVENTS:
            return kind != target.status and when >= target.status_date, False
        reopen = when > target.last_event_date
        return reopen, reopen
    if kind in TERMINAL_EVENTS:
        return when >= target.last_event_date, False
    return RANKS[kind] > target.rank, False


def _transition(
    episode: EpisodeState, event: dict[str, Any], from_status: str | None
) -> dict[str, Any]:
    """A status change caused by one notice, for the transition table."""
    return {
        "episode": episode,
        "notice_id": event["notice_id"],
        "from_status": from_status,
        "to_status": event["event_type"],
        "effective_date": event["event_date"],
        "reason": transition_reason(event["event_type"], from_status is None),
    }


def _absorb(episode: EpisodeState, event: dict[str, Any], policy: EpisodePolicy) -> None:
    """Take the event's values: contact fields from the latest notice, dates and flags."""
    when = event["event_date"]
    values = episode.values
    if when >= episode.last_event_date or not values.get("_seen"):
        for name in LATEST_FIELDS:
            if event.get(name) is not None:
                values[name] = event[name]
        if event.get("personnummer") is not None:
            values["personnummer"] = event["personnummer"]
            values["personnummer_valid"] = bool(event.get("personnummer_valid"))
    else:
        for name in LATEST_FIELDS:
            if values.get(name) is None and event.get(name) is not None:
                values[name] = event[name]
    values["_seen"] = True
    episode.first_notice_date = min(episode.first_notice_date, when)
    episode.last_event_date = max(episode.last_event_date, when)
    if event["event_type"] in PAYMENT_ORDER_OR_LATER:
        values["reached_payment_order"] = True
    if event["event_type"] != TERMINATION:
        return  # only a termination notice gives (or moves) the deadline to pay
    if event.get("service_date") is not None and values.get("service_date") is None:
        values["service_date"] = event["service_date"]
    earlier = values.get("termination_date")
    values["termination_date"] = when if earlier is None else min(earlier, when)
    values["deadline_date"] = deadline(
        values.get("service_date"), values["termination_date"], policy
    )
    values["deadline_estimated"] = deadline_is_estimated(
        values.get("service_date"), values["termination_date"]
    )
