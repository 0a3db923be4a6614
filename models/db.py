"""Database plumbing for SQLite and PostgreSQL: the one module that knows the dialect.

Engine, sessions and migrations (Alembic); stage locks; bulk insert (COPY on
PostgreSQL), insert-or-ignore and upsert, id reservation, row locks, chunking of
long ``IN`` lists and stored timestamps as UTC. Every ``dialect.name`` branch of the
program lives here, so the services and stages read the same on both databases.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import polars as pl
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    Result,
    Select,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.functions import GenericFunction

from models.errors import KvarboendeError
from models.privacy import PRIVATE_FILE_MODE, make_private, private_dir

MIGRATIONS = Path(__file__).with_name("migrations")

#: Rows or ids per statement for long ``IN`` lists and chunked inserts: well below
#: SQLite's and PostgreSQL's limits on bound parameters, large enough to be fast.
CHUNK = 5000
#: Rows per COPY / executemany slice of a bulk insert: memory only, no parameter limit.
_BULK_SLICE = 20 * CHUNK

T = TypeVar("T")
Bind = Engine | Connection | Session


log = logging.getLogger(__name__)


class DatabaseError(KvarboendeError):
    """The database cannot be reached or used; worded as one line, without credentials."""


class LockBusy(KvarboendeError):
    """Another process held a stage lock for longer than we were willing to wait."""


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    dbapi_connection.create_function("kv_lower", 1, _lower, deterministic=True)


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class lower_text(GenericFunction):  # noqa: N801 - SQL function names are lower case
    """``lower()`` for every letter: SQLite's own ``lower()`` leaves Å, Ä and Ö as they are.

    Searching for "åsa" must find "Åsa" on both databases; PostgreSQL's ``lower()`` does
    that already, SQLite gets Python's ``str.lower`` (registered on every connection).
    """

    type = String()
    inherit_cache = True


@compiles(lower_text)
def _lower_default(element: lower_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(lower_text, "sqlite")
def _lower_sqlite(element: lower_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"kv_lower({compiler.process(element.clauses, **kw)})"


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite file 0600 (its folder 0700) before SQLite does, whatever the umask.

    SQLite gives its -wal and -shm files the database file's mode. An existing file
    (and its -wal/-shm) from before this rule is made private too.
    """
    private_dir(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        make_private(file, PRIVATE_FILE_MODE)


def make_engine(url: str, echo: bool = False) -> Engine:
    """An engine for the URL; SQLite gets foreign keys, WAL and a busy timeout.

    Statement parameters (letter bodies, addresses, personnummer) are kept out of
    SQLAlchemy's error texts (``hide_parameters``): those texts reach logs and
    Prefect's database when a stage fails.
    """
    if url.startswith("sqlite") and "///" in url and ":memory:" not in url:
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path:
            private_sqlite_file(Path(path))
    engine = create_engine(url, echo=echo, future=True, hide_parameters=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextmanager
def engine_scope(url: str, echo: bool = False) -> Iterator[Engine]:
    """An engine for the URL that is disposed (its connections closed) after the block."""
    engine = make_engine(url, echo=echo)
    try:
        yield engine
    finally:
        engine.dispose()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations; the only way the schema is created or changed."""
    try:
        command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise DatabaseError(f"cannot reach the database: {exc.orig}".splitlines()[0]) from None


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """(the database's Alembic revision or None when not initialised, the program's head)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, str(head)


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def dialect_name(bind: Bind) -> str:
    """``postgresql`` or ``sqlite``: the bind's database."""
    return (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name


def is_postgres(bind: Bind) -> bool:
    """Whether the bind is PostgreSQL (row locks, advisory locks, COPY)."""
    return dialect_name(bind) == "postgresql"


def _dialect_insert(bind: Bind, table: Table | type) -> Any:
    """The dialect's own ``insert`` (the one with ``on_conflict_...``)."""
    if is_postgres(bind):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def insert_or_ignore(bind: Bind, table: Table | type) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the bind's dialect.

    Two runs that write the same unique key at the same moment then both succeed:
    the second insert waits for the first to commit and inserts nothing, instead of
    aborting its whole transaction with a unique violation.
    """
    return _dialect_insert(bind, table).on_conflict_do_nothing()


def upsert(bind: Bind, table: Table | type, key: Sequence[Any], update: Sequence[str]) -> Insert:
    """``INSERT ... ON CONFLICT (key) DO UPDATE SET`` the ``update`` columns to the new values."""
    statement = _dialect_insert(bind, table)
    return statement.on_conflict_do_update(
        index_elements=list(key), set_={name: statement.excluded[name] for name in update}
    )


AnySelect = Select[*tuple[Any, ...]]
"""A SELECT of any columns (``Select[Any]`` means exactly one column of any type)."""

SelectT = TypeVar("SelectT", bound=AnySelect)


def for_update_skip_locked(bind: Bind, query: SelectT, of: Any = None) -> SelectT:
    """``FOR UPDATE SKIP LOCKED`` (of the ``of`` table only, when given) on PostgreSQL;
    SQLite serialises writers by itself."""
    return query.with_for_update(skip_locked=True, of=of) if is_postgres(bind) else query


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (``execute`` is typed as returning a plain Result)."""
    return cast(CursorResult[Any], result).rowcount


def transaction_lock(session: Session, key: int) -> None:
    """Serialise a short critical section across processes until the transaction ends.

    PostgreSQL: ``pg_advisory_xact_lock(key)``. SQLite needs nothing: its one writer
    at a time already serialises the transaction's writes.
    """
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def lock_table_for_writes(bind: Connection | Session, table: str) -> None:
    """Writers of ``table`` take turns until commit (PostgreSQL's SHARE ROW EXCLUSIVE).

    The mode conflicts with itself, so a check before the insert sees every row
    committed before it. SQLite needs nothing: it has one writer at a time.
    """
    if is_postgres(bind):
        bind.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))


# ---------------------------------------------------------------------------
# Chunks, frames and timestamps


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in slices of ``size``: the databases limit the parameters of a statement."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def id_in(column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """``column IN (ids)`` for a list of whole numbers of any length, the numbers written
    into the statement: thousands of bound parameters cost more to prepare than the query
    takes to run (PostgreSQL's driver parses every placeholder), and no parameter limit
    applies. Only for ids (``int``), never for text.
    """
    values = [int(i) for i in ids]
    return cast(
        "ColumnElement[bool]",
        column.in_(bindparam(None, values, expanding=True, literal_execute=True)),
    )


def as_utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC); PostgreSQL returns aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def as_utc_or_none(moment: datetime | None) -> datetime | None:
    """:func:`as_utc` for a timestamp column that may be empty."""
    return None if moment is None else as_utc(moment)


#: The polars type of a stored timestamp (timezone-aware UTC).
UTC_DATETIME = pl.Datetime("us", "UTC")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def utc_series(values: Sequence[datetime | None]) -> pl.Series:
    """Stored timestamps as a UTC datetime column (naive values are taken as UTC).

    Built from whole microseconds since 1970 (exact): polars converts aware datetimes one
    by one in Python, about twice as slowly, and a worklist converts thousands per view.
    """
    micros = [None if v is None else (as_utc(v) - _EPOCH) // _MICROSECOND for v in values]
    return pl.Series(micros, dtype=pl.Int64).cast(UTC_DATETIME)


def rows_frame(rows: Sequence[Sequence[Any]], schema: Mapping[str, Any]) -> pl.DataFrame:
    """Result rows (tuples) as a polars frame of the given schema, also when there are none.

    Built column by column, so no per-row objects outlive the call (register snapshots
    have hundreds of thousands of rows).
    """
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pl.DataFrame(
        {name: list(values) for name, values in zip(schema, columns, strict=True)},
        schema=dict(schema),
    )


# ---------------------------------------------------------------------------
# Bulk work


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


def existing_values(connection: Connection, column: Column[Any], values: list[str]) -> set[str]:
    """Which of these text values the (indexed) column already holds.

    PostgreSQL: ``= ANY(array)`` in big slices; elsewhere ``IN`` lists of :data:`CHUNK`.
    """
    found: set[str] = set()
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        table, name = column.table.name, column.name
        query = text(f"SELECT {name} FROM {table} WHERE {name} = ANY(:keys)").bindparams(
            bindparam("keys", type_=ARRAY(String))
        )
        for part in chunks(values, _BULK_SLICE):
            found.update(connection.execute(query, {"keys": list(part)}).scalars())
        return found
    for part in chunks(values):
        found.update(connection.execute(select(column).where(column.in_(part))).scalars())
    return found


def insert_chunks(bind: Connection | Session, table: Table | type, rows: pl.DataFrame) -> None:
    """Insert a frame's rows through Core executemany, :data:`CHUNK` rows per statement."""
    for offset in range(0, rows.height, CHUNK):
        bind.execute(insert(table), rows.slice(offset, CHUNK).to_dicts())


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
    insert_chunks(connection, table, frame)


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
    if frame.height > _BULK_SLICE:
        raw.execute("PRAGMA cache_size=-262144")  # type: ignore[union-attr] # 256 MB page cache
    for start in range(0, frame.height, _BULK_SLICE):
        raw.executemany(statement, frame.slice(start, _BULK_SLICE).select(formats).rows())  # type: ignore[union-attr]


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
            for start in range(0, frame.height, _BULK_SLICE):
                buffer = io.BytesIO()
                frame.slice(start, _BULK_SLICE).select(formats).write_csv(
                    buffer, include_header=False, null_value="\\N", quote_style="necessary"
                )
                copy.write(buffer.getvalue())


def _lock_key(scope: str, name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock (Python's hash() changes per process)."""
    digest = hashlib.blake2b(f"kvarboende:{scope}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _wait_for(
    try_once: Callable[[], bool], name: str, wait_seconds: float, poll_seconds: float
) -> None:
    """Call ``try_once`` until it returns True; LockBusy after ``wait_seconds``."""
    deadline = time.monotonic() + wait_seconds
    if try_once():
        return
    log.info("stage %s is being run by another process; waiting for it", name)
    while time.monotonic() < deadline:
        time.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))
        if try_once():
            log.info("stage %s is free again; going on", name)
            return
    raise LockBusy(f"stage {name}: another run has held it for over {wait_seconds:g} s")


@contextmanager
def _postgres_lock(
    engine: Engine, name: str, wait_seconds: float, poll_seconds: float
) -> Iterator[None]:
    """A session-level advisory lock on a connection of its own, held while the block runs.

    The key includes the schema, so installations (and tests) sharing one database do
    not block each other. If the process dies, PostgreSQL releases the lock with the
    connection.
    """
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        key = _lock_key(str(connection.scalar(text("SELECT current_schema()"))), name)

        def try_once() -> bool:
            return bool(connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}))

        _wait_for(try_once, name, wait_seconds, poll_seconds)
        try:
            yield
        finally:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            except Exception:  # noqa: BLE001 - a broken connection: closing it frees the lock
                connection.invalidate()
    finally:
        connection.close()


@contextmanager
def _file_lock(path: Path, name: str, wait_seconds: float, poll_seconds: float) -> Iterator[None]:
    """An exclusive ``flock`` on a file next to the SQLite database (freed when we exit)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:

        def try_once() -> bool:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        _wait_for(try_once, name, wait_seconds, poll_seconds)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


@contextmanager
def stage_lock(
    engine: Engine, name: str, wait_seconds: float, poll_seconds: float = 0.25
) -> Iterator[None]:
    """Run the block while no other process runs the stage ``name`` on this database.

    PostgreSQL: ``pg_try_advisory_lock`` on a dedicated connection, keyed by schema and
    stage name. SQLite: ``flock`` on ``<database file>.<name>.lock``; an in-memory
    database (one process) or a system without ``fcntl`` needs none. Waits up to
    ``wait_seconds``, then raises :class:`LockBusy`.
    """
    if engine.dialect.name == "postgresql":
        with _postgres_lock(engine, name, wait_seconds, poll_seconds):
            yield
        return
    database = engine.url.database
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - Windows: SQLite still serialises the writes
        database = None
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_file = Path(database).with_name(f"{Path(database).name}.{name}.lock")
    with _file_lock(lock_file, name, wait_seconds, poll_seconds):
        yield


def advisory_xact_lock(session: Session, key: int) -> None:
    """Wait for and hold a PostgreSQL advisory lock until the transaction ends.

    SQLite needs none: it lets one writer in at a time by itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def skip_locked(session: Session, query: Select, *of: type) -> Select:
    """``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two runs never take the same rows.

    Elsewhere the query is returned as it is (SQLite lets one writer in at a time).
    """
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=list(of) if of else None)
    return query
