"""The companies' inbox folders: which files are complete, where they go afterwards.

A file is taken only when it is complete: names ending in ``.part`` or ``.tmp``
(and hidden files) are uploads in progress, and a file whose size or modification
time changed within the last ``min_age_seconds`` may still be growing. After
ingest a file moves to ``archive/<company>/`` named by date and content hash, or
to ``rejected/<company>/`` when the whole file was unusable; its receipt (CSV and
XLSX, formula-safe) is written next to it: in the CSV, text a spreadsheet would read as
a formula gets a leading ``'``; in the XLSX every text goes in with ``write_string``
(never a formula) and such text gets the ``quote_prefix`` cell format, Excel's own
hidden apostrophe, so the company sees its file name and words unchanged.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from domain.formatting import looks_like_formula, safe_cell
from domain.vocabulary import Receipt
from models.privacy import PRIVATE_FILE_MODE, make_private, private_dir

IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".filepart")
RECEIPT_HEADER = ("Rad", "Kontraktsnummer", "Status", "Orsak", "Upprepar")
DUPLICATE_REASON = "Händelsen finns redan (samma kontrakt, händelse, datum och personnummer)"


@dataclass(frozen=True)
class ReceiptLine:
    """A row that was not taken, as the receipt lists it (row number as the sheet shows it)."""

    row_number: int
    status: str  # avvisad | dubblett
    contract_ref: str
    reason: str
    repeats: str = ""  # for a duplicate: the row (and file) it repeats


def is_in_progress(path: Path) -> bool:
    """Upload still in progress or not a notice file: .part/.tmp names, hidden files, receipts."""
    name = path.name.lower()
    return name.startswith(".") or name.endswith(IGNORED_SUFFIXES) or ".kvitto." in name


def complete_files(folder: Path, min_age_seconds: float, now: float | None = None) -> list[Path]:
    """Files in the folder that are complete: not in progress and unchanged for a while."""
    if not folder.is_dir():
        return []
    moment = time.time() if now is None else now
    files = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or is_in_progress(path):
            continue
        try:
            if min_age_seconds > 0 and moment - path.stat().st_mtime < min_age_seconds:
                continue
        except FileNotFoundError:
            continue  # taken by another run between listing and looking
        files.append(path)
    return files


#: Longest ASCII stem kept from the company's file name in the stored name.
STEM_CHARS = 40
_NOT_SAFE = re.compile(r"[^A-Za-z0-9_-]+")
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,5}$")


def stored_name(received_on: date, content_hash: str, filename: str) -> str:
    """``2026-11-02_1a2b3c4d5e6f_uppsagningar.csv``: sortable, unique per content.

    Made from the date and the content hash plus a short ASCII form of the company's
    name, never the name itself: a name long in bytes (115 × 'å') or with odd
    characters must not break archiving. The original name stays in the database.
    """
    base = Path(filename.replace("\\", "/")).name
    suffix = Path(base).suffix
    suffix = suffix.lower() if _SUFFIX.match(suffix) else ""
    stem = unicodedata.normalize("NFKD", base[: len(base) - len(suffix)] if suffix else base)
    stem = _NOT_SAFE.sub("_", stem.encode("ascii", "ignore").decode()).strip("_")
    stem = stem[:STEM_CHARS].strip("_") or "fil"
    return f"{received_on.isoformat()}_{content_hash[:12]}_{stem}{suffix}"


def place_file(source: Path, folder: Path, name: str) -> tuple[Path, bool]:
    """Copy a file into a folder under a name; (target, whether this call created it).

    A copy first, through a temporary name and an atomic rename, so that the file is
    in place before the database says it is: the caller removes the source after its
    commit (or the copy, when the commit failed and it created it).
    """
    private_dir(folder)
    target = folder / name
    if target.exists():
        return target, False
    partial = folder / f".{name}.{os.getpid()}.part"
    shutil.copyfile(source, partial)
    make_private(partial, PRIVATE_FILE_MODE)
    os.replace(partial, target)
    return target, True


def move_file(source: Path, folder: Path, name: str) -> Path:
    """Move a file into a folder under a name; a copy of identical content just disappears.

    The name holds the content hash, so when the source is gone and the target is there,
    another run moved these same bytes first: that is success, not an error.
    """
    private_dir(folder)
    target = folder / name
    if target.exists():
        source.unlink(missing_ok=True)
        return target
    try:
        shutil.move(str(source), target)
    except FileNotFoundError:
        if not target.exists():
            raise
    make_private(target, PRIVATE_FILE_MODE)
    return target


@dataclass
class Filing:
    """A notice file on its way out of the inbox, whatever the verdict.

    Its copy is placed (archive/ or rejected/) before the commit that points at it;
    after the commit :meth:`file_away` takes it out of the inbox, writes its receipt
    and removes an earlier rejected copy of the same bytes; when the commit fails,
    :meth:`drop` removes the copy this run made. ``target`` None: the file stays where
    it is (an ingest without ``move``).
    """

    source: Path
    target: Path | None = None
    placed: bool = False

    def drop(self) -> None:
        """The commit did not happen: remove the copy this run made (not another run's)."""
        if self.target is not None and self.placed:
            self.target.unlink(missing_ok=True)

    def file_away(
        self,
        receipt: Receipt | None = None,
        duplicate_rows: Iterable[int | ReceiptLine] = (),
        earlier: Path | None = None,
    ) -> None:
        """After the commit: the inbox copy goes, the receipt (if any) lies beside the
        stored copy, and ``earlier`` (this content's rejected copy) goes."""
        if self.target is None:
            return
        self.source.unlink(missing_ok=True)  # another run may have taken it meanwhile
        if receipt is not None:
            write_receipt(receipt, self.target, duplicate_rows)
        if earlier is not None:
            remove_stale_copy(earlier, self.target)


def file_copy(source: Path, folder: Path, name: str) -> Filing:
    """Place a copy of ``source`` in ``folder`` (see :func:`place_file`) before the commit."""
    target, placed = place_file(source, folder, name)
    return Filing(source, target, placed)


def remove_stale_copy(rejected: Path, archived: Path) -> None:
    """The earlier rejected copy and its receipts go once the same bytes are stored again.

    The file row now points to the new copy (where retention finds it); a copy left in
    rejected/ would keep the tenants' data with nothing to delete it.
    """
    if rejected == archived:
        return
    for stale in (
        rejected,
        rejected.with_name(rejected.name + ".kvitto.csv"),
        rejected.with_name(rejected.name + ".kvitto.xlsx"),
    ):
        stale.unlink(missing_ok=True)


def receipt_rows(
    receipt: Receipt, duplicates: Iterable[int | ReceiptLine] = ()
) -> list[ReceiptLine]:
    """One line per rejected or duplicate row, sorted by row number (text as it is: each
    writer neutralises formulas its own way). A duplicate given as a bare row number
    has no known original."""
    rows = [
        ReceiptLine(r.row_number, "avvisad", r.contract_ref or "", r.reason)
        for r in receipt.rejections
    ]
    rows += [
        d if isinstance(d, ReceiptLine) else ReceiptLine(d, "dubblett", "", DUPLICATE_REASON)
        for d in duplicates
    ]
    rows.sort(key=lambda r: r.row_number)
    return rows


def receipt_summary(receipt: Receipt) -> list[tuple[str, object]]:
    """The counts, in plain Swedish, as label/value pairs (text as it is, see receipt_rows):
    with the received time, the file's SHA-256 and whom to ask."""
    lines: list[tuple[str, object]] = [("Fil", receipt.filename)]
    if receipt.received_at is not None:
        lines.append(("Mottagen", local_time(receipt.received_at)))
    lines += [
        ("SHA-256", receipt.content_hash),
        ("Rader i filen", receipt.rows_read),
        ("Mottagna", receipt.accepted),
        ("Avvisade", receipt.rejected),
        ("Dubbletter", receipt.duplicates),
    ]
    if receipt.already_received:
        lines.append(("Anmärkning", "Filen har redan tagits emot tidigare"))
    if receipt.file_error:
        lines.append(("Filen kunde inte läsas", receipt.file_error))
    lines += [("Anmärkning", note) for note in receipt.notes]
    if receipt.contact:
        lines.append(("Frågor om kvittot", receipt.contact))
    return lines


def local_time(moment: datetime) -> str:
    """``2026-11-02 08:15`` in Stockholm time."""
    from domain.formatting import STOCKHOLM

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def write_receipt(
    receipt: Receipt, stem: Path, duplicate_rows: Iterable[int | ReceiptLine] = ()
) -> tuple[Path, Path]:
    """Write ``<stem>.kvitto.csv`` and ``<stem>.kvitto.xlsx``; returns both paths."""
    import xlsxwriter

    rows = receipt_rows(receipt, duplicate_rows)
    summary = receipt_summary(receipt)
    csv_path = stem.with_name(stem.name + ".kvitto.csv")
    xlsx_path = stem.with_name(stem.name + ".kvitto.xlsx")
    with csv_path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        for label, value in summary:
            writer.writerow([label, safe_cell(value)])
        writer.writerow([])
        writer.writerow(RECEIPT_HEADER)
        for r in rows:
            cells = (r.row_number, r.contract_ref, r.status, r.reason, r.repeats)
            writer.writerow([safe_cell(cell) for cell in cells])
    workbook = xlsxwriter.Workbook(str(xlsx_path), {"strings_to_formulas": False})
    try:
        sheet = workbook.add_worksheet("Kvitto")
        bold = workbook.add_format({"bold": True})
        quoted = workbook.add_format({"quote_prefix": True})

        def text(row: int, column: int, value: str) -> None:
            sheet.write_string(row, column, value, quoted if looks_like_formula(value) else None)

        for index, (label, value) in enumerate(summary):
            sheet.write_string(index, 0, label, bold)
            if isinstance(value, int):
                sheet.write_number(index, 1, value)
            else:
                text(index, 1, str(value))
        start = len(summary) + 1
        sheet.write_row(start, 0, RECEIPT_HEADER, bold)
        for offset, line in enumerate(rows, start=start + 1):
            sheet.write_number(offset, 0, line.row_number)
            text(offset, 1, line.contract_ref)
            sheet.write_string(offset, 2, line.status)
            text(offset, 3, line.reason)
            text(offset, 4, line.repeats)
        sheet.set_column(0, 0, 22)
        sheet.set_column(1, 1, 18)
        sheet.set_column(2, 2, 12)
        sheet.set_column(3, 3, 90)
        sheet.set_column(4, 4, 30)
    finally:
        workbook.close()
    return csv_path, xlsx_path
