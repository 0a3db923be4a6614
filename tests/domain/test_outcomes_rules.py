"""The outcome rules, one row per situation (pure functions, no database)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.outcomes import (
    FACTS_SCHEMA,
    INTERVENTION_KINDS,
    INTERVENTIONS,
    INTERVENTIONS_SCHEMA,
    SOURCE_ADVISOR,
    SOURCE_EXECUTED_NOTICE,
    SOURCE_SETTLED_NOTICE,
    SOURCE_SILENCE,
    SOURCE_WITHDRAWN_NOTICE,
    ActivityKind,
    OutcomeRules,
    add_months,
    decide_outcomes,
    follow_up_dates,
    is_recurrence,
    manual_settled_outcome,
    plan_follow_up_tasks,
    recurrence_links,
)
from domain.vocabulary import OPEN_STATUSES, TaskKind
from domain.working_days import add_working_days, is_working_day, roll_to_working_day

RUN = date(2026, 11, 23)
RULES = OutcomeRules(follow_up_days=90, follow_up_check_days=30)
D = date.fromisoformat


@dataclass
class Case:
    """One situation: the episode's facts, what was done, and the expected decision."""

    name: str
    status: str
    expected: tuple[str, str | None, str, str] | None  # outcome, certainty, date, source
    last_event: str = "2026-11-01"
    last_open: str | None = None
    settled: str | None = None
    executed: str | None = None
    withdrawn: str | None = None
    eviction: str | None = None
    last_activity: str | None = None
    outcome_source: str | None = None
    done: list[tuple[str, str]] = field(default_factory=list)  # (kind, date)


CASES = [
    Case("settled, nothing done", "settled",
         ("settled_without_intervention", "confirmed", "2026-11-01", SOURCE_SETTLED_NOTICE),
         settled="2026-11-01", last_open="2026-10-01"),
    Case("settled after a meeting", "settled",
         ("settled_with_support", "confirmed", "2026-11-01", SOURCE_SETTLED_NOTICE),
         settled="2026-11-01", done=[("attended", "2026-10-20")]),
    Case("settled after a phone call", "settled",
         ("settled_with_support", "confirmed", "2026-11-01", SOURCE_SETTLED_NOTICE),
         settled="2026-11-01", done=[("contacted", "2026-10-20")]),
    Case("settled after financial assistance", "settled",
         ("settled_with_support", "confirmed", "2026-11-01", SOURCE_SETTLED_NOTICE),
         settled="2026-11-01", done=[("financial_assistance", "2026-10-30")]),
    Case("settled; the caseworker acted", "settled",
         ("settled_with_support", "confirmed", "2026-11-01", SOURCE_SETTLED_NOTICE),
         settled="2026-11-01", done=[("caseworker_acted", "2026-10-25")]),
    Case("settled; only a no-show and a note: no intervention", "settled",
         ("settled_without_intervention", "confirmed", "2026-11-01", SOURCE_SETTLED_NOTICE),
         settled="2026-11-01", done=[("no_show", "2026-10-20"), ("note", "2026-10-21")]),
    Case("settled; contact only after the settlement does not count", "settled",
         ("settled_without_intervention", "confirmed", "2026-11-01", SOURCE_SETTLED_NOTICE),
         settled="2026-11-01", done=[("contacted", "2026-11-05")]),
    Case("eviction executed", "eviction_executed",
         ("evicted", "confirmed", "2026-11-10", SOURCE_EXECUTED_NOTICE),
         executed="2026-11-10", last_event="2026-11-10"),
    Case("withdrawn after a meeting: withdrawn, never settled", "withdrawn",
         ("withdrawn", "confirmed", "2026-11-01", SOURCE_WITHDRAWN_NOTICE),
         last_open="2026-10-01", done=[("attended", "2026-10-20")]),
    Case("withdrawn, an earlier settlement report too: still withdrawn", "withdrawn",
         ("withdrawn", "confirmed", "2026-11-01", SOURCE_WITHDRAWN_NOTICE),
         settled="2026-10-25", last_open="2026-10-01"),
    Case("out of order: settled arrived after the execution report but is dated earlier",
         "eviction_executed", ("evicted", "confirmed", "2026-11-10", SOURCE_EXECUTED_NOTICE),
         executed="2026-11-10", settled="2026-11-02", last_event="2026-11-10"),
    Case("out of order: execution reported, status still says settled", "settled",
         ("evicted", "confirmed", "2026-11-10", SOURCE_EXECUTED_NOTICE),
         executed="2026-11-10", settled="2026-11-12", last_event="2026-11-12"),
    Case("out of order: settlement dated after the latest open event closes by date",
         "payment_order", ("settled_without_intervention", "confirmed", "2026-11-15",
                           SOURCE_SETTLED_NOTICE),
         settled="2026-11-15", last_open="2026-11-01", last_event="2026-11-15"),
    Case("a settlement followed by a later payment order keeps the episode open",
         "payment_order", None, settled="2026-10-01", last_open="2026-11-01"),
    Case("open, news within the window", "payment_order", None, last_event="2026-09-01"),
    Case("silence after a termination notice: presumed settled", "termination_notice",
         ("settled_without_intervention", "presumed", "2026-08-30", SOURCE_SILENCE),
         last_event="2026-06-01"),
    Case("silence after a termination notice, with a meeting: presumed, with support",
         "termination_notice", ("settled_with_support", "presumed", "2026-08-30",
                                SOURCE_SILENCE),
         last_event="2026-06-01", done=[("attended", "2026-06-10")]),
    Case("silence after a payment order: unknown", "payment_order",
         ("unknown", None, "2026-08-30", SOURCE_SILENCE), last_event="2026-06-01"),
    Case("silence after a decision: unknown", "decision",
         ("unknown", None, "2026-08-30", SOURCE_SILENCE), last_event="2026-06-01"),
    Case("exactly follow_up_days of silence closes", "payment_order",
         ("unknown", None, "2026-11-23", SOURCE_SILENCE), last_event="2026-08-25"),
    Case("one day short of the window stays open", "payment_order", None,
         last_event="2026-08-26"),
    Case("a recent activity is news: stays open", "payment_order", None,
         last_event="2026-06-01", last_activity="2026-10-01"),
    Case("a booked eviction day counts as news: stays open", "eviction_scheduled", None,
         last_event="2026-06-01", eviction="2026-09-01"),
    Case("presumed earlier, settlement reported later: confirmed", "closed",
         ("settled_without_intervention", "confirmed", "2026-11-05", SOURCE_SETTLED_NOTICE),
         outcome_source=SOURCE_SILENCE, settled="2026-11-05", last_event="2026-11-05"),
    Case("unknown earlier, eviction reported later: confirmed", "closed",
         ("evicted", "confirmed", "2026-11-05", SOURCE_EXECUTED_NOTICE),
         outcome_source=SOURCE_SILENCE, executed="2026-11-05", last_event="2026-11-05"),
    Case("unknown earlier, withdrawal reported later: withdrawn, confirmed", "closed",
         ("withdrawn", "confirmed", "2026-11-05", SOURCE_WITHDRAWN_NOTICE),
         outcome_source=SOURCE_SILENCE, withdrawn="2026-11-05", last_open="2026-06-01",
         last_event="2026-11-05"),
    Case("presumed settled earlier, withdrawal reported later: withdrawn, never settled",
         "closed", ("withdrawn", "confirmed", "2026-11-05", SOURCE_WITHDRAWN_NOTICE),
         outcome_source=SOURCE_SILENCE, withdrawn="2026-11-05", last_event="2026-11-05",
         done=[("attended", "2026-06-10")]),
    Case("closed by silence, a later settlement outranks an earlier withdrawal", "closed",
         ("settled_without_intervention", "confirmed", "2026-11-10", SOURCE_SETTLED_NOTICE),
         outcome_source=SOURCE_SILENCE, withdrawn="2026-11-05", settled="2026-11-10",
         last_event="2026-11-10"),
    Case("closed by silence, withdrawal and settlement the same day: settled", "closed",
         ("settled_without_intervention", "confirmed", "2026-11-05", SOURCE_SETTLED_NOTICE),
         outcome_source=SOURCE_SILENCE, withdrawn="2026-11-05", settled="2026-11-05",
         last_event="2026-11-05"),
    Case("closed by silence, withdrawal dated before the latest open event: untouched",
         "closed", None, outcome_source=SOURCE_SILENCE, withdrawn="2026-05-01",
         last_open="2026-06-01", last_event="2026-06-01"),
    Case("closed by silence, eviction reported after a withdrawal: evicted", "closed",
         ("evicted", "confirmed", "2026-11-10", SOURCE_EXECUTED_NOTICE),
         outcome_source=SOURCE_SILENCE, withdrawn="2026-11-05", executed="2026-11-10",
         last_event="2026-11-10"),
    Case("closed by the advisor, withdrawal reported later: never re-decided", "closed", None,
         outcome_source=SOURCE_ADVISOR, withdrawn="2026-11-05"),
    Case("closed by silence, nothing new: untouched", "closed", None,
         outcome_source=SOURCE_SILENCE, last_event="2026-01-01"),
    Case("closed by the advisor: never re-decided", "closed", None,
         outcome_source=SOURCE_ADVISOR, settled="2026-11-05"),
]  # fmt: skip


def _facts(case: Case) -> pl.DataFrame:
    row = {
        "episode_id": 1,
        "status": case.status,
        "outcome_source": case.outcome_source,
        "outcome_certainty": None,
        "last_event_date": D(case.last_event),
        "last_open_event_date": D(case.last_open) if case.last_open else None,
        "settled_date": D(case.settled) if case.settled else None,
        "executed_date": D(case.executed) if case.executed else None,
        "withdrawn_date": D(case.withdrawn) if case.withdrawn else None,
        "eviction_date": D(case.eviction) if case.eviction else None,
        "last_activity_date": D(case.last_activity) if case.last_activity else None,
    }
    return pl.DataFrame([row], schema=FACTS_SCHEMA)


def _interventions(case: Case) -> pl.DataFrame:
    rows = [
        {"episode_id": 1, "on_date": D(day), "kind": kind}
        for kind, day in case.done
        if kind in INTERVENTION_KINDS
    ]
    return pl.DataFrame(rows, schema=INTERVENTIONS_SCHEMA)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_outcome_rule(case: Case) -> None:
    decided = decide_outcomes(_facts(case), _interventions(case), RUN, RULES)
    if case.expected is None:
        assert decided.is_empty()
        return
    assert decided.height == 1
    row = decided.row(0, named=True)
    outcome, certainty, day, source = case.expected
    assert (
        row["outcome"],
        row["outcome_certainty"],
        row["outcome_date"],
        row["outcome_source"],
    ) == (
        outcome,
        certainty,
        D(day),
        source,
    )
    assert row["from_status"] == case.status
    assert row["reason"] and "_" not in row["reason"]  # plain Swedish, no identifiers


def test_presumed_and_confirmed_never_mix() -> None:
    """Only silence makes a presumed outcome; only a report or a person a confirmed one."""
    for case in CASES:
        decided = decide_outcomes(_facts(case), _interventions(case), RUN, RULES)
        for row in decided.iter_rows(named=True):
            if row["outcome_source"] == SOURCE_SILENCE:
                assert row["outcome_certainty"] in (None, "presumed")
            else:
                assert row["outcome_certainty"] == "confirmed"


def test_presumed_statuses_are_configurable() -> None:
    case = Case("", "payment_order", None, last_event="2026-06-01")
    rules = OutcomeRules(presume_settled_statuses=("payment_order",))
    row = decide_outcomes(_facts(case), _interventions(case), RUN, rules).row(0, named=True)
    assert (row["outcome"], row["outcome_certainty"]) == (
        "settled_without_intervention",
        "presumed",
    )


def test_the_silence_date_does_not_move_with_the_run_date() -> None:
    case = Case("", "payment_order", None, last_event="2026-06-01")
    first = decide_outcomes(_facts(case), _interventions(case), RUN, RULES)
    later = decide_outcomes(_facts(case), _interventions(case), date(2027, 3, 1), RULES)
    assert first["outcome_date"].to_list() == later["outcome_date"].to_list() == [D("2026-08-30")]


def test_many_episodes_in_one_pass_are_sorted_by_id() -> None:
    facts = pl.concat(
        [_facts(c).with_columns(episode_id=pl.lit(i, pl.Int64)) for i, c in enumerate(CASES)]
    ).reverse()
    decided = decide_outcomes(facts, _interventions(CASES[0]).clear(), RUN, RULES)
    assert decided["episode_id"].to_list() == sorted(decided["episode_id"].to_list())
    assert decided.height == sum(1 for c in CASES if c.expected is not None)


def test_intervention_is_defined_once_with_a_reason_for_each_kind() -> None:
    assert set(INTERVENTIONS) == {
        ActivityKind.ATTENDED,
        ActivityKind.CONTACTED,
        ActivityKind.HOME_VISIT,
        ActivityKind.FINANCIAL_ASSISTANCE,
        ActivityKind.CASEWORKER_ACTED,
    }
    assert all(len(reason) > 20 for reason in INTERVENTIONS.values())
    assert ActivityKind.NO_SHOW not in INTERVENTIONS and ActivityKind.NOTE not in INTERVENTIONS


def test_follow_up_dates() -> None:
    plain = _facts(Case("", "payment_order", None, last_event="2026-11-01"))
    evict = _facts(
        Case("", "eviction_scheduled", None, last_event="2026-11-01", eviction="2026-11-20")
    ).with_columns(episode_id=pl.lit(2, pl.Int64))
    closed = _facts(Case("", "closed", None)).with_columns(episode_id=pl.lit(3, pl.Int64))
    dates = follow_up_dates(pl.concat([plain, evict, closed]), RULES)
    assert dates.rows() == [(1, D("2026-12-01")), (2, D("2026-11-21"))]


@pytest.mark.parametrize(
    ("previous_end", "opened", "expected"),
    [
        ("2024-11-23", "2026-11-23", True),  # exactly 24 months: still a recurrence
        ("2024-11-22", "2026-11-23", False),  # one day more: not
        ("2026-10-01", "2026-11-23", True),
        ("2026-12-01", "2026-11-23", False),  # still running when the new one opened
        (None, "2026-11-23", False),
    ],
)
def test_is_recurrence_window(previous_end: str | None, opened: str, expected: bool) -> None:
    end = D(previous_end) if previous_end else None
    assert is_recurrence(end, D(opened), 24) is expected


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(D("2026-01-31"), 1) == D("2026-02-28")
    assert add_months(D("2027-12-15"), 24) == D("2029-12-15")
    assert add_months(D("2026-11-30"), 3) == D("2027-02-28")


def test_recurrence_links_same_tenancy_or_same_person_within_window() -> None:
    episodes = pl.DataFrame(
        [
            (1, "bo|K1", "198001011234", D("2023-01-10"), D("2023-03-01"), None),
            (2, "bo|K1", "198001011234", D("2024-06-01"), D("2024-08-01"), None),
            (3, "bo|K9", "198001011234", D("2026-07-01"), None, None),  # moved, same person
            (4, "bo|K5", None, D("2020-01-01"), D("2020-02-01"), None),
            (5, "bo|K5", None, D("2026-09-01"), None, None),  # same tenancy, long after
            (6, "bo|K7", "199002021234", D("2026-09-01"), None, None),  # nobody before
            (7, "bo|K1", "198001011234", D("2026-10-01"), None, 2),  # ingest linked it
        ],
        schema={
            "episode_id": pl.Int64,
            "tenancy_key": pl.String,
            "personnummer": pl.String,
            "opened_on": pl.Date,
            "end_date": pl.Date,
            "previous_episode_id": pl.Int64,
        },  # fmt: skip
        orient="row",
    )
    links = recurrence_links(episodes, 24)
    assert links.rows() == [(2, 1, True), (3, 2, True), (5, 4, False)]


def test_working_days_respect_swedish_holidays() -> None:
    assert not is_working_day(D("2026-12-24"))  # Christmas Eve
    assert not is_working_day(D("2026-06-19"))  # Midsummer Eve
    assert not is_working_day(D("2026-01-06"))  # Epiphany
    assert not is_working_day(D("2026-11-21"))  # Saturday
    assert is_working_day(D("2026-11-23"))
    assert add_working_days(D("2026-12-23"), 1) == D("2026-12-28")
    assert roll_to_working_day(D("2026-11-21")) == D("2026-11-23")


def _no_shows(rows: list[tuple[int, bool, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(e, c, D(d)) for e, c, d in rows],
        schema={"episode_id": pl.Int64, "has_children": pl.Boolean, "no_show_date": pl.Date},
        orient="row",
    )


def _contacts(rows: list[tuple[int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(e, D(d)) for e, d in rows],
        schema={"episode_id": pl.Int64, "on_date": pl.Date},
        orient="row",
    )


def test_no_show_gets_a_phone_call_then_families_a_home_visit() -> None:
    no_shows = _no_shows(
        [(1, False, "2026-12-23"), (2, True, "2026-11-16"), (3, True, "2026-11-16")]
    )
    contacts = _contacts([(3, "2026-11-17")])  # household 3 was reached by phone
    plan = plan_follow_up_tasks(no_shows, contacts, date(2026, 11, 23), 1, 3)
    assert plan.rows() == [
        (1, TaskKind.PHONE_CALL, 1, D("2026-12-28")),  # over Christmas
        (2, TaskKind.HOME_VISIT, 1, D("2026-11-20")),
        (2, TaskKind.PHONE_CALL, 1, D("2026-11-17")),
        (3, TaskKind.PHONE_CALL, 1, D("2026-11-17")),
    ]


def test_home_visit_waits_until_the_call_was_due() -> None:
    plan = plan_follow_up_tasks(_no_shows([(2, True, "2026-11-20")]), _contacts([]), RUN, 1, 3)
    assert plan["kind"].to_list() == [TaskKind.PHONE_CALL]  # call due today, visit not yet


def test_each_missed_meeting_is_its_own_round() -> None:
    plan = plan_follow_up_tasks(
        _no_shows([(1, False, "2026-11-02"), (1, False, "2026-10-05")]), _contacts([]), RUN, 1, 3
    )
    assert plan.select("round", "due_date").rows() == [(1, D("2026-10-06")), (2, D("2026-11-03"))]


# --- properties over random episodes ---------------------------------------------------------

STATUSES = ["termination_notice", "payment_order", "decision", "eviction_scheduled",
            "settled", "eviction_executed", "withdrawn", "closed"]  # fmt: skip
days = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 11, 23))


@st.composite
def episode_facts(draw: st.DrawFn, episode_id: int) -> dict[str, object]:
    status = draw(st.sampled_from(STATUSES))
    return {
        "episode_id": episode_id,
        "status": status,
        "outcome_source": draw(st.sampled_from([SOURCE_SILENCE, SOURCE_ADVISOR, None]))
        if status == "closed"
        else None,
        "outcome_certainty": None,
        "last_event_date": draw(days),
        "last_open_event_date": draw(st.none() | days),
        "settled_date": draw(st.none() | days),
        "executed_date": draw(st.none() | days),
        "withdrawn_date": draw(st.none() | days),
        "eviction_date": draw(st.none() | days),
        "last_activity_date": draw(st.none() | days),
    }


@st.composite
def populations(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    n = draw(st.integers(min_value=1, max_value=25))
    facts = pl.DataFrame([draw(episode_facts(i)) for i in range(n)], schema=FACTS_SCHEMA)
    done = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), days, st.sampled_from(sorted(INTERVENTION_KINDS))),
            max_size=10,
        )
    )
    interventions = pl.DataFrame(
        [{"episode_id": e, "on_date": d, "kind": k} for e, d, k in done],
        schema=INTERVENTIONS_SCHEMA,
    )
    return facts, interventions


@settings(max_examples=100, deadline=None)
@given(populations(), st.integers(min_value=0, max_value=200))
def test_rule_invariants(population: tuple[pl.DataFrame, pl.DataFrame], later: int) -> None:
    facts, interventions = population
    run = date(2026, 11, 23)
    decided = decide_outcomes(facts, interventions, run, RULES)
    ids = decided["episode_id"].to_list()
    assert ids == sorted(set(ids))  # at most one decision per episode
    by_id = {row["episode_id"]: row for row in facts.iter_rows(named=True)}
    for row in decided.iter_rows(named=True):
        before = by_id[row["episode_id"]]
        assert before["outcome_source"] != SOURCE_ADVISOR  # a person's decision stands
        assert row["outcome_date"] is not None and row["reason"]
        if row["outcome_source"] == SOURCE_SILENCE:
            assert before["status"] in OPEN_STATUSES
            assert row["outcome_certainty"] in (None, "presumed")
            assert row["outcome_date"] <= run  # silence is only ever concluded afterwards
        else:
            assert row["outcome_certainty"] == "confirmed"
        if row["outcome"] == "evicted":
            assert before["executed_date"] is not None or before["status"] == "eviction_executed"
        if row["outcome"] == "withdrawn":
            assert before["withdrawn_date"] is not None or before["status"] == "withdrawn"
    # The same facts give the same decisions; a later run date only adds decisions.
    assert decide_outcomes(facts, interventions, run, RULES).equals(decided)
    afterwards = decide_outcomes(facts, interventions, run + timedelta(days=later), RULES)
    assert set(ids) <= set(afterwards["episode_id"].to_list())
    assert afterwards.filter(pl.col("episode_id").is_in(ids)).equals(decided)


def test_ingest_and_the_outcome_rules_use_the_same_recurrence_window() -> None:
    """Ingest flags a recurrence when it opens the episode; the rules link the rest: one
    ``add_months`` for both, clamped to the month's end."""
    from domain.episodes import add_months as ingest_add_months

    assert ingest_add_months is add_months
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)


def test_only_open_statuses_can_presume_a_settlement() -> None:
    from pydantic import ValidationError

    from flows.stages.outcomes import rules_from
    from models.config import OutcomeConfig, Settings

    with pytest.raises(ValidationError, match="unknown open status 'settled'"):
        OutcomeConfig(presume_settled_statuses=["settled"])
    rules = rules_from(Settings(outcomes=OutcomeConfig(presume_settled_statuses=["decision"])))
    assert rules.presume_settled_statuses == ("decision",)


def _recorded(*rows: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"episode_id": 1, "on_date": D(day), "kind": kind} for day, kind in rows],
        schema=INTERVENTIONS_SCHEMA,
    )


@pytest.mark.parametrize(
    ("requested", "recorded", "expected"),
    [
        # "settled": the record decides.
        ("settled", [], ("settled_without_intervention", None)),
        ("settled", [("2026-11-10", "contacted")], ("settled_with_support", "contacted")),
        # Only on or before the settlement day; a note or a no-show is no intervention.
        ("settled", [("2026-11-24", "attended")], ("settled_without_intervention", None)),
        ("settled", [("2026-11-10", "note"), ("2026-11-11", "no_show")],
         ("settled_without_intervention", None)),
        # Explicit choices that agree with the record are kept.
        ("settled_without_intervention", [], ("settled_without_intervention", None)),
        ("settled_with_support", [("2026-11-23", "financial_assistance")],
         ("settled_with_support", "financial_assistance")),
        # Explicit choices that contradict it are refused, with the reason.
        ("settled_without_intervention", [("2026-11-20", "home_visit")],
         "an intervention is recorded on or before 2026-11-23 (home_visit)"),
        ("settled_with_support", [("2026-11-24", "contacted")],
         "no intervention is recorded on or before 2026-11-23"),
    ],
)  # fmt: skip
def test_a_settlement_closed_by_hand_follows_the_recorded_interventions(
    requested: str, recorded: list[tuple[str, str]], expected: tuple | str
) -> None:
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=re.escape(expected)):
            manual_settled_outcome(requested, _recorded(*recorded), RUN)
    else:
        assert manual_settled_outcome(requested, _recorded(*recorded), RUN) == expected
