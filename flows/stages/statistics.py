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
from sqlalchemy import Engine, Select, delete, insert, select
from sqlalchemy.orm import Session

from domain import statistics as st
from domain.formatting import local_now
from models.config import Settings
from models.db import advisory_xact_lock, session_scope
from models.tables import (
    Activity,
    Appointment,
    AppointmentSlot,
    Episode,
    HousingCompany,
    Letter,
    Notice,
    StatFact,
)
from services import reports
from services.reports import (  # noqa: F401 - re-exported for the stage's callers
    FORMATS,
    ReportError,
    check_month,
    check_year,
    report_months,
)

_LOCK_KEY = 0x6B76_5354  # "kvST": the advisory lock that serialises fact refreshes


def _frame(session: Session, statement: Select, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Rows of a select as a frame with the domain's schema (types fixed, order kept)."""
    rows = session.execute(statement).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def load_sources(engine: Engine) -> dict[str, pl.DataFrame]:
    """The columns the statistics need, as frames (ids, dates, flags: no personal data)."""
    with session_scope(engine) as session:
        return {
            "episodes": _frame(
                session,
                select(
                    Episode.id,
                    Episode.opened_on,
                    Episode.first_notice_date,
                    Episode.routing,
                    Episode.matched_at,
                    Episode.has_children,
                    Episode.is_recurrence,
                    Episode.outcome,
                    Episode.outcome_certainty,
                    Episode.outcome_date,
                ),
                st.EPISODE_SCHEMA,
            ),
            "notices": _frame(
                session,
                select(Notice.episode_id, Notice.company_id, Notice.event_type, Notice.event_date),
                st.NOTICE_SCHEMA,
            ),
            "companies": _frame(
                session, select(HousingCompany.id, HousingCompany.landlord_type), st.COMPANY_SCHEMA
            ),
            "appointments": _frame(
                session,
                select(
                    Appointment.id,
                    Appointment.episode_id,
                    Appointment.status,
                    Appointment.before_deadline,
                    Appointment.booked_at,
                    AppointmentSlot.starts_at,
                ).join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id),
                st.APPOINTMENT_SCHEMA,
            ),
            "letters": _frame(
                session,
                select(
                    Letter.episode_id,
                    Letter.kind,
                    Letter.channel,
                    Letter.status,
                    Letter.sent_at,
                    Letter.created_on,
                    Letter.appointment_id,
                ),
                st.LETTER_SCHEMA,
            ),
            "activities": _frame(
                session,
                select(Activity.episode_id, Activity.kind, Activity.on_date),
                st.ACTIVITY_SCHEMA,
            ),
        }


def _months_with_in(session: Session, metric: str, months: Sequence[str]) -> set[str]:
    """The months that have a marker fact (``_refreshed``, ``_frozen``)."""
    if not months:
        return set()
    return set(
        session.scalars(
            select(StatFact.month).where(StatFact.metric == metric, StatFact.month.in_(months))
        )
    )


def _months_with(engine: Engine, metric: str, months: Sequence[str]) -> set[str]:
    with session_scope(engine) as session:
        return _months_with_in(session, metric, list(months))


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


def _mark_frozen(session: Session, months: Iterable[str]) -> int:
    """Store the frozen marker of the months that do not have it yet; returns how many."""
    months = sorted(set(months))
    have = _months_with_in(session, st.FROZEN_METRIC, months)
    rows = [
        {"month": m, "metric": st.FROZEN_METRIC, "dimension": "", "value": 1.0}
        for m in months
        if m not in have
    ]
    if rows:
        session.execute(insert(StatFact), rows)
    return len(rows)


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
        facts = st.compute_facts(
            todo,
            **load_sources(engine),
            inhabitants=settings.municipality.inhabitants,
            children=settings.municipality.children,
        )
    with session_scope(engine) as session:
        # Two refreshes at once (the monthly flow and an operator) take turns.
        advisory_xact_lock(session, _LOCK_KEY)
        if todo:
            session.execute(
                delete(StatFact).where(
                    StatFact.month.in_(todo), StatFact.metric != st.FROZEN_METRIC
                )
            )
            rows = facts.to_dicts()
            for start in range(0, len(rows), 1000):
                session.execute(insert(StatFact), rows[start : start + 1000])
        stored = _months_with_in(session, st.REFRESHED_METRIC, sorted(to_freeze))
        _mark_frozen(session, stored)
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
