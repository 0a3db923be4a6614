"""Meeting reminders against a real local HTTP SMS gateway and a real SMTP server.

The gateway (tests/sms_gateway.py) answers 200, 4xx, 5xx or not at all, as each test
scripts it; every database test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from booking_helpers import add_episode
from pydantic import SecretStr
from sms_gateway import Gateway
from sqlalchemy import select

from domain import reminders as rm
from domain.formatting import STOCKHOLM
from flows.stages.booking import book_appointments
from flows.stages.reminders import send_reminders
from models.db import as_utc, session_scope
from models.tables import Appointment, AppointmentSlot, Episode, Reminder
from services.reminders import failed_reminders, person_refuses_sms, set_no_sms
from services.worklists import advisor_worklist

RUN = date(2026, 11, 2)  # a Monday
REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------
# Pure rules


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("070-123 45 67", "+46701234567"),
        ("0701234567", "+46701234567"),
        ("+46 70 123 45 67", "+46701234567"),
        ("+46 (0)73-123 45 67", "+46731234567"),
        ("0046761234567", "+46761234567"),
        ("46791234567", "+46791234567"),
        ("08-123 456 78", None),  # a landline
        ("0711234567", None),  # machine-to-machine numbers
        ("+4570123456", None),  # Danish
        ("070-123", None),
        ("", None),
        (None, None),
    ],
)
def test_swedish_mobile_numbers_become_e164(given: str | None, expected: str | None) -> None:
    assert rm.swedish_mobile(given) == expected


def test_reminder_window_is_the_working_day_before_with_holidays_skipped() -> None:
    monday = datetime(2026, 11, 9, 10, 0, tzinfo=STOCKHOLM)
    window = rm.reminder_window(monday, time(8, 0), 2)
    assert window.opens == datetime(2026, 11, 6, 8, 0, tzinfo=STOCKHOLM)  # Friday
    assert window.closes == datetime(2026, 11, 9, 8, 0, tzinfo=STOCKHOLM)
    # 28 December 2026 (Monday): 24-26 December are julafton, juldagen, annandag jul.
    after_christmas = datetime(2026, 12, 28, 9, 0, tzinfo=STOCKHOLM)
    assert rm.reminder_window(after_christmas, time(8, 0), 2).opens.date() == date(2026, 12, 23)
    # Tuesday after Easter Monday (6 April 2026): Thursday 2 April (Good Friday is off).
    assert rm.previous_working_day(date(2026, 4, 7)) == date(2026, 4, 2)


def _meeting() -> rm.Meeting:
    return rm.Meeting(
        advisor_name="Anna Lindqvist",
        organisation="Exempelby kommun",
        starts_at=datetime(2026, 11, 10, 9, 0, tzinfo=STOCKHOLM),
        place="Boenderådgivningen, Medborgarhuset",
        address="Storgatan 1, plan 2, Exempelby",
        phone="08-123 456 78",
    )


def test_sms_text_names_who_when_where_and_a_phone_number_only() -> None:
    for language in ("sv", "en"):
        text = rm.sms_text(_meeting(), language)
        assert "Anna Lindqvist" in text and "08-123 456 78" in text
        assert "Medborgarhuset" in text and "Storgatan 1" in text
        assert rm.is_discreet(text)
        for words in (rm.email_subject(_meeting(), language), rm.email_text(_meeting(), language)):
            assert rm.is_discreet(words)
    sv = rm.sms_text(_meeting())
    assert "tisdag 10 november kl. 09.00" in sv
    # The guard catches what must never be said.
    assert not rm.is_discreet("Din hyresskuld är 12 345 kr")
    assert not rm.is_discreet("Skulden: 12 345,50 kr")
    assert not rm.is_discreet("Om hyran: ring oss")
    assert not rm.is_discreet("About your rent debt")


# ---------------------------------------------------------------------------
# Against the database, the gateway and SMTP


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway().start()
    yield server
    server.stop()


@pytest.fixture
def sms(settings, gateway):  # noqa: ANN001, ANN201
    settings.sms.transport = "http"
    settings.sms.base_url = gateway.url
    settings.sms.username = "u1234"
    settings.sms.password = SecretStr("secret")
    settings.sms.timeout_seconds = 0.5
    settings.reminders.backoff_seconds = 0
    settings.reminders.max_attempts = 3
    settings.smtp.rate_per_second = 1000
    return settings


def _booked(
    engine, settings, phone: str | None = "070-123 45 67", **kwargs
) -> tuple[int, datetime]:  # noqa: ANN001
    """An episode with a phone (and whatever else), booked; returns (episode id, meeting start)."""
    episode_id = add_episode(engine, **kwargs)
    with session_scope(engine) as session:
        session.get(Episode, episode_id).phone = phone  # type: ignore[union-attr]
    book_appointments(engine, settings, RUN)
    with session_scope(engine) as session:
        start = session.scalar(
            select(AppointmentSlot.starts_at)
            .join(Appointment, Appointment.slot_id == AppointmentSlot.id)
            .where(Appointment.episode_id == episode_id)
        )
    assert start is not None
    return episode_id, as_utc(start)


def _opens(settings, start: datetime) -> datetime:  # noqa: ANN001
    config = settings.reminders
    return rm.reminder_window(start, config.send_from, config.min_notice_hours).opens


def _reminders(engine) -> list[Reminder]:  # noqa: ANN001
    with session_scope(engine) as session:
        rows = list(session.scalars(select(Reminder).order_by(Reminder.id)))
        session.expunge_all()
        return rows


def test_sms_goes_once_the_working_day_before_with_key_and_auth(db_engine, sms, gateway) -> None:  # noqa: ANN001
    _, start = _booked(db_engine, sms, debt=Decimal("12345.50"))
    opens = _opens(sms, start)
    assert opens.astimezone(STOCKHOLM).date() < start.astimezone(STOCKHOLM).date()

    early = send_reminders(db_engine, sms, RUN, at=opens - timedelta(minutes=1))
    assert early["queued_sms"] == 0 and gateway.received == []

    counts = send_reminders(db_engine, sms, RUN, at=opens + timedelta(minutes=1))
    assert counts["queued_sms"] == 1 and counts["sent_sms"] == 1
    (request,) = gateway.received
    assert request.path == "/a1/sms"
    assert request.fields["to"] == "+46701234567"
    assert request.fields["from"] == sms.sms.sender
    assert request.headers["Idempotency-Key"].startswith("reminder:")
    assert request.headers["Authorization"].startswith("Basic ")
    message = request.fields["message"]
    assert "12 345" not in message and "12345" not in message and rm.is_discreet(message)
    (reminder,) = _reminders(db_engine)
    assert reminder.status == "sent" and reminder.gateway_id == "s1"
    assert reminder.idempotency_key == request.headers["Idempotency-Key"]

    again = send_reminders(db_engine, sms, RUN, at=opens + timedelta(minutes=20))
    assert again["queued_sms"] == 0 and again["sent_sms"] == 0 and len(gateway.received) == 1


def test_json_payload_template(db_engine, sms, gateway) -> None:  # noqa: ANN001
    sms.sms.body_format = "json"
    sms.sms.payload = {"sender": "{sender}", "recipients": "{to}", "text": "{message}"}
    _, start = _booked(db_engine, sms)
    send_reminders(db_engine, sms, RUN, at=_opens(sms, start))
    (request,) = gateway.received
    assert request.headers["Content-Type"].startswith("application/json")
    assert set(request.fields) == {"sender", "recipients", "text"}
    assert request.fields["recipients"] == "+46701234567"


def test_5xx_and_no_answer_are_retried_and_sent_once(db_engine, sms, gateway) -> None:  # noqa: ANN001
    gateway.answers = [503, "hang"]
    gateway.hang_seconds = 2
    _, start = _booked(db_engine, sms)
    at = _opens(sms, start)
    first = send_reminders(db_engine, sms, RUN, at=at)
    assert first["retry"] == 1 and first["sent_sms"] == 0
    second = send_reminders(db_engine, sms, RUN, at=at + timedelta(minutes=15))
    assert second["retry"] == 1 and second["deferred"] == 1
    (reminder,) = _reminders(db_engine)
    assert reminder.status == "pending" and reminder.attempts == 2
    assert "timeout" in (reminder.last_error or "")
    third = send_reminders(db_engine, sms, RUN, at=at + timedelta(minutes=30))
    assert third["sent_sms"] == 1
    keys = {r.headers["Idempotency-Key"] for r in gateway.received}
    assert len(gateway.received) == 3 and len(keys) == 1 and len(gateway.stored) == 1
    assert _reminders(db_engine)[0].status == "sent"


def test_4xx_fails_at_once_and_lands_on_the_worklist(db_engine, sms, gateway) -> None:  # noqa: ANN001
    gateway.answers = [400]
    episode_id, start = _booked(db_engine, sms)
    counts = send_reminders(db_engine, sms, RUN, at=_opens(sms, start))
    assert counts["failed"] == 1
    (reminder,) = _reminders(db_engine)
    assert reminder.status == "failed" and "HTTP 400" in (reminder.last_error or "")
    assert "+4670" not in (reminder.last_error or "")  # the number the gateway quoted is cut
    later = send_reminders(db_engine, sms, RUN, at=_opens(sms, start) + timedelta(hours=1))
    assert later["sent_sms"] == 0 and len(gateway.received) == 1
    with session_scope(db_engine) as session:
        listed = failed_reminders(session, datetime.combine(RUN, time(), tzinfo=UTC))
        day = _opens(sms, start).astimezone(STOCKHOLM).date()
        rows = advisor_worklist(session, sms, day).rows
    assert listed["episode_id"].to_list() == [episode_id]
    (row,) = rows.filter(pl.col("action").str.starts_with("Påminnelsen")).iter_rows(named=True)
    assert row["section"] == "delivery_problems" and row["episode_id"] == episode_id
    assert "gick inte fram med sms: ring hushållet" in row["action"]


def test_4xx_sms_goes_by_email_instead(db_engine, sms, gateway, smtp_server) -> None:  # noqa: ANN001
    gateway.answers = [400]
    sms.smtp.port = smtp_server.port
    episode_id, start = _booked(db_engine, sms, email="asa@example.se")
    counts = send_reminders(db_engine, sms, RUN, at=_opens(sms, start))
    assert counts["failed_email_queued"] == 1 and counts["sent_email"] == 1
    assert [r.channel for r in _reminders(db_engine)] == ["sms", "email"]
    assert len(smtp_server.messages) == 1
    with session_scope(db_engine) as session:
        assert failed_reminders(session, datetime.combine(RUN, time(), tzinfo=UTC)).height == 0


def test_reminder_whose_meeting_is_too_close_is_never_sent(db_engine, sms, gateway) -> None:  # noqa: ANN001
    gateway.default = 503
    episode_id, start = _booked(db_engine, sms)
    send_reminders(db_engine, sms, RUN, at=_opens(sms, start))
    assert len(gateway.received) == 1
    gateway.default = 200
    late = start - timedelta(hours=1)  # within min_notice_hours (2)
    counts = send_reminders(db_engine, sms, RUN, at=late)
    assert counts["too_close"] == 1 and counts["sent_sms"] == 0
    assert len(gateway.received) == 1
    (reminder,) = _reminders(db_engine)
    assert reminder.status == "failed"
    with session_scope(db_engine) as session:
        listed = failed_reminders(session, datetime.combine(RUN, time(), tzinfo=UTC))
    assert listed["too_close"].to_list() == [True]
    # A meeting already past gets no reminder queued at all.
    assert send_reminders(db_engine, sms, RUN, at=start + timedelta(hours=1))["queued_sms"] == 0


def test_no_sms_tenant_gets_a_neutral_email(db_engine, sms, gateway, smtp_server) -> None:  # noqa: ANN001
    sms.smtp.port = smtp_server.port
    episode_id, start = _booked(db_engine, sms, email="asa@example.se", debt=Decimal("8000"))
    with session_scope(db_engine) as session:
        set_no_sms(session, episode_id, True, by="anna")
    counts = send_reminders(db_engine, sms, RUN, at=_opens(sms, start))
    assert counts["queued_email"] == 1 and counts["sent_email"] == 1 and gateway.received == []
    (message,) = smtp_server.messages
    subject = str(message["Subject"])
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert subject.startswith("Påminnelse: din tid hos Exempelby kommun")
    assert rm.is_discreet(subject) and rm.is_discreet(body) and "8 000" not in body


def test_refuses_sms_takes_the_newest_choice_under_any_key() -> None:
    keys = rm.person_keys("198501012384", True, "c|k|K1")
    assert keys == [("personnummer", "198501012384"), ("tenancy", "c|k|K1")]
    assert rm.person_keys("198501012384", False, "c|k|K1") == [("tenancy", "c|k|K1")]
    older = datetime(2025, 3, 1, tzinfo=UTC)
    newer = datetime(2026, 3, 1, tzinfo=UTC)
    said_no = rm.SmsChoiceRow(keys[0], True, older)
    allowed = rm.SmsChoiceRow(("tenancy", "c|k|K1"), False, newer)
    assert rm.refuses_sms({}, keys) is False
    assert rm.refuses_sms({keys[0]: said_no}, keys) is True
    assert rm.refuses_sms({keys[0]: said_no, keys[1]: allowed}, keys) is False
    # Another person's choice under another key does not apply.
    assert rm.refuses_sms({("personnummer", "199001011234"): said_no}, keys) is False


def _other_person(engine, episode_id: int, personnummer: str | None, tenancy: str) -> None:  # noqa: ANN001
    with session_scope(engine) as session:
        episode = session.get(Episode, episode_id)
        assert episode is not None
        episode.personnummer = personnummer
        episode.personnummer_valid = personnummer is not None
        episode.tenancy_key = tenancy


def test_no_sms_follows_the_person_to_a_new_episode(db_engine, sms, gateway, smtp_server) -> None:  # noqa: ANN001
    """Said "no SMS" last year, back with a new debt (another tenancy): still no SMS."""
    sms.smtp.port = smtp_server.port
    earlier = add_episode(db_engine, status="closed")
    _other_person(db_engine, earlier, "198501012384", "vasbyhem|k|OLD1")
    with session_scope(db_engine) as session:
        set_no_sms(session, earlier, True, by="anna", now=datetime(2025, 10, 1, tzinfo=UTC))
    # The same person on a new tenancy, the same tenancy without a valid number, a stranger.
    same_number, _ = _booked(db_engine, sms, email="asa@example.se")
    _other_person(db_engine, same_number, "198501012384", "vasbyhem|k|NEW2")
    same_tenancy, _ = _booked(db_engine, sms, email="asa2@example.se")
    _other_person(db_engine, same_tenancy, None, "vasbyhem|k|OLD1")
    stranger, start = _booked(db_engine, sms, email="bo@example.se")
    _other_person(db_engine, stranger, "199001011239", "vasbyhem|k|OTHER3")
    with session_scope(db_engine) as session:
        starts = session.scalars(select(AppointmentSlot.starts_at).join(Appointment)).all()
    at = max(_opens(sms, as_utc(s)) for s in starts)
    counts = send_reminders(db_engine, sms, RUN, at=at)
    channels = {r.episode_id: r.channel for r in _reminders(db_engine)}
    assert channels == {same_number: "email", same_tenancy: "email", stranger: "sms"}
    assert counts["sent_sms"] == 1 and len(gateway.received) == 1
    assert gateway.received[0].fields["to"] == "+46701234567"
    with session_scope(db_engine) as session:
        assert person_refuses_sms(session, session.get(Episode, same_number))  # type: ignore[arg-type]
        # "SMS allowed" on the new episode holds for the person, the old episode too.
        set_no_sms(session, same_number, False, by="anna")
    with session_scope(db_engine) as session:
        assert not person_refuses_sms(session, session.get(Episode, earlier))  # type: ignore[arg-type]
        assert not person_refuses_sms(session, session.get(Episode, same_number))  # type: ignore[arg-type]
        # The tenancy key alone still carries last year's "no" for the tenant without a number.
        assert person_refuses_sms(session, session.get(Episode, same_tenancy))  # type: ignore[arg-type]
        assert not person_refuses_sms(session, session.get(Episode, stranger))  # type: ignore[arg-type]


def test_marking_withdraws_a_queued_sms_of_the_persons_other_episode(
    db_engine, sms, gateway
) -> None:  # noqa: ANN001
    gateway.default = 503  # the SMS stays queued
    booked, start = _booked(db_engine, sms)
    send_reminders(db_engine, sms, RUN, at=_opens(sms, start))
    (reminder,) = _reminders(db_engine)
    assert reminder.status == "pending"
    other = add_episode(db_engine, status="closed")  # the same personnummer
    _other_person(db_engine, other, "198501012384", "vasbyhem|k|ELSEWHERE")
    with session_scope(db_engine) as session:
        set_no_sms(session, other, True, by="anna")
    (reminder,) = _reminders(db_engine)
    assert reminder.episode_id == booked and reminder.status == "superseded"


def test_retention_forgets_the_choice_with_the_persons_last_episode(db_engine) -> None:  # noqa: ANN001
    from models.tables import SmsChoice
    from services.retention import purge_batch

    first, second = add_episode(db_engine), add_episode(db_engine)  # one person, two tenancies
    with session_scope(db_engine) as session:
        set_no_sms(session, first, True, by="anna")
    with session_scope(db_engine) as session:
        purge_batch(session, [first])
    with session_scope(db_engine) as session:
        kinds = session.scalars(select(SmsChoice.key_kind)).all()
        assert kinds == ["personnummer"]  # the tenancy is gone, the person is not
        assert person_refuses_sms(session, session.get(Episode, second))  # type: ignore[arg-type]
    with session_scope(db_engine) as session:
        purge_batch(session, [second])
    with session_scope(db_engine) as session:
        assert session.scalars(select(SmsChoice)).all() == []


def test_existing_marks_migrate_to_the_person(db_engine) -> None:  # noqa: ANN001
    from alembic import command
    from sqlalchemy import text

    from models.db import alembic_config, upgrade
    from models.tables import SmsChoice

    marked, unmarked = add_episode(db_engine), add_episode(db_engine)
    _other_person(db_engine, unmarked, "199001011239", "vasbyhem|k|OTHER")
    command.downgrade(alembic_config(db_engine), "0003_operations")
    with db_engine.begin() as connection:
        connection.execute(text("UPDATE episode SET no_sms = true WHERE id = :i"), {"i": marked})
    upgrade(db_engine)
    later = add_episode(db_engine)  # the marked tenant's next episode
    with session_scope(db_engine) as session:
        rows = session.execute(select(SmsChoice.key_kind, SmsChoice.no_sms)).all()
        assert sorted(rows) == [("personnummer", True), ("tenancy", True)]
        assert person_refuses_sms(session, session.get(Episode, later))  # type: ignore[arg-type]
        assert not person_refuses_sms(session, session.get(Episode, unmarked))  # type: ignore[arg-type]


def test_no_contact_and_moved_meeting(db_engine, sms, gateway) -> None:  # noqa: ANN001
    _, start = _booked(db_engine, sms, phone="08-123 456 78")  # landline, no email
    counts = send_reminders(db_engine, sms, RUN, at=_opens(sms, start))
    assert counts["no_contact"] == 1 and _reminders(db_engine) == []


KILLER = """
import sys
from datetime import datetime
from tests_support_settings import settings_for
from flows.stages.reminders import send_reminders
from models.db import make_engine
url, tmp, gateway, at = sys.argv[1:]
settings = settings_for(url, tmp, gateway)
send_reminders(make_engine(url), settings, datetime.fromisoformat(at).date(),
               at=datetime.fromisoformat(at))
"""


def test_rerun_after_a_crash_sends_no_duplicate(db_url, db_engine, sms, gateway, tmp_path) -> None:  # noqa: ANN001
    victim: dict[str, int] = {}

    def kill_on_second(_request: object) -> None:
        if len(gateway.received) == 2 and "pid" in victim:
            os.kill(victim["pid"], signal.SIGKILL)  # before the gateway answers

    gateway.on_request = kill_on_second  # type: ignore[assignment]
    starts = [_booked(db_engine, sms)[1] for _ in range(4)]
    at = max(_opens(sms, start) for start in starts)
    assert at < min(starts) - timedelta(hours=sms.reminders.min_notice_hours)
    support = tmp_path / "tests_support_settings.py"
    support.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from settings_helpers import build_settings\n"
        "from pathlib import Path\n"
        "def settings_for(url, tmp, gateway):\n"
        "    s = build_settings(Path(tmp), url)\n"
        "    s.sms.transport = 'http'\n"
        "    s.sms.base_url = gateway\n"
        "    s.sms.timeout_seconds = 30\n"
        "    return s\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    process = subprocess.Popen(
        [sys.executable, "-c", KILLER, db_url, str(tmp_path), gateway.url, at.isoformat()],
        env=env,
        cwd=REPO,
    )
    victim["pid"] = process.pid
    assert process.wait(timeout=120) == -signal.SIGKILL
    in_flight = [r for r in _reminders(db_engine) if r.status == "sending"]
    assert len(in_flight) == 1

    counts = send_reminders(db_engine, sms, RUN, at=at + timedelta(minutes=15))
    reminders = _reminders(db_engine)
    assert len(reminders) == 4 and all(r.status == "sent" for r in reminders)
    assert counts["queued_sms"] == 0 and counts["sent_sms"] == 3
    keys = [r.headers["Idempotency-Key"] for r in gateway.received]
    assert len(keys) == 5 and len(set(keys)) == 4  # only the one in flight went twice ...
    assert [k for k in keys if keys.count(k) == 2] == [in_flight[0].idempotency_key] * 2
    assert len(gateway.stored) == 4  # ... and the gateway kept it once


def test_statistics_count_reminders_sent_delivered_and_failed_by_stockholm_month() -> None:
    from domain import statistics as st

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).astimezone(UTC)

    reminders = pl.DataFrame(
        [
            ("sms", at("2026-10-31T23:30:00+01:00"), at("2026-10-31T23:30:00+01:00"), None),
            ("sms", at("2026-11-02T08:00:00+01:00"), None, None),
            ("email", at("2026-11-03T08:00:00+01:00"), None, None),
            ("sms", None, None, at("2026-11-04T08:00:00+01:00")),
        ],
        schema=st.REMINDER_SCHEMA,
        orient="row",
    )
    facts = st.compute_facts(
        ["2026-10", "2026-11"], episodes=None, notices=None, companies=None, reminders=reminders
    )
    november = st.period_figures(facts, ["2026-11"])
    assert november["reminders_sent"] == 2
    assert (november["reminders_sent.sms"], november["reminders_sent.email"]) == (1, 1)
    assert november["reminders_failed"] == 1 and november["reminders_delivered"] == 0
    october = st.period_figures(facts, ["2026-10"])  # 23:30 on 31 October in Stockholm
    assert october["reminders_sent"] == 1 and october["reminders_delivered"] == 1


def test_cli_marks_no_sms_and_allows_it_again(db_engine, db_url, tmp_path, capsys) -> None:  # noqa: ANN001
    from flows.cli import main

    episode_id = add_episode(db_engine)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    assert (
        main(["--config", str(config), "episodes", "no-sms", str(episode_id), "--by", "anna"]) == 0
    )
    assert "no SMS; reminders go by email" in capsys.readouterr().out
    with session_scope(db_engine) as session:
        assert person_refuses_sms(session, session.get(Episode, episode_id))  # type: ignore[arg-type]
    assert main(["--config", str(config), "episodes", "no-sms", str(episode_id), "--allow"]) == 0
    with session_scope(db_engine) as session:
        assert not person_refuses_sms(session, session.get(Episode, episode_id))  # type: ignore[arg-type]
    assert main(["--config", str(config), "episodes", "no-sms", "999999"]) != 0


def test_two_runs_at_once_never_send_the_same_reminder(db_engine, sms, gateway) -> None:  # noqa: ANN001
    import threading

    starts = [_booked(db_engine, sms)[1] for _ in range(6)]
    at = max(_opens(sms, start) for start in starts)
    assert at < min(starts) - timedelta(hours=sms.reminders.min_notice_hours)
    barrier = threading.Barrier(2)
    results: list[dict[str, int]] = []

    def run() -> None:
        barrier.wait()
        results.append(send_reminders(db_engine, sms, RUN, at=at))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 2
    assert sum(r["sent_sms"] for r in results) == 6
    keys = [r.headers["Idempotency-Key"] for r in gateway.received]
    assert len(keys) == 6 and len(set(keys)) == 6
    assert all(r.status == "sent" for r in _reminders(db_engine))


def test_retention_deletes_an_episodes_reminders_with_it(db_engine, sms, gateway) -> None:  # noqa: ANN001
    from services.retention import purge_batch

    episode_id, start = _booked(db_engine, sms)
    send_reminders(db_engine, sms, RUN, at=_opens(sms, start))
    assert len(_reminders(db_engine)) == 1
    with session_scope(db_engine) as session:
        counts, _ = purge_batch(session, [episode_id])
    assert _reminders(db_engine) == []
    with session_scope(db_engine) as session:
        assert session.get(Episode, episode_id) is None


def test_delivery_report_address_goes_in_the_payload(db_engine, sms, gateway) -> None:  # noqa: ANN001
    sms.sms.status_secret = SecretStr("long-random")
    sms.sms.payload = {**sms.sms.payload, "whendelivered": "{status_url}"}
    _, start = _booked(db_engine, sms)
    send_reminders(db_engine, sms, RUN, at=_opens(sms, start))
    (request,) = gateway.received
    assert request.fields["whendelivered"] == sms.web.link("/api/v1/sms-status/long-random")
