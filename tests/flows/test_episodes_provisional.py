"""Issue 15: a closure for silence is provisional, and silence follows the company's rhythm.

The example of the issue: a termination notice of 31 March, received 1 April; the
quarterly file of 1 July brings a payment order dated 12 May. Under the old rule the
episode closed for silence on 29 June and the payment order opened a second episode
(a recurrence, with a second letter). Now the quarterly rhythm keeps it open, and a
closure for silence that did happen is withdrawn by the late notice.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
from notice_rows import notice
from sqlalchemy import select
from test_ingest_stage import ANNA, canonical, make_settings, write

from domain.episodes import EpisodePolicy, EpisodeState, apply_to_existing
from domain.outcomes import OutcomeRules, decide_outcomes
from domain.rhythm import DELIVERIES_SCHEMA, ReportingRhythm, measure_rhythms
from flows.stages.outcomes import apply_outcome_rules
from models.db import session_scope
from models.tables import Episode, EpisodeTransition
from services.ingest import ingest_file

D = date.fromisoformat
RULES = OutcomeRules(follow_up_days=90, follow_up_check_days=30)


# --- domain: re-opening a closure for silence ----------------------------------------------


def _closed_for_silence(last: date, closed_on: date, silence_days: int) -> EpisodeState:
    state = EpisodeState(
        tenancy_key="bo|k|K1",
        status="closed",
        first_notice_date=last,
        last_event_date=last,
        status_date=last,  # status_reached_on: a silence closure ended with its last event
        id=7,
        values={
            "outcome": "settled_without_intervention",
            "outcome_certainty": "presumed",
            "_seen": True,
        },
        reopen_until=closed_on + timedelta(days=silence_days),
    )
    return state


def _event(kind: str, when: date, notice_id: int = 1) -> dict:
    return {
        "notice_id": notice_id,
        "tenancy_key": "bo|k|K1",
        "event_type": kind,
        "event_date": when,
    }


def test_a_notice_dated_before_the_closure_reopens_the_same_episode() -> None:
    state = _closed_for_silence(D("2026-03-31"), D("2026-06-29"), 90)
    plan = apply_to_existing(
        {"bo|k|K1": [state]},
        [_event("payment_order", D("2026-05-12"))],
        EpisodePolicy(),
        D("2026-07-01"),
        0,
    )
    assert [e.id for e in plan.episodes] == [7]  # no new episode
    assert state.status == "payment_order" and state.reopened
    assert state.values["outcome"] is None and state.values["outcome_certainty"] is None
    (transition,) = plan.transitions
    assert transition["from_status"] == "closed" and transition["to_status"] == "payment_order"
    assert transition["reason"].startswith(
        "Antaget utfall återkallat (reglerad utan insats, antaget): Betalningsföreläggande "
        "12 maj 2026 visar att ärendet pågick"
    )


def test_a_notice_just_after_the_closure_but_inside_the_window_still_reopens() -> None:
    state = _closed_for_silence(D("2026-03-31"), D("2026-06-29"), 90)
    plan = apply_to_existing(
        {"bo|k|K1": [state]},
        [_event("termination_notice", D("2026-09-27"))],
        EpisodePolicy(),
        D("2026-10-01"),
        0,
    )
    assert [e.id for e in plan.episodes] == [7]


def test_a_notice_beyond_the_silence_window_opens_a_new_linked_recurrence() -> None:
    state = _closed_for_silence(D("2026-03-31"), D("2026-06-29"), 90)
    plan = apply_to_existing(
        {"bo|k|K1": [state]},
        [_event("termination_notice", D("2026-09-28"))],
        EpisodePolicy(),
        D("2026-10-01"),
        0,
    )
    (new,) = plan.episodes
    assert new.id is None and new.prev_id == 7 and new.is_recurrence
    assert state.status == "closed" and not state.reopened


def test_an_older_notice_only_joins_the_history() -> None:
    state = _closed_for_silence(D("2026-03-31"), D("2026-06-29"), 90)
    plan = apply_to_existing(
        {"bo|k|K1": [state]},
        [_event("payment_order", D("2026-03-20"))],
        EpisodePolicy(),
        D("2026-07-01"),
        0,
    )
    assert plan.transitions == [] and state.status == "closed"


# --- domain: the reporting rhythm --------------------------------------------------------


def _deliveries(rows: list[tuple[str, str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(c, D(r), D(e), n) for c, r, e, n in rows], schema=DELIVERIES_SCHEMA, orient="row"
    )


def test_rhythm_is_measured_from_days_between_files_and_lag() -> None:
    rows = []
    for received in ("2026-01-02", "2026-04-01", "2026-07-01"):  # quarterly
        day = D(received)
        rows += [
            ("kvartal", received, (day - timedelta(days=d)).isoformat(), 1) for d in (3, 40, 85)
        ]
    for received in ("2026-06-01", "2026-06-02", "2026-06-03", "2026-06-05"):  # daily
        rows.append(("daglig", received, (D(received) - timedelta(days=1)).isoformat(), 2))
    rhythms = measure_rhythms(_deliveries(rows), {"konfig": 30})
    quarterly = rhythms["kvartal"]
    assert (quarterly.interval_days, quarterly.lag_days, quarterly.files) == (91, 3, 3)
    assert quarterly.delay_days == 94 and quarterly.silence_days(90) == 184
    daily = rhythms["daglig"]
    assert (daily.interval_days, daily.lag_days, daily.delay_days) == (2, 1, 3)
    assert rhythms["konfig"] == ReportingRhythm("konfig", interval_days=30, configured=True)


def test_a_single_file_measures_its_period_by_the_span_of_its_events() -> None:
    rows = [("kvartal", "2026-04-01", d, 1) for d in ("2026-01-05", "2026-02-10", "2026-03-30")]
    rhythm = measure_rhythms(_deliveries(rows))["kvartal"]
    assert rhythm.interval_days == 84 and rhythm.lag_days == 2
    assert rhythm.delay_days == 86  # the event lag (86 for 5 January) is no longer


# --- domain: what keeps silence from closing -------------------------------------------------


def _facts(**extra: object) -> pl.DataFrame:
    row = {
        "episode_id": 1,
        "status": "termination_notice",
        "outcome_source": None,
        "outcome_certainty": None,
        "last_event_date": D("2026-03-31"),
        "last_open_event_date": D("2026-03-31"),
        "settled_date": None,
        "executed_date": None,
        "withdrawn_date": None,
        "eviction_date": None,
        "last_activity_date": None,
        **extra,
    }
    return pl.DataFrame([row])


def _interventions() -> pl.DataFrame:
    return pl.DataFrame(schema={"episode_id": pl.Int64, "on_date": pl.Date, "kind": pl.String})


def test_silence_waits_for_the_company_rhythm() -> None:
    run = D("2026-06-29")  # 90 days after 31 March
    assert decide_outcomes(_facts(), _interventions(), run, RULES).height == 1
    waits = _facts(silence_days=184)
    assert decide_outcomes(waits, _interventions(), run, RULES).is_empty()
    decided = decide_outcomes(waits, _interventions(), D("2026-10-01"), RULES)
    assert decided["outcome_date"].to_list() == [D("2026-10-01")]
    assert decided["reason"].to_list()[0].startswith("Inga nya händelser på 184 dagar")


def test_no_closure_for_silence_before_a_booked_meeting_or_with_an_open_task() -> None:
    run = D("2026-09-01")
    for blocked in ({"meeting_pending": True}, {"task_open": True}):
        assert decide_outcomes(_facts(**blocked), _interventions(), run, RULES).is_empty()
    # A reported settlement still closes it: that is news, not silence.
    settled = _facts(meeting_pending=True, settled_date=D("2026-04-10"))
    assert decide_outcomes(settled, _interventions(), run, RULES)["outcome"].to_list() == [
        "settled_without_intervention"
    ]


# --- the example end to end, SQLite and PostgreSQL ----------------------------------


def _ingest(engine, settings, tmp_path: Path, name: str, *rows: dict[str, str], on: date) -> None:  # noqa: ANN001
    path = write(tmp_path, name, canonical(*rows))
    assert ingest_file(engine, settings, path, "vasbyhem", received_on=on).accepted == len(rows)


def _episodes(engine) -> list[tuple]:  # noqa: ANN001
    with session_scope(engine) as session:
        rows = session.execute(
            select(Episode.id, Episode.status, Episode.outcome, Episode.is_recurrence).order_by(
                Episode.id
            )
        ).all()
        return [tuple(r) for r in rows]


def test_a_quarterly_company_keeps_one_episode_per_debt(db_engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    other = notice(
        personnummer="19900101-1239",
        tenant_name="Bo Berg",
        street_address="Vägen 2",
        apartment="1002",
        postal_code="12345",
        town="Exempelby",
        contract_ref="K9",
    )
    # The quarterly company's rhythm: Q4 and Q1 files, events spread over each quarter.
    _ingest(db_engine, settings, tmp_path, "q4.csv",
            notice(**other, event_type="termination_notice", event_date="2025-10-06",
                   debt_amount="9000"),
            notice(**other, event_type="settled", event_date="2025-12-20"),
            on=D("2026-01-02"))  # fmt: skip
    _ingest(db_engine, settings, tmp_path, "q1.csv",
            notice(**ANNA, event_type="termination_notice", event_date="2026-03-31",
                   debt_amount="12000"),
            on=D("2026-04-01"))  # fmt: skip
    for day in ("2026-06-29", "2026-06-30"):
        counts = apply_outcome_rules(db_engine, settings, D(day))
        assert "settled_without_intervention_presumed" not in counts
    _ingest(db_engine, settings, tmp_path, "q2.csv",
            notice(**ANNA, event_type="payment_order", event_date="2026-05-12",
                   debt_amount="12450"),
            on=D("2026-07-01"))  # fmt: skip
    episodes = [e for e in _episodes(db_engine) if e[1] != "closed"]
    assert [(status, recurrence) for _, status, _, recurrence in episodes] == [
        ("payment_order", False)
    ]


def test_a_presumed_settlement_is_withdrawn_by_a_late_notice(db_engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    _ingest(db_engine, settings, tmp_path, "1.csv",
            notice(**ANNA, event_type="termination_notice", event_date="2026-03-31",
                   debt_amount="12000"),
            on=D("2026-04-01"))  # fmt: skip
    assert apply_outcome_rules(db_engine, settings, D("2026-07-01"))["closed"] == 1
    (closed,) = _episodes(db_engine)
    assert closed[1:3] == ("closed", "settled_without_intervention")
    _ingest(db_engine, settings, tmp_path, "2.csv",
            notice(**ANNA, event_type="payment_order", event_date="2026-05-12",
                   debt_amount="12450"),
            on=D("2026-07-20"))  # fmt: skip
    assert _episodes(db_engine) == [(closed[0], "payment_order", None, False)]
    with session_scope(db_engine) as session:
        reasons = session.scalars(
            select(EpisodeTransition.reason).order_by(EpisodeTransition.id)
        ).all()
        assert reasons[-1].startswith("Antaget utfall återkallat")
        assert session.get(Episode, closed[0]).outcome_source is None


def test_the_statistics_of_an_unfrozen_month_follow_a_withdrawn_presumption(
    db_engine, tmp_path: Path
) -> None:
    from flows.stages.statistics import refresh_stat_facts_for
    from models.tables import StatFact

    settings = make_settings(tmp_path)

    def presumed_in_june() -> float:
        refresh_stat_facts_for(db_engine, settings, ["2026-06"], today=D("2026-08-01"))
        with session_scope(db_engine) as session:
            return sum(
                session.scalars(
                    select(StatFact.value).where(
                        StatFact.month == "2026-06",
                        StatFact.metric == "outcomes",
                        StatFact.dimension.like("%:presumed"),
                    )
                ).all()
            )

    _ingest(db_engine, settings, tmp_path, "1.csv",
            notice(**ANNA, event_type="termination_notice", event_date="2026-03-31",
                   debt_amount="12000"),
            on=D("2026-04-01"))  # fmt: skip
    apply_outcome_rules(db_engine, settings, D("2026-07-01"))  # closed 30 June (90 + 1 days)
    assert presumed_in_june() == 1
    _ingest(db_engine, settings, tmp_path, "2.csv",
            notice(**ANNA, event_type="payment_order", event_date="2026-05-12",
                   debt_amount="12450"),
            on=D("2026-07-20"))  # fmt: skip
    assert presumed_in_june() == 0


def test_a_booked_meeting_keeps_a_silent_episode_open(db_engine, tmp_path: Path) -> None:
    from outcome_factories import appointment, utc

    settings = make_settings(tmp_path)
    _ingest(db_engine, settings, tmp_path, "1.csv",
            notice(**ANNA, event_type="termination_notice", event_date="2026-03-31",
                   debt_amount="12000"),
            on=D("2026-04-01"))  # fmt: skip
    (episode,) = _episodes(db_engine)
    with session_scope(db_engine) as session:
        appointment(session, episode[0], utc(2026, 7, 10))  # booked, later than the silence
    assert apply_outcome_rules(db_engine, settings, D("2026-07-01"))["closed"] == 0
    # Still booked after its day (nobody recorded it): still open; the worklist asks.
    assert apply_outcome_rules(db_engine, settings, D("2026-08-01"))["closed"] == 0
    assert _episodes(db_engine)[0][1] == "termination_notice"


def test_the_no_news_check_waits_for_the_rhythm_too() -> None:
    from domain.outcomes import follow_up_dates

    facts = pl.concat(
        [_facts(check_days=None), _facts(episode_id=2, check_days=124)], how="diagonal_relaxed"
    )
    dates = follow_up_dates(facts, RULES)["follow_up_date"].to_list()
    assert dates == [D("2026-04-30"), D("2026-08-02")]
