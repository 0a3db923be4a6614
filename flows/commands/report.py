"""``kvarboende report``: the managers' monthly or annual statistics report."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError

from domain.formatting import local_now
from domain.statistics import month_of
from flows.context import AppContext
from flows.stages.statistics import refresh_stat_facts_for
from models.audit import current_actor
from models.db import session_scope
from services.reports import ReportError, check_month, check_year, report_months, write_report

app = typer.Typer()
"""This module's verbs; ``flows.cli`` mounts it on the ``kvarboende`` command."""


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"
    xlsx = "xlsx"
    json = "json"
    csv = "csv"


@app.command()
def report(
    ctx: typer.Context,
    month: Annotated[
        str | None, typer.Option("--month", help="Report this month, YYYY-MM.", show_default=False)
    ] = None,
    year: Annotated[
        int | None,
        typer.Option("--year", help="Report this calendar year, YYYY.", show_default=False),
    ] = None,
    fmt: Annotated[
        ReportFormat,
        typer.Option(
            "--format", help="html, pdf, xlsx, json, or csv (open data, tidy long format)."
        ),
    ] = ReportFormat.html,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="File to write (default: under paths.reports_dir).", show_default=False
        ),
    ] = None,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh/--no-refresh",
            help="Update the stored monthly figures first (months past the freeze limit are kept).",
        ),
    ] = True,
) -> None:
    """Write the statistics report for --month YYYY-MM or --year YYYY (aggregates only)."""
    if (month is None) == (year is None):
        raise ReportError("give either --month YYYY-MM or --year YYYY")
    month = check_month(month) if month is not None else None
    year = check_year(year) if year is not None else None
    context: AppContext = ctx.obj
    try:
        _report(context, month, year, fmt, out, refresh)
    except (OperationalError, ProgrammingError) as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        raise ReportError(f"database not usable: {reason} (has `kvarboende init` run?)") from None


def _report(
    context: AppContext,
    month: str | None,
    year: int | None,
    fmt: ReportFormat,
    out: Path | None,
    refresh: bool,
) -> None:
    engine, settings = context.engine, context.settings
    if refresh:
        current = month_of(local_now().date())
        months = [m for m in report_months(month, year) if m <= current]
        counts = refresh_stat_facts_for(engine, settings, months)
        typer.echo(
            f"Monthly figures updated: {counts['months_refreshed']} months "
            f"({counts['months_frozen']} frozen months kept as stored)."
        )
    with session_scope(engine) as session:
        written = write_report(
            session, settings, month=month, year=year, fmt=fmt.value, out=out, by=current_actor()
        )
    typer.echo(f"Report written: {written.path}")
