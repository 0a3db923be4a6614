"""Backups and upgrades, as the README describes them.

A ``pg_dump`` of a database in use is restored into a fresh database (``pg_restore``),
brought to this version with ``kvarboende init`` and the daily job runs on it: files
received before the backup are recognised, new ones are ingested. A database created by
the previous release's schema (0002_portal) with data in it upgrades to head and runs.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from conftest import PG_URL, build_settings, make_test_database, require_postgres
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from connectors.demo_files import write_notice_files, write_register
from domain.synthetic import generate
from flows.stages.cases import import_register
from flows.stages.setup import prepare_database
from models.db import alembic_config, make_engine, schema_revisions, session_scope, upgrade
from models.tables import Episode, JobRun, Letter, Notice, NoticeFile

START = date(2026, 9, 1)


def _deliver(settings, deliveries, day: date) -> int:
    copied = 0
    for company_id, path in deliveries.get(day, []):
        inbox = settings.company(company_id).inbox
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, inbox / path.name)
        copied += 1
    return copied


def _counts(engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return {
            table.__tablename__: session.scalar(select(func.count()).select_from(table))
            for table in (NoticeFile, Notice, Episode, Letter)
        }


@pytest.fixture
def municipality(tmp_path: Path):
    town = generate(5, START, 20, 200)
    cases, household = write_register(town, tmp_path / "register-export")
    deliveries = write_notice_files(town, tmp_path / "source")
    days = sorted(deliveries)
    assert len(days) >= 2
    return cases, household, deliveries, days


def test_a_pg_dump_restored_into_a_fresh_database_runs_the_daily_job(
    tmp_path: Path, municipality, smtp_server
) -> None:
    from flows.pipeline import run_daily

    require_postgres()
    if not shutil.which("pg_dump") or not shutil.which("pg_restore"):
        pytest.skip("pg_dump/pg_restore not installed")
    cases, household, deliveries, days = municipality
    url, engine, cleanup = make_test_database("postgresql", tmp_path)
    restored_db = f"restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        settings = build_settings(tmp_path, url)
        settings.smtp.port = smtp_server.port
        prepare_database(engine, settings)
        import_register(engine, settings, cases, household, taken_on=days[0])
        _deliver(settings, deliveries, days[0])
        run_daily(engine, settings, days[0])
        before = _counts(engine)
        assert before["notice"] > 0 and before["letter"] > 0

        schema = engine.url.query["options"].split("%3D")[-1].split("=")[-1]
        pg = make_url(PG_URL)
        connection = ["-h", pg.host or "127.0.0.1", "-p", str(pg.port or 5432), "-U", pg.username]
        dump = tmp_path / "kvarboende.dump"
        subprocess.run(
            ["pg_dump", *connection, "--format=custom", f"--schema={schema}",
             f"--file={dump}", pg.database],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{restored_db}"'))
        subprocess.run(
            ["pg_restore", *connection, "--no-owner", f"--dbname={restored_db}", str(dump)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip

        restored_url = (
            pg.set(database=restored_db).render_as_string(hide_password=False)
            + f"?options=-csearch_path%3D{schema}"
        )
        restored = make_engine(restored_url)
        try:
            settings.database.url = restored_url
            prepare_database(restored, settings)  # `kvarboende init` after a restore
            assert schema_revisions(restored)[0] == schema_revisions(restored)[1]
            assert _counts(restored) == before
            # The same files again (a company resends) and the next day's: only new work.
            _deliver(settings, deliveries, days[0])
            new_files = _deliver(settings, deliveries, days[1])
            counts = run_daily(restored, settings, days[1])
            assert counts["ingest"]["already_received"] >= 1
            assert counts["ingest"]["files"] - counts["ingest"]["already_received"] == new_files
            after = _counts(restored)
            assert after["notice_file"] == before["notice_file"] + new_files
            assert after["notice"] > before["notice"]
            with session_scope(restored) as session:
                states = session.scalars(select(JobRun.state).order_by(JobRun.id)).all()
            assert states == ["completed", "completed"]  # the history came along
        finally:
            restored.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{restored_db}" WITH (FORCE)'))
        admin.dispose()
        cleanup()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_database_of_the_previous_release_with_data_upgrades_and_runs(
    kind: str, tmp_path: Path, municipality, smtp_server
) -> None:
    from flows.pipeline import run_daily

    cases, household, deliveries, days = municipality
    url, engine, cleanup = make_test_database(kind, tmp_path)
    try:
        settings = build_settings(tmp_path, url)
        settings.smtp.port = smtp_server.port
        # The previous release: its schema, its data (written by the running program).
        prepare_database(engine, settings)
        import_register(engine, settings, cases, household, taken_on=days[0])
        _deliver(settings, deliveries, days[0])
        run_daily(engine, settings, days[0])
        command.downgrade(alembic_config(engine), "0002_portal")
        assert schema_revisions(engine)[0] == "0002_portal"
        before = _counts(engine)

        upgrade(engine)  # `kvarboende init` of the new release
        assert schema_revisions(engine)[0] == schema_revisions(engine)[1]
        assert _counts(engine) == before
        new_files = _deliver(settings, deliveries, days[1])
        counts = run_daily(engine, settings, days[1])
        assert counts["ingest"]["files"] == new_files
        assert _counts(engine)["notice"] > before["notice"]
    finally:
        cleanup()
