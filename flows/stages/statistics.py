"""Monthly statistics: anonymous facts in ``stat_fact``, and reports read only from them.

``refresh_stat_facts`` computes a month's counts from the episodes, notices,
appointments, letters and activities (no personal data leaves the database: only
ids, dates, statuses and flags are selected) and replaces that month's facts.
Reports are built from ``stat_fact`` alone, so retention (gallring) may delete the
episodes afterwards without changing any number.

A month whose facts are older than ``statistics.freeze_after_months`` is frozen: a
later refresh leaves it alone, because by then retention may have deleted the data
behind it and a recomputation would silently lower the numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from domain import statistics as st
from domain.formatting import local_now
from models.config import Settings
from models.db import advisory_xact_lock, session_scope
from services import reports, statistics
from services.reports import (  # noqa: F401 - re-exported for the stage's callers
    FORMATS,
    ReportError,
    check_month,
    check_year,
    report_months,
)

_LOCK_KEY = 0x6B76_5354  # "kvST": the advisory lock that serialises fact refreshes


def _months_with(engine: Engine, metric: str, months: Sequence[str]) -> set[str]:
    with session_scope(engine) as session:
        return statistics.months_with(session, metric, list(months))


def _old_months(settings: Settings, months: Sequence[str], today: date | None) -> list[str]:
    """The months past ``freeze_after_months`` as seen on ``today`` (default: the clock)."""
    current = st.month_of(today or local_now().date())
    limit = st.shift_month(current, -settings.statistics.freeze_after_months)
    return [m for m in months if m < limit]


def frozen_months(
    engine: Engine, settings: Settings, months: Sequence[str], today: date | None = None
) -> set[str]:
    """Months whose stored facts must not be recomputed any more (see the module doc).

    Frozen once, frozen for good: a month marked frozen (by retention, or by an earlier
    refresh that found it old) stays frozen whatever date a later call is run with, so
    a refresh against the real clock after a retention run dated ahead changes nothing.
    """
    months = list(months)
    if not months:
        return set()
    marked = _months_with(engine, st.FROZEN_METRIC, months)
    old = [m for m in _old_months(settings, months, today) if m not in marked]
    return marked | (_months_with(engine, st.REFRESHED_METRIC, old) if old else set())


def refresh_stat_facts_for(
    engine: Engine,
    settings: Settings,
    months: Iterable[str],
    *,
    force: bool = False,
    today: date | None = None,
    freeze: Iterable[str] = (),
) -> dict[str, int]:
    """Recompute and replace the facts of several months at once (frozen ones skipped).

    ``freeze`` are months to freeze for good once their facts are stored (retention
    passes the months whose data it is about to delete). Months past
    ``freeze_after_months`` on ``today`` are frozen for good as well.
    """
    wanted = sorted({check_month(m) for m in months})
    to_freeze = {check_month(m) for m in freeze}
    frozen = set() if force else frozen_months(engine, settings, wanted, today)
    todo = [m for m in wanted if m not in frozen]
    to_freeze |= set(_old_months(settings, wanted, today))
    facts = pl.DataFrame(schema=st.FACT_SCHEMA)
    if todo:
        with session_scope(engine) as session:
            sources = statistics.load_sources(session)
        facts = st.compute_facts(
            todo,
            episodes=sources.episodes,
            notices=sources.notices,
            companies=sources.companies,
            appointments=sources.appointments,
            letters=sources.letters,
            activities=sources.activities,
            reminders=sources.reminders,
            inhabitants=settings.municipality.inhabitants,
            children=settings.municipality.children,
        )
    with session_scope(engine) as session:
        # Two refreshes at once (the monthly flow and an operator) take turns.
        advisory_xact_lock(session, _LOCK_KEY)
        if todo:
            statistics.replace_facts(session, todo, facts)
        stored = statistics.months_with(session, st.REFRESHED_METRIC, sorted(to_freeze))
        statistics.mark_frozen(session, stored)
    return {"months_refreshed": len(todo), "months_frozen": len(frozen), "facts": facts.height}


def refresh_stat_facts(engine: Engine, settings: Settings, month: str) -> dict[str, int]:
    """Store a month's anonymous counts in ``stat_fact``; returns counts of what was done."""
    return refresh_stat_facts_for(engine, settings, [month])


def build_report(
    engine: Engine, settings: Settings, month: str | None = None, year: int | None = None
) -> st.StatisticsReport:
    """The report for a month or a year (see :func:`services.reports.build_report`)."""
    with session_scope(engine) as session:
        return reports.build_report(session, settings, month=month, year=year)


def monthly_summary(engine: Engine, settings: Settings, month: str) -> list[tuple[str, str]]:
    """Swedish label/value lines for a month (small counts suppressed), from stored facts."""
    return st.summary_lines(build_report(engine, settings, month=month))


def write_report(
    engine: Engine,
    settings: Settings,
    *,
    month: str | None = None,
    year: int | None = None,
    fmt: str = "html",
    out: Path | None = None,
) -> Path:
    """Write the report in one format (see :func:`services.reports.write_report`)."""
    with session_scope(engine) as session:
        return reports.write_report(
            session, settings, month=month, year=year, fmt=fmt, out=out
        ).path
