"""The managers' statistics report for a month or a year, from stored facts only.

Reports read ``stat_fact`` alone (anonymous counts: no personal data), so retention
may delete episodes without changing any number. Refreshing the facts from the
episodes is the monthly flow's job (``flows.stages.statistics``).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import statistics as st
from domain.formatting import local_now
from models.audit import audit
from models.config import Settings
from models.errors import KvarboendeError
from models.privacy import private_dir
from models.tables import StatFact

FORMATS = ("html", "pdf", "xlsx", "json", "csv")


@dataclass(frozen=True)
class WrittenReport:
    """A report file written: where, in which format, for which period (YYYY-MM or YYYY)."""

    path: Path
    fmt: str
    period: str


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


def load_facts(session: Session, first: str, last: str) -> pl.DataFrame:
    """The stored facts of the months from ``first`` to ``last``."""
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


def preliminary_from(settings: Settings, today: date | None = None) -> str:
    """The first month whose stored figures can still change on ``today``: months from
    it on are inside ``freeze_after_months`` (older ones are frozen, never recomputed)."""
    current = st.month_of(today or local_now().date())
    return st.shift_month(current, -settings.statistics.freeze_after_months)


def build_report(
    session: Session,
    settings: Settings,
    *,
    month: str | None = None,
    year: int | None = None,
    today: date | None = None,
) -> st.StatisticsReport:
    """The report for a month or a year, computed from ``stat_fact`` only."""
    if (month is None) == (year is None):
        raise ReportError("give either --month YYYY-MM or --year YYYY")
    month = check_month(month) if month is not None else None
    year = check_year(year) if year is not None else None
    months = report_months(month, year)
    # Whole calendar years: a complete year's suppression looks at all its months.
    facts = load_facts(session, f"{months[0][:4]}-01", f"{months[-1][:4]}-12")
    return st.build_statistics_report(
        facts,
        month=month,
        year=year,
        threshold=settings.statistics.suppress_threshold,
        inhabitants=settings.municipality.inhabitants,
        children=settings.municipality.children,
        national=settings.statistics.national_evictions_per_10000,
        national_children=settings.statistics.national_child_evictions_per_10000,
        national_counts={
            "national_applications": settings.statistics.national_applications,
            "national_evictions": settings.statistics.national_evictions,
            "national_children_affected": settings.statistics.national_children_affected,
        },
        municipality=settings.municipality.name,
        company_names={c.id: c.name for c in settings.companies},
        preliminary_from=preliminary_from(settings, today),
    )


def report_csv(report: st.StatisticsReport) -> str:
    """Open data: the report's figures as tidy long CSV (period, measure, breakdown, value),
    comma-separated UTF-8, suppressed as the report."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("period", "measure", "breakdown", "value"))
    writer.writerows(st.report_csv_rows(report))
    return buffer.getvalue()


def default_report_path(
    settings: Settings, fmt: str, month: str | None = None, year: int | None = None
) -> Path:
    name = f"statistik-{month}" if month else f"statistik-{year}"
    return settings.paths.reports_dir / f"{name}.{fmt}"


def write_report(
    session: Session,
    settings: Settings,
    *,
    month: str | None = None,
    year: int | None = None,
    fmt: str = "html",
    out: Path | None = None,
    by: str | None = None,
    today: date | None = None,
) -> WrittenReport:
    """Write the report in one format (html, pdf, xlsx, json); returns the file written.

    With ``by`` (a person asked for it) the writing is audit-logged; the monthly flow
    writes its reports without.
    """
    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    report = build_report(session, settings, month=month, year=year, today=today)
    path = out or default_report_path(settings, fmt, report.main.last if month else None, year)
    private_dir(path.parent)
    if fmt == "json":
        data = st.report_json(report, exact=settings.statistics.json_exact)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    elif fmt == "csv":
        path.write_text(report_csv(report), encoding="utf-8")
    else:
        from letters import statistics_report as render

        if fmt == "html":
            path.write_text(render.render_html(report), encoding="utf-8")
        elif fmt == "pdf":
            render.write_pdf(report, path)
        else:
            render.write_xlsx(report, path)
    period = month or str(year)
    if by is not None:
        audit(session, by, "report.write", "report", period, fmt)
    return WrittenReport(path, fmt, period)
