"""A housing company's notice files and their receipts, for that company only.

Every function takes the company id of the person or system asking and reads only that
company's files: another company's file id gives NotFound, exactly like an id that does
not exist, so nothing tells that it exists. A receipt says how many rows were read,
accepted, rejected (row number, contract reference, reason) and duplicates (and which
row each repeats); it never says anything about matches or social services.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.formatting import STOCKHOLM, safe_cell
from domain.vocabulary import Channel, LetterKind
from models.config import Settings
from models.db import as_utc
from models.errors import NotFound
from models.tables import NoticeFile, RowRejection

LIST_LIMIT = 200
DUPLICATE_TEXT = "Händelsen finns redan (samma kontrakt, händelse, datum och personnummer)"


@dataclass(frozen=True)
class ReceiptSummary:
    """One received file and its counts."""

    id: int
    filename: str
    received_at: datetime
    status: str  # ingested | rejected
    rows_read: int
    accepted: int
    rejected: int
    duplicates: int
    file_error: str | None
    content_hash: str

    @property
    def status_sv(self) -> str:
        if self.status == "rejected":
            return "Kunde inte läsas"
        if self.rejected:
            return "Mottagen, med avvisade rader"
        return "Mottagen"

    @property
    def received_local(self) -> str:
        return self.received_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class ReceiptRow:
    """A row that was not taken: rejected with a reason, or a duplicate of an earlier row."""

    row_number: int
    kind: str  # rejected | duplicate
    contract_ref: str | None
    reason: str
    repeats_row: int | None = None
    repeats_file_id: int | None = None
    repeats_filename: str | None = None

    @property
    def kind_sv(self) -> str:
        return "Dubblett" if self.kind == "duplicate" else "Avvisad"

    @property
    def repeats_sv(self) -> str:
        """Where the original is, in words: '' when it is not known (older files)."""
        if self.repeats_row is None:
            return ""
        if self.repeats_filename is None:
            return f"rad {self.repeats_row} i samma fil"
        return f"rad {self.repeats_row} i filen {self.repeats_filename}"


@dataclass(frozen=True)
class ReceiptDetail:
    summary: ReceiptSummary
    rows: list[ReceiptRow]
    # How the file was read (columns not read, lines in another encoding): plain Swedish.
    notes: list[str] = field(default_factory=list)


def contact_line(settings: Settings) -> str:
    """Whom a company asks about a receipt: the social services' unit and its contact."""
    town = settings.municipality
    parts = [f"{town.social_services}, {town.name}"]
    if town.email:
        parts.append(f"e-post {town.email}")
    if town.phone:
        parts.append(f"telefon {town.phone}")
    return ", ".join(parts)


def _summary(file: NoticeFile) -> ReceiptSummary:
    return ReceiptSummary(
        id=file.id,
        filename=file.filename,
        received_at=as_utc(file.received_at),
        status=file.status,
        rows_read=file.rows_read,
        accepted=file.rows_accepted,
        rejected=file.rows_rejected,
        duplicates=file.rows_duplicate,
        file_error=file.file_error,
        content_hash=file.content_hash,
    )


def list_receipts(
    session: Session, company_id: str, limit: int = LIST_LIMIT
) -> list[ReceiptSummary]:
    """The company's files, newest first (inbox and portal deliveries alike)."""
    files = session.scalars(
        select(NoticeFile)
        .where(NoticeFile.company_id == company_id)
        .order_by(NoticeFile.received_at.desc(), NoticeFile.id.desc())
        .limit(limit)
    )
    return [_summary(file) for file in files]


def _own_file(session: Session, company_id: str, file_id: int) -> NoticeFile:
    file = session.get(NoticeFile, file_id)
    if file is None or file.company_id != company_id:
        raise NotFound(f"receipt {file_id} not found")
    return file


def get_receipt(session: Session, company_id: str, file_id: int) -> ReceiptDetail:
    """One of the company's receipts with its rows; NotFound for anyone else's."""
    file = _own_file(session, company_id, file_id)
    stored = session.scalars(
        select(RowRejection)
        .where(RowRejection.file_id == file.id)
        .order_by(RowRejection.row_number, RowRejection.id)
    ).all()
    other_ids = {r.repeats_file_id for r in stored if r.repeats_file_id not in (None, file.id)}
    names = dict(
        session.execute(
            select(NoticeFile.id, NoticeFile.filename).where(
                NoticeFile.id.in_(other_ids), NoticeFile.company_id == company_id
            )
        )
        .tuples()
        .all()
    )
    notes = [r.reason for r in stored if r.kind == "note"]
    stored = [r for r in stored if r.kind != "note"]
    rows = [
        ReceiptRow(
            row_number=r.row_number,
            kind=r.kind,
            contract_ref=r.contract_ref,
            reason=DUPLICATE_TEXT if r.kind == "duplicate" else r.reason,
            repeats_row=r.repeats_row,
            repeats_file_id=r.repeats_file_id,
            repeats_filename=names.get(r.repeats_file_id)
            if r.repeats_file_id not in (None, file.id)
            else None,
        )
        for r in stored
    ]
    return ReceiptDetail(summary=_summary(file), rows=rows, notes=notes)


def file_id_for_hash(session: Session, company_id: str, content_hash: str) -> int:
    """The id of the company's stored file with this content (NotFound: none)."""
    file_id = session.scalar(
        select(NoticeFile.id).where(
            NoticeFile.company_id == company_id, NoticeFile.content_hash == content_hash
        )
    )
    if file_id is None:
        raise NotFound("no such notice file")
    return file_id


def find_by_hash(session: Session, company_id: str, content_hash: str) -> ReceiptDetail:
    """The company's receipt of a file by the SHA-256 of its content; NotFound otherwise."""
    file_id = session.scalar(
        select(NoticeFile.id).where(
            NoticeFile.company_id == company_id,
            NoticeFile.content_hash == content_hash.strip().lower(),
        )
    )
    if file_id is None:
        raise NotFound("receipt not found")
    return get_receipt(session, company_id, file_id)


def summary_lines(detail: ReceiptDetail, contact: str = "") -> list[tuple[str, object]]:
    """The counts, in plain Swedish, as label/value pairs: with the received time, the
    file's SHA-256 (the company can tell which of its files this was) and whom to ask."""
    s = detail.summary
    lines: list[tuple[str, object]] = [
        ("Fil", s.filename),
        ("Mottagen", s.received_local),
        ("SHA-256", s.content_hash),
        ("Rader i filen", s.rows_read),
        ("Mottagna", s.accepted),
        ("Avvisade", s.rejected),
        ("Dubbletter", s.duplicates),
    ]
    if s.file_error:
        lines.append(("Filen kunde inte läsas", s.file_error))
    lines += [("Anmärkning", note) for note in detail.notes]
    if contact:
        lines.append(("Frågor om kvittot", contact))
    return lines


ROW_HEADER = ["Rad", "Kontraktsnummer", "Status", "Orsak", "Upprepar"]


def _row_cells(row: ReceiptRow) -> list[object]:
    return [row.row_number, row.contract_ref or "", row.kind_sv, row.reason, row.repeats_sv]


def receipt_csv(detail: ReceiptDetail, contact: str = "") -> bytes:
    """The receipt as a semicolon CSV (UTF-8 with BOM); formulas are neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    for label, value in summary_lines(detail, contact):
        writer.writerow([label, safe_cell(value)])
    writer.writerow([])
    writer.writerow(ROW_HEADER)
    for row in detail.rows:
        writer.writerow([safe_cell(cell) for cell in _row_cells(row)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def receipt_xlsx(detail: ReceiptDetail, contact: str = "") -> bytes:
    """The receipt as an Excel workbook; text is always written as text, never a formula."""
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    try:
        sheet = workbook.add_worksheet("Kvitto")
        bold = workbook.add_format({"bold": True})
        summary = summary_lines(detail, contact)
        for index, (label, value) in enumerate(summary):
            sheet.write_string(index, 0, label, bold)
            if isinstance(value, int):
                sheet.write_number(index, 1, value)
            else:
                sheet.write_string(index, 1, str(value))
        start = len(summary) + 1
        sheet.write_row(start, 0, ROW_HEADER, bold)
        for offset, row in enumerate(detail.rows, start=start + 1):
            sheet.write_number(offset, 0, row.row_number)
            for column, value in enumerate(_row_cells(row)[1:], start=1):
                sheet.write_string(offset, column, str(value))
        sheet.set_column(0, 0, 16)
        sheet.set_column(1, 1, 18)
        sheet.set_column(2, 2, 10)
        sheet.set_column(3, 3, 80)
        sheet.set_column(4, 4, 30)
    finally:
        workbook.close()
    return buffer.getvalue()


def receipt_email_key(company_id: str, file_id: int) -> str:
    """The outbox key of a file's receipt email: one email per file, however it came."""
    return f"company_receipt:{company_id}:{file_id}"


def receipt_file_of_key(key: str) -> tuple[str, int] | None:
    """The company and file of a receipt email's outbox key (None: not a receipt's key)."""
    kind, _, rest = key.partition(":")
    company_id, _, file_id = rest.rpartition(":")
    if kind != "company_receipt" or not company_id or not file_id.isdigit():
        return None
    return company_id, int(file_id)


def receipt_csv_name(file_id: int) -> str:
    """The file name of a receipt's CSV, as downloaded and as attached to its email."""
    return f"kvitto-{file_id}.csv"


def receipt_attachment(session: Session, key: str, settings: Settings) -> tuple[str, bytes] | None:
    """The receipt CSV to attach to the receipt email queued under ``key``: file name and
    bytes, the same as the portal's CSV download (formulas neutralised), made when the
    email is sent. None for another email, or a file no longer stored."""
    found = receipt_file_of_key(key)
    if found is None:
        return None
    company_id, file_id = found
    try:
        detail = get_receipt(session, company_id, file_id)
    except NotFound:
        return None
    return receipt_csv_name(file_id), receipt_csv(detail, contact_line(settings))


def receipt_email_text(detail: ReceiptDetail, link: str) -> tuple[str, str]:
    """Subject and body of a receipt email: counts and a link, never a name or a row's content.

    The file's own name stays out too (a company may name a file after a tenant); the
    receipt page in the portal shows it, with the rows, to the company's users only.
    """
    s = detail.summary
    if s.status == "rejected":
        subject = f"Kvitto: filen som kom {s.received_local} kunde inte läsas"
        counts = [
            "Filen kunde inte läsas, så inga rader togs emot. Orsaken står i kvittot.",
            "Rätta filen och skicka den igen.",
        ]
    else:
        subject = (
            f"Kvitto: fil mottagen {s.received_local}, {s.accepted} rader mottagna, "
            f"{s.rejected} avvisade"
        )
        counts = [
            f"Rader i filen: {s.rows_read}",
            f"Mottagna: {s.accepted}",
            f"Avvisade: {s.rejected}",
            f"Dubbletter: {s.duplicates}",
        ]
        if s.rejected:
            counts += ["", "Rätta de avvisade raderna och skicka dem igen i en ny fil."]
    body = [
        "Hej!",
        "",
        f"Kvarboende har tagit emot en fil från er {s.received_local} (fil nummer {s.id}).",
        "",
        *counts,
        "",
        "Kvittot, med radnummer, kontraktsnummer och orsak för varje rad som inte togs emot,",
        f"finns som bifogad fil ({receipt_csv_name(s.id)}, öppnas i Excel) och i portalen",
        "(logga in med ert konto):",
        link,
        "",
        "Bilagan har samma innehåll som kvittot i portalen. Varken mejlet eller bilagan",
        "innehåller namn, personnummer eller adresser ur raderna.",
    ]
    return subject, "\n".join(body) + "\n"


def queue_receipt_email(
    session: Session, settings: Settings, company_id: str, content_hash: str, today: date
) -> bool:
    """Queue the receipt of the company's file (by content hash) for its contact address.

    Through the outbox under one key per file, so a file uploaded twice or delivered
    again to the inbox is emailed once, and a failed send is retried like staff emails.
    Returns whether a new email was queued (False: no contact address, or already queued).
    """
    from services.outbox import enqueue

    address = settings.company(company_id).contact_email.strip()
    if not address:
        return False
    detail = find_by_hash(session, company_id, content_hash)
    link = settings.web.link(f"/foretag/kvitton/{detail.summary.id}")
    subject, body = receipt_email_text(detail, link)
    _letter, created = enqueue(
        session,
        key=receipt_email_key(company_id, detail.summary.id),
        kind=LetterKind.COMPANY_RECEIPT,
        channel=Channel.EMAIL,
        created_on=today,
        recipient=address,
        subject=subject,
        body=body,
    )
    return created
