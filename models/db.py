"""Database engine, sessions and migrations (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, Select, String, Table, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.functions import GenericFunction

from models.errors import KvarboendeError
from models.privacy import PRIVATE_FILE_MODE, make_private, private_dir

MIGRATIONS = Path(__file__).with_name("migrations")


log = logging.getLogger(__name__)


class DatabaseError(KvarboendeError):
    """The database cannot be reached or used; worded as one line, without credentials."""


class LockBusy(KvarboendeError):
    """Another process held a stage lock for longer than we were willing to wait."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
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
def _lower_default(element: lower_text, compiler, **kw) -> str:  # noqa: ANN001
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(lower_text, "sqlite")
def _lower_sqlite(element: lower_text, compiler, **kw) -> str:  # noqa: ANN001
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


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def insert_or_ignore(bind: Engine | Connection | Session, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the bind's dialect.

    Two runs that write the same unique key at the same moment then both succeed:
    the second insert waits for the first to commit and inserts nothing, instead of
    aborting its whole transaction with a unique violation.
    """
    dialect = (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def _lock_key(scope: str, name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock (Python's hash() changes per process)."""
    digest = hashlib.blake2b(f"kvarboende:{scope}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _wait_for(try_once, name: str, wait_seconds: float, poll_seconds: float) -> None:  # noqa: ANN001
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
