"""Outcome rules, follow-up tasks and recordings against SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from outcome_factories import (
    NAME,
    PNR,
    STREET,
    appointment,
    company,
    episode,
    notice,
    settings_for,
    utc,
)
from sqlalchemy import func, select

from domain.outcomes import ActivityKind
from flows.stages.outcomes import (
    apply_outcome_rules,
    close_episode,
    create_follow_up_tasks,
    record_activity,
)
from models.db import session_scope
from models.errors import KvarboendeError
from models.tables import Activity, Appointment, AuditLog, Episode, EpisodeTransition, Task

RUN = date(2026, 11, 23)


def _count(engine, model) -> int:  # noqa: ANN001
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_rules_close_episodes_once_with_transitions(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    file_id = company(db_engine)
    with session_scope(db_engine) as s:
        settled = episode(s, 1, status="settled", last_event_date=date(2026, 11, 5))
        notice(s, file_id, settled.id, "payment_order", date(2026, 10, 1))
        notice(s, file_id, settled.id, "settled", date(2026, 11, 5))
        appointment(s, settled.id, utc(2026, 10, 26), status="attended")
        evicted = episode(s, 2, status="eviction_executed", last_event_date=date(2026, 11, 12))
        notice(s, file_id, evicted.id, "eviction_executed", date(2026, 11, 12))
        quiet = episode(s, 3, status="termination_notice", last_event_date=date(2026, 6, 1))
        notice(s, file_id, quiet.id, "termination_notice", date(2026, 6, 1))
        lost = episode(s, 4, status="payment_order", last_event_date=date(2026, 6, 1))
        notice(s, file_id, lost.id, "payment_order", date(2026, 6, 1))
        running = episode(s, 5, status="payment_order", last_event_date=date(2026, 11, 2))
        notice(s, file_id, running.id, "payment_order", date(2026, 11, 2))
        ids = [settled.id, evicted.id, quiet.id, lost.id, running.id]

    counts = apply_outcome_rules(db_engine, settings, RUN)
    assert counts["closed"] == 4
    assert counts["settled_with_support_confirmed"] == 1
    assert counts["evicted_confirmed"] == 1
    assert counts["settled_without_intervention_presumed"] == 1
    assert counts["unknown_uncertain"] == 1

    with session_scope(db_engine) as s:
        rows = {e.id: e for e in s.scalars(select(Episode).where(Episode.id.in_(ids)))}
        got = [
            (rows[i].status, rows[i].outcome, rows[i].outcome_certainty, rows[i].outcome_date,
             rows[i].outcome_source)
            for i in ids
        ]  # fmt: skip
        assert got == [
            ("closed", "settled_with_support", "confirmed", date(2026, 11, 5), "notice:settled"),
            ("closed", "evicted", "confirmed", date(2026, 11, 12), "notice:eviction_executed"),
            ("closed", "settled_without_intervention", "presumed", date(2026, 8, 30),
             "rule:silence"),
            ("closed", "unknown", None, date(2026, 8, 30), "rule:silence"),
            ("payment_order", None, None, None, None),
        ]  # fmt: skip
        assert rows[running.id].follow_up_date == date(2026, 12, 2)
        transitions = s.scalars(select(EpisodeTransition).order_by(EpisodeTransition.id)).all()
        assert [
            (t.episode_id, t.from_status, t.to_status, t.effective_date) for t in transitions
        ] == [
            (ids[0], "settled", "closed", date(2026, 11, 5)),
            (ids[1], "eviction_executed", "closed", date(2026, 11, 12)),
            (ids[2], "termination_notice", "closed", date(2026, 8, 30)),
            (ids[3], "payment_order", "closed", date(2026, 8, 30)),
        ]
        assert all(t.reason for t in transitions)

    again = apply_outcome_rules(db_engine, settings, RUN)
    assert again["closed"] == 0 and again["follow_up_dates_set"] == 0
    assert _count(db_engine, EpisodeTransition) == 4


def test_a_late_report_confirms_a_presumed_outcome(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    file_id = company(db_engine)
    with session_scope(db_engine) as s:
        quiet = episode(s, 1, status="termination_notice", last_event_date=date(2026, 6, 1))
        notice(s, file_id, quiet.id, "termination_notice", date(2026, 6, 1))
    apply_outcome_rules(db_engine, settings, date(2026, 9, 1))
    with session_scope(db_engine) as s:
        notice(s, file_id, quiet.id, "settled", date(2026, 9, 10))
    counts = apply_outcome_rules(db_engine, settings, RUN)
    assert counts["confirmed_after_presumed"] == 1
    with session_scope(db_engine) as s:
        row = s.get(Episode, quiet.id)
        assert (row.outcome, row.outcome_certainty, row.outcome_source, row.outcome_date) == (
            "settled_without_intervention", "confirmed", "notice:settled", date(2026, 9, 10)
        )  # fmt: skip
        last = s.scalars(select(EpisodeTransition).order_by(EpisodeTransition.id.desc())).first()
        assert (last.from_status, last.to_status) == ("closed", "closed")
        assert last.reason.startswith("Utfallet bekräftat")
    assert apply_outcome_rules(db_engine, settings, RUN)["closed"] == 0


def test_a_late_withdrawal_upgrades_a_silence_closure_to_withdrawn(
    db_engine, tmp_path: Path
) -> None:
    """Closed as 'unknown' for lack of news; the landlord then reports the application
    withdrawn: the outcome becomes withdrawn (confirmed), once, never settled."""
    settings = settings_for(tmp_path)
    file_id = company(db_engine)
    with session_scope(db_engine) as s:
        quiet = episode(s, 1, status="payment_order", last_event_date=date(2026, 6, 1))
        notice(s, file_id, quiet.id, "payment_order", date(2026, 6, 1))
    apply_outcome_rules(db_engine, settings, date(2026, 9, 1))
    with session_scope(db_engine) as s:
        row = s.get(Episode, quiet.id)
        assert (row.status, row.outcome, row.outcome_source) == (
            "closed",
            "unknown",
            "rule:silence",
        )
        notice(s, file_id, quiet.id, "withdrawn", date(2026, 9, 14))
    counts = apply_outcome_rules(db_engine, settings, RUN)
    assert counts["confirmed_after_presumed"] == 1 and counts["withdrawn_confirmed"] == 1
    with session_scope(db_engine) as s:
        row = s.get(Episode, quiet.id)
        assert (row.outcome, row.outcome_certainty, row.outcome_source, row.outcome_date) == (
            "withdrawn", "confirmed", "notice:withdrawn", date(2026, 9, 14)
        )  # fmt: skip
        last = s.scalars(select(EpisodeTransition).order_by(EpisodeTransition.id.desc())).first()
        assert (last.from_status, last.to_status) == ("closed", "closed")
        assert last.reason.startswith("Utfallet bekräftat: Ansökan återkallad")
    assert apply_outcome_rules(db_engine, settings, RUN)["closed"] == 0


def test_recurrence_is_linked_for_the_same_person_in_another_tenancy(
    db_engine, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    company(db_engine)
    with session_scope(db_engine) as s:
        old = episode(s, 1, status="closed", outcome="settled_without_intervention",
                      outcome_certainty="confirmed", outcome_source="notice:settled",
                      outcome_date=date(2025, 6, 1), opened_on=date(2025, 3, 1))  # fmt: skip
        new = episode(s, 2, opened_on=date(2026, 11, 2))
        stranger = episode(s, 3, personnummer="199001011239", opened_on=date(2026, 11, 2))
        ids = (old.id, new.id, stranger.id)
    counts = apply_outcome_rules(db_engine, settings, RUN)
    assert counts["recurrence_links_made"] == 1
    with session_scope(db_engine) as s:
        new_row, stranger_row = s.get(Episode, ids[1]), s.get(Episode, ids[2])
        assert (new_row.previous_episode_id, new_row.is_recurrence) == (ids[0], True)
        assert (stranger_row.previous_episode_id, stranger_row.is_recurrence) == (None, False)
    assert apply_outcome_rules(db_engine, settings, RUN)["recurrence_links_made"] == 0


def test_no_show_tasks_are_created_once_and_closed_by_contact(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    company(db_engine)
    with session_scope(db_engine) as s:
        family = episode(s, 1, has_children=True, children_count=2)
        single = episode(s, 2, has_children=False)
        nobody_asked = episode(s, 3)  # children unknown: a home visit too (the safe side)
        appointment(s, family.id, utc(2026, 11, 16), status="no_show")
        appointment(s, single.id, utc(2026, 11, 16), status="no_show")
        appointment(s, nobody_asked.id, utc(2026, 11, 16), status="no_show")
        family_id, single_id, unknown_id = family.id, single.id, nobody_asked.id

    counts = create_follow_up_tasks(db_engine, settings, RUN)
    assert counts["tasks_created"] == 5
    assert create_follow_up_tasks(db_engine, settings, RUN)["tasks_created"] == 0
    with session_scope(db_engine) as s:
        columns = (Task.episode_id, Task.kind, Task.round, Task.due_date, Task.status)
        tasks = s.execute(select(*columns).order_by(Task.episode_id, Task.kind)).all()
    assert [tuple(t) for t in tasks] == [
        (family_id, "home_visit", 1, date(2026, 11, 20), "open"),
        (family_id, "phone_call", 1, date(2026, 11, 17), "open"),
        (single_id, "phone_call", 1, date(2026, 11, 17), "open"),
        (unknown_id, "home_visit", 1, date(2026, 11, 20), "open"),
        (unknown_id, "phone_call", 1, date(2026, 11, 17), "open"),
    ]

    record_activity(db_engine, single_id, ActivityKind.CONTACTED, by="anna", on_date=RUN)
    close_episode(db_engine, family_id, "moved_out", by="anna", on_date=RUN)
    with session_scope(db_engine) as s:
        statuses = dict(s.execute(select(Task.episode_id, Task.status)
                                  .where(Task.kind == "phone_call")).all())  # fmt: skip
        assert statuses == {family_id: "cancelled", single_id: "done", unknown_id: "open"}
    assert create_follow_up_tasks(db_engine, settings, RUN)["tasks_created"] == 0


def test_recordings_update_the_meeting_and_are_audited_without_personal_data(
    db_engine, tmp_path: Path
) -> None:
    company(db_engine)
    with session_scope(db_engine) as s:
        row = episode(s, 1)
        booked = appointment(s, row.id, utc(2026, 11, 23))
        bare = episode(s, 2)
        ids = (row.id, booked.id, bare.id)
    record_activity(db_engine, ids[0], ActivityKind.NO_SHOW, by="anna", on_date=RUN,
                    text=f"{NAME} ringde inte")  # fmt: skip
    with session_scope(db_engine) as s:
        assert s.get(Appointment, ids[1]).status == "no_show"
    record_activity(db_engine, ids[0], ActivityKind.CONTACTED, by="karin", on_date=RUN)
    with pytest.raises(KvarboendeError, match="already recorded as missed"):
        record_activity(db_engine, ids[0], ActivityKind.ATTENDED, by="karin", on_date=RUN)
    with session_scope(db_engine) as s:
        assert s.get(Appointment, ids[1]).status == "no_show"
        kinds = s.scalars(select(Activity.kind).order_by(Activity.id)).all()
        assert kinds == ["no_show", "contacted"]
        audit_rows = s.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        assert {(a.actor, a.action) for a in audit_rows} >= {
            ("anna", "record_no_show"),
            ("karin", "record_contacted"),
            ("anna", "appointment_no_show"),
        }
        assert ("karin", "record_attended") not in {(a.actor, a.action) for a in audit_rows}
        for entry in audit_rows:
            text = f"{entry.detail} {entry.entity_id}"
            assert NAME not in text and PNR not in text and STREET not in text

    with pytest.raises(KvarboendeError, match="no booked appointment"):
        record_activity(db_engine, ids[2], ActivityKind.ATTENDED, by="anna", on_date=RUN)
    with pytest.raises(KvarboendeError, match="not found"):
        record_activity(db_engine, 999_999, ActivityKind.NOTE, by="anna", on_date=RUN)


def test_closing_by_hand(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    file_id = company(db_engine)
    with session_scope(db_engine) as s:
        row = episode(s, 1)
        quiet = episode(s, 2, status="payment_order", last_event_date=date(2026, 6, 1))
        notice(s, file_id, quiet.id, "payment_order", date(2026, 6, 1))
        ids = (row.id, quiet.id)
    closed_by_hand = close_episode(db_engine, ids[0], "moved_out", by="anna", on_date=RUN)
    assert closed_by_hand.previous_status == "payment_order"
    assert closed_by_hand.outcome == "moved_out"
    with session_scope(db_engine) as s:
        closed = s.get(Episode, ids[0])
        assert (closed.status, closed.outcome, closed.outcome_certainty, closed.outcome_source) == (
            "closed", "moved_out", "confirmed", "advisor"
        )  # fmt: skip
    with pytest.raises(KvarboendeError, match="already closed"):
        close_episode(db_engine, ids[0], "withdrawn", by="anna", on_date=RUN)
    with pytest.raises(KvarboendeError, match="unknown outcome"):
        close_episode(db_engine, ids[1], "vanished", by="anna", on_date=RUN)

    apply_outcome_rules(db_engine, settings, RUN)  # closes the quiet one: unknown
    close_episode(db_engine, ids[1], "withdrawn", by="anna", on_date=RUN)  # the advisor knows
    with session_scope(db_engine) as s:
        assert s.get(Episode, ids[1]).outcome == "withdrawn"
    assert apply_outcome_rules(db_engine, settings, RUN)["closed"] == 0


def test_the_daily_stages_rerun_for_the_same_date_change_nothing(db_engine, tmp_path: Path) -> None:
    from flows.stages.worklist import write_worklists
    from models.tables import Letter, WorklistRun

    settings = settings_for(tmp_path)
    file_id = company(db_engine)
    with session_scope(db_engine) as s:
        family = episode(s, 1, has_children=True, opened_on=RUN)
        appointment(s, family.id, utc(2026, 11, 16), status="no_show")
        quiet = episode(s, 2, status="termination_notice", last_event_date=date(2026, 6, 1))
        notice(s, file_id, quiet.id, "termination_notice", date(2026, 6, 1))
        settled = episode(s, 3, status="settled", last_event_date=date(2026, 11, 20))
        notice(s, file_id, settled.id, "settled", date(2026, 11, 20))

    def run() -> list[dict[str, int]]:
        return [
            apply_outcome_rules(db_engine, settings, RUN),
            create_follow_up_tasks(db_engine, settings, RUN),
            write_worklists(db_engine, settings, RUN),
        ]

    def state() -> dict[str, object]:
        with session_scope(db_engine) as s:
            return {
                "episodes": s.execute(
                    select(
                        Episode.id,
                        Episode.status,
                        Episode.outcome,
                        Episode.outcome_date,
                        Episode.follow_up_date,
                    ).order_by(Episode.id)  # fmt: skip
                ).all(),
                "tasks": s.execute(
                    select(
                        Task.episode_id, Task.kind, Task.round, Task.due_date, Task.status
                    ).order_by(Task.id)
                ).all(),
                "transitions": _count(db_engine, EpisodeTransition),
                "letters": s.scalars(select(Letter.idempotency_key).order_by(Letter.id)).all(),
                "runs": s.execute(select(WorklistRun.owner, WorklistRun.counts)).all(),
            }

    first = run()
    before = state()
    assert first[0]["closed"] == 2 and first[1]["tasks_created"] == 2
    second = run()
    assert state() == before
    assert second[0]["closed"] == 0 and second[1]["tasks_created"] == 0
    assert second[2] == first[2] | {"emails_queued": 0}


def test_a_settlement_closed_by_hand_follows_the_recorded_interventions(
    db_engine, tmp_path: Path
) -> None:
    company(db_engine)
    with session_scope(db_engine) as s:
        met = episode(s, 1)
        appointment(s, met.id, utc(2026, 11, 16), status="attended")
        alone = episode(s, 2)
        ids = (met.id, alone.id)
    with pytest.raises(KvarboendeError, match=r"an intervention is recorded .* \(attended\)"):
        close_episode(db_engine, ids[0], "settled_without_intervention", by="anna", on_date=RUN)
    with session_scope(db_engine) as s:
        assert s.get(Episode, ids[0]).status == "payment_order"  # refused: nothing changed
    closed = close_episode(db_engine, ids[0], "settled", by="anna", on_date=RUN)
    assert closed.outcome == "settled_with_support"
    assert closed.reason == "Avslutat manuellt: reglerad med stöd (besök hos boenderådgivaren)"
    with pytest.raises(KvarboendeError, match="no intervention is recorded"):
        close_episode(db_engine, ids[1], "settled_with_support", by="anna", on_date=RUN)
    assert close_episode(db_engine, ids[1], "settled", by="anna", on_date=RUN).outcome == (
        "settled_without_intervention"
    )
    with session_scope(db_engine) as s:
        stored = [
            (e.outcome, e.outcome_certainty, e.outcome_source)
            for e in s.scalars(select(Episode).order_by(Episode.id))
        ]
    assert stored == [
        ("settled_with_support", "confirmed", "advisor"),
        ("settled_without_intervention", "confirmed", "advisor"),
    ]
