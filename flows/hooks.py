"""Prefect state hooks: a failed or crashed flow run becomes one alert to the operators.

A failure inside a job's stages is already recorded and alerted by
:func:`flows.runs.run_job` under the same key (the flow run's id), so the hook adds
nothing then; it matters when the flow failed before its stages (a configuration that
no longer loads) or when the process died (crashed: no ``finally`` ran).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from models.config import load_settings
from models.db import engine_scope

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.client.schemas.objects import FlowRun, State

log = logging.getLogger(__name__)

JOBS = {
    "kvarboende-daily": "daily",
    "kvarboende-inbox": "inbox",
    "kvarboende-delivery": "delivery",
    "kvarboende-monthly-report": "monthly-report",
    "kvarboende-cases-import": "cases-import",
    "kvarboende-retention": "retention",
}


def _alert(flow: Flow[..., object], flow_run: FlowRun, state: State, crashed: bool) -> None:
    from flows.runs import after_run
    from flows.stages.alerts import alert_crashed_run, alert_failed_run

    try:
        settings = load_settings((flow_run.parameters or {}).get("config_file"))
    except Exception as exc:  # noqa: BLE001 - the configuration itself may be what failed
        log.error("flow run %s failed and no alert can be sent: %s", flow_run.id, exc)
        return
    job = JOBS.get(flow.name, flow.name)
    # The state's type and name only: its message may quote data.
    error = f"{state.type.value if state.type else '?'} ({state.name})"
    try:
        with engine_scope(settings.database.url) as engine:
            if crashed:
                alert_crashed_run(engine, settings, job, str(flow_run.id))
            else:
                alert_failed_run(engine, settings, job, str(flow_run.id), None, error)
            from domain.formatting import local_today

            after_run(engine, settings, local_today())
    except Exception as exc:  # noqa: BLE001 - a hook must not raise
        log.error("alert for flow run %s not stored (%s)", flow_run.id, type(exc).__name__)


def alert_failed_flow(flow: Flow[..., object], flow_run: FlowRun, state: State) -> None:
    _alert(flow, flow_run, state, crashed=False)


def alert_crashed_flow(flow: Flow[..., object], flow_run: FlowRun, state: State) -> None:
    _alert(flow, flow_run, state, crashed=True)
