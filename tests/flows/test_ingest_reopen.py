"""A closed episode re-opened by a later decision or eviction booking, on SQLite and PostgreSQL.

A household facing eviction must never drop off the advisor's list because the outcome
rules had closed its episode earlier (by silence, or on a settlement that did not hold).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from notice_rows import notice
from outcome_factories import appointment, utc
from sqlalchemy import select
from test_ingest_stage import ANNA, BO, canonical, make_settings, write

from domain.outcomes import ActivityKind
from flows.stages.outcomes import apply_outcome_rules, create_follow_up_tasks, record_activity
from models.db import session_scope
from models.tables import AuditLog, Episode, EpisodeTransition, Notice, Task
from services.ingest import ingest_file


def _ingest(engine, settings, tmp_path: Path, name: str, *rows: dict[str, str], on: date) -> None:  # noqa: ANN001
    path = write(tmp_path, name, canonical(*rows))
    receipt = ingest_file(engine, settings, path, "vasbyhem", received_on=on)
    assert receipt.accepted == len(rows) and receipt.balanced


def _episode(engine, key: str = "K1") -> tuple:  # noqa: ANN001
    with session_scope(engine) as session:
        row = session.scalars(select(Episode).where(Episode.contract_ref == key)).one()
        return (row.id, row.status, row.outcome, row.outcome_certainty, row.outcome_date,
                row.outcome_source)  # fmt: skip


def _steps(engine, episode_id: int) -> list[tuple]:  # noqa: ANN001
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                EpisodeTransition.from_status,
                EpisodeTransition.to_status,
                EpisodeTransition.effective_date,
                EpisodeTransition.reason,
            )
            .where(EpisodeTransition.episode_id == episode_id)
            .order_by(EpisodeTransition.id)
        ).all()
        return [tuple(r) for r in rows]


def test_booking_after_a_presumed_settlement_reopens_until_a_real_settlement(
    db_engine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    _ingest(db_engine, settings, tmp_path, "1.csv",
            notice(**ANNA, event_type="termination_notice", event_date="2026-03-01",
                   debt_amount="12000"),
            on=date(2026, 3, 2))  # fmt: skip
    counts = apply_outcome_rules(db_engine, settings, date(2026, 7, 1))
    assert counts["settled_without_intervention_presumed"] == 1
    episode_id, *closed = _episode(db_engine)
    # 90 days of silence plus the company's reporting delay (its one file came a day late).
    assert closed == [
        "closed", "settled_without_intervention", "presumed", date(2026, 5, 31), "rule:silence"
    ]  # fmt: skip

    # Kronofogden books the eviction: the episode is open again, its outcome gone.
    _ingest(db_engine, settings, tmp_path, "2.csv",
            notice(**ANNA, event_type="eviction_scheduled", event_date="2026-08-01",
                   debt_amount="15000", eviction_at="2026-09-10 09:00"),
            on=date(2026, 8, 3))  # fmt: skip
    assert _episode(db_engine) == (episode_id, "eviction_scheduled", None, None, None, None)
    step = _steps(db_engine, episode_id)[-1]
    assert step == (
        "closed",
        "eviction_scheduled",
        date(2026, 8, 1),
        "Antaget utfall återkallat (reglerad utan insats, antaget): Avhysning bokad "
        "1 augusti 2026 visar att ärendet pågick; underrättelsen kom efter att ärendet "
        "avslutats för tystnad",
    )
    with session_scope(db_engine) as session:
        assert session.scalar(select(Episode.eviction_at)) is not None
        details = session.scalars(
            select(AuditLog.detail).where(AuditLog.action == "ingest_file").order_by(AuditLog.id)
        ).all()
        assert [d.endswith("episodes_reopened=1") for d in details] == [False, True]

    # The outcome rules treat it like any open episode: nothing to close yet, twice.
    for _ in range(2):
        counts = apply_outcome_rules(db_engine, settings, date(2026, 8, 5))
        assert counts["closed"] == 0
        assert _episode(db_engine)[1] == "eviction_scheduled"
    with session_scope(db_engine) as session:
        assert session.get(Episode, episode_id).follow_up_date is not None

    # A later settlement closes it again, confirmed this time, once.
    _ingest(db_engine, settings, tmp_path, "3.csv",
            notice(**ANNA, event_type="settled", event_date="2026-08-20"),
            on=date(2026, 8, 21))  # fmt: skip
    counts = apply_outcome_rules(db_engine, settings, date(2026, 8, 21))
    assert counts["settled_without_intervention_confirmed"] == 1
    assert _episode(db_engine) == (
        episode_id, "closed", "settled_without_intervention", "confirmed", date(2026, 8, 20),
        "notice:settled",
    )  # fmt: skip
    before = len(_steps(db_engine, episode_id))
    assert apply_outcome_rules(db_engine, settings, date(2026, 8, 21))["closed"] == 0
    assert len(_steps(db_engine, episode_id)) == before
    with session_scope(db_engine) as session:
        assert len(session.scalars(select(Episode)).all()) == 1


def test_event_dated_before_a_confirmed_outcome_stays_in_history(db_engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    _ingest(db_engine, settings, tmp_path, "1.csv",
            notice(**BO, contract_ref="K2", event_type="termination_notice",
                   event_date="2026-03-01", debt_amount="9000"),
            notice(**BO, contract_ref="K2", event_type="settled", event_date="2026-04-01"),
            on=date(2026, 4, 2))  # fmt: skip
    apply_outcome_rules(db_engine, settings, date(2026, 4, 2))
    closed = _episode(db_engine, "K2")
    assert closed[1:] == (
        "closed", "settled_without_intervention", "confirmed", date(2026, 4, 1), "notice:settled"
    )  # fmt: skip
    transitions = len(_steps(db_engine, closed[0]))
    # A booking dated on the settlement's day, reported late, does not re-open it.
    _ingest(db_engine, settings, tmp_path, "2.csv",
            notice(**BO, contract_ref="K2", event_type="eviction_scheduled",
                   event_date="2026-04-01", eviction_at="2026-05-10 09:00"),
            notice(**BO, contract_ref="K2", event_type="decision", event_date="2026-03-20"),
            on=date(2026, 4, 10))  # fmt: skip
    assert _episode(db_engine, "K2") == closed
    assert len(_steps(db_engine, closed[0])) == transitions
    with session_scope(db_engine) as session:
        episode_ids = set(session.scalars(select(Notice.episode_id)))
    assert episode_ids == {closed[0]}
    assert apply_outcome_rules(db_engine, settings, date(2026, 4, 10))["closed"] == 0


def test_reopened_episode_gets_no_task_twice(db_engine, tmp_path: Path) -> None:
    """Tasks done before the closure are not created again when the episode re-opens.

    (Silence never closes an episode while a follow-up task is open: the call is made
    first, then the silence runs.)
    """
    settings = make_settings(tmp_path)
    _ingest(db_engine, settings, tmp_path, "1.csv",
            notice(**ANNA, event_type="termination_notice", event_date="2026-03-01",
                   debt_amount="12000"),
            on=date(2026, 3, 2))  # fmt: skip
    episode_id = _episode(db_engine)[0]
    with session_scope(db_engine) as session:
        appointment(session, episode_id, utc(2026, 3, 10), status="no_show")
        row = session.get(Episode, episode_id)
        row.children_known, row.has_children = True, False  # no home visit, only a call
    assert create_follow_up_tasks(db_engine, settings, date(2026, 3, 20))["tasks_created"] == 1
    assert apply_outcome_rules(db_engine, settings, date(2026, 7, 1))["closed"] == 0  # task open
    record_activity(
        db_engine, episode_id, ActivityKind.CONTACTED, by="anna", on_date=date(2026, 3, 20)
    )
    create_follow_up_tasks(db_engine, settings, date(2026, 3, 20))
    with session_scope(db_engine) as session:
        assert [t.status for t in session.scalars(select(Task))] == ["done"]
    assert apply_outcome_rules(db_engine, settings, date(2026, 7, 1))["closed"] == 1
    _ingest(db_engine, settings, tmp_path, "2.csv",
            notice(**ANNA, event_type="eviction_scheduled", event_date="2026-08-01",
                   eviction_at="2026-09-10 09:00"),
            on=date(2026, 8, 3))  # fmt: skip
    assert _episode(db_engine)[1] == "eviction_scheduled"
    for _ in range(2):
        counts = create_follow_up_tasks(db_engine, settings, date(2026, 8, 3))
        assert counts["no_shows"] == 1 and counts["tasks_created"] == 0
    with session_scope(db_engine) as session:
        assert [t.status for t in session.scalars(select(Task))] == ["done"]
