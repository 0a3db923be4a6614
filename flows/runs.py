"""A job's run, recorded: its stages in order, the run history, then the alerts.

Every job (the daily pipeline, the 15-minute inbox run, delivery, the monthly report,
the case-register import), from the command line or a Prefect worker, goes through
:func:`run_job`. It records the run and each stage's outcome
(:mod:`services.operations`), stops at the first stage that fails (later stages need
its work) and, however the run ended, looks for problems and emails the alerts
(:mod:`flows.stages.alerts`). Alerting never makes a run fail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import date

from sqlalchemy import Engine

from domain.working_days import is_working_day
from flows.stages.alerts import alert_failed_run, check_alerts, send_alerts
from models.config import Settings
from models.db import LockBusy, session_scope, stage_lock
from services import operations as ops

log = logging.getLogger(__name__)

StageCall = Callable[[], dict[str, int]]


def run_job(
    engine: Engine,
    settings: Settings,
    job: str,
    run_date: date,
    stages: Sequence[tuple[str, StageCall]],
    *,
    flow_run_id: str | None = None,
    deployment_id: str | None = None,
    working_days_only: bool = False,
    exclusive: bool = False,
) -> dict[str, dict[str, int]]:
    """Run ``stages`` in order as one recorded run of ``job``; returns their counts.

    ``working_days_only``: on a weekend or Swedish holiday nothing runs (recorded as
    skipped). ``exclusive``: when another run of the job is under way this one is
    skipped at once (the 15-minute jobs: the next one comes soon) instead of waiting.
    """
    ids = (flow_run_id, deployment_id)
    if working_days_only and not is_working_day(run_date):
        _record_skipped(engine, job, run_date, ids)
        log.info("%s: %s is not a working day; nothing to do", job, run_date)
        return {"skipped": {"not_a_working_day": 1}}
    with ExitStack() as held:
        if exclusive:
            try:
                held.enter_context(stage_lock(engine, f"job-{job}", 0))
            except LockBusy:
                _record_skipped(engine, job, run_date, ids)
                log.info("%s: another run of this job is under way; skipped", job)
                return {"skipped": {"another_run": 1}}
        return _run_recorded(engine, settings, job, run_date, stages, ids)


def _record_skipped(
    engine: Engine, job: str, run_date: date, ids: tuple[str | None, str | None]
) -> None:
    with session_scope(engine) as session:
        run_id = ops.start_run(session, job, run_date, ids[0], deployment_id=ids[1])
        ops.finish_run(session, run_id, ops.SKIPPED)


def _run_recorded(
    engine: Engine,
    settings: Settings,
    job: str,
    run_date: date,
    stages: Sequence[tuple[str, StageCall]],
    ids: tuple[str | None, str | None],
) -> dict[str, dict[str, int]]:
    flow_run_id = ids[0]
    with session_scope(engine) as session:
        run_id = ops.start_run(session, job, run_date, flow_run_id, deployment_id=ids[1])
    counts: dict[str, dict[str, int]] = {}
    try:
        for name, call in stages:
            try:
                result = call()
            except BaseException:
                with session_scope(engine) as session:
                    ops.record_stage(session, run_id, name, ops.STAGE_FAILED)
                raise
            outcome = ops.STAGE_BUSY if result.get("busy_skipped") else ops.STAGE_OK
            with session_scope(engine) as session:
                ops.record_stage(session, run_id, name, outcome)
            counts[name] = result
    except BaseException as exc:
        error = type(exc).__name__
        try:
            with session_scope(engine) as session:
                ops.finish_run(session, run_id, ops.FAILED, error=error)
            failed = next((n for n, _ in stages if n not in counts), "?")
            alert_failed_run(
                engine, settings, job, flow_run_id, run_id, f"{error} i steget {failed}"
            )
        finally:
            after_run(engine, settings, run_date)
        raise
    with session_scope(engine) as session:
        ops.finish_run(session, run_id, ops.COMPLETED)
    after_run(engine, settings, run_date)
    return counts


def after_run(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Look for problems and email the alerts; a failure here is logged, never raised."""
    try:
        new = check_alerts(engine, settings, run_date)
        sent = send_alerts(engine, settings)
    except Exception as exc:  # noqa: BLE001 - alerting must not turn a good run into a failed one
        log.warning("alerts not checked or sent (%s); tried again next run", type(exc).__name__)
        return {}
    if new:
        log.warning("new alerts: %s", ", ".join(f"{k} {v}" for k, v in sorted(new.items())))
    return new | sent
