"""The whole daily pipeline over simulated weeks, on SQLite and PostgreSQL, with real SMTP."""

from __future__ import annotations

import logging
import shutil
from datetime import date, timedelta

from sqlalchemy import func, select

from connectors.demo_files import write_notice_files, write_register
from domain.reminders import is_discreet
from domain.synthetic import generate
from flows.pipeline import run_daily
from flows.stages.cases import import_register
from flows.stages.setup import prepare_database
from models.tables import Episode, Letter, Notice, NoticeFile, Reminder

START = date(2026, 9, 1)


def _simulate(engine, settings, tmp_path, days: list[date], deliveries) -> dict[date, dict]:
    results = {}
    for day in days:
        for company_id, path in deliveries.get(day, []):
            inbox = settings.company(company_id).inbox
            inbox.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, inbox / path.name)
        results[day] = run_daily(engine, settings, day)
    return results


def test_daily_pipeline_end_to_end(db_engine, settings, smtp_server, tmp_path, caplog) -> None:
    settings.smtp.port = smtp_server.port
    municipality = generate(7, START, 35, 240)
    cases, household = write_register(municipality, tmp_path / "register")
    deliveries = write_notice_files(municipality, tmp_path / "source")
    prepare_database(db_engine, settings)
    import_register(db_engine, settings, cases, household, taken_on=START)
    days = [
        START + timedelta(days=n) for n in range(35) if (START + timedelta(days=n)).weekday() < 5
    ]

    with caplog.at_level(logging.DEBUG):
        _simulate(db_engine, settings, tmp_path, days, deliveries)

    with db_engine.connect() as connection:
        files = connection.execute(select(NoticeFile)).all()
        notices = connection.scalar(select(func.count()).select_from(Notice))
        episodes = connection.execute(select(Episode.routing, Episode.personnummer)).all()
        letters = connection.execute(select(Letter.kind, Letter.channel, Letter.status)).all()

    # Every row of every file is accounted for.
    assert files
    for file in files:
        assert file.rows_accepted + file.rows_rejected + file.rows_duplicate == file.rows_read
    assert sum(f.rows_rejected for f in files) >= 4  # the demo's bad rows
    assert notices == sum(f.rows_accepted for f in files)

    # Known tenants go to a caseworker, everyone else to the advisor.
    routed = {pnr: routing for routing, pnr in episodes}
    known = [pnr for pnr in routed if pnr in municipality.known_tenants]
    assert known and all(routed[pnr] in {"caseworker", "review"} for pnr in known)
    strangers = [pnr for pnr in routed if pnr not in municipality.known_tenants]
    assert sum(routed[pnr] == "advisor" for pnr in strangers) >= 0.9 * len(strangers)

    # Letters went out by email (arrived at the real SMTP server) and by print.
    appointment_letters = [row for row in letters if row.kind == "appointment"]
    assert appointment_letters
    assert all(row.status == "sent" for row in appointment_letters)
    emailed = sum(row.channel == "email" for row in appointment_letters)
    assert emailed and sum(row.channel == "print" for row in appointment_letters)
    tenant_mails = [
        rcpts for _, rcpts in smtp_server.handler.envelopes if rcpts[0].endswith("@example.se")
    ]
    # ... and the meeting reminders the working day before: by SMS (the file transport
    # here), by email to those without a mobile number; none named the debt.
    with db_engine.connect() as connection:
        reminders = connection.execute(
            select(Reminder.channel, Reminder.status, Reminder.body)
        ).all()
    assert reminders and {r.status for r in reminders} <= {"sent", "delivered", "superseded"}
    assert all(is_discreet(r.body) for r in reminders)
    sms = [r for r in reminders if r.channel == "sms" and r.status == "delivered"]
    assert sms and len(list(settings.paths.sms_dir.glob("*.txt"))) == len(sms)
    reminder_mails = sum(r.channel == "email" and r.status == "sent" for r in reminders)
    assert len(tenant_mails) == emailed + reminder_mails
    assert list(settings.paths.print_dir.rglob("*.pdf"))
    assert list(settings.paths.worklist_dir.rglob("*"))

    # No personnummer or tenant name in any log line.
    # (mail.log is the test's SMTP server, i.e. the recipient's side: it may see the mail.)
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    logged = "\n".join(record.getMessage() for record in ours)
    tenants = municipality.notices.select("personnummer", "tenant_name").unique()
    for pnr, name in tenants.iter_rows():
        assert pnr not in logged and pnr[2:8] not in logged
        assert name not in logged


def test_rerun_of_a_day_duplicates_nothing(db_engine, settings, smtp_server, tmp_path) -> None:
    settings.smtp.port = smtp_server.port
    municipality = generate(11, START, 10, 120)
    cases, household = write_register(municipality, tmp_path / "register")
    deliveries = write_notice_files(municipality, tmp_path / "source")
    prepare_database(db_engine, settings)
    import_register(db_engine, settings, cases, household, taken_on=START)
    days = [d for d in sorted(deliveries)][:4]
    _simulate(db_engine, settings, tmp_path, days, deliveries)

    def snapshot() -> tuple[int, int, int, int]:
        with db_engine.connect() as connection:
            return (
                connection.scalar(select(func.count()).select_from(Notice)),
                connection.scalar(select(func.count()).select_from(Episode)),
                connection.scalar(select(func.count()).select_from(Letter)),
                len(smtp_server.messages),
            )

    before = snapshot()
    assert before[0] > 0 and before[2] > 0  # something was ingested and queued
    # The same files arrive again (a company re-sends) and the day is run again.
    _simulate(db_engine, settings, tmp_path, days[-1:], {days[-1]: deliveries.get(days[-1], [])})
    run_daily(db_engine, settings, days[-1])
    assert snapshot() == before
