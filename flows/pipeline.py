"""The daily pipeline as plain function calls, in the order the work must happen.

``kvarboende run daily`` and the demo call :func:`run_daily` directly (no Prefect
server needed); the Prefect flow in :mod:`flows.daily` calls the same stages as
tasks. Every stage takes ``(engine, settings, run_date)`` and returns counts only.

Two daily runs may overlap (a manual run during the scheduled one, a retry started
twice). Each stage is therefore run under a lock of its own (:func:`run_stage`): a
run that finds a stage taken waits for it and then runs it itself, finding the work
done. Waiting rather than skipping makes an overlap the same as two runs one after
the other, which every stage already handles (nothing is done twice), and a run's
later stages never start before its earlier ones are complete. The wait is bounded
(``database.stage_lock_wait_seconds``); when it runs out the stage is skipped with a
warning, since the run holding it is doing that work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date
from functools import partial

from sqlalchemy import Engine

from flows.stages.booking import book_appointments
from flows.stages.delivery import deliver_outbox
from flows.stages.ingest import ingest_inbox
from flows.stages.letters import create_letters
from flows.stages.matching import match_episodes
from flows.stages.outcomes import apply_outcome_rules, create_follow_up_tasks
from flows.stages.reminders import send_reminders
from flows.stages.worklist import write_worklists
from models.config import Settings
from models.db import LockBusy, stage_lock

log = logging.getLogger(__name__)

Stage = Callable[[Engine, Settings, date], dict[str, int]]

#: (name, stage, may a temporary outside failure be retried?)
DAILY_STAGES: tuple[tuple[str, Stage, bool], ...] = (
    ("ingest", ingest_inbox, True),
    ("match", match_episodes, False),
    ("outcomes", apply_outcome_rules, False),
    ("follow_up", create_follow_up_tasks, False),
    ("booking", book_appointments, False),
    ("letters", create_letters, False),
    ("worklists", write_worklists, False),
    ("delivery", deliver_outbox, True),
    ("reminders", send_reminders, True),
)

#: What the ``delivery`` deployment (every 15 minutes) runs: the outbox, then reminders.
DELIVERY_STAGES: tuple[str, ...] = ("delivery", "reminders")

#: The 15-minute inbox run during office hours: a notice that arrives at 10:00 is
#: matched, routed (caseworker notice) or booked and lettered, and sent, the same day.
INBOX_STAGES: tuple[tuple[str, Stage, bool], ...] = tuple(
    entry
    for entry in DAILY_STAGES
    if entry[0] in ("ingest", "match", "booking", "letters", "delivery")
)


def run_stage(
    engine: Engine, settings: Settings, run_date: date, name: str, stage: Stage
) -> dict[str, int]:
    """Run one stage while no other process runs it; ``{"busy_skipped": 1}`` if we gave up."""
    wait = settings.database.stage_lock_wait_seconds
    with ExitStack() as held:
        try:
            held.enter_context(stage_lock(engine, name, wait))
        except LockBusy:
            log.warning(
                "stage %s: another run has held it for over %g s; skipped in this run "
                "(that run is doing the work; if it hangs, stop it and run again)",
                name,
                wait,
            )
            return {"busy_skipped": 1}
        return stage(engine, settings, run_date)


def _calls(
    engine: Engine, settings: Settings, run_date: date, stages: tuple[tuple[str, Stage, bool], ...]
) -> list[tuple[str, Callable[[], dict[str, int]]]]:
    return [
        (name, partial(run_stage, engine, settings, run_date, name, stage))
        for name, stage, _ in stages
    ]


def run_daily(engine: Engine, settings: Settings, run_date: date) -> dict[str, dict[str, int]]:
    """Run every daily stage for ``run_date``, each under its lock; returns their counts.

    The run is recorded in the run history and followed by the alert checks.
    """
    from flows.runs import run_job

    return run_job(
        engine, settings, "daily", run_date, _calls(engine, settings, run_date, DAILY_STAGES)
    )


def run_inbox(engine: Engine, settings: Settings, run_date: date) -> dict[str, dict[str, int]]:
    """The 15-minute run: new inbox files through to letters sent; skipped if one is running."""
    from flows.runs import run_job

    calls = _calls(engine, settings, run_date, INBOX_STAGES)
    return run_job(engine, settings, "inbox", run_date, calls, exclusive=True)
