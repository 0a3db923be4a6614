"""Ingest stage: notice files -> notices -> episodes, exactly once, in one transaction per file.

A file is ingested once per content hash (content rejected as a whole is read again
when it comes back: the mapping may have been fixed) and a notice once per natural key
(company, contract reference, event type, event date, personnummer). All rows of
a file, the episodes they open or move and the status transitions are written in
ONE transaction: a crash in the middle leaves nothing, and a rerun completes it.
The receipt says how many rows were read, accepted, rejected and duplicates, never
anything about social services.

Bulk work is polars; rows reach the database through SQLAlchemy Core executemany
(COPY on PostgreSQL), with ids reserved up front so that notices, episodes and
transitions can reference each other without a round trip per row.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors import inbox
from connectors.file_limits import FileLimits
from connectors.notice_files import RawTable, read_notice_bytes
from domain.episodes import (
    LATEST_FIELDS,
    OUTCOME_FIELDS,
    EpisodePolicy,
    EpisodeState,
    apply_to_existing,
    plan_new_tenancies,
    with_keys,
)
from domain.formatting import local_now
from domain.notices import (
    NoticeFormatError,
    ParsedNotices,
    ParseOptions,
    parse_notices,
    validate_company_mapping,
)
from domain.outcomes import SOURCE_SILENCE
from domain.vocabulary import EventType, Receipt, RejectedRow
from models.audit import audit
from models.config import CompanyConfig, ConfigError, NoticeConfig, Settings
from models.db import session_scope
from models.errors import KvarboendeError
from models.tables import (
    Episode,
    EpisodeTransition,
    HousingCompany,
    Notice,
    NoticeFile,
    RowRejection,
)

log = logging.getLogger(__name__)

ACTOR = "ingest"
CHUNK = 5000
BULK_CHUNK = 100_000
DUPLICATE_REASON = "Dubblett: händelsen finns redan (samma kontrakt, händelse, datum, personnummer)"

NOTICE_COLUMNS = (
    "event_type", "event_date", "contract_ref", "personnummer", "personnummer_valid",
    "tenant_name", "co_tenant_name", "co_tenant_personnummer", "street_address", "apartment",
    "postal_code", "town", "debt_amount", "monthly_rent", "service_date", "eviction_at",
    "email", "phone", "language",
)  # fmt: skip


def content_hash(data: bytes) -> str:
    """sha256 of the file's bytes: a file is ingested once per content."""
    return hashlib.sha256(data).hexdigest()


def policy_from(settings: Settings) -> EpisodePolicy:
    """The episode rules from the booking and outcomes sections of the config."""
    return EpisodePolicy(
        payment_days=settings.booking.payment_days,
        deadline_margin_days=settings.booking.deadline_margin_days,
        recurrence_months=settings.outcomes.recurrence_months,
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


def reading_notes(raw: RawTable, parsed: ParsedNotices) -> list[str]:
    """The receipt's remarks on how the file was read: plain Swedish, line numbers only."""
    notes = []
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
# Database helpers


def _ensure_company(session: Session, company: CompanyConfig) -> None:
    """The company row the file belongs to (ingest works before ``init`` synced it)."""
    if session.get(HousingCompany, company.id) is None:
        session.add(
            HousingCompany(id=company.id, name=company.name, landlord_type=company.landlord_type)
        )
        session.flush()


def reserve_ids(connection: Connection, table: str, count: int) -> list[int]:
    """``count`` primary keys for a table, taken inside the caller's write transaction.

    PostgreSQL: from the table's sequence (safe with concurrent writers). SQLite:
    after max(id); the caller already holds SQLite's single write lock.
    """
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        # The lock keeps other inserts (which draw from the sequence) out until commit,
        # so the block between nextval and setval is ours alone.
        connection.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
        last = connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"nextval(pg_get_serial_sequence('{table}', 'id')) + :n - 1)"
            ),
            {"n": count},
        ).scalar_one()
        return list(range(int(last) - count + 1, int(last) + 1))
    start = connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
    return list(range(int(start) + 1, int(start) + count + 1))


def _existing_keys(connection: Connection, company_id: str, keys: pl.Series) -> pl.Series:
    """The natural keys among these that are already stored (only this company's can be)."""
    found: set[str] = set()
    anything = connection.execute(
        select(Notice.id).where(Notice.company_id == company_id).limit(1)
    ).first()
    if anything is None:
        return pl.Series([], dtype=pl.String)
    keys = keys.unique().to_list()
    if connection.dialect.name == "postgresql":
        from sqlalchemy import bindparam
        from sqlalchemy.dialects.postgresql import ARRAY
        from sqlalchemy.types import String

        query = text("SELECT natural_key FROM notice WHERE natural_key = ANY(:keys)").bindparams(
            bindparam("keys", type_=ARRAY(String))
        )
        for start in range(0, len(keys), 100_000):
            found.update(
                connection.execute(query, {"keys": list(keys[start : start + 100_000])}).scalars()
            )
        return pl.Series(sorted(found), dtype=pl.String)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        found.update(
            connection.execute(
                select(Notice.natural_key).where(Notice.natural_key.in_(chunk))
            ).scalars()
        )
    return pl.Series(sorted(found), dtype=pl.String)


def bulk_insert(connection: Connection, table: Table, frame: pl.DataFrame) -> None:
    """Insert a frame's rows: COPY on PostgreSQL, Core executemany elsewhere."""
    if frame.height == 0:
        return
    # Columns with no value at all are left out: the database stores NULL for them anyway.
    frame = frame.select([c for c in frame.columns if frame[c].null_count() < frame.height])
    if connection.dialect.name == "postgresql":
        _copy_frame(connection, table, frame)
        return
    if connection.dialect.name == "sqlite":
        _sqlite_executemany(connection, table, frame)
        return
    for start in range(0, frame.height, 50_000):
        connection.execute(insert(table), frame.slice(start, 50_000).to_dicts())


def _sqlite_executemany(connection: Connection, table: Table, frame: pl.DataFrame) -> None:
    """The DB-API executemany with values already in SQLAlchemy's SQLite storage formats.

    SQLAlchemy's per-row bind processing costs more than SQLite's insert itself, so
    dates, datetimes and booleans are formatted by polars the way SQLAlchemy stores
    them (``2026-11-02``, ``2026-11-02 08:00:00.000000`` in UTC, 0/1).
    """
    formats = [
        pl.col(c).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
        if isinstance(dtype, pl.Datetime) and dtype.time_zone
        else pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
        if isinstance(dtype, pl.Datetime)
        else pl.col(c).dt.strftime("%Y-%m-%d")
        if isinstance(dtype, pl.Date)
        else pl.col(c).cast(pl.Int8)
        if dtype == pl.Boolean
        else pl.col(c)
        for c, dtype in frame.schema.items()
    ]
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    marks = ", ".join("?" for _ in frame.columns)
    statement = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'
    raw = connection.connection.driver_connection
    if frame.height > BULK_CHUNK:
        raw.execute("PRAGMA cache_size=-262144")  # 256 MB of page cache for big indexes
    for start in range(0, frame.height, BULK_CHUNK):
        raw.executemany(statement, frame.slice(start, BULK_CHUNK).select(formats).rows())


def _copy_frame(connection: Connection, table: Table, frame: pl.DataFrame) -> None:
    """PostgreSQL COPY in CSV form, in chunks, inside the caller's transaction."""
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    raw = connection.connection.driver_connection
    formats = [
        pl.col(c).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.f+00:00")
        if isinstance(dtype, pl.Datetime)
        else pl.col(c)
        for c, dtype in frame.schema.items()
    ]
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        statement = f"COPY {table.name} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        with cursor.copy(statement) as copy:
            for start in range(0, frame.height, BULK_CHUNK):
                buffer = io.BytesIO()
                frame.slice(start, BULK_CHUNK).select(formats).write_csv(
                    buffer, include_header=False, null_value="\\N", quote_style="necessary"
                )
                copy.write(buffer.getvalue())


class _Clock:
    """Progress of a big file in the log: phase names and seconds, never row content."""

    def __init__(self) -> None:
        """Start timing."""
        self.start = time.perf_counter()

    def lap(self, phase: str) -> None:
        """Log how long the phase since the last lap took."""
        now = time.perf_counter()
        log.info("ingest: %s after %.1f s", phase, now - self.start)
        self.start = now


def _load_states(
    session: Session, company_id: str, tenancy_keys: pl.Series
) -> dict[str, list[EpisodeState]]:
    """Stored episodes of these tenancies, with the date their current status was reached."""
    states: dict[str, list[EpisodeState]] = {}
    anything = session.execute(
        select(Episode.id).where(Episode.company_id == company_id).limit(1)
    ).first()
    if anything is None:
        return states
    keys = tenancy_keys.unique().to_list()
    table = Episode.__table__
    wanted = [
        table.c[name]
        for name in (
            "id", "tenancy_key", "status", "first_notice_date", "last_event_date",
            "outcome", "outcome_certainty", "outcome_date", "outcome_source",
            *LATEST_FIELDS, "personnummer",
            "personnummer_valid", "service_date", "deadline_date", "deadline_estimated",
            "reached_payment_order",
        )
    ]  # fmt: skip
    rows: list[Any] = []  # Core rows: plain tuples are much cheaper than ORM objects here
    for start in range(0, len(keys), CHUNK):
        chunk = list(keys[start : start + CHUNK])
        rows.extend(session.execute(select(*wanted).where(table.c.tenancy_key.in_(chunk))))
    if not rows:
        return states
    ids = [row.id for row in rows]
    status_dates: dict[tuple[int, str], date] = {}
    for start in range(0, len(ids), CHUNK):
        chunk_ids = ids[start : start + CHUNK]
        query = (
            select(
                EpisodeTransition.episode_id,
                EpisodeTransition.to_status,
                func.max(EpisodeTransition.effective_date),
            )
            .where(EpisodeTransition.episode_id.in_(chunk_ids))
            .group_by(EpisodeTransition.episode_id, EpisodeTransition.to_status)
        )
        for episode_id, status, when in session.execute(query):
            if when is not None:
                status_dates[(episode_id, status)] = when
    terminations = _termination_dates(session, ids)
    for row in rows:
        last = row.last_event_date or row.first_notice_date
        if row.status == "closed" and row.outcome_source == SOURCE_SILENCE:
            status_date = last  # closed for lack of news: it ended with its last event
        elif row.status == "closed":
            status_date = row.outcome_date or last
        else:
            status_date = status_dates.get((row.id, row.status), last)
        values = {name: getattr(row, name) for name in LATEST_FIELDS}
        values.update(
            personnummer=row.personnummer,
            personnummer_valid=row.personnummer_valid,
            service_date=row.service_date,
            deadline_date=row.deadline_date,
            deadline_estimated=bool(row.deadline_estimated),
            termination_date=terminations.get(row.id),
            reached_payment_order=row.reached_payment_order,
            outcome=row.outcome,
            outcome_certainty=row.outcome_certainty,
            _seen=True,
        )
        if values.get("debt_amount") is not None:
            values["debt_amount"] = float(values["debt_amount"])
        if values.get("monthly_rent") is not None:
            values["monthly_rent"] = float(values["monthly_rent"])
        states.setdefault(row.tenancy_key, []).append(
            EpisodeState(
                tenancy_key=row.tenancy_key,
                status=row.status,
                first_notice_date=row.first_notice_date,
                last_event_date=last,
                status_date=status_date,
                values=values,
                id=row.id,
            )
        )
    return states


def _termination_dates(session: Session, episode_ids: list[int]) -> dict[int, date]:
    """The first termination notice's date per stored episode (the deadline's estimate base)."""
    dates: dict[int, date] = {}
    for start in range(0, len(episode_ids), CHUNK):
        chunk_ids = episode_ids[start : start + CHUNK]
        query = (
            select(Notice.episode_id, func.min(Notice.event_date))
            .where(
                Notice.episode_id.in_(chunk_ids),
                Notice.event_type == EventType.TERMINATION_NOTICE.value,
            )
            .group_by(Notice.episode_id)
        )
        dates.update({episode_id: when for episode_id, when in session.execute(query)})
    return dates


# ---------------------------------------------------------------------------
# The stage


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
    receipt = Receipt(filename=name, company_id=company.id, content_hash=digest)

    with session_scope(engine) as session:
        previous = _find_file(session, company.id, digest)
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
    encoding = raw.encoding or raw.file_format
    notes = reading_notes(raw, parsed)
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

    target, placed = None, False
    if move:  # archived first: a committed file is always in the archive
        target, placed = inbox.place_file(
            path,
            settings.paths.archive_dir / company.id,
            inbox.stored_name(received_on, digest, name),
        )
    try:
        counts, duplicate_rows, file_id = _store_file(
            engine,
            settings,
            company,
            name,
            digest,
            encoding,
            parsed,
            received_on,
            retry_of.id if retry_of is not None else None,
            archive_path=str(target) if target is not None else None,
            notes=notes,
        )
    except (IntegrityError, _StoredMeanwhile):
        # Another process stored the same content (or overlapping notices) meanwhile.
        _drop_copy(target, placed)
        with session_scope(engine) as session:
            previous = _find_file(session, company.id, digest)
        if previous is None:
            raise KvarboendeError(
                f"{path.name}: a concurrent ingest stored some of the same notices; "
                "run the ingest again"
            ) from None
        return _already_received(
            engine, settings, company, path, previous, receipt, received_on, move
        )
    except BaseException:
        _drop_copy(target, placed)
        raise

    receipt = receipt.model_copy(
        update={
            "rows_read": parsed.rows_read,
            "accepted": counts["accepted"],
            "rejected": parsed.rejected.height,
            "duplicates": counts["duplicates"],
            "rejections": [RejectedRow(**r) for r in parsed.rejected.to_dicts()],
            "notes": notes,
        }
    )
    log.info(
        "ingested notice file %s: %s rows, %s accepted, %s rejected, %s duplicates",
        file_id,
        receipt.rows_read,
        receipt.accepted,
        receipt.rejected,
        receipt.duplicates,
    )
    if target is not None:
        path.unlink(missing_ok=True)
        inbox.write_receipt(receipt, target, duplicate_rows)
        if retry_of is not None and retry_of.archive_path:
            _remove_rejected_copy(Path(retry_of.archive_path), target)
    return receipt


def _drop_copy(target: Path | None, placed: bool) -> None:
    """Remove an archive copy this ingest made when its commit did not happen."""
    if target is not None and placed:
        target.unlink(missing_ok=True)


class _StoredMeanwhile(Exception):
    """Another ingest stored this content while we read it (the retry found it ingested)."""


def _remove_rejected_copy(rejected: Path, archived: Path) -> None:
    """The earlier rejected copy and its receipts go once the same bytes are archived.

    The file row now points to the archive (where retention finds it); a copy left in
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


def _find_file(session: Session, company_id: str, digest: str) -> NoticeFile | None:
    """An earlier file of this company with the same content, if any."""
    return session.scalars(
        select(NoticeFile).where(
            NoticeFile.company_id == company_id, NoticeFile.content_hash == digest
        )
    ).first()


def _store_file(
    engine: Engine,
    settings: Settings,
    company: CompanyConfig,
    filename: str,
    digest: str,
    encoding: str,
    parsed: ParsedNotices,
    received_on: date,
    retry_of: int | None = None,
    *,
    archive_path: str | None = None,
    notes: list[str] | None = None,
) -> tuple[dict[str, int], list[int], int]:
    """The file's one transaction: file row, notices, episodes, transitions, rejections.

    ``retry_of`` is the id of this content's earlier row that was rejected as a whole:
    that row becomes the ingested file (the unique key is company + content hash).
    ``archive_path`` is where the file already lies; ``notes`` the receipt's remarks,
    stored as ``note`` rows so that a receipt fetched later still has them.
    """
    with session_scope(engine) as session:
        _ensure_company(session, company)
        earlier = ""
        if retry_of is None:
            notice_file = NoticeFile(
                company_id=company.id,
                filename=filename[:300],
                content_hash=digest,
                status="ingested",
                encoding=encoding,
                archive_path=archive_path,
            )
            session.add(notice_file)
        else:
            found = session.get(NoticeFile, retry_of, with_for_update=True)
            if found is None or found.status != "rejected":
                raise _StoredMeanwhile
            notice_file = found
            notice_file.filename = filename[:300]
            notice_file.status = "ingested"
            notice_file.encoding = encoding
            notice_file.file_error = None
            notice_file.archive_path = archive_path
            notice_file.received_at = datetime.now(UTC)
            earlier = " previously_rejected=yes"
        session.flush()  # takes SQLite's write lock before keys are checked and ids reserved
        counts, duplicate_rows = _store_rows(
            session, settings, company, notice_file, parsed, received_on
        )
        session.add_all(
            RowRejection(file_id=notice_file.id, row_number=0, reason=note, kind="note")
            for note in notes or ()
        )
        notice_file.rows_read = parsed.rows_read
        notice_file.rows_accepted = counts["accepted"]
        notice_file.rows_rejected = parsed.rejected.height
        notice_file.rows_duplicate = counts["duplicates"]
        audit(
            session,
            ACTOR,
            "ingest_file",
            "notice_file",
            notice_file.id,
            detail=f"accepted={counts['accepted']} rejected={parsed.rejected.height} "
            f"duplicates={counts['duplicates']} episodes_new={counts['episodes_new']} "
            f"episodes_reopened={counts['episodes_reopened']}" + earlier,
        )
        return counts, duplicate_rows, notice_file.id


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
            path.unlink(missing_ok=True)  # another run may have taken this copy meanwhile
        else:
            folder = (
                settings.paths.archive_dir
                if previous.status == "ingested"
                else settings.paths.rejected_dir
            )
            target = inbox.move_file(
                path,
                folder / company.id,
                inbox.stored_name(received_on, receipt.content_hash, receipt.filename),
            )
            with session_scope(engine) as session:
                stored = session.get(NoticeFile, previous.id)
                if stored is not None:
                    stored.archive_path = str(target)
    return stored_receipt(engine, previous, receipt.filename)


def stored_receipt(
    engine: Engine, previous: NoticeFile, filename: str, *, already_received: bool = True
) -> Receipt:
    """The stored receipt of an earlier file with the same content: counts and reasons."""
    with session_scope(engine) as session:
        rejections = session.execute(
            select(RowRejection.row_number, RowRejection.reason)
            .where(RowRejection.file_id == previous.id, RowRejection.kind == "rejected")
            .order_by(RowRejection.row_number)
        ).all()
        notes = session.scalars(
            select(RowRejection.reason)
            .where(RowRejection.file_id == previous.id, RowRejection.kind == "note")
            .order_by(RowRejection.id)
        ).all()
    return Receipt(
        filename=filename,
        company_id=previous.company_id,
        content_hash=previous.content_hash,
        rows_read=previous.rows_read,
        accepted=previous.rows_accepted,
        rejected=previous.rows_rejected,
        duplicates=previous.rows_duplicate,
        already_received=already_received,
        file_error=previous.file_error,
        rejections=[RejectedRow(row_number=n, reason=r) for n, r in rejections],
        notes=list(notes),
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
    target, placed = None, False
    if move:  # in rejected/ before the row that points at it is committed
        target, placed = inbox.place_file(
            path,
            settings.paths.rejected_dir / company.id,
            inbox.stored_name(received_on, receipt.content_hash, receipt.filename),
        )
    try:
        with session_scope(engine) as session:
            _ensure_company(session, company)
            row = session.get(NoticeFile, retry_of.id) if retry_of is not None else None
            if row is None or row.status != "rejected":
                row = NoticeFile(
                    company_id=company.id,
                    filename=receipt.filename[:300],
                    content_hash=receipt.content_hash,
                    status="rejected",
                    file_error=error,
                )
                session.add(row)
                detail = None
            else:
                row.filename = receipt.filename[:300]
                row.file_error = error
                row.received_at = datetime.now(UTC)
                detail = "read again after an earlier rejection"
            earlier = row.archive_path
            if target is not None:
                row.archive_path = str(target)
            session.flush()
            audit(session, ACTOR, "reject_file", "notice_file", row.id, detail=detail)
            file_id = row.id
    except BaseException:
        _drop_copy(target, placed)
        raise
    log.info("notice file %s rejected as a whole", file_id)
    if target is not None:
        path.unlink(missing_ok=True)
        inbox.write_receipt(receipt, target)
        if earlier:
            _remove_rejected_copy(Path(earlier), target)
    return receipt


def _store_rows(
    session: Session,
    settings: Settings,
    company: CompanyConfig,
    notice_file: NoticeFile,
    parsed: ParsedNotices,
    received_on: date,
) -> tuple[dict[str, int], list[int]]:
    """Write notices, episodes, transitions and rejections for one file (caller's transaction)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Ingests take turns (this mode conflicts with itself), so the duplicate check
        # below sees every notice committed before this file's rows are written.
        connection.execute(text("LOCK TABLE notice IN SHARE ROW EXCLUSIVE MODE"))
    policy = policy_from(settings)
    clock = _Clock()
    notices = with_keys(parsed.accepted, company.id)
    clock.lap("keys")
    first_in_file = notices.select(pl.col("natural_key").is_first_distinct()).to_series()
    stored = _existing_keys(connection, company.id, notices["natural_key"])
    is_new = first_in_file & ~notices["natural_key"].is_in(stored)
    duplicates = notices.filter(~is_new)
    if duplicates.height:
        notices = notices.filter(is_new)
    duplicate_rows = duplicates["row_number"].to_list()
    clock.lap("duplicate check")

    # Id order decides how fast a big file goes in (the file's order stays in row_number).
    # SQLite: natural-key order, so the unique index grows at its end. PostgreSQL: tenancy
    # order, so the foreign-key checks of notices and transitions (which lock the rows
    # they point at) walk episodes and notices in order instead of all over the table.
    if connection.dialect.name == "postgresql":
        notices = notices.sort(["tenancy_key", "event_date", "row_number"])
    else:
        notices = notices.sort("natural_key")
    ids = reserve_ids(connection, "notice", notices.height)
    notices = notices.with_columns(notice_id=pl.Series(ids, dtype=pl.Int64))

    states = _load_states(session, company.id, notices["tenancy_key"])
    if states:
        known = notices["tenancy_key"].is_in(pl.Series(list(states), dtype=pl.String))
        fresh, existing = notices.filter(~known), notices.filter(known)
    else:
        fresh, existing = notices, notices.clear()
    clock.lap("stored episodes")

    plan = plan_new_tenancies(fresh, policy, received_on)
    clock.lap("episode plan")
    existing_plan = apply_to_existing(
        states, existing.to_dicts(), policy, received_on, plan.episodes.height
    )
    new_states = [e for e in existing_plan.episodes if e.id is None]
    episode_ids = reserve_ids(connection, "episode", plan.episodes.height + len(new_states))
    id_of_seg = pl.Series("episode_id", episode_ids, dtype=pl.Int64)

    now = datetime.now(UTC)
    episodes = _episode_frame(plan.episodes, new_states, id_of_seg, company.id, now)
    bulk_insert(connection, Episode.__table__, episodes)
    clock.lap("episodes written")

    updated = update_episodes(connection, existing_plan.episodes, now)
    reopened = clear_outcomes(connection, existing_plan.episodes)

    assignment = _seg_to_id(plan.assignment, "seg_index", "episode_id", id_of_seg).select(
        "notice_id", "episode_id"
    )
    extra = pl.DataFrame(
        {
            "notice_id": list(existing_plan.assignment),
            "episode_id": [
                _episode_id(state, id_of_seg) for state in existing_plan.assignment.values()
            ],
        },
        schema={"notice_id": pl.Int64, "episode_id": pl.Int64},
    )
    assignment = pl.concat([assignment, extra])
    notice_rows = notices.join(assignment, on="notice_id", how="left").select(
        pl.col("notice_id").alias("id"),
        pl.col("natural_key"),
        pl.lit(notice_file.id, dtype=pl.Int64).alias("file_id"),
        pl.col("row_number"),
        pl.lit(company.id).alias("company_id"),
        pl.col("episode_id"),
        *NOTICE_COLUMNS,
        pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("received_at"),
    )
    bulk_insert(connection, Notice.__table__, notice_rows)
    clock.lap("notices written")

    transitions = _transition_frame(plan.transitions, existing_plan.transitions, id_of_seg, now)
    bulk_insert(connection, EpisodeTransition.__table__, transitions)
    clock.lap("transitions written")

    rejections = pl.concat(
        [
            parsed.rejected.join(parsed.rejected_refs, on="row_number", how="left").select(
                pl.col("row_number"),
                pl.col("reason"),
                pl.lit("rejected").alias("kind"),
                pl.col("contract_ref"),
                pl.lit(None, dtype=pl.Int64).alias("repeats_file_id"),
                pl.lit(None, dtype=pl.Int64).alias("repeats_row"),
            ),
            _duplicate_rejections(connection, duplicates, notices, notice_file.id),
        ]
    ).with_columns(file_id=pl.lit(notice_file.id, dtype=pl.Int64))
    bulk_insert(connection, RowRejection.__table__, rejections)
    counts = {
        "accepted": notices.height,
        "duplicates": duplicates.height,
        "episodes_new": episodes.height,
        "episodes_updated": updated,
        "episodes_reopened": reopened,
        "transitions": transitions.height,
    }
    return counts, duplicate_rows


def _duplicate_rejections(
    connection: Connection, duplicates: pl.DataFrame, stored_now: pl.DataFrame, file_id: int
) -> pl.DataFrame:
    """Duplicate rows with the file and row each one repeats, for the company's receipt.

    A duplicate repeats either a notice stored from an earlier file or the first row
    with the same natural key in this file (``stored_now``: the rows being stored).
    """
    frame = duplicates.select("row_number", "natural_key", pl.col("contract_ref").str.slice(0, 100))
    in_file = stored_now.select(
        "natural_key",
        pl.lit(file_id, dtype=pl.Int64).alias("repeats_file_id"),
        pl.col("row_number").alias("repeats_row"),
    )
    in_this_file = set(in_file["natural_key"].to_list()) if frame.height else set()
    keys = [k for k in frame["natural_key"].unique().to_list() if k not in in_this_file]
    earlier: list[tuple[str, int, int]] = []
    for start in range(0, len(keys), CHUNK):
        earlier.extend(
            connection.execute(
                select(Notice.natural_key, Notice.file_id, Notice.row_number).where(
                    Notice.natural_key.in_(keys[start : start + CHUNK])
                )
            ).tuples()
        )
    stored = pl.DataFrame(
        earlier,
        schema={"natural_key": pl.String, "repeats_file_id": pl.Int64, "repeats_row": pl.Int64},
        orient="row",
    )
    originals = pl.concat([in_file.cast({"repeats_row": pl.Int64}), stored])
    return frame.join(originals, on="natural_key", how="left").select(
        pl.col("row_number"),
        pl.lit(DUPLICATE_REASON).alias("reason"),
        pl.lit("duplicate").alias("kind"),
        pl.col("contract_ref"),
        pl.col("repeats_file_id"),
        pl.col("repeats_row"),
    )


def _seg_to_id(frame: pl.DataFrame, source: str, target: str, ids: pl.Series) -> pl.DataFrame:
    """Replace planned segment numbers by the reserved episode ids (a join, order kept)."""
    mapping = pl.DataFrame({source: pl.Series(range(len(ids)), dtype=pl.Int64), target: ids})
    return frame.with_columns(pl.col(source).cast(pl.Int64)).join(
        mapping, on=source, how="left", maintain_order="left"
    )


def _episode_id(state: EpisodeState, id_of_seg: pl.Series) -> int:
    """The database id of a stored or newly planned episode."""
    return state.id if state.id is not None else int(id_of_seg[state.seg_index])


EPISODE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "company_id": pl.String(),
    "tenancy_key": pl.String(),
    "contract_ref": pl.String(),
    "personnummer": pl.String(),
    "personnummer_valid": pl.Boolean(),
    "tenant_name": pl.String(),
    "co_tenant_name": pl.String(),
    "co_tenant_personnummer": pl.String(),
    "street_address": pl.String(),
    "apartment": pl.String(),
    "postal_code": pl.String(),
    "town": pl.String(),
    "email": pl.String(),
    "phone": pl.String(),
    "language": pl.String(),
    "status": pl.String(),
    "opened_on": pl.Date(),
    "first_notice_date": pl.Date(),
    "service_date": pl.Date(),
    "deadline_date": pl.Date(),
    "deadline_estimated": pl.Boolean(),
    "debt_amount": pl.Float64(),
    "monthly_rent": pl.Float64(),
    "eviction_at": pl.Datetime("us", "UTC"),
    "reached_payment_order": pl.Boolean(),
    "previous_episode_id": pl.Int64(),
    "is_recurrence": pl.Boolean(),
    "last_event_date": pl.Date(),
    "has_children": pl.Boolean(),
    "children_count": pl.Int32(),
    "created_at": pl.Datetime("us", "UTC"),
    "updated_at": pl.Datetime("us", "UTC"),
}


def _episode_frame(
    planned: pl.DataFrame,
    new_states: list[EpisodeState],
    id_of_seg: pl.Series,
    company_id: str,
    now: datetime,
) -> pl.DataFrame:
    """New episodes (vectorised plan and Python-path recurrences) as insertable rows."""
    frame = _seg_to_id(planned, "seg_index", "id", id_of_seg)
    frame = _seg_to_id(frame, "prev_seg_index", "previous_episode_id", id_of_seg)
    records = []
    for state in new_states:
        values = {k: v for k, v in state.values.items() if not k.startswith("_")}
        previous = state.prev_id
        if previous is None and state.prev_seg_index is not None:
            previous = int(id_of_seg[state.prev_seg_index])
        records.append(
            {
                **{k: values.get(k) for k in EPISODE_SCHEMA if k in values},
                "id": int(id_of_seg[state.seg_index]),
                "tenancy_key": state.tenancy_key,
                "status": state.status,
                "opened_on": values.get("opened_on"),
                "first_notice_date": state.first_notice_date,
                "last_event_date": state.last_event_date,
                "previous_episode_id": previous,
                "is_recurrence": state.is_recurrence,
                "personnummer_valid": bool(values.get("personnummer_valid")),
                "reached_payment_order": bool(values.get("reached_payment_order")),
                "deadline_estimated": bool(values.get("deadline_estimated")),
            }
        )
    constant = {
        "company_id": pl.lit(company_id),
        "has_children": pl.lit(False),
        "children_count": pl.lit(0, dtype=pl.Int32),
        "created_at": pl.lit(now, dtype=pl.Datetime("us", "UTC")),
        "updated_at": pl.lit(now, dtype=pl.Datetime("us", "UTC")),
    }
    parts = [
        frame.with_columns(**constant).select(
            [
                pl.col(c).cast(t)
                if c in frame.columns or c in constant
                else pl.lit(None, t).alias(c)
                for c, t in EPISODE_SCHEMA.items()
            ]
        )
    ]
    if records:
        extra = pl.DataFrame(
            [{k: r.get(k) for k in EPISODE_SCHEMA} for r in records],
            schema=EPISODE_SCHEMA,
        ).with_columns(**constant)
        parts.append(extra.select(list(EPISODE_SCHEMA)))
    return pl.concat(parts).sort("id")


UPDATED_FIELDS = (
    "status", "first_notice_date", "last_event_date", *LATEST_FIELDS, "personnummer",
    "personnummer_valid", "service_date", "deadline_date", "deadline_estimated",
    "reached_payment_order", "updated_at",
)  # fmt: skip


def update_episodes(connection: Connection, states: list[EpisodeState], now: datetime) -> int:
    """Write stored episodes' new state (status, dates, latest contact fields) in one
    executemany: per-object ORM updates cost a query each for thousands of episodes."""
    stored = [state for state in states if state.id is not None]
    if not stored:
        return 0
    table = Episode.__table__
    records = []
    for state in stored:
        values = state.values
        record = {name: values.get(name) for name in UPDATED_FIELDS}
        record.update(
            b_id=state.id,
            status=state.status,
            first_notice_date=state.first_notice_date,
            last_event_date=state.last_event_date,
            personnummer_valid=bool(values.get("personnummer_valid")),
            reached_payment_order=bool(values.get("reached_payment_order")),
            deadline_estimated=bool(values.get("deadline_estimated")),
            updated_at=now,
        )
        records.append(record)
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(name) for name in UPDATED_FIELDS})
    )
    connection.execute(statement, records)
    return len(records)


def clear_outcomes(connection: Connection, states: list[EpisodeState]) -> int:
    """Clear the stored outcome of closed episodes a later event re-opened; returns how many.

    Only these rows: every other episode keeps its outcome untouched. The outcome rules
    then treat them like any open episode (a later settlement closes them again).
    """
    ids = [state.id for state in states if state.reopened and state.id is not None]
    if not ids:
        return 0
    table = Episode.__table__
    for start in range(0, len(ids), CHUNK):
        connection.execute(
            update(table)
            .where(table.c.id.in_(ids[start : start + CHUNK]))
            .values(dict.fromkeys(OUTCOME_FIELDS))
        )
    return len(ids)


def _transition_frame(
    planned: pl.DataFrame, extra: list[dict[str, Any]], id_of_seg: pl.Series, now: datetime
) -> pl.DataFrame:
    """Transitions of both episode paths as one insertable frame."""
    schema = {
        "episode_id": pl.Int64,
        "notice_id": pl.Int64,
        "from_status": pl.String,
        "to_status": pl.String,
        "effective_date": pl.Date,
        "reason": pl.String,
    }
    frame = (
        _seg_to_id(planned, "seg_index", "episode_id", id_of_seg).select(list(schema)).cast(schema)  # type: ignore[arg-type]
    )
    if extra:
        rows = [
            {
                "episode_id": _episode_id(t["episode"], id_of_seg),
                **{
                    k: t[k]
                    for k in ("notice_id", "from_status", "to_status", "effective_date", "reason")
                },
            }
            for t in extra
        ]
        frame = pl.concat([frame, pl.DataFrame(rows, schema=schema)])
    return frame.with_columns(at=pl.lit(now, dtype=pl.Datetime("us", "UTC")))


def _queue_receipt_email(
    engine: Engine, settings: Settings, receipt: Receipt, run_date: date
) -> int:
    """Queue the receipt email of an inbox file (once per file, see services.receipts)."""
    from services.receipts import queue_receipt_email

    with session_scope(engine) as session:
        return int(
            queue_receipt_email(
                session, settings, receipt.company_id, receipt.content_hash, run_date
            )
        )


def ingest_inbox(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Ingest every complete file in every company's inbox; returns counts only.

    One file's unexpected failure (a permission error, a concurrent ingest, a reader's
    panic that got this far) is logged
    with the company id and file name only, counted in ``files_failed`` and leaves the
    file in the inbox for the next run; the other files and companies go on.
    """
    totals = {
        "files": 0, "files_rejected": 0, "files_failed": 0, "already_received": 0,
        "skipped_incomplete": 0, "rows": 0, "accepted": 0, "rejected": 0, "duplicates": 0,
        "taken_by_other_run": 0, "receipt_emails": 0,
    }  # fmt: skip
    for company in settings.companies:
        folder = company.inbox
        if folder is None or not folder.is_dir():
            continue
        candidates = [p for p in sorted(folder.iterdir()) if p.is_file()]
        ready = inbox.complete_files(folder, company.min_age_seconds)
        totals["skipped_incomplete"] += sum(
            1 for p in candidates if p not in ready and not inbox.is_in_progress(p)
        )
        for path in ready:
            try:
                receipt = ingest_file(engine, settings, path, company.id, received_on=run_date)
            except FileNotFoundError:
                if path.exists():
                    raise
                # Another run (or `kvarboende ingest`) took the file from the inbox after
                # we listed it: that run ingests it; nothing is wrong and nothing is lost.
                log.info("%s for company %s was taken by another run", path.name, company.id)
                totals["taken_by_other_run"] += 1
                continue
            except BaseException as exc:  # one file must not stop the others, not even a panic
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                # The message may quote file content: only ids and the error's type here.
                log.warning(
                    "ingest of %s for company %s failed (%s); it stays in the inbox",
                    path.name,
                    company.id,
                    type(exc).__name__,
                )
                totals["files_failed"] += 1
                continue
            totals["files"] += 1
            totals["receipt_emails"] += _queue_receipt_email(engine, settings, receipt, run_date)
            totals["already_received"] += int(receipt.already_received)
            totals["files_rejected"] += int(
                receipt.file_error is not None and not receipt.already_received
            )
            if not receipt.already_received:
                totals["rows"] += receipt.rows_read
                totals["accepted"] += receipt.accepted
                totals["rejected"] += receipt.rejected
                totals["duplicates"] += receipt.duplicates
    return totals
