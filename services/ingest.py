"""Ingesting one notice file: notices -> episodes, exactly once, in one transaction.

The one call every door uses: the inbox stage (flows.stages.ingest), `kvarboende
ingest` and the portal's upload (web.uploads).

A file is ingested once per content hash (content rejected as a whole is read again
when it comes back: the mapping may have been fixed) and a notice once per natural key
(company, contract reference, event type, event date, personnummer). ingest_file reads
and validates a file (domain.notices), stores it in one transaction
(services.notices.store_file) and files it away (connectors.inbox.Filing: archive/
or rejected/, with its receipt). The receipt says how many rows were read, accepted,
rejected and duplicates, never anything about social services.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from connectors import inbox
from connectors.file_limits import FileLimits
from connectors.notice_files import RawTable, read_notice_bytes
from domain.episodes import EpisodePolicy
from domain.formatting import local_now
from domain.notices import (
    NoticeFormatError,
    ParsedNotices,
    ParseOptions,
    ignored_columns_note,
    mapping_notes,
    parse_notices,
    validate_company_mapping,
)
from domain.ownership import WRONG_COMPANY_SV, belongs_elsewhere
from domain.vocabulary import Receipt, RejectedRow
from models.config import CompanyConfig, ConfigError, NoticeConfig, Settings
from models.db import session_scope
from models.errors import KvarboendeError
from models.tables import NoticeFile
from services import notices as stored_notices
from services import receipts
from services.notices import stored_receipt
from services.receipts import contact_line

log = logging.getLogger(__name__)

__all__ = ["content_hash", "ingest_file", "parse_options", "stored_receipt"]


def content_hash(data: bytes) -> str:
    """sha256 of the file's bytes: a file is ingested once per content."""
    return hashlib.sha256(data).hexdigest()


def policy_from(settings: Settings) -> EpisodePolicy:
    """The episode rules from the booking and outcomes sections of the config."""
    return EpisodePolicy(
        payment_days=settings.booking.payment_days,
        deadline_margin_days=settings.booking.deadline_margin_days,
        recurrence_months=settings.outcomes.recurrence_months,
        silence_days=settings.outcomes.follow_up_days,
    )


def parse_options(
    company: CompanyConfig, today: date, notices: NoticeConfig | None = None
) -> ParseOptions:
    """How this company's rows are read, validated against ``today`` and [notices]."""
    checks = notices or NoticeConfig()
    return ParseOptions(
        company_id=company.id,
        columns=company.columns,
        events=company.events,
        day_first=company.day_first,
        today=today,
        eviction_years_ahead=checks.eviction_years_ahead,
    )


def check_company_config(company: CompanyConfig) -> None:
    """A wrong column or event mapping is a configuration error, not a bad file."""
    try:
        validate_company_mapping(company.columns, company.events)
    except NoticeFormatError as exc:
        raise ConfigError(f"companies[{company.id}].{exc}") from None


def file_limits(settings: Settings) -> FileLimits:
    """The caps on one notice file from the ``[files]`` section."""
    return FileLimits(**settings.files.model_dump())


def read_and_parse(
    data: bytes,
    company: CompanyConfig,
    today: date,
    filename: str,
    limits: FileLimits | None = None,
    notices: NoticeConfig | None = None,
) -> tuple[RawTable, ParsedNotices]:
    """Read the bytes and validate every row; NoticeFormatError when the file is unusable.

    Any failure while reading or parsing, a Rust panic (a ``BaseException``) included,
    is this file's rejection, never the end of the run.
    """
    from domain.notices import require_columns

    raw = read_notice_bytes(data, sheet=company.sheet, columns=company.columns, limits=limits)
    options = parse_options(company, today, notices)
    try:
        parsed = parse_notices(raw.frame, options, raw.first_data_row, raw.ragged, raw.broken)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise NoticeFormatError(
            f"filens rader kan inte tolkas (oväntat fel: {type(exc).__name__})"
        ) from None
    require_columns(parsed.mapping, list(raw.frame.columns), filename)
    return raw, parsed


def _rows_text(rows: list[int], limit: int = 20) -> str:
    """``2, 5 och 9`` (the first ``limit`` row numbers, then how many more)."""
    shown = [str(n) for n in rows[:limit]]
    more = len(rows) - len(shown)
    if more:
        return f"{', '.join(shown)} och {more} till"
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} och {shown[-1]}"


def reading_notes(raw: RawTable, parsed: ParsedNotices, *, first_file: bool = False) -> list[str]:
    """The receipt's remarks on how the file was read: plain Swedish, line numbers only.

    Columns not read that look needed (no name column, a co-tenant or apartment header
    not recognised) are said on every receipt; the list of ignored columns on the
    company's first receipt only (it then knows what its export sends in vain).
    """
    notes = mapping_notes(parsed.mapping)
    ignored = ignored_columns_note(parsed.mapping)
    if first_file and ignored:
        notes.append(ignored)
    if raw.cp1252_lines:
        word = "Rad" if len(raw.cp1252_lines) == 1 else "Raderna"
        notes.append(
            f"{word} {_rows_text(raw.cp1252_lines)} var inte UTF-8 som resten av filen och "
            "lästes som Windows-1252: kontrollera å, ä och ö där"
        )
    if parsed.repaired_rows:
        notes.append(
            f"Rad {_rows_text(parsed.repaired_rows)}: felkodade tecken (som Ã¥ för å) i namn "
            "eller adress rättades"
        )
    if parsed.garbled_rows:
        notes.append(
            f"Rad {_rows_text(parsed.garbled_rows)}: namn eller adress har tecken som inte "
            "kan läsas (som � eller Ã); rätta dem i ert system, så skickas de rätt nästa gång"
        )
    return notes


# ---------------------------------------------------------------------------
# One file


def ingest_file(
    engine: Engine,
    settings: Settings,
    path: Path,
    company_id: str,
    *,
    received_on: date | None = None,
    move: bool = True,
    filename: str | None = None,
) -> Receipt:
    """Ingest one notice file for a company; returns its receipt (counts and reasons only).

    With ``move`` the file goes to the archive (or to rejected/ when unusable) with
    its receipt as CSV and XLSX next to it, under a name made from the date and the
    content hash; it is in place before the database row that points at it is
    committed. ``filename`` is the company's own name for it (the upload's), kept in
    the database and the receipt only. The same content twice is recognised by its
    hash and changes nothing.
    """
    company = settings.company(company_id)
    check_company_config(company)
    received_on = received_on or local_now().date()
    data = path.read_bytes()
    digest = content_hash(data)
    name = filename or path.name
    receipt = Receipt(
        filename=name,
        company_id=company.id,
        content_hash=digest,
        received_at=datetime.now(UTC),
        contact=contact_line(settings),
    )

    with session_scope(engine) as session:
        previous = stored_notices.find_file(session, company.id, digest)
        first_file = not stored_notices.has_ingested_file(session, company.id)
    if previous is not None and previous.status == "ingested":
        return _already_received(
            engine, settings, company, path, previous, receipt, received_on, move
        )
    # Content rejected as a whole before (say, an unmapped column) is read again: the
    # operator may have fixed the mapping since. Its file row is then reused (one row
    # per company and content), and the audit log keeps the earlier rejection.
    retry_of = previous

    started = time.perf_counter()
    try:
        raw, parsed = read_and_parse(
            data, company, received_on, name, file_limits(settings), settings.notices
        )
    except NoticeFormatError as exc:
        return _reject_file(
            engine, settings, company, path, receipt, str(exc), received_on, move, retry_of
        )
    with session_scope(engine) as session:
        evidence = stored_notices.ownership_evidence(session, company.id, parsed.accepted)
    verdict = belongs_elsewhere(evidence)
    if verdict is not None:  # company ids and counts only
        log.warning(
            "ingest: a file for company %s looks like company %s's (%s of %s sampled tenants "
            "have open episodes there only; contract reference shapes %.0f %% theirs, "
            "%.0f %% its own): rejected as a whole",
            company.id,
            verdict.other_company,
            verdict.open_elsewhere,
            verdict.tenants,
            100 * verdict.shape_share_other,
            100 * verdict.shape_share_own,
        )
        return _reject_file(
            engine, settings, company, path, receipt, WRONG_COMPANY_SV, received_on, move, retry_of
        )
    encoding = raw.encoding or raw.file_format
    notes = reading_notes(raw, parsed, first_file=first_file)
    if parsed.garbled_rows:  # counts only: the rows themselves are personal data
        log.warning(
            "ingest: %s rows of a file for company %s have unreadable characters in a name "
            "or address",
            len(parsed.garbled_rows),
            company.id,
        )
    del raw, data  # a big file's bytes and string frame are not needed any more
    log.info(
        "ingest: read and validated %s rows after %.1f s",
        parsed.rows_read,
        time.perf_counter() - started,
    )

    filing = inbox.Filing(path)
    if move:  # archived first: a committed file is always in the archive
        filing = inbox.file_copy(
            path,
            settings.paths.archive_dir / company.id,
            inbox.stored_name(received_on, digest, name),
        )
    try:
        counts, duplicate_rows, file_id = stored_notices.store_file(
            engine,
            policy_from(settings),
            company,
            name,
            digest,
            encoding,
            parsed,
            received_on,
            retry_of.id if retry_of is not None else None,
            archive_path=str(filing.target) if filing.target is not None else None,
            notes=notes,
        )
    except (IntegrityError, stored_notices.StoredMeanwhile):
        # Another process stored the same content (or overlapping notices) meanwhile.
        filing.drop()
        with session_scope(engine) as session:
            previous = stored_notices.find_file(session, company.id, digest)
        if previous is None:
            raise KvarboendeError(
                f"{path.name}: a concurrent ingest stored some of the same notices; "
                "run the ingest again"
            ) from None
        return _already_received(
            engine, settings, company, path, previous, receipt, received_on, move
        )
    except BaseException:
        filing.drop()
        raise

    refs = dict(parsed.rejected_refs.iter_rows())
    receipt = receipt.model_copy(
        update={
            "rows_read": parsed.rows_read,
            "accepted": counts["accepted"],
            "rejected": parsed.rejected.height,
            "duplicates": counts["duplicates"],
            "rejections": [
                RejectedRow(row_number=n, reason=r, contract_ref=refs.get(n))
                for n, r in parsed.rejected.iter_rows()
            ],
            "notes": notes,
        }
    )
    lines: list[inbox.ReceiptLine] = []
    if duplicate_rows:  # each duplicate names the row (and file) it repeats
        with session_scope(engine) as session:
            detail = receipts.get_receipt(session, company.id, file_id)
        lines = [
            inbox.ReceiptLine(
                r.row_number, "dubblett", r.contract_ref or "", r.reason, r.repeats_sv
            )
            for r in detail.rows
            if r.kind == "duplicate"
        ]
    log.info(
        "ingested notice file %s: %s rows, %s accepted, %s rejected, %s duplicates",
        file_id,
        receipt.rows_read,
        receipt.accepted,
        receipt.rejected,
        receipt.duplicates,
    )
    earlier = retry_of.archive_path if retry_of is not None else None
    filing.file_away(receipt, lines, Path(earlier) if earlier else None)
    return receipt


def _already_received(
    engine: Engine,
    settings: Settings,
    company: CompanyConfig,
    path: Path,
    previous: NoticeFile,
    receipt: Receipt,
    received_on: date,
    move: bool,
) -> Receipt:
    """Same content as an earlier file: change nothing; take the copy out of the inbox.

    A committed file whose archiving failed earlier (say, a name too long for the
    file system) is archived now, and its row learns where.
    """
    log.info("notice file already received (file id %s)", previous.id)
    if move and path.exists():
        archived = Path(previous.archive_path) if previous.archive_path else None
        if archived is not None and archived.exists():
            filing = inbox.Filing(path, archived)
        else:
            folder = (
                settings.paths.archive_dir
                if previous.status == "ingested"
                else settings.paths.rejected_dir
            )
            filing = inbox.file_copy(
                path,
                folder / company.id,
                inbox.stored_name(received_on, receipt.content_hash, receipt.filename),
            )
            assert filing.target is not None
            stored_notices.record_archive_path(engine, previous.id, filing.target)
        filing.file_away()
    return stored_receipt(engine, previous, receipt.filename).model_copy(
        update={"contact": receipt.contact}
    )


def _reject_file(
    engine: Engine,
    settings: Settings,
    company: CompanyConfig,
    path: Path,
    receipt: Receipt,
    error: str,
    received_on: date,
    move: bool,
    retry_of: NoticeFile | None = None,
) -> Receipt:
    """A whole file is unusable: remember it (by hash), tell why, move it to rejected/.

    Content rejected before (``retry_of``) keeps its one row, with the new reason.
    """
    receipt = receipt.model_copy(update={"file_error": error})
    filing = inbox.Filing(path)
    if move:  # in rejected/ before the row that points at it is committed
        filing = inbox.file_copy(
            path,
            settings.paths.rejected_dir / company.id,
            inbox.stored_name(received_on, receipt.content_hash, receipt.filename),
        )
    try:
        file_id, earlier = stored_notices.record_rejection(
            engine,
            company,
            receipt,
            error,
            retry_of.id if retry_of is not None else None,
            filing.target,
        )
    except BaseException:
        filing.drop()
        raise
    log.info("notice file %s rejected as a whole", file_id)
    filing.file_away(receipt, earlier=earlier)
    return receipt
