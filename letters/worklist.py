"""The worklist's files and email: CSV, XLSX and PDF, and the advisor's daily email text.

Renderers only: what a worklist holds comes from :mod:`services.worklists` (built by the
rules in :mod:`domain.worklist`); the daily stage (``flows.stages.worklist``) decides
when and for whom. Every text cell is formula-safe and every file private to its owner.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import polars as pl
import typst

from domain.formatting import safe_cell, sv_amount, sv_date
from domain.worklist import SECTION_ORDER, Section, Worklist
from letters.render import one_pdf
from models.config import Settings
from models.errors import KvarboendeError
from models.privacy import write_private

TEMPLATE = Path(__file__).resolve().parent / "templates" / "worklist.typ"


# --- labels --------------------------------------------------------------------------------

SECTION_TITLE_SV: dict[Section, str] = {
    Section.URGENT_REVIEWS: "Träffar att avgöra före sista dagen",
    Section.EVICTIONS: "Avhysningar inom kort",
    Section.APPOINTMENTS: "Möten i dag och nästa arbetsdag",
    Section.NO_SHOW_TASKS: "Uteblivna besök att följa upp",
    Section.NEW_EPISODES: "Nya ärenden",
    Section.MATCHES_TO_CONFIRM: "Träffar att bekräfta",
    Section.DELIVERY_PROBLEMS: "Brev som inte nått fram och sena möten",
    Section.PAST_FOLLOW_UP: "Ärenden utan besked",
}

#: How the children column reads: yes, no, or not known.
CHILDREN_LABEL_SV: dict[bool | None, str] = {True: "ja", False: "nej", None: "okänt"}

#: Swedish column headings for files and the terminal: the columns shown, in order.
COLUMN_TITLE_SV: dict[str, str] = {
    "section": "Avsnitt",
    "episode_id": "Ärende",
    "tenant_name": "Namn",
    "address": "Adress",
    "deadline_date": "Betala senast",
    "debt_amount": "Skuld",
    "has_children": "Barn",
    "action": "Att göra",
}


# --- files ---------------------------------------------------------------------------------


def deadline_text(deadline: date | None, estimated: bool | None) -> str:
    """``2026-10-12``; ``ca 2026-10-12`` when it is our estimate (no service date known)."""
    if deadline is None:
        return "–"
    return f"ca {deadline.isoformat()}" if estimated else deadline.isoformat()


def display_rows(rows: pl.DataFrame) -> list[list[str]]:
    """Rows as the Swedish text shown in the terminal, the CSV and the PDF."""
    out: list[list[str]] = []
    titles = {s.value: SECTION_TITLE_SV[s] for s in Section}
    for row in rows.iter_rows(named=True):
        out.append(
            [
                titles[row["section"]],
                "–" if row["episode_id"] is None else str(row["episode_id"]),
                row["tenant_name"] or "–",
                row["address"] or "–",
                deadline_text(row["deadline_date"], row["deadline_estimated"]),
                sv_amount(row["debt_amount"]),
                "–" if row["episode_id"] is None else CHILDREN_LABEL_SV[row["has_children"]],
                row["action"],
            ]
        )
    return out


def csv_text(worklist: Worklist) -> str:
    """The worklist as ``;``-separated CSV (Excel in Sweden opens it), formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(list(COLUMN_TITLE_SV.values()))
    for row in display_rows(worklist.rows):
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def write_csv(worklist: Worklist, path: Path) -> Path:
    """The CSV with a byte-order mark, so Excel opens it as UTF-8."""
    return write_private(path, csv_text(worklist).encode("utf-8-sig"))


SHEET_NAMES: dict[Section, str] = {
    Section.URGENT_REVIEWS: "0 Brådskande träffar",
    Section.EVICTIONS: "1 Avhysningar",
    Section.APPOINTMENTS: "2 Möten",
    Section.NO_SHOW_TASKS: "3 Uteblivna",
    Section.NEW_EPISODES: "4 Nya ärenden",
    Section.MATCHES_TO_CONFIRM: "5 Träffar",
    Section.DELIVERY_PROBLEMS: "6 Brev och sena möten",
    Section.PAST_FOLLOW_UP: "7 Utan besked",
}


def looks_like_formula(text: str) -> bool:
    """Text a spreadsheet would read as a formula if typed in (= + - @ tab CR first)."""
    return safe_cell(text) != text


def write_xlsx(worklist: Worklist, path: Path) -> Path:
    """One sheet per section (all eight, empty ones say so); every text cell formula-safe.

    Text goes in with ``write_string``, so no cell is ever a formula; text that would
    become one when edited in Excel gets the ``quote_prefix`` cell format (Excel's own
    hidden apostrophe) rather than a visible ``'`` in the text.
    """
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"default_date_format": "yyyy-mm-dd", "in_memory": True})
    book.set_properties(
        {
            "title": f"Arbetslista {worklist.run_date.isoformat()}",
            "created": datetime.combine(worklist.run_date, datetime.min.time()),
        }
    )
    bold = book.add_format({"bold": True, "bg_color": "#DDDDDD", "border": 1})
    title = book.add_format({"bold": True, "font_size": 13})
    money = book.add_format({"num_format": '# ##0 "kr"'})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    about_day = book.add_format({"num_format": '"ca "yyyy-mm-dd'})  # an estimated deadline
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    wrap_quoted = book.add_format({"text_wrap": True, "valign": "top", "quote_prefix": True})
    columns = [c for c in COLUMN_TITLE_SV if c != "section"]
    widths = {"episode_id": 8, "tenant_name": 24, "address": 36, "deadline_date": 13,
              "debt_amount": 12, "has_children": 6, "action": 70}  # fmt: skip
    for section, frame in worklist.sections():
        sheet = book.add_worksheet(SHEET_NAMES[section])
        sheet.write_string(0, 0, SECTION_TITLE_SV[section], title)
        for j, column in enumerate(columns):
            sheet.write_string(2, j, COLUMN_TITLE_SV[column], bold)
            sheet.set_column(j, j, widths[column])
        if frame.is_empty():
            sheet.write_string(3, 0, "Inget att göra i dag.")
        for i, row in enumerate(frame.iter_rows(named=True), start=3):
            if row["episode_id"] is None:  # a staff email: no household
                sheet.write_string(i, 0, "–")
            else:
                sheet.write_number(i, 0, row["episode_id"])
            for j, column in ((1, "tenant_name"), (2, "address"), (6, "action")):
                text = row[column] or ""
                sheet.write_string(i, j, text, wrap_quoted if looks_like_formula(text) else wrap)
            if row["deadline_date"] is not None:
                sheet.write_datetime(
                    i,
                    3,
                    datetime.combine(row["deadline_date"], datetime.min.time()),
                    about_day if row["deadline_estimated"] else day,
                )
            if row["debt_amount"] is not None:
                sheet.write_number(i, 4, row["debt_amount"], money)
            children = CHILDREN_LABEL_SV[row["has_children"]] if row["episode_id"] else "–"
            sheet.write_string(i, 5, children)
        sheet.freeze_panes(3, 0)
        sheet.autofilter(2, 0, max(2, frame.height + 2), len(columns) - 1)
    book.close()
    return write_private(path, buffer.getvalue())


@lru_cache(maxsize=1)
def _compiler() -> typst.Compiler:
    """One Typst compiler per process, so fonts are loaded once and not once per list."""
    return typst.Compiler(str(TEMPLATE), root=str(TEMPLATE.parent))


#: The PDF is for reading and printing; past this many rows a section refers to the XLSX and
#: CSV files, which always hold every row. Typst needs about 1 ms and 100 kB per table row,
#: so this keeps a day's PDF under a few seconds and a few hundred MB however long the
#: list gets (the benchmark's 200,000 episodes give one section of 15,000 rows).
PDF_MAX_ROWS_PER_SECTION = 300


def pdf_bytes(worklist: Worklist, settings: Settings) -> bytes:
    """A plain A4 landscape PDF with one table per section, rendered by Typst.

    Dated by the run date, not the clock, so a rerun writes the same bytes. A section
    longer than :data:`PDF_MAX_ROWS_PER_SECTION` shows its first rows (the most urgent)
    and says how many more are in the XLSX/CSV file.
    """
    sections = []
    for section, frame in worklist.sections():
        shown = display_rows(frame.head(PDF_MAX_ROWS_PER_SECTION))
        more = frame.height - len(shown)
        sections.append(
            {
                "title": SECTION_TITLE_SV[section],
                "count": frame.height,
                "rows": [row[1:] for row in shown],
                "more": (
                    f"… och {more} rader till: hela listan finns i "
                    f"{worklist.file_stem}.xlsx och {worklist.file_stem}.csv."
                    if more
                    else ""
                ),
            }
        )
    data = {
        "title": f"Arbetslista {sv_date(worklist.run_date)}",
        "owner": worklist.owner_name,
        "municipality": settings.municipality.name,
        "columns": [COLUMN_TITLE_SV[c] for c in COLUMN_TITLE_SV if c != "section"],
        "sections": sections,
    }
    stamp = int(datetime.combine(worklist.run_date, datetime.min.time(), UTC).timestamp())
    try:
        return one_pdf(
            _compiler().compile(
                sys_inputs={"data": json.dumps(data, ensure_ascii=False)}, timestamp=stamp
            )
        )
    except RuntimeError as exc:  # typst reports template errors as RuntimeError
        raise KvarboendeError(f"the worklist PDF could not be rendered: {exc}") from None


def write_pdf(worklist: Worklist, settings: Settings, path: Path) -> Path:
    return write_private(path, pdf_bytes(worklist, settings))


def email_text(worklist: Worklist, link: str) -> tuple[str, str]:
    """Subject and body of the advisor's daily email: counts and the portal's address
    (``link``), never a server path or a command; no personal data."""
    counts = worklist.counts()
    total = sum(counts.values())
    subject = f"Arbetslista {worklist.run_date.isoformat()}: {total} saker att göra"
    lines = [
        "Hej!",
        "",
        f"Din arbetslista för {sv_date(worklist.run_date)} är klar.",
        "",
    ]
    lines += [f"{SECTION_TITLE_SV[s]}: {counts[s.value]}" for s in SECTION_ORDER]
    lines += [
        "",
        "Öppna arbetslistan i portalen (logga in med ditt konto):",
        link,
        "",
        "Mejlet innehåller inga personuppgifter.",
    ]
    return subject, "\n".join(lines)
