"""The manager's pages: the statistics report for a month or a year, and its downloads.

The report is built from ``stat_fact`` only (anonymous counts, small numbers hidden),
so nothing on these pages is personal data. The page shows the same charts and tables
as the HTML report file inside the portal's layout, styled by the portal's stylesheet
(the CSP allows no inline styles). Every view and download is audit-logged.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup

from domain import statistics as st
from domain.formatting import local_today
from domain.vocabulary import Role
from models.audit import audit
from services.reports import ReportError, build_report, check_year
from services.users import ActiveSession
from web.core import portal, render, require_role

router = APIRouter(prefix="/chef")
ManagerUser = Annotated[ActiveSession, Depends(require_role(Role.MANAGER))]

BAD_PERIOD = "Välj en månad (till exempel 2026-03) eller ett år (till exempel 2026)."
MEDIA = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
}


class BadPeriod(Exception):
    """The period in the address is not a month or a year the report can show."""


def _period(manad: str | None, ar: str | None) -> tuple[str | None, int | None]:
    """(month, year) from the query; the previous month when neither is given."""
    if ar:
        if not ar.strip().isdigit():
            raise BadPeriod
        try:
            return None, check_year(int(ar))
        except ReportError:
            raise BadPeriod from None
    if manad:
        try:
            return st.parse_month(manad), None
        except ValueError:
            raise BadPeriod from None
    return st.previous_month(local_today()), None


def _query(month: str | None, year: int | None) -> str:
    return f"manad={month}" if month else f"ar={year}"


def _report(
    request: Request,
    active: ActiveSession,
    month: str | None,
    year: int | None,
    action: str,
    fmt: str,
) -> st.StatisticsReport:
    app = portal(request)
    with app.db() as session:
        report = build_report(session, app.settings, month=month, year=year)
        audit(session, active.user.username, action, "report", month or str(year), fmt)
    return report


def _bad_period(request: Request) -> Response:
    return render(
        request,
        "error.html",
        {"title": "Perioden finns inte", "message": BAD_PERIOD},
        status_code=400,
    )


@router.get("")
def report_page(
    request: Request, active: ManagerUser, manad: str | None = None, ar: str | None = None
) -> Response:
    """The report for ``?manad=YYYY-MM`` or ``?ar=YYYY`` (default: the previous month)."""
    from letters.statistics_report import render_html_body

    try:
        month, year = _period(manad, ar)
    except BadPeriod:
        return _bad_period(request)
    report = _report(request, active, month, year, "view_report", "html")
    today = local_today()
    return render(
        request,
        "manager_report.html",
        {
            "title": report.title,
            "report": report,
            "body": Markup(render_html_body(report)),  # noqa: S704 - autoescaped template
            "month": month or "",
            "year": year or "",
            "query": _query(month, year),
            "max_month": st.month_of(today),
            "this_year": today.year,
            "periods": ", ".join(
                p.label + (" (preliminärt)" if report.is_preliminary(p.key) else "")
                for p in report.periods
            ),
        },
    )


@router.get("/rapport.{fmt}")
def download(
    request: Request,
    fmt: str,
    active: ManagerUser,
    manad: str | None = None,
    ar: str | None = None,
) -> Response:
    """The same report as PDF, Excel, JSON or CSV (open data), for the period in the address."""
    from letters import statistics_report as renderer

    if fmt not in MEDIA:
        return render(
            request, "error.html", {"title": "Sidan finns inte", "message":
            "Rapporten finns som PDF, Excel (xlsx), JSON och CSV."}, status_code=404,
        )  # fmt: skip
    try:
        month, year = _period(manad, ar)
    except BadPeriod:
        return _bad_period(request)
    report = _report(request, active, month, year, "download_report", fmt)
    if fmt == "json":
        exact = portal(request).settings.statistics.json_exact
        data = json.dumps(st.report_json(report, exact=exact), ensure_ascii=False, indent=2)
        content = (data + "\n").encode("utf-8")
    elif fmt == "csv":
        from services.reports import report_csv

        content = report_csv(report).encode("utf-8")
    elif fmt == "pdf":
        content = renderer.render_pdf(report)
    else:
        with tempfile.TemporaryDirectory(prefix="kvarboende-report-") as folder:
            content = renderer.write_xlsx(report, Path(folder) / "rapport.xlsx").read_bytes()
    name = f"statistik-{month or year}.{fmt}"
    return Response(
        content,
        media_type=MEDIA[fmt],
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
