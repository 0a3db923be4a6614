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

import json
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, Select, delete, insert, select, text
from sqlalchemy.orm import Session

from domain import statistics as st
from domain.formatting import local_now
from models.config import Settings
from models.db import session_scope
from models.errors import KvarboendeError
from models.privacy import private_dir
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

FORMATS = ("html", "pdf", "xlsx", "json")
_LOCK_KEY = 0x6B76_5354  # "kvST": the advisory lock that serialises fact refreshes


class ReportError(KvarboendeError):
    """A report request the operator must correct (bad month, year or format)."""


def check_month(month: str) -> str:
    """``YYYY-MM`` or a one-line ReportError."""
    try:
        return st.parse_month(month)
    except ValueError as exc:
        raise ReportError(str(exc)) from None


def check_year(year: int) -> int:
    if not 1900 <= year <= 2999:
        raise ReportError(f"year {year} is out of range")
    return year


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
        if session.get_bind().dialect.name == "postgresql":
            # Two refreshes at once (the monthly flow and an operator) take turns.
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
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


def load_facts(engine: Engine, first: str, last: str) -> pl.DataFrame:
    """The stored facts of the months from ``first`` to ``last``."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(StatFact.month, StatFact.metric, StatFact.dimension, StatFact.value).where(
                StatFact.month >= first, StatFact.month <= last
            )
        ).all()
    return pl.DataFrame(
        [(m, k, d or "", float(v)) for m, k, d, v in rows], schema=st.FACT_SCHEMA, orient="row"
    )


def report_months(month: str | None = None, year: int | None = None) -> list[str]:
    """Every month a report reads: its periods, a year earlier and the 24-month trend."""
    periods = st.report_periods(month, year)
    last = periods[0].last
    first = min(
        st.shift_month(last, -(st.TREND_MONTHS - 1)),
        *(p.a_year_earlier().first for p in periods),
    )
    return st.month_range(first, last)


def build_report(
    engine: Engine, settings: Settings, month: str | None = None, year: int | None = None
) -> st.StatisticsReport:
    """The report for a month or a year, computed from ``stat_fact`` only."""
    if (month is None) == (year is None):
        raise ReportError("give either --month YYYY-MM or --year YYYY")
    month = check_month(month) if month is not None else None
    year = check_year(year) if year is not None else None
    months = report_months(month, year)
    facts = load_facts(engine, months[0], months[-1])
    return st.build_statistics_report(
        facts,
        month=month,
        year=year,
        threshold=settings.statistics.suppress_threshold,
        inhabitants=settings.municipality.inhabitants,
        children=settings.municipality.children,
        national=settings.statistics.national_evictions_per_10000,
        national_children=settings.statistics.national_child_evictions_per_10000,
        municipality=settings.municipality.name,
        company_names={c.id: c.name for c in settings.companies},
    )


def monthly_summary(engine: Engine, settings: Settings, month: str) -> list[tuple[str, str]]:
    """Swedish label/value lines for a month (small counts suppressed), from stored facts."""
    return st.summary_lines(build_report(engine, settings, month=month))


def default_report_path(
    settings: Settings, fmt: str, month: str | None = None, year: int | None = None
) -> Path:
    name = f"statistik-{month}" if month else f"statistik-{year}"
    return settings.paths.reports_dir / f"{name}.{fmt}"


def write_report(
    engine: Engine,
    settings: Settings,
    *,
    month: str | None = None,
    year: int | None = None,
    fmt: str = "html",
    out: Path | None = None,
) -> Path:
    """Write the report in one format (html, pdf, xlsx, json); returns the file written."""
    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    report = build_report(engine, settings, month=month, year=year)
    path = out or default_report_path(settings, fmt, report.main.last if month else None, year)
    private_dir(path.parent)
    if fmt == "json":
        data = st.report_json(report, exact=settings.statistics.json_exact)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    else:
        from letters import statistics_report as render

        if fmt == "html":
            path.write_text(render.render_html(report), encoding="utf-8")
        elif fmt == "pdf":
            render.write_pdf(report, path)
        else:
            render.write_xlsx(report, path)
    return path
