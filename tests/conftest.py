"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, a real SMTP server.

PostgreSQL is the one on this machine (127.0.0.1:5432, user postgres, database
``test``), overridable with ``KVARBOENDE_TEST_PG_URL``. Each test gets its own
schema, created by the Alembic migrations and dropped afterwards. When PostgreSQL
cannot be reached the PostgreSQL variants skip with the reason, except in CI
(``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from models.db import make_engine, upgrade

PG_URL = os.environ.get(
    "KVARBOENDE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

_pg_state: dict[str, str | None] = {}


def _pg_unreachable_reason() -> str | None:
    """None when PostgreSQL answers, else why not (checked once per session)."""
    if "reason" not in _pg_state:
        try:
            probe = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with probe.connect() as connection:
                connection.execute(text("select 1"))
            probe.dispose()
            _pg_state["reason"] = None
        except Exception as exc:  # noqa: BLE001 - any failure means unreachable
            _pg_state["reason"] = f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}"
    return _pg_state["reason"]


def require_postgres() -> None:
    reason = _pg_unreachable_reason()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: PostgreSQL is required)")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def _isolated_prefect_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Prefect state for the tests lives in a temporary folder, with telemetry off."""
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def make_test_database(kind: str, tmp_path: Path) -> tuple[str, Engine, object]:
    """A migrated empty database of the kind; returns (url, engine, cleanup)."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        engine = make_engine(url)
        upgrade(engine)
        return url, engine, engine.dispose
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)

    def cleanup() -> None:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return url, engine, cleanup


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """(url, engine) of a freshly migrated database, once on SQLite and once on PostgreSQL."""
    url, engine, cleanup = make_test_database(request.param, tmp_path)
    try:
        yield url, engine
    finally:
        cleanup()


@pytest.fixture
def db_engine(db: tuple[str, Engine]) -> Engine:
    return db[1]


@pytest.fixture
def db_url(db: tuple[str, Engine]) -> str:
    return db[0]


@pytest.fixture
def smtp_server(tmp_path: Path):
    """A real aiosmtpd server on a free local port that keeps every message it receives."""
    from connectors.local_smtp import LocalSmtpServer

    server = LocalSmtpServer(mail_dir=tmp_path / "mail", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


REPO = Path(__file__).resolve().parents[1]

from settings_helpers import build_settings  # noqa: E402 - shared with subprocess tests


@pytest.fixture
def settings(tmp_path: Path, db_url: str):
    """Settings from config.toml, on the test database, with all folders under tmp_path."""
    return build_settings(tmp_path, db_url)


@pytest.fixture(scope="session")
def prefect_harness(_isolated_prefect_home: None) -> Iterator[None]:
    """One temporary Prefect API for the whole session (it costs seconds to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
