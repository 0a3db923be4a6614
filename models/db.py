"""Database engine, sessions and migrations (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from models.errors import KvarboendeError
from models.privacy import PRIVATE_FILE_MODE, make_private, private_dir

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseError(KvarboendeError):
    """The database cannot be reached or used; worded as one line, without credentials."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


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
