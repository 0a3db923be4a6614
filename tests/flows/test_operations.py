"""Running unattended: the 15-minute inbox run, the run history and the operators' alerts.

Alerts are emailed to a real aiosmtpd server; every check runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.demo_files import write_notice_files, write_register
from domain.synthetic import generate
from flows.stages.cases import import_register
from flows.stages.setup import prepare_database
from models.db import session_scope
from models.tables import Episode, JobRun, Letter, OperationsAlert
from services import operations as ops

START = date(2026, 9, 1)  # a Tuesday


@pytest.fixture
def ops_settings(settings, smtp_server):
    settings.smtp.port = smtp_server.port
    settings.operations.alert_emails = ["drift@exempelby.se"]
    return settings


def _fill_first_day(settings, engine, tmp_path: Path) -> date:
    municipality = generate(3, START, 5, 80)
    cases, household = write_register(municipality, tmp_path / "register-export")
    deliveries = write_notice_files(municipality, tmp_path / "source")
    first_day = min(deliveries)
    prepare_database(engine, settings)
    import_register(engine, settings, cases, household, taken_on=first_day)
    for company_id, path in deliveries[first_day]:
        inbox = settings.company(company_id).inbox
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, inbox / path.name)
    return first_day


def _alert_mails(smtp_server) -> list:
    return [m for m in smtp_server.messages if "drift@exempelby.se" in str(m["To"])]


def test_the_inbox_run_routes_or_letters_every_new_notice_the_same_day(
    ops_settings, db_engine, tmp_path: Path, smtp_server
) -> None:
    from flows.pipeline import run_inbox

    day = _fill_first_day(ops_settings, db_engine, tmp_path)
    counts = run_inbox(db_engine, ops_settings, day)

    assert list(counts) == ["ingest", "match", "booking", "letters", "delivery"]
    assert counts["ingest"]["accepted"] > 0
    with session_scope(db_engine) as session:
        episodes = session.execute(select(Episode.id, Episode.routing)).all()
        letters = session.execute(select(Letter.kind, Letter.episode_id, Letter.status)).all()
    assert episodes and all(routing is not None for _, routing in episodes)
    lettered = {eid for kind, eid, _ in letters if kind == "appointment"}
    to_advisor = {eid for eid, routing in episodes if routing == "advisor"}
    assert to_advisor and to_advisor <= lettered  # every advisor episode has its letter today
    assert {status for kind, _, status in letters if kind == "appointment"} == {"sent"}
    assert not list(ops_settings.paths.worklist_dir.glob("*"))  # worklists are the daily's
    with session_scope(db_engine) as session:
        run = ops.last_run(session, "inbox")
    assert run is not None and run.state == ops.COMPLETED
    assert set(run.stages.values()) == {ops.STAGE_OK}

    again = run_inbox(db_engine, ops_settings, day)  # the next quarter hour: nothing new
    assert again["ingest"]["files"] == 0 and again["letters"].get("letters", 0) == 0


def test_a_scheduled_run_skips_weekends_and_swedish_holidays(ops_settings, db_engine) -> None:
    from flows.runs import run_job

    called = []
    for holiday in (date(2026, 12, 24), date(2026, 12, 25), date(2026, 6, 19), date(2026, 12, 5)):
        counts = run_job(
            db_engine,
            ops_settings,
            "inbox",
            holiday,
            [("ingest", lambda: called.append(1) or {})],
            working_days_only=True,
        )
        assert counts == {"skipped": {"not_a_working_day": 1}}
    assert not called
    counts = run_job(
        db_engine, ops_settings, "inbox", date(2026, 12, 28), [("ingest", lambda: {"files": 0})],
        working_days_only=True,
    )  # fmt: skip
    assert counts == {"ingest": {"files": 0}}
    with session_scope(db_engine) as session:
        states = session.scalars(select(JobRun.state).order_by(JobRun.id)).all()
    assert states == ["skipped"] * 4 + ["completed"]


def _failing() -> dict[str, int]:
    raise ConnectionError("the inbox share is not mounted")


def test_a_failed_run_and_a_stage_failing_three_runs_in_a_row_alert_once(
    ops_settings, db_engine, smtp_server
) -> None:
    from flows.runs import run_job

    for _ in range(4):
        with pytest.raises(ConnectionError):
            run_job(
                db_engine, ops_settings, "inbox", START,
                [("ingest", _failing), ("match", lambda: {})],
            )  # fmt: skip
    mails = _alert_mails(smtp_server)
    subjects = [str(m["Subject"]) for m in mails]
    # One email per failed run (4), one for the streak reached at the third run.
    failed = [m for m in mails if "misslyckades" in str(m["Subject"])]
    streak = [m for m in mails if "gång på gång" in str(m["Subject"])]
    assert len(failed) == 4, subjects
    assert len(streak) == 1, subjects
    body = streak[0].get_payload(decode=True).decode()
    assert "Steget ingest misslyckades i 3 körningar i rad" in body
    assert "Vad du gör" in body and "inga personuppgifter" in body
    assert "ConnectionError i steget ingest" in failed[0].get_payload(decode=True).decode()
    assert "not mounted" not in "".join(m.as_string() for m in mails)  # no error text

    # A good run ends the streak; three new failures are a new streak, a new alert.
    run_job(db_engine, ops_settings, "inbox", START, [("ingest", lambda: {})])
    for _ in range(3):
        with pytest.raises(ConnectionError):
            run_job(db_engine, ops_settings, "inbox", START, [("ingest", _failing)])
    streak = [m for m in _alert_mails(smtp_server) if "gång på gång" in str(m["Subject"])]
    assert len(streak) == 2


def test_a_missed_scheduled_run_is_noticed_by_the_next_run_and_alerted_once(
    ops_settings, db_engine, smtp_server
) -> None:
    from flows.stages.alerts import check_alerts, send_alerts

    # The daily job ran by schedule on Monday and Tuesday, then the worker was down.
    stockholm_0630 = [datetime(2026, 11, d, 5, 30, 20, tzinfo=UTC) for d in (23, 24)]
    with session_scope(db_engine) as session:
        for started in stockholm_0630:
            run_id = ops.start_run(
                session, "daily", started.date(), "flow-run-x", at=started, deployment_id="dep"
            )
            ops.finish_run(session, run_id, ops.COMPLETED)
    friday_noon = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    new = check_alerts(db_engine, ops_settings, date(2026, 11, 27), now=friday_noon)
    assert new == {"missed_run": 1}
    send_alerts(db_engine, ops_settings)
    (mail,) = _alert_mails(smtp_server)
    body = mail.get_payload(decode=True).decode()
    assert "Jobb daily: 3 schemalagda körningar blev inte av" in body
    assert "2026-11-25 06:30" in body and "2026-11-27 06:30" in body

    # The next run notices the same gap again: no second email.
    assert check_alerts(db_engine, ops_settings, date(2026, 11, 27), now=friday_noon) == {}
    assert send_alerts(db_engine, ops_settings)["alert_emails"] == 0
    assert len(_alert_mails(smtp_server)) == 1


def test_a_missed_run_on_a_holiday_is_not_a_missed_run(ops_settings, db_engine) -> None:
    from flows.stages.alerts import check_alerts

    with session_scope(db_engine) as session:
        started = datetime(2026, 12, 23, 5, 30, 5, tzinfo=UTC)
        ops.finish_run(
            session,
            ops.start_run(session, "daily", started.date(), "f", at=started, deployment_id="d"),
            "completed",
        )
    # 24-26 December are not working days; the 28th at 06:30 has not passed the grace yet.
    now = datetime(2026, 12, 28, 5, 45, tzinfo=UTC)
    assert check_alerts(db_engine, ops_settings, date(2026, 12, 28), now=now) == {}


def test_runs_started_by_hand_expect_no_schedule(ops_settings, db_engine) -> None:
    from flows.stages.alerts import check_alerts

    with session_scope(db_engine) as session:
        started = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        ops.finish_run(
            session,
            ops.start_run(session, "daily", started.date(), "ad-hoc flow run", at=started),
            "completed",
        )
    now = datetime(2026, 11, 6, 12, 0, tzinfo=UTC)
    assert check_alerts(db_engine, ops_settings, date(2026, 11, 6), now=now) == {}


def test_an_unreadable_inbox_file_and_overdue_letters_are_alerted_once(
    ops_settings, db_engine, smtp_server
) -> None:
    from flows.runs import after_run
    from flows.stages.ingest import ingest_inbox
    from flows.stages.outbox import enqueue

    prepare_database(db_engine, ops_settings)
    company = ops_settings.companies[0]
    company.inbox.mkdir(parents=True, exist_ok=True)
    (company.inbox / "export.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    ingest_inbox(db_engine, ops_settings, START)
    with session_scope(db_engine) as session:
        for n, queued in enumerate((START - timedelta(days=3), START)):
            enqueue(
                session, key=f"caseworker_notice:cw{n}", kind="caseworker_notice",
                channel="email", created_on=queued, recipient="karin@exempelby.se",
                subject="Nya ärenden", body="2 nya ärenden",
            )  # fmt: skip
        overdue_id = session.scalar(select(Letter.id).where(Letter.created_on < START))

    new = after_run(db_engine, ops_settings, START)
    assert new["inbox_file"] == 1 and new["overdue_letters"] == 1
    assert after_run(db_engine, ops_settings, START).get("alert_emails", 0) == 0
    mails = _alert_mails(smtp_server)
    by_subject = {str(m["Subject"]): m.get_payload(decode=True).decode() for m in mails}
    assert len(mails) == 2, list(by_subject)
    (file_body,) = [b for s, b in by_subject.items() if "inkorgen" in s]
    (letter_body,) = [b for s, b in by_subject.items() if "brev" in s]
    assert f"Bolag {company.id}" in file_body and "kvittot" in file_body
    assert f"Brev {overdue_id}," in letter_body and "outbox deliver" in letter_body
    assert "karin" not in letter_body


def test_alerts_wait_for_the_smtp_server_and_go_out_when_it_is_back(
    ops_settings, db_engine, smtp_server
) -> None:
    from flows.stages.alerts import send_alerts

    with session_scope(db_engine) as session:
        ops.raise_alert(session, "run_failed:x", "run_failed", "Jobb daily, körning 7")
    port = ops_settings.smtp.port
    ops_settings.smtp.port = 1  # nothing listens there
    ops_settings.smtp.start_local = False
    assert send_alerts(db_engine, ops_settings)["alerts_waiting"] == 1
    ops_settings.smtp.port = port
    assert send_alerts(db_engine, ops_settings)["alerts_sent"] == 1
    with session_scope(db_engine) as session:
        attempts = session.scalar(select(func.max(OperationsAlert.attempts)))
    assert attempts == 2 and len(_alert_mails(smtp_server)) == 1


def test_a_prefect_flow_run_that_fails_before_its_stages_is_alerted(
    prefect_harness, ops_settings, db_engine, smtp_server, tmp_path: Path, monkeypatch
) -> None:
    from flows.daily import inbox_flow

    config = tmp_path / "config.toml"
    shutil.copy(Path(__file__).resolve().parents[2] / "config.toml", config)
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", ops_settings.database.url)
    monkeypatch.setenv("KVARBOENDE_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("KVARBOENDE_SMTP_START_LOCAL", "false")
    state = inbox_flow(run_date="2026-13-45", config_file=str(config), return_state=True)
    assert state.is_failed()
    (mail,) = _alert_mails(smtp_server)
    body = mail.get_payload(decode=True).decode()
    assert "Jobb inbox, flödeskörning" in body and "FAILED" in body


def test_a_run_whose_process_died_is_alerted_by_the_next_run(ops_settings, db_engine) -> None:
    from flows.stages.alerts import check_alerts

    started = datetime(2026, 11, 2, 5, 30, tzinfo=UTC)
    with session_scope(db_engine) as session:
        dead = ops.start_run(session, "daily", started.date(), "flow-run-y", at=started)
        ops.record_stage(session, dead, "ingest", ops.STAGE_OK)  # then the worker was killed
    early = started + timedelta(hours=1)  # still running, perhaps: nothing yet
    assert check_alerts(db_engine, ops_settings, date(2026, 11, 2), now=early) == {}
    later = started + timedelta(hours=ops_settings.operations.run_hung_hours + 1)
    assert check_alerts(db_engine, ops_settings, date(2026, 11, 2), now=later) == {"run_crashed": 1}
    assert check_alerts(db_engine, ops_settings, date(2026, 11, 2), now=later) == {}
    with session_scope(db_engine) as session:
        run = ops.get_run(session, dead)
        keys = ops.alert_keys(session, "run_crashed:")
    assert run.state == ops.FAILED and run.error == "Crashed"
    assert keys == {"run_crashed:flow-run-y"}


def test_the_nightly_register_import_and_retention_flows_run_and_are_recorded(
    prefect_harness, ops_settings, db_engine, db_url: str, tmp_path: Path, monkeypatch
) -> None:
    from register_helpers import pnr
    from sqlalchemy import text

    from flows.daily import cases_import_flow, retention_flow

    prepare_database(db_engine, ops_settings)
    with db_engine.begin() as connection:
        connection.execute(text("CREATE TABLE ext_cases (arende varchar(10), pnr varchar(13))"))
        connection.execute(text(f"INSERT INTO ext_cases VALUES ('X9', '{pnr('19800101123')}')"))
    config = tmp_path / "config.toml"
    shutil.copy(Path(__file__).resolve().parents[2] / "config.toml", config)
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", db_url)
    monkeypatch.setenv("KVARBOENDE_SMTP_START_LOCAL", "false")
    monkeypatch.setenv("KVARBOENDE_CASES_SQL_URL", db_url)
    query = "SELECT arende AS case_id, pnr AS personnummer FROM ext_cases"
    monkeypatch.setenv("KVARBOENDE_CASES_SQL_QUERY", query)

    assert cases_import_flow(config_file=str(config))["cases"] == 1
    assert cases_import_flow(config_file=str(config))["unchanged"] == 1
    counts = retention_flow(run_date="2027-01-10", config_file=str(config))  # dry run
    assert isinstance(counts, dict) and counts
    with session_scope(db_engine) as session:
        runs = session.execute(select(JobRun.job, JobRun.state).order_by(JobRun.id)).all()
    assert [tuple(r) for r in runs] == [
        ("cases-import", "completed"), ("cases-import", "completed"), ("retention", "completed")
    ]  # fmt: skip
