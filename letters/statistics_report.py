"""The managers' statistics report as HTML, PDF (Typst) and XLSX, with SVG charts.

Every format shows the same suppressed figures from a
:class:`domain.statistics.StatisticsReport`; nothing here computes a number. The
charts are plain SVG strings (no scripts, no network), embedded inline in the HTML
and as images in the Typst PDF. Each bar carries ``data-*`` attributes with the
figure it draws, which is what the tests check. A suppressed count is drawn as a
dashed outline at the height of the threshold and labelled ``<5``.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

import jinja2
import typst
import xlsxwriter

from domain.formatting import MONTHS_SHORT_SV, STOCKHOLM, safe_cell, sv_date, sv_time
from domain.statistics import (
    OUTCOME_LABELS,
    TREND_KEYS,
    StatisticsReport,
    suppressed_label,
)
from letters.render import one_pdf
from models.errors import KvarboendeError

HERE = Path(__file__).parent
FONT_DIR = HERE / "fonts"
TEMPLATE_DIR = HERE / "templates"
TYPST_ENTRY = TEMPLATE_DIR / "statistics_report.typ"
HTML_TEMPLATE = "statistics_report.html.j2"
HTML_BODY_TEMPLATE = "statistics_report_body.html.j2"

FONT = "Noto Sans, Arial, Helvetica, sans-serif"
MAIN_COLOUR = "#1f5f8b"
PREVIOUS_COLOUR = "#9bbad1"
EVICTION_COLOUR = "#b23a48"
OUTCOME_COLOURS = ("#2e7d32", "#81c784", "#1f5f8b", "#8d6e63", "#f9a825", "#b23a48", "#9e9e9e")
HIDDEN_COLOUR = "#d0d0d0"
#: The funnel of the legal chain (stage label, figure key).
FUNNEL: tuple[tuple[str, str], ...] = (
    ("Nya ärenden (underrättelse)", "episodes_opened"),
    ("Betalningsföreläggande", "episodes_reaching.payment_order"),
    ("Avhysning bokad", "episodes_reaching.eviction_scheduled"),
    ("Avhysning verkställd", "evictions_executed"),
)
TREND_LABELS = {"notices_total": "Underrättelser", "evictions_executed": "Verkställda avhysningar"}

ABOUT = (
    "Rapporten bygger på sparade månadssiffror utan personuppgifter. "
    "Antal från 1 till {threshold} visas som {label}. Fler siffror döljs och visas som "
    ".. (två punkter) där en summa eller skillnad mellan visade siffror annars skulle "
    "avslöja dem, också mellan rapporterna för olika månader: hittills i år och "
    "senaste 12 månaderna (och samma perioder ett år tidigare) visas bara för mått där "
    "ingen av periodens månader har ett dolt tal, och ett helt år bara när inte precis "
    "en av årets månader har det. Andelar, kvoter och mediantider som bygger på dolda "
    "tal visas också som två punkter. Ett streck (–) betyder att sparade siffror saknas. "
    "Reglerat utan insats betyder att skulden reglerades utan att socialtjänsten eller "
    "boenderådgivaren haft kontakt med hushållet; bekräftat = hyresvärden har meddelat det, "
    "antaget = inga nya underrättelser under uppföljningstiden. "
    "Jämförelsen med riket avser Kronofogdens statistik för det senaste publicerade året "
    "(raden Rikets siffror avser år); kortare perioder än ett år räknas om till helår "
    "(antal × 12 / periodens månader) för att kunna jämföras. Besök räknas på besöksdagen, "
    "bokningar på bokningsdagen. Kvarboende efter 12 månader: av ärendena som öppnades tolv "
    "månader före perioden, andelen hushåll utan verkställd avhysning och utan registrerad "
    "flytt; med kontakt med socialtjänsten = ärendet gick till handläggare eller en insats "
    "(besök, samtal, hembesök, ekonomiskt bistånd) registrerades."
)

#: Shown under a column heading whose period contains a month that can still change.
PRELIMINARY = "preliminärt"


class ReportRenderError(KvarboendeError):
    """The report could not be rendered (a template or font problem, never user data)."""


# --------------------------------------------------------------------------- SVG charts


def _svg(width: int, height: int, title: str, body: list[str], chart: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" data-chart="{chart}" '
        f'font-family="{FONT}" font-size="11">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, **attrs: Any) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(text)}</text>'


def _bar(x: float, y: float, w: float, h: float, colour: str, hidden: bool, **data: str) -> str:
    attrs = "".join(f' data-{k}="{escape(v)}"' for k, v in data.items())
    if hidden:
        style = f'fill="none" stroke="{colour}" stroke-dasharray="3 2"'
    else:
        style = f'fill="{colour}"'
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" {style}{attrs}/>'


def funnel_svg(report: StatisticsReport) -> str:
    """Episodes through the legal chain: opened, payment order, eviction booked, executed."""
    main, prev = report.main.key, report.previous[report.main.key].key
    width, label_w, row_h = 640, 190, 46
    height = 40 + row_h * len(FUNNEL)
    values = [report.value(s, k) or 0 for _l, k in FUNNEL for s in (main, prev)]
    top = max([*values, report.threshold + 1, 1])
    scale = (width - label_w - 70) / top
    body = [
        _text(label_w, 14, report.main.label, fill=MAIN_COLOUR, font_weight="bold"),
        _text(label_w + 150, 14, report.previous[main].label, fill="#4d6f88"),
    ]
    for i, (label, key) in enumerate(FUNNEL):
        y = 28 + i * row_h
        body.append(_text(0, y + 16, label))
        for j, (scope, colour) in enumerate(((main, MAIN_COLOUR), (prev, PREVIOUS_COLOUR))):
            hidden = report.is_suppressed(scope, key)
            value = report.threshold if hidden else (report.value(scope, key) or 0)
            shown = report.shown(scope, key)
            yy = y + j * 19
            w = max(value * scale, 1.0)
            body.append(
                _bar(label_w, yy, w, 16, colour, hidden, stage=key, period=scope, value=shown)
            )
            body.append(_text(label_w + w + 5, yy + 12, shown))
    return _svg(
        width,
        height,
        "Från underrättelse till avhysning (separata antal, inte samma grupp ärenden)",
        body,
        "funnel",
    )


def _trend_value(report: StatisticsReport, month: str, key: str) -> tuple[float | None, str, bool]:
    """(drawn height or None when the month has no stored figures, shown text, hidden)."""
    scope = f"trend:{month}"
    if report.is_unknown(scope, key):
        return None, "–", False
    hidden = report.is_suppressed(scope, key)
    value = report.trend[month][key]
    if hidden:
        small = 0 < value <= report.threshold
        return report.threshold, suppressed_label(report.threshold) if small else "..", True
    return value, f"{int(value)}", False


def trend_svg(report: StatisticsReport) -> str:
    """Notices and executed evictions per month over 24 months, one panel each."""
    width, left, panel_h, gap = 640, 40, 110, 34
    months = report.trend_months
    step = (width - left - 10) / len(months)
    body: list[str] = []
    for p, key in enumerate(TREND_KEYS):
        top_y = 18 + p * (panel_h + gap)
        colour = MAIN_COLOUR if key == "notices_total" else EVICTION_COLOUR
        values = [_trend_value(report, m, key) for m in months]
        top = max([v or 0 for v, _s, _h in values] + [report.threshold + 1])
        body.append(_text(0, top_y - 4, TREND_LABELS[key], font_weight="bold"))
        base = top_y + panel_h
        body.append(f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#555"/>')
        body.append(_text(left - 4, top_y + 10, f"{int(top)}", text_anchor="end", fill="#555"))
        body.append(_text(left - 4, base, "0", text_anchor="end", fill="#555"))
        for i, (month, (value, shown, hidden)) in enumerate(zip(months, values, strict=True)):
            h = (value or 0) / top * (panel_h - 14)
            x = left + i * step + 2
            body.append(
                _bar(x, base - h, step - 4, h, colour, hidden, month=month, series=key, value=shown)
            )
            if hidden or step > 30:
                body.append(
                    _text(
                        x + (step - 4) / 2, base - h - 3, shown, text_anchor="middle", font_size=8
                    )
                )
            label = MONTHS_SHORT_SV[int(month[5:7]) - 1]
            if month.endswith("-01") or i == 0:
                label += f" {month[2:4]}"
            body.append(
                _text(x + (step - 4) / 2, base + 11, label, text_anchor="middle", font_size=7)
            )
    height = 18 + len(TREND_KEYS) * (panel_h + gap)
    return _svg(width, height, "Utveckling per månad, 24 månader", body, "trend")


def outcome_parts(report: StatisticsReport) -> list[tuple[str, str, float | None, str]]:
    """(key, label, share or None when hidden, shown count) for the main period's outcomes."""
    scope = report.main.key
    total = report.value(scope, "outcomes_total") or 0
    parts = []
    for key, label in OUTCOME_LABELS.items():
        shown = report.shown(scope, key)
        hidden = report.is_suppressed(scope, key)
        value = report.value(scope, key) or 0
        parts.append((key, label, None if hidden or not total else value / total, shown))
    return parts


def outcomes_svg(report: StatisticsReport) -> str:
    """Outcome shares of the episodes closed in the main period, as one stacked bar."""
    scope = report.main.key
    width, bar_h = 640, 28
    parts = outcome_parts(report)
    body: list[str] = []
    total_hidden = report.is_suppressed(scope, "outcomes_total")
    total = report.value(scope, "outcomes_total") or 0
    if total_hidden or not total:
        if report.is_unknown(scope, "outcomes_total"):
            message = "Inga sparade siffror för perioden."
        elif not total:
            message = "Inga avslutade ärenden under perioden."
        else:
            message = "För få avslutade ärenden för att visa andelar."
        body.append(_text(0, 20, message))
        return _svg(width, 40, "Utfall av avslutade ärenden", body, "outcomes")
    x = 0.0
    shown_share = 0.0
    for (key, _label, share, shown), colour in zip(parts, OUTCOME_COLOURS, strict=True):
        if share is None or share == 0:
            continue
        w = share * width
        body.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{bar_h}" fill="{colour}" '
            f'data-key="{key}" data-value="{escape(shown)}" data-share="{share:.4f}"/>'
        )
        x += w
        shown_share += share
    rest = 1 - shown_share
    if rest > 1e-9:
        body.append(
            f'<rect x="{x:.1f}" y="0" width="{rest * width:.1f}" height="{bar_h}" '
            f'fill="{HIDDEN_COLOUR}" data-key="hidden_small_counts" data-share="{rest:.4f}"/>'
        )
    for i, ((key, label, share, shown), colour) in enumerate(
        zip(parts, OUTCOME_COLOURS, strict=True)
    ):
        y = bar_h + 22 + i * 18
        body.append(f'<rect x="0" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        pct = "–" if share is None else f"{share * 100:.1f} %".replace(".", ",")
        body.append(_text(18, y, f"{label}: {shown} ({pct})", data_key=key))
    height = bar_h + 22 + len(parts) * 18
    return _svg(width, height, "Utfall av avslutade ärenden", body, "outcomes")


# --------------------------------------------------------------------------- table data


def table_data(report: StatisticsReport) -> list[dict[str, Any]]:
    """Every table as titles, column headers and shown strings (what all formats print)."""
    columns = report.columns
    out = []
    for table in report.tables:
        rows = [
            {
                "label": row.label,
                "key": row.key,
                "kind": row.kind,
                "indent": row.label.startswith(("varav", "andel", "Riket:")),
                "cells": [report.shown(p.key, row.key, row.kind) for p in columns],
            }
            for row in table.rows
        ]
        out.append({"title": table.title, "rows": rows})
    return out


def _context(report: StatisticsReport) -> dict[str, Any]:
    now = datetime.now(STOCKHOLM)
    return {
        "title": report.title,
        "municipality": report.municipality,
        "created": f"{sv_date(now.date())} {sv_time(now)}",
        "columns": [p.label for p in report.columns],
        "preliminary": [report.is_preliminary(p.key) for p in report.columns],
        "preliminary_note": report.preliminary_note,
        "current": [
            p.label + (f" ({PRELIMINARY})" if report.is_preliminary(p.key) else "")
            for p in report.periods
        ],
        "tables": table_data(report),
        "about": ABOUT.format(threshold=report.threshold, label=suppressed_label(report.threshold)),
        "missing": report.missing_note,
        "charts": {
            "funnel": funnel_svg(report),
            "trend": trend_svg(report),
            "outcomes": outcomes_svg(report),
        },
    }


# --------------------------------------------------------------------------- HTML


@lru_cache(maxsize=1)
def _jinja() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: StatisticsReport) -> str:
    """One self-contained HTML file: inline CSS and SVG, no scripts, nothing fetched."""
    return _jinja().get_template(HTML_TEMPLATE).render(**_context(report))


def render_html_body(report: StatisticsReport) -> str:
    """The report's charts and tables without the page around them (no CSS, no title):
    what the portal shows managers inside its own layout, under its own CSP."""
    return _jinja().get_template(HTML_BODY_TEMPLATE).render(**_context(report))


# --------------------------------------------------------------------------- PDF


@lru_cache(maxsize=1)
def _compiler() -> typst.Compiler:
    return typst.Compiler(
        str(TYPST_ENTRY),
        root=str(TEMPLATE_DIR),
        font_paths=[str(FONT_DIR)],
        ignore_system_fonts=True,
    )


def render_pdf(report: StatisticsReport) -> bytes:
    """The same tables and charts on A4 through Typst."""
    data = json.dumps(_context(report), ensure_ascii=False)
    try:
        return one_pdf(_compiler().compile(format="pdf", sys_inputs={"data": data}))
    except typst.TypstError as exc:
        raise ReportRenderError(
            f"Typst could not render the report: {str(exc).splitlines()[0]}"
        ) from None


def write_pdf(report: StatisticsReport, path: Path) -> Path:
    path.write_bytes(render_pdf(report))
    return path


# --------------------------------------------------------------------------- XLSX


def _sheet_name(title: str, used: set[str]) -> str:
    name = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31]
    base, n = name, 2
    while name in used:
        name = f"{base[:28]} {n}"
        n += 1
    used.add(name)
    return name


def write_xlsx(report: StatisticsReport, path: Path) -> Path:
    """One sheet per table plus the monthly trend; hidden counts are the text ``<5``."""
    workbook = xlsxwriter.Workbook(str(path))
    bold = workbook.add_format({"bold": True})
    title_fmt = workbook.add_format({"bold": True, "font_size": 13})
    formats = {
        "count": workbook.add_format({"num_format": "# ##0"}),
        "share": workbook.add_format({"num_format": "0.0%"}),
        "rate": workbook.add_format({"num_format": "0.00"}),
        "national": workbook.add_format({"num_format": "0.00"}),
        "days": workbook.add_format({"num_format": "0.0"}),
        "national_count": workbook.add_format({"num_format": "# ##0"}),
        "year": workbook.add_format({"num_format": "0"}),
    }
    right = workbook.add_format({"align": "right"})
    used: set[str] = set()
    columns = report.columns
    for table in report.tables:
        sheet = workbook.add_worksheet(_sheet_name(table.title, used))
        sheet.write(0, 0, safe_cell(table.title), title_fmt)
        sheet.write(1, 0, safe_cell(report.title))
        sheet.write(3, 0, "Mått", bold)
        for c, period in enumerate(columns, start=1):
            label = period.label
            if report.is_preliminary(period.key):
                label += f" ({PRELIMINARY})"
            sheet.write(3, c, safe_cell(label), bold)
        for r, row in enumerate(table.rows, start=4):
            sheet.write(r, 0, safe_cell(row.label))
            for c, period in enumerate(columns, start=1):
                if report.is_suppressed(period.key, row.key):
                    sheet.write_string(r, c, report.shown(period.key, row.key, row.kind), right)
                    continue
                value = report.value(period.key, row.key)
                if value is None:
                    sheet.write_string(r, c, "–", right)
                else:
                    sheet.write_number(r, c, value, formats[row.kind])
        sheet.set_column(0, 0, 58)
        sheet.set_column(1, len(columns), 16)
    sheet = workbook.add_worksheet(_sheet_name("Månadsutveckling", used))
    sheet.write(0, 0, "Månad", bold)
    for c, key in enumerate(TREND_KEYS, start=1):
        sheet.write(0, c, TREND_LABELS[key], bold)
    sheet.write(0, len(TREND_KEYS) + 1, "Preliminärt", bold)
    for r, month in enumerate(report.trend_months, start=1):
        sheet.write_string(r, 0, month)
        for c, key in enumerate(TREND_KEYS, start=1):
            value, shown, hidden = _trend_value(report, month, key)
            if hidden or value is None:
                sheet.write_string(r, c, shown, right)
            else:
                sheet.write_number(r, c, value, formats["count"])
        if report.is_preliminary(f"trend:{month}"):
            sheet.write_string(r, len(TREND_KEYS) + 1, PRELIMINARY)
    sheet.set_column(0, 0, 12)
    sheet.set_column(1, len(TREND_KEYS), 24)
    about = workbook.add_worksheet(_sheet_name("Om rapporten", used))
    about.write(0, 0, safe_cell(report.title), title_fmt)
    about.write(1, 0, safe_cell(report.municipality))
    about_text = ABOUT.format(threshold=report.threshold, label=suppressed_label(report.threshold))
    about.write(3, 0, safe_cell(about_text))
    if report.missing_note:
        about.write(5, 0, safe_cell(report.missing_note))
    if report.preliminary_note:
        about.write(7, 0, safe_cell(report.preliminary_note))
    about.set_column(0, 0, 120)
    workbook.close()
    return path
