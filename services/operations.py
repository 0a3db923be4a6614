"""Running unattended: the job run history and the operators' alerts.

Every run of a job (daily, inbox, delivery, monthly report, case import) is recorded
with its state and each stage's outcome, so that the alerts (a stage failing run after
run, a scheduled run that never happened) and ``kvarboende doctor`` (the last
successful daily run) are queries. Alerts are stored once per key and emailed by the
next run until they are sent. Ids, states, counts and error types only: never
personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain.vocabulary import LetterStatus
from models.db import as_utc, insert_or_ignore, skip_locked
from models.tables import JobRun, Letter, NoticeFile, OperationsAlert

RUNNING, COMPLETED, FAILED, SKIPPED = "running", "completed", "failed", "skipped"
STAGE_OK, STAGE_FAILED, STAGE_BUSY = "ok", "failed", "busy"


@dataclass(frozen=True)
class RunRecord:
    id: int
    job: str
    run_date: date
    started_at: datetime
    finished_at: datetime | None
    state: str
    stages: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    flow_run_id: str | None = None


@dataclass(frozen=True)
class AlertRecord:
    id: int
    key: str
    kind: str
    detail: str
    created_at: datetime


@dataclass(frozen=True)
class FailureStreak:
    """A stage that failed on ``len(run_ids)`` consecutive runs; ``run_ids`` oldest first."""

    stage: str
    run_ids: list[int]


def _record(row: JobRun) -> RunRecord:
    return RunRecord(
        id=row.id,
        job=row.job,
        run_date=row.run_date,
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at) if row.finished_at else None,
        state=row.state,
        stages=dict(row.stages or {}),
        error=row.error,
        flow_run_id=row.flow_run_id,
    )


def start_run(
    session: Session,
    job: str,
    run_date: date,
    flow_run_id: str | None = None,
    at: datetime | None = None,
    deployment_id: str | None = None,
) -> int:
    """Record that a run of ``job`` began; returns its id."""
    row = JobRun(
        job=job,
        run_date=run_date,
        started_at=at or datetime.now(UTC),
        state=RUNNING,
        stages={},
        flow_run_id=flow_run_id,
        deployment_id=deployment_id,
    )
    session.add(row)
    session.flush()
    return row.id


def record_stage(session: Session, run_id: int, stage: str, outcome: str) -> None:
    """Store one stage's outcome (ok, failed, busy) on the run."""
    row = session.get(JobRun, run_id)
    if row is not None:
        row.stages = {**(row.stages or {}), stage: outcome}


def finish_run(session: Session, run_id: int, state: str, error: str | None = None) -> None:
    """Record how the run ended (completed, failed, skipped) and when."""
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(state=state, error=error, finished_at=datetime.now(UTC))
    )


def get_run(session: Session, run_id: int) -> RunRecord | None:
    row = session.get(JobRun, run_id)
    return _record(row) if row is not None else None


def last_run(session: Session, job: str, state: str | None = None) -> RunRecord | None:
    """The latest run of ``job`` (in ``state``, when given)."""
    query = select(JobRun).where(JobRun.job == job)
    if state is not None:
        query = query.where(JobRun.state == state)
    row = session.scalars(query.order_by(JobRun.started_at.desc(), JobRun.id.desc())).first()
    return _record(row) if row is not None else None


def hung_runs(session: Session, started_before: datetime) -> list[RunRecord]:
    """Runs still marked running that started before ``started_before`` (their process died)."""
    rows = session.scalars(
        select(JobRun)
        .where(JobRun.state == RUNNING, JobRun.started_at < started_before)
        .order_by(JobRun.id)
    )
    return [_record(row) for row in rows]


def scheduled_since(session: Session, job: str) -> datetime | None:
    """When a Prefect deployment first ran ``job``: runs started by hand do not count."""
    first = session.scalar(
        select(func.min(JobRun.started_at)).where(
            JobRun.job == job, JobRun.deployment_id.is_not(None)
        )
    )
    return as_utc(first) if first is not None else None


def run_starts(session: Session, job: str, since: datetime) -> list[datetime]:
    """When runs of ``job`` started from ``since`` on, oldest first."""
    rows = session.scalars(
        select(JobRun.started_at)
        .where(JobRun.job == job, JobRun.started_at >= since)
        .order_by(JobRun.started_at)
    )
    return [as_utc(moment) for moment in rows]


def failure_streaks(session: Session, length: int, recent: int = 200) -> list[FailureStreak]:
    """Stages whose latest ``length`` or more runs (any job) all failed, oldest id first."""
    rows = session.execute(
        select(JobRun.id, JobRun.stages)
        .where(JobRun.state != RUNNING)
        .order_by(JobRun.started_at.desc(), JobRun.id.desc())
        .limit(recent)
    ).all()
    streaks: dict[str, list[int]] = {}
    ended: set[str] = set()
    for run_id, stages in rows:  # newest first
        for stage, outcome in (stages or {}).items():
            if stage in ended or outcome == STAGE_BUSY:
                continue
            if outcome == STAGE_FAILED:
                streaks.setdefault(stage, []).append(run_id)
            else:
                ended.add(stage)
    return [
        FailureStreak(stage, sorted(ids))
        for stage, ids in sorted(streaks.items())
        if len(ids) >= length
    ]


def unsent_letters_queued_before(session: Session, day: date) -> list[int]:
    """Letters still waiting (pending, or held by a run) that were queued before ``day``."""
    return list(
        session.scalars(
            select(Letter.id)
            .where(
                Letter.status.in_([LetterStatus.PENDING.value, LetterStatus.SENDING.value]),
                Letter.created_on < day,
            )
            .order_by(Letter.id)
        )
    )


@dataclass(frozen=True)
class RejectedFile:
    id: int
    company_id: str
    content_hash: str


def files_rejected_since(session: Session, since: datetime) -> list[RejectedFile]:
    """Notice files rejected as a whole (unreadable, wrong format) received since ``since``."""
    rows = session.execute(
        select(NoticeFile.id, NoticeFile.company_id, NoticeFile.content_hash)
        .where(NoticeFile.status == "rejected", NoticeFile.received_at >= since)
        .order_by(NoticeFile.id)
    ).all()
    return [RejectedFile(*row) for row in rows]


# --- alerts ------------------------------------------------------------------------------


def raise_alert(session: Session, key: str, kind: str, detail: str) -> bool:
    """Store an alert unless one with this key exists; True when it is new."""
    statement = insert_or_ignore(session, OperationsAlert).values(
        key=key, kind=kind, detail=detail, created_at=datetime.now(UTC), attempts=0
    )
    # RETURNING, not rowcount: PostgreSQL reports -1 rows for ON CONFLICT DO NOTHING here.
    return session.execute(statement.returning(OperationsAlert.id)).first() is not None


def unsent_alerts(session: Session) -> list[AlertRecord]:
    """Alerts not yet emailed, oldest first."""
    query = (
        select(OperationsAlert)
        .where(OperationsAlert.sent_at.is_(None))
        .order_by(OperationsAlert.id)
    )
    rows = session.scalars(skip_locked(session, query))
    return [AlertRecord(r.id, r.key, r.kind, r.detail, as_utc(r.created_at)) for r in rows]


def alerts_sent(session: Session, ids: list[int]) -> None:
    session.execute(
        update(OperationsAlert)
        .where(OperationsAlert.id.in_(ids))
        .values(sent_at=datetime.now(UTC), attempts=OperationsAlert.attempts + 1)
    )


def alerts_attempted(session: Session, ids: list[int]) -> None:
    session.execute(
        update(OperationsAlert)
        .where(OperationsAlert.id.in_(ids))
        .values(attempts=OperationsAlert.attempts + 1)
    )


def alert_keys(session: Session, prefix: str) -> set[str]:
    """The keys of stored alerts starting with ``prefix`` (tests, doctor)."""
    return set(
        session.scalars(select(OperationsAlert.key).where(OperationsAlert.key.startswith(prefix)))
    )
