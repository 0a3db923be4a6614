"""Outcome rules: how an arrears episode ends, and what counts as intervention.

Pure functions over polars frames (no database, no I/O), so that the daily stage
applies them to every episode in one pass and the tests drive them with one row
per situation.

Two things are kept apart everywhere:

* **confirmed** outcomes come from a report: the housing company or Kronofogden
  said the debt was settled or the eviction executed, or the advisor recorded a
  move or a withdrawal;
* **presumed** outcomes are inferred from silence: no news for
  ``outcomes.follow_up_days`` after the last event, plus the company's reporting delay
  (:mod:`domain.rhythm`), and never while a booked meeting waits to be held or a
  follow-up task is open. A closure for silence is provisional: a notice dated before it
  re-opens the episode (:mod:`domain.episodes`). Only silence after the statuses
  in ``outcomes.presume_settled_statuses`` is read as "settled"; every other
  silence closes the episode with the outcome *unknown* (certainty left empty,
  because nothing is presumed about it).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import polars as pl

from domain.vocabulary import (
    OPEN_STATUSES,
    STATUS_LABEL_SV,
    EpisodeStatus,
    Outcome,
    OutcomeCertainty,
    TaskKind,
)
from domain.working_days import non_working_weekdays


class ActivityKind(StrEnum):
    """What the advisor or a caseworker recorded for an episode (``Activity.kind``)."""

    ATTENDED = "attended"
    NO_SHOW = "no_show"
    CONTACTED = "contacted"
    HOME_VISIT = "home_visit"
    NOTE = "note"
    FINANCIAL_ASSISTANCE = "financial_assistance"
    CASEWORKER_ACTED = "caseworker_acted"


#: What counts as intervention, defined once, each with its reason. A settlement after any
#: of these (on or before the settlement date) is "settled with support"; without any of
#: them it is "settled without intervention" (the Upplands Väsby measure). Being known to
#: social services is not itself an intervention: only the caseworker acting on the arrears
#: counts. A no-show or a note is not contact with the household.
INTERVENTIONS: dict[ActivityKind, str] = {
    ActivityKind.ATTENDED: "the tenant came to a meeting with the housing advisor",
    ActivityKind.CONTACTED: "the advisor or caseworker reached the household by phone",
    ActivityKind.HOME_VISIT: "a home visit was made",
    ActivityKind.FINANCIAL_ASSISTANCE: "financial assistance (ekonomiskt bistånd) was granted",
    ActivityKind.CASEWORKER_ACTED: "the caseworker the episode was routed to acted on it",
}

INTERVENTION_KINDS: frozenset[str] = frozenset(str(kind) for kind in INTERVENTIONS)

#: What was recorded, in plain Swedish, for lists and timelines.
ACTIVITY_LABEL_SV: dict[str, str] = {
    ActivityKind.ATTENDED: "kom till mötet",
    ActivityKind.NO_SHOW: "uteblev från mötet",
    ActivityKind.CONTACTED: "kontakt per telefon",
    ActivityKind.HOME_VISIT: "hembesök",
    ActivityKind.NOTE: "anteckning",
    ActivityKind.FINANCIAL_ASSISTANCE: "ekonomiskt bistånd beviljat",
    ActivityKind.CASEWORKER_ACTED: "handläggaren har agerat",
}

#: The interventions in plain Swedish, for transition reasons.
INTERVENTION_LABEL_SV: dict[str, str] = {
    ActivityKind.ATTENDED: "besök hos boenderådgivaren",
    ActivityKind.CONTACTED: "kontakt per telefon",
    ActivityKind.HOME_VISIT: "hembesök",
    ActivityKind.FINANCIAL_ASSISTANCE: "ekonomiskt bistånd",
    ActivityKind.CASEWORKER_ACTED: "handläggarens insats",
}

#: Where an outcome came from (``Episode.outcome_source``).
SOURCE_SETTLED_NOTICE = "notice:settled"
SOURCE_EXECUTED_NOTICE = "notice:eviction_executed"
SOURCE_WITHDRAWN_NOTICE = "notice:withdrawn"
SOURCE_SILENCE = "rule:silence"
SOURCE_ADVISOR = "advisor"

#: ``episodes close --outcome settled``: settled, with or without support as recorded.
SETTLED = "settled"

#: The two settled outcomes: which one is decided by :data:`INTERVENTIONS`, not by hand.
SETTLED_OUTCOMES: tuple[str, ...] = (
    Outcome.SETTLED_WITHOUT_INTERVENTION.value,
    Outcome.SETTLED_WITH_SUPPORT.value,
)

#: Outcomes the advisor may set by hand (``kvarboende episodes close``).
MANUAL_OUTCOMES: tuple[str, ...] = (SETTLED, *(str(o) for o in Outcome))


@dataclass(frozen=True)
class OutcomeRules:
    """The configurable part of the rules (``[outcomes]`` in config.toml)."""

    follow_up_days: int = 90
    follow_up_check_days: int = 30
    presume_settled_statuses: tuple[str, ...] = (EpisodeStatus.TERMINATION_NOTICE,)
    recurrence_months: int = 24


#: Columns :func:`decide_outcomes` expects, with their types.
FACTS_SCHEMA: dict[str, pl.DataType] = {
    "episode_id": pl.Int64(),
    "status": pl.String(),
    "outcome_source": pl.String(),  # of an already closed episode, else null
    "outcome_certainty": pl.String(),
    "last_event_date": pl.Date(),  # latest notice event date (by date, not by arrival)
    "last_open_event_date": pl.Date(),  # latest termination/payment order/decision/scheduled
    "settled_date": pl.Date(),  # latest "settled" notice date
    "executed_date": pl.Date(),  # latest "eviction_executed" notice date
    "withdrawn_date": pl.Date(),  # latest "withdrawn" notice date
    "eviction_date": pl.Date(),  # the booked eviction day (Stockholm), if any
    "last_activity_date": pl.Date(),
}

#: Columns of the interventions frame: one row per intervening activity or attended meeting.
INTERVENTIONS_SCHEMA: dict[str, pl.DataType] = {
    "episode_id": pl.Int64(),
    "on_date": pl.Date(),
    "kind": pl.String(),
}

DECISION_SCHEMA: dict[str, pl.DataType] = {
    "episode_id": pl.Int64(),
    "from_status": pl.String(),
    "outcome": pl.String(),
    "outcome_certainty": pl.String(),
    "outcome_date": pl.Date(),
    "outcome_source": pl.String(),
    "reason": pl.String(),
}


def last_news_expr() -> pl.Expr:
    """The latest date anything was heard or done: events, activities, the eviction day.

    The eviction day counts because an episode must never close by silence before the
    day Kronofogden is due to carry the eviction out.
    """
    return pl.max_horizontal("last_event_date", "last_activity_date", "eviction_date")


#: Optional fact columns and their defaults: the company's waits (domain.rhythm) and what
#: still keeps an episode busy. Facts without them behave as before: the configured days.
WAIT_COLUMNS: dict[str, pl.DataType] = {
    "silence_days": pl.Int64(),  # follow_up_days + the company's reporting delay
    "check_days": pl.Int64(),  # follow_up_check_days + the company's reporting delay
    "meeting_pending": pl.Boolean(),  # a booked meeting not yet held and recorded
    "task_open": pl.Boolean(),  # an open follow-up task (phone call, home visit)
}


def with_waits(facts: pl.DataFrame, rules: OutcomeRules) -> pl.DataFrame:
    """The facts in :data:`FACTS_SCHEMA` plus :data:`WAIT_COLUMNS`, defaults filled in."""
    defaults = {
        "silence_days": pl.lit(rules.follow_up_days, dtype=pl.Int64),
        "check_days": pl.lit(rules.follow_up_check_days, dtype=pl.Int64),
        "meeting_pending": pl.lit(False),
        "task_open": pl.lit(False),
    }
    columns = [
        pl.col(name).cast(kind).fill_null(defaults[name]).alias(name)
        if name in facts.columns
        else defaults[name].alias(name)
        for name, kind in WAIT_COLUMNS.items()
    ]
    return facts.select(*[pl.col(name).cast(kind) for name, kind in FACTS_SCHEMA.items()], *columns)


def decide_outcomes(
    facts: pl.DataFrame, interventions: pl.DataFrame, run_date: date, rules: OutcomeRules
) -> pl.DataFrame:
    """The outcome of every episode in ``facts`` that should close (or be confirmed) today.

    Rules, first match wins:

    1. an executed eviction was reported (whatever else was reported, in whatever order):
       ``evicted``, confirmed, dated by the eviction notice;
    2. the application was withdrawn (status ``withdrawn``, or a withdrawal reported for
       an episode closed by silence, dated on or after its latest open event and after
       any settlement report: on the same day the settlement says more): ``withdrawn``,
       confirmed, dated by the withdrawal notice; a withdrawal is not a paid debt, so it
       never counts as settled (with or without intervention);
    3. a settlement was reported and no later-dated open event followed it (or the status
       is ``settled``): settled with support / without intervention, confirmed;
    4. an open episode with no news for ``silence_days`` (``follow_up_days`` plus the
       company's reporting delay), no booked meeting pending and no open follow-up task:
       settled (presumed) after the
       statuses in ``presume_settled_statuses``, otherwise unknown; dated the day the
       window ran out, so a rerun on a later day stores the same date.

    Episodes closed earlier by rule 4 are re-decided when a confirming report arrives
    later (presumed → confirmed); outcomes set by the advisor are never touched.
    Intervention counts only when it happened on or before the outcome date.
    Returns one row per decision with the :data:`DECISION_SCHEMA` columns.
    """
    frame = with_waits(facts, rules)
    is_closed = pl.col("status") == EpisodeStatus.CLOSED
    silence_closed = is_closed & (pl.col("outcome_source") == SOURCE_SILENCE)
    open_status = pl.col("status").is_in(OPEN_STATUSES)
    candidate = ~is_closed | silence_closed

    executed = candidate & (
        pl.col("executed_date").is_not_null()
        | (pl.col("status") == EpisodeStatus.EVICTION_EXECUTED)
    )
    late_withdrawal = (
        silence_closed
        & pl.col("withdrawn_date").is_not_null()
        & (
            pl.col("last_open_event_date").is_null()
            | (pl.col("withdrawn_date") >= pl.col("last_open_event_date"))
        )
        & (pl.col("settled_date").is_null() | (pl.col("withdrawn_date") > pl.col("settled_date")))
    )
    withdrawn = (
        candidate & ~executed & ((pl.col("status") == EpisodeStatus.WITHDRAWN) | late_withdrawal)
    )
    settled = (
        candidate
        & ~executed
        & ~withdrawn
        & (
            (pl.col("status") == EpisodeStatus.SETTLED)
            | (
                pl.col("settled_date").is_not_null()
                & (
                    pl.col("last_open_event_date").is_null()
                    | (pl.col("settled_date") >= pl.col("last_open_event_date"))
                )
            )
        )
    )
    silence_date = last_news_expr() + pl.duration(days=pl.col("silence_days"))
    # Silence never closes an episode whose booked meeting has not been held and recorded,
    # nor one with an open follow-up task: somebody is still working on it.
    busy = pl.col("meeting_pending") | pl.col("task_open")
    silent = open_status & ~executed & ~settled & ~busy & (silence_date <= pl.lit(run_date))
    presumable = pl.col("status").is_in(list(rules.presume_settled_statuses))

    decided = frame.with_columns(
        rule=pl.when(executed)
        .then(pl.lit("executed"))
        .when(withdrawn)
        .then(pl.lit("withdrawn"))
        .when(settled)
        .then(pl.lit("settled"))
        .when(silent & presumable)
        .then(pl.lit("presumed_settled"))
        .when(silent)
        .then(pl.lit("unknown"))
        .otherwise(pl.lit(None, dtype=pl.String)),
        outcome_date=pl.when(executed)
        .then(pl.coalesce("executed_date", "last_event_date"))
        .when(withdrawn)
        .then(pl.coalesce("withdrawn_date", "last_event_date"))
        .when(settled)
        .then(pl.coalesce("settled_date", "last_event_date"))
        .when(silent)
        .then(silence_date)
        .otherwise(pl.lit(None, dtype=pl.Date)),
    ).filter(pl.col("rule").is_not_null())

    helped = (
        decided.select("episode_id", "outcome_date")
        .join(interventions.cast(INTERVENTIONS_SCHEMA), on="episode_id", how="inner")  # type: ignore[arg-type]
        .filter(pl.col("on_date") <= pl.col("outcome_date"))
        .group_by("episode_id")
        .agg(pl.col("kind").sort().first().alias("intervention"))
    )
    decided = decided.join(helped, on="episode_id", how="left")
    supported = pl.col("intervention").is_not_null()
    settled_outcome = (
        pl.when(supported)
        .then(pl.lit(Outcome.SETTLED_WITH_SUPPORT.value))
        .otherwise(pl.lit(Outcome.SETTLED_WITHOUT_INTERVENTION.value))
    )
    rule = pl.col("rule")
    help_text = (
        pl.when(supported)
        .then(
            pl.lit("med stöd (")
            + pl.col("intervention").replace(INTERVENTION_LABEL_SV)
            + pl.lit(")")
        )
        .otherwise(pl.lit("utan insats"))
    )
    date_text = pl.col("outcome_date").dt.strftime("%Y-%m-%d")
    out = decided.with_columns(
        from_status=pl.col("status"),
        outcome=pl.when(rule == "executed")
        .then(pl.lit(Outcome.EVICTED.value))
        .when(rule == "withdrawn")
        .then(pl.lit(Outcome.WITHDRAWN.value))
        .when(rule == "unknown")
        .then(pl.lit(Outcome.UNKNOWN.value))
        .otherwise(settled_outcome),
        outcome_certainty=pl.when(rule.is_in(["executed", "withdrawn", "settled"]))
        .then(pl.lit(OutcomeCertainty.CONFIRMED.value))
        .when(rule == "presumed_settled")
        .then(pl.lit(OutcomeCertainty.PRESUMED.value))
        .otherwise(pl.lit(None, dtype=pl.String)),
        outcome_source=pl.when(rule == "executed")
        .then(pl.lit(SOURCE_EXECUTED_NOTICE))
        .when(rule == "withdrawn")
        .then(pl.lit(SOURCE_WITHDRAWN_NOTICE))
        .when(rule == "settled")
        .then(pl.lit(SOURCE_SETTLED_NOTICE))
        .otherwise(pl.lit(SOURCE_SILENCE)),
        reason=pl.when(rule == "executed")
        .then(pl.lit("Avhysningen verkställd enligt anmälan ") + date_text)
        .when(rule == "withdrawn")
        .then(pl.lit("Ansökan återkallad enligt hyresvärden ") + date_text)
        .when(rule == "settled")
        .then(pl.lit("Skulden reglerad enligt hyresvärden ") + date_text + pl.lit(", ") + help_text)
        .when(rule == "presumed_settled")
        .then(
            pl.format("Inga nya händelser på {} dagar efter ", pl.col("silence_days"))
            + pl.col("status").replace(STATUS_LABEL_SV)
            + pl.lit(": antas reglerad, ")
            + help_text
        )
        .otherwise(
            pl.format("Inga nya händelser på {} dagar efter ", pl.col("silence_days"))
            + pl.col("status").replace(STATUS_LABEL_SV)
            + pl.lit(": utfall okänt")
        ),
    )
    # A silence-closed episode is only re-decided when a report confirms its outcome.
    out = out.filter(
        ~(
            (pl.col("status") == EpisodeStatus.CLOSED)
            & (rule.is_in(["unknown", "presumed_settled"]))
        )
    )
    return out.select(list(DECISION_SCHEMA)).sort("episode_id")


def first_intervention(interventions: pl.DataFrame, outcome_date: date) -> str | None:
    """The intervention kind a settlement on ``outcome_date`` counts as support from, if any.

    The same rule as :func:`decide_outcomes`: only what happened on or before the
    outcome date counts; when there are several, the first kind by name (stable).
    """
    kinds = (
        interventions.cast(INTERVENTIONS_SCHEMA)  # type: ignore[arg-type]
        .filter(
            pl.col("kind").is_in(sorted(INTERVENTION_KINDS))
            & (pl.col("on_date") <= pl.lit(outcome_date))
        )["kind"]
        .sort()
    )
    return kinds[0] if len(kinds) else None


def manual_settled_outcome(
    requested: str, interventions: pl.DataFrame, outcome_date: date
) -> tuple[str, str | None]:
    """The settled outcome to store when the advisor closes an episode as settled.

    ``settled`` is decided by the recorded interventions (with support if any counts,
    else without intervention). An explicit choice that contradicts the record is
    refused with the reason (``ValueError``): the Upplands Väsby measure "settled
    without intervention" must mean the same whether a rule or a person set it.
    Returns the outcome and the intervention it rests on (None: none).
    """
    support = first_intervention(interventions, outcome_date)
    with_support, without = SETTLED_OUTCOMES[1], SETTLED_OUTCOMES[0]
    derived = with_support if support else without
    if requested == Outcome.SETTLED_WITHOUT_INTERVENTION and support:
        raise ValueError(
            f"an intervention is recorded on or before {outcome_date.isoformat()} "
            f"({support}): the outcome is settled_with_support "
            "(use --outcome settled to let the record decide)"
        )
    if requested == Outcome.SETTLED_WITH_SUPPORT and not support:
        raise ValueError(
            f"no intervention is recorded on or before {outcome_date.isoformat()}: record it "
            "first (kvarboende record contacted|home-visit|attended|financial-aid|"
            "caseworker-acted), or use --outcome settled"
        )
    return derived, support


def follow_up_dates(facts: pl.DataFrame, rules: OutcomeRules) -> pl.DataFrame:
    """When the advisor should ask about each open episode: ``episode_id, follow_up_date``.

    No news for ``follow_up_check_days`` (plus the company's reporting delay, column
    ``check_days``: a quarterly company is silent for months by design) puts the episode
    on the worklist (section 7),
    well before the silence rule closes it, so that the advisor can ask the landlord
    and turn an unknown outcome into a known one. A booked eviction day that has passed
    without a report is due the day after.
    """
    frame = with_waits(facts, rules)
    checked = last_news_expr() + pl.duration(days=pl.col("check_days"))
    after_eviction = pl.col("eviction_date") + pl.duration(days=1)
    return (
        frame.filter(pl.col("status").is_in(OPEN_STATUSES))
        .select(
            "episode_id",
            follow_up_date=pl.when(pl.col("eviction_date").is_not_null())
            .then(pl.min_horizontal(checked, after_eviction))
            .otherwise(checked),
        )
        .sort("episode_id")
    )


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def is_recurrence(previous_end: date | None, opened_on: date, months: int) -> bool:
    """A new episode is a recurrence when it opens within ``months`` after the earlier ended.

    The window runs from the end of the earlier episode (its outcome date, else its last
    event), because the Upplands Väsby measure is "settled, then came back with a new
    debt". Inclusive at both ends: exactly 24 months later still counts. An episode that
    opened while the earlier one was still running is concurrent, not a recurrence.
    """
    if previous_end is None:
        return False
    return previous_end <= opened_on <= add_months(previous_end, months)


def recurrence_links(episodes: pl.DataFrame, months: int) -> pl.DataFrame:
    """Earlier episodes of the same tenant or tenancy that new ones should be linked to.

    ``episodes`` has ``episode_id, tenancy_key, personnummer (valid only, else null),
    opened_on, end_date, previous_episode_id``. For every episode not yet linked, the
    latest earlier episode (same tenancy key, or same personnummer: a tenant who moved
    and fell behind again) that ended before it opened is found; the result has
    ``episode_id, previous_episode_id, is_recurrence`` (within ``months`` of the end).
    Ingest links a new notice on the same tenancy when it arrives; this finds the rest
    (same person, other tenancy) and never touches a link that exists. An earlier
    episode outside the window is still linked, for the history, but not flagged.
    """
    base = episodes.select(
        pl.col("episode_id").cast(pl.Int64),
        pl.col("tenancy_key").cast(pl.String),
        pl.col("personnummer").cast(pl.String),
        pl.col("opened_on").cast(pl.Date),
        pl.col("end_date").cast(pl.Date),
        pl.col("previous_episode_id").cast(pl.Int64),
    )
    earlier = base.select(
        prev_id="episode_id",
        prev_tenancy="tenancy_key",
        prev_pnr="personnummer",
        prev_opened="opened_on",
        prev_end="end_date",
    ).filter(pl.col("prev_end").is_not_null())
    unlinked = base.filter(pl.col("previous_episode_id").is_null())
    by_tenancy = unlinked.join(earlier, left_on="tenancy_key", right_on="prev_tenancy")
    by_person = unlinked.filter(pl.col("personnummer").is_not_null()).join(
        earlier, left_on="personnummer", right_on="prev_pnr"
    )
    columns = ["episode_id", "opened_on", "prev_id", "prev_opened", "prev_end"]
    candidates = (
        pl.concat([by_tenancy.select(columns), by_person.select(columns)])
        .filter(
            (pl.col("prev_id") != pl.col("episode_id"))
            & (pl.col("prev_opened") < pl.col("opened_on"))
            & (pl.col("prev_end") <= pl.col("opened_on"))
        )
        .sort(["episode_id", "prev_end", "prev_id"], descending=[False, True, True])
        .unique(subset="episode_id", keep="first", maintain_order=True)
        .select(
            "episode_id", previous_episode_id="prev_id", prev_end="prev_end", opened_on="opened_on"
        )
    )
    window_end = pl.col("prev_end").dt.offset_by(f"{months}mo")
    return candidates.select(
        "episode_id",
        "previous_episode_id",
        is_recurrence=pl.col("opened_on") <= window_end,
    ).sort("episode_id")


def plan_follow_up_tasks(
    no_shows: pl.DataFrame, contacts: pl.DataFrame, run_date: date, phone_days: int, visit_days: int
) -> pl.DataFrame:
    """Which no-show tasks should exist on ``run_date``: ``episode_id, kind, round, due_date``.

    ``no_shows``: ``episode_id, has_children, no_show_date`` (one row per missed meeting;
    ``has_children`` null when nobody knows, which counts as yes: the safe side until the
    advisor records the answer);
    ``contacts``: ``episode_id, on_date`` of activities that reached the household.
    Round n is the n-th missed meeting of the episode. A phone call is due
    ``phone_days`` working days after the missed meeting; households with children that
    were not reached by the time the call was due also get a home visit, due
    ``visit_days`` working days after the call (the Malmö routine).
    """
    if no_shows.is_empty():
        return pl.DataFrame(
            schema={
                "episode_id": pl.Int64,
                "kind": pl.String,
                "round": pl.Int64,
                "due_date": pl.Date,
            }
        )
    first: date = no_shows["no_show_date"].min()  # type: ignore[assignment] # a Date column
    last: date = max(no_shows["no_show_date"].max(), run_date)  # type: ignore[type-var,assignment]
    free_days = non_working_weekdays(first.year, last.year + 1)
    rounds = no_shows.sort(["episode_id", "no_show_date"]).with_columns(
        round=pl.col("no_show_date").rank("ordinal").over("episode_id").cast(pl.Int64),
        phone_due=pl.col("no_show_date").dt.add_business_days(
            phone_days, holidays=free_days, roll="forward"
        ),
    )
    phone = rounds.select(
        "episode_id", kind=pl.lit(TaskKind.PHONE_CALL), round="round", due_date="phone_due"
    )
    reached = (
        rounds.join(contacts, on="episode_id", how="inner")
        .filter(pl.col("on_date") >= pl.col("no_show_date"))
        .select("episode_id", "round")
        .unique()
    )
    visits = (
        rounds.filter(
            pl.col("has_children").fill_null(True) & (pl.col("phone_due") < pl.lit(run_date))
        )
        .join(reached, on=["episode_id", "round"], how="anti")
        .select(
            "episode_id",
            kind=pl.lit(TaskKind.HOME_VISIT),
            round="round",
            due_date=pl.col("phone_due").dt.add_business_days(
                visit_days, holidays=free_days, roll="forward"
            ),
        )
    )
    return pl.concat([phone, visits]).sort(["episode_id", "round", "kind"])
