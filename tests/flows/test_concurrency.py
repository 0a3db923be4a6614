"""Two daily runs at the same time: both finish cleanly and nothing is done twice.

Two real ``kvarboende run daily`` processes start together against the same database
(PostgreSQL, and the SQLite default), the same inbox with many files, and a real SMTP
server. Each stage is taken by one run at a time (models.db.stage_lock); the other
waits and then finds the work done. Without that, one run died on the letter
idempotency key and the other logged ``FileNotFoundError`` for files already archived.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from notice_rows import notice, notice_csv
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from connectors import inbox
from connectors.demo_files import write_notice_files, write_register
from domain.synthetic import generate
from flows.pipeline import run_stage
from flows.stages import ingest as ingest_stage
from flows.stages.cases import import_register
from flows.stages.ingest import ingest_inbox
from flows.stages.setup import prepare_database
from models.config import CompanyConfig, Settings, load_settings
from models.db import LockBusy, make_engine, stage_lock
from models.tables import Appointment, Letter, Notice, NoticeFile, Reminder
from services.ingest import ingest_file
from services.outbox import POST_COPY, enqueue
from tests.conftest import REPO, make_test_database

START = date(2026, 9, 1)


def _environment(db_url: str, smtp_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVARBOENDE_")}
    env.update(
        KVARBOENDE_DATABASE_URL=db_url,
        KVARBOENDE_SMTP_PORT=str(smtp_port),
        KVARBOENDE_SMTP_START_LOCAL="false",
        KVARBOENDE_SMTP_BACKOFF_SECONDS="0.1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _fill_inboxes(settings, tmp_path: Path) -> tuple[date, list[Path]]:
    """Every delivery of a few simulated weeks lands in the inboxes at once."""
    municipality = generate(5, START, 25, 200)
    deliveries = write_notice_files(municipality, tmp_path / "source")
    copied = []
    for day in sorted(deliveries):
        for company_id, path in deliveries[day]:
            inbox = settings.company(company_id).inbox
            inbox.mkdir(parents=True, exist_ok=True)
            target = inbox / f"{day.isoformat()}_{path.name}"
            shutil.copy2(path, target)
            copied.append(target)
    cases, household = write_register(municipality, tmp_path / "register")
    return max(deliveries), copied, (cases, household)


def _two_runs_at_once(config: Path, run_date: date, env: dict[str, str]) -> list[tuple]:
    command = [
        sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())",
        "--config", str(config), "run", "daily", "--date", run_date.isoformat(),
    ]  # fmt: skip
    runs = [
        subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = []
    deadline = time.monotonic() + 600
    for run in runs:
        out, err = run.communicate(timeout=max(1.0, deadline - time.monotonic()))
        results.append((run.returncode, out, err))
    return results


def _counts(output: str, stage: str) -> dict[str, int]:
    """A stage's counts from the run's summary line ``    ingest: files 3, rows 12``."""
    for line in output.splitlines():
        name, _, shown = line.partition(":")
        if name.strip() == stage:
            pairs = [part.strip().rsplit(" ", 1) for part in shown.split(",")]
            return {key: int(value) for key, value in pairs}
    raise AssertionError(f"no {stage} line in the output")


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_two_daily_runs_at_once_do_everything_once(
    kind: str, tmp_path: Path, smtp_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url, engine, cleanup = make_test_database(kind, tmp_path)
    try:
        env = _environment(db_url, smtp_server.port)
        for key, value in env.items():
            if key.startswith("KVARBOENDE_"):
                monkeypatch.setenv(key, value)
        _check_two_runs(env, engine, tmp_path, smtp_server)
    finally:
        cleanup()


def _check_two_runs(env: dict[str, str], engine: Engine, tmp_path: Path, smtp_server) -> None:
    config = tmp_path / "config.toml"
    shutil.copy(REPO / "config.toml", config)
    settings = load_settings(config)  # as the runs see it (the environment overrides)
    assert settings.database.url == env["KVARBOENDE_DATABASE_URL"]
    run_date, copied, (cases, household) = _fill_inboxes(settings, tmp_path)
    prepare_database(engine, settings)  # `kvarboende init`, done once beforehand
    import_register(engine, settings, cases, household, taken_on=START)
    assert len(copied) > 20

    results = _two_runs_at_once(config, run_date, env)

    for code, _out, err in results:
        assert code == 0, err[-2000:]
        assert "Traceback" not in err and "Error" not in err, err[-2000:]
        assert "failed" not in err, err[-2000:]
    ingest = [_counts(out, "ingest") for _, out, _ in results]
    letters_queued = [_counts(out, "letters")["letters"] for _, out, _ in results]
    # Between them the two runs took every file once, and queued every letter once.
    assert sum(c["files"] - c["already_received"] for c in ingest) == len(copied)
    assert sum(c["files_failed"] for c in ingest) == 0

    # Every file was taken once: nothing left in the inboxes, one row per content.
    assert not [p for p in copied if p.exists()]
    archived = [
        p for p in settings.paths.archive_dir.rglob("*") if p.is_file() and ".kvitto." not in p.name
    ]
    rejected = [
        p
        for p in settings.paths.rejected_dir.rglob("*")
        if p.is_file() and ".kvitto." not in p.name
    ]
    with engine.connect() as connection:
        files = connection.execute(select(NoticeFile.status, NoticeFile.archive_path)).all()
        notices = connection.scalar(select(func.count()).select_from(Notice))
        accepted = connection.scalar(select(func.sum(NoticeFile.rows_accepted)))
        appointments = connection.execute(select(Appointment.episode_id)).scalars().all()
        letters = connection.execute(
            select(Letter.kind, Letter.appointment_id, Letter.channel, Letter.status)
        ).all()
        reminders_emailed = connection.scalar(
            select(func.count())
            .select_from(Reminder)
            .where(Reminder.channel == "email", Reminder.status.in_(["sent", "delivered"]))
        )
    assert len(files) == len(archived) + len(rejected)
    assert all(path is not None for _, path in files)
    assert notices == accepted and notices > 0

    # Every episode booked once, every appointment has one letter, every letter sent once.
    assert appointments and len(appointments) == len(set(appointments))
    per_appointment = Counter(a for kind, a, _, _ in letters if kind == "appointment")
    assert per_appointment and set(per_appointment.values()) == {1}
    assert sum(letters_queued) == len(per_appointment)
    assert {status for kind, *_, status in letters if kind != POST_COPY} == {"sent"}
    # A post copy is printed, or dropped when the post would come too late; never twice.
    copies = Counter(a for kind, a, _, _ in letters if kind == POST_COPY)
    assert set(copies.values()) <= {1}
    assert {s for kind, *_, s in letters if kind == POST_COPY} <= {"sent", "superseded"}
    emailed = sum(channel == "email" for _, _, channel, _ in letters)
    ids = Counter(str(message["Message-ID"]) for message in smtp_server.messages)
    # Reminders the working day before a meeting go by email too, each once.
    emailed += reminders_emailed
    assert emailed and len(smtp_server.messages) == emailed
    assert set(ids.values()) == {1}


# --- the pieces, in one process --------------------------------------------------------


def test_a_stage_lock_has_one_holder_at_a_time(db_url: str, db_engine: Engine) -> None:
    other = make_engine(db_url)  # another pool: as another process would connect
    try:
        with stage_lock(db_engine, "ingest", 5):
            busy = pytest.raises(LockBusy, match="stage ingest")
            with busy, stage_lock(other, "ingest", 0.3, poll_seconds=0.05):
                pytest.fail("two holders of one stage")
            with stage_lock(other, "letters", 0.3):
                pass  # another stage is free
        with stage_lock(other, "ingest", 0.3):
            pass  # free again once the holder is done
    finally:
        other.dispose()


def test_a_run_gives_up_a_busy_stage_with_a_warning(
    db_url: str, db_engine: Engine, settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.database.stage_lock_wait_seconds = 0.2
    called = []
    other = make_engine(db_url)
    try:
        with stage_lock(other, "booking", 5), caplog.at_level(logging.INFO, "flows.pipeline"):
            counts = run_stage(
                db_engine, settings, START, "booking", lambda *args: called.append(1) or {}
            )
    finally:
        other.dispose()
    assert counts == {"busy_skipped": 1} and not called
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "another run has held it" in caplog.records[0].getMessage()


def test_the_same_letter_queued_by_two_runs_at_once_is_one_letter(db_engine: Engine) -> None:
    """The second run looked before the first committed: it waits, then takes that row."""
    letter = {
        "key": "worklist:advisor:radgivare1:2026-09-01",
        "kind": "advisor_worklist",
        "channel": "email",
        "created_on": START,
        "recipient": "radgivare@exempelby.se",
    }
    second: dict[str, object] = {}

    def other_run() -> None:
        try:
            with Session(db_engine) as session, session.begin():
                row, created = enqueue(session, **letter)
                second["result"] = (row.id, created)
        except Exception as exc:  # noqa: BLE001 - reported to the test below
            second["error"] = exc

    with Session(db_engine) as session, session.begin():
        first, created = enqueue(session, **letter)
        first_id = first.id
        assert created
        thread = threading.Thread(target=other_run)
        thread.start()
        time.sleep(1.0)  # the other run has looked (nothing yet) and waits on the key
    thread.join(timeout=60)
    assert "error" not in second, repr(second.get("error"))
    assert second["result"] == (first_id, False)
    with db_engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Letter)) == 1


NOTICE = notice_csv(
    [
        notice(
            personnummer="19800101-1231", tenant_name="Anna Andersson",
            street_address="Storgatan 1", postal_code="12345", town="Exempelby",
            contract_ref="K1", event_type="termination_notice", event_date="2026-10-01",
            debt_amount="1200",
        )
    ],
    columns=(
        "personnummer", "tenant_name", "street_address", "postal_code", "town", "contract_ref",
        "event_type", "event_date", "debt_amount",
    ),
)  # fmt: skip


def test_a_file_another_run_took_from_the_inbox_is_skipped_quietly(
    db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    settings = Settings(
        companies=[CompanyConfig(id="vasbyhem", name="Väsbyhem AB", min_age_seconds=0)],
        paths={"data_dir": tmp_path / "data", "inbox_dir": tmp_path / "inbox"},
    ).resolve_paths(tmp_path)
    folder = settings.company("vasbyhem").inbox
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(NOTICE, encoding="utf-8")
    listed = inbox.complete_files

    def listed_then_taken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        files = listed(*args, **kwargs)
        # Another run ingests and archives the file right after this run listed it.
        ingest_file(db_engine, settings, folder / "a.csv", "vasbyhem", received_on=START)
        return files

    monkeypatch.setattr(ingest_stage.inbox, "complete_files", listed_then_taken)
    with caplog.at_level(logging.INFO, "flows.stages.ingest"):
        counts = ingest_inbox(db_engine, settings, START)
    assert (counts["files"], counts["files_failed"], counts["taken_by_other_run"]) == (0, 0, 1)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "a file for company vasbyhem was taken by another run" in caplog.text
    assert "a.csv" not in caplog.text  # company file names stay out of the log
    with db_engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Notice)) == 1


def test_moving_a_file_another_run_moved_first_is_done(tmp_path: Path) -> None:
    source = tmp_path / "inbox" / "a.csv"
    source.parent.mkdir()
    source.write_text(NOTICE, encoding="utf-8")
    archive = tmp_path / "archive"
    name = "2026-09-01_0123456789ab_a.csv"
    inbox.move_file(source, archive, name)  # the other run
    assert inbox.move_file(source, archive, name) == archive / name
    assert (archive / name).read_text(encoding="utf-8") == NOTICE
