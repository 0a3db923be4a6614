"""The daily pipeline as plain function calls, in the order the work must happen.

``kvarboende run daily`` and the demo call :func:`run_daily` directly (no Prefect
server needed); the Prefect flow in :mod:`flows.daily` calls the same stages as
tasks. Every stage takes ``(engine, settings, run_date)`` and returns counts only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import Engine

from flows.stages.booking import book_appointments
from flows.stages.delivery import deliver_outbox
from flows.stages.ingest import ingest_inbox
from flows.stages.letters import create_letters
from flows.stages.matching import match_episodes
from flows.stages.outcomes import apply_outcome_rules, create_follow_up_tasks
from flows.stages.worklist import write_worklists
from models.config import Settings

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
)


def run_daily(engine: Engine, settings: Settings, run_date: date) -> dict[str, dict[str, int]]:
    """Run every daily stage for ``run_date``; returns each stage's counts."""
    return {name: stage(engine, settings, run_date) for name, stage, _ in DAILY_STAGES}
