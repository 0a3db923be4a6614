"""The SMS gateway's delivery reports (46elks whendelivered) on SQLite and PostgreSQL.

The fallback tests send through the real local gateway (tests/sms_gateway.py) and a
real SMTP server, and report through the portal's endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from booking_helpers import add_episode
from pydantic import SecretStr
from sms_gateway import Gateway
from sqlalchemy import select

from models.db import session_scope
from models.tables import Appointment, AppointmentSlot, Episode, Reminder


def _sent_sms(engine, gateway_id: str) -> int:  # noqa: ANN001
    episode_id = add_episode(engine)
    hour = 7 + episode_id % 10
    with session_scope(engine) as session:
        slot = AppointmentSlot(
            advisor_id="radgivare1",
            location="Medborgarhuset",
            starts_at=datetime(2026, 11, 10, hour, tzinfo=UTC),
            ends_at=datetime(2026, 11, 10, hour, 45, tzinfo=UTC),
            booked=1,
        )
        session.add(slot)
        session.flush()
        appointment = Appointment(episode_id=episode_id, slot_id=slot.id, status="booked")
        session.add(appointment)
        session.flush()
        reminder = Reminder(
            idempotency_key=f"reminder:{episode_id}:{appointment.id}:sms",
            episode_id=episode_id,
            appointment_id=appointment.id,
            channel="sms",
            recipient="+46701234567",
            body="Hej!",
            status="sent",
            gateway_id=gateway_id,
            created_on=date(2026, 11, 9),
        )
        session.add(reminder)
        session.flush()
        return reminder.id


def _status(engine, reminder_id: int) -> tuple[str, bool]:  # noqa: ANN001
    with session_scope(engine) as session:
        row = session.execute(
            select(Reminder.status, Reminder.delivered_at).where(Reminder.id == reminder_id)
        ).one()
    return row[0], row[1] is not None


def test_delivery_reports_mark_reminders_delivered_or_failed(portal) -> None:  # noqa: ANN001
    portal.settings.sms.status_secret = SecretStr("s3cret-long-random")
    ok = _sent_sms(portal.engine, "g1")
    lost = _sent_sms(portal.engine, "g2")
    client = portal.client()
    url = "/api/v1/sms-status/s3cret-long-random"
    assert client.post(url, data={"id": "g1", "status": "delivered"}).status_code == 200
    assert client.post(url, data={"id": "g2", "status": "failed"}).status_code == 200
    assert client.post(url, data={"id": "unknown", "status": "delivered"}).status_code == 200
    assert _status(portal.engine, ok) == ("delivered", True)
    assert _status(portal.engine, lost) == ("failed", False)
    assert client.post(url, data={"id": "g1"}).status_code == 400
    wrong = client.post("/api/v1/sms-status/guess", data={"id": "g2", "status": "delivered"})
    assert wrong.status_code == 404 and _status(portal.engine, lost) == ("failed", False)


def test_delivery_reports_are_off_without_a_secret(portal) -> None:  # noqa: ANN001
    reminder = _sent_sms(portal.engine, "g1")
    answer = portal.client().post("/api/v1/sms-status/", data={"id": "g1", "status": "delivered"})
    assert answer.status_code in (404, 405)
    answer = portal.client().post("/api/v1/sms-status/x", data={"id": "g1", "status": "delivered"})
    assert answer.status_code == 404 and _status(portal.engine, reminder) == ("sent", False)


# ---------------------------------------------------------------------------
# A report of non-delivery sends the reminder by email instead, once


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway().start()
    yield server
    server.stop()


def _sms_through(portal, gateway: Gateway, smtp_server) -> None:  # noqa: ANN001
    settings = portal.settings
    settings.sms.transport = "http"
    settings.sms.base_url = gateway.url
    settings.sms.username = "u1234"
    settings.sms.password = SecretStr("secret")
    settings.sms.timeout_seconds = 2
    settings.sms.status_secret = SecretStr("s3cret-long-random")
    settings.smtp.port = smtp_server.port
    settings.smtp.rate_per_second = 1000


def _meeting_in(engine, hours: float, email: str | None) -> int:  # noqa: ANN001
    """An episode with a mobile number (and ``email``) and a meeting ``hours`` from now."""
    episode_id = add_episode(engine, email=email)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=hours)
    start += timedelta(minutes=episode_id % 50)  # one slot per episode
    with session_scope(engine) as session:
        session.get(Episode, episode_id).phone = "070-123 45 67"  # type: ignore[union-attr]
        slot = AppointmentSlot(
            advisor_id="radgivare1",
            location="Medborgarhuset",
            starts_at=start,
            ends_at=start + timedelta(minutes=45),
            booked=1,
        )
        session.add(slot)
        session.flush()
        session.add(Appointment(episode_id=episode_id, slot_id=slot.id, status="booked"))
    return episode_id


def _channels(engine, episode_id: int) -> list[tuple[str, str]]:  # noqa: ANN001
    with session_scope(engine) as session:
        return [
            (c, s)
            for c, s in session.execute(
                select(Reminder.channel, Reminder.status)
                .where(Reminder.episode_id == episode_id)
                .order_by(Reminder.id)
            )
        ]


def test_undelivered_sms_goes_by_email_once(portal, gateway, smtp_server) -> None:  # noqa: ANN001
    from flows.stages.reminders import send_reminders
    from services.reminders import failed_reminders

    _sms_through(portal, gateway, smtp_server)
    engine, settings = portal.engine, portal.settings
    with_email = _meeting_in(engine, 6, "asa@example.se")
    without_email = _meeting_in(engine, 6, None)
    now = datetime.now(UTC)
    counts = send_reminders(engine, settings, now.date(), at=now)
    assert counts["sent_sms"] == 2 and len(gateway.received) == 2
    with session_scope(engine) as session:
        ids = dict(session.execute(select(Reminder.episode_id, Reminder.gateway_id)).all())

    client = portal.client()
    url = "/api/v1/sms-status/s3cret-long-random"
    for _ in range(2):  # the gateway repeats its report: still one email
        assert client.post(url, data={"id": ids[with_email], "status": "failed"}).status_code == 200
    assert client.post(url, data={"id": ids[without_email], "status": "failed"}).status_code == 200
    assert _channels(engine, with_email) == [("sms", "failed"), ("email", "pending")]
    assert _channels(engine, without_email) == [("sms", "failed")]

    later = send_reminders(engine, settings, now.date(), at=now + timedelta(minutes=15))
    again = send_reminders(engine, settings, now.date(), at=now + timedelta(minutes=30))
    assert later["sent_email"] == 1 and again["sent_email"] == 0 and again["queued_email"] == 0
    assert _channels(engine, with_email) == [("sms", "failed"), ("email", "sent")]
    (message,) = smtp_server.messages
    assert message["To"] == "asa@example.se"
    assert str(message["Subject"]).startswith("Påminnelse: din tid hos")
    assert len(gateway.received) == 2  # no SMS sent again
    with session_scope(engine) as session:
        listed = failed_reminders(session, now)["episode_id"].to_list()
    assert listed == [without_email]  # nobody to email: the advisor phones


def test_undelivered_sms_too_close_to_the_meeting_stays_for_a_phone_call(
    portal, gateway, smtp_server
) -> None:  # noqa: ANN001
    from services.reminders import failed_reminders

    _sms_through(portal, gateway, smtp_server)
    episode_id = _meeting_in(portal.engine, 1, "asa@example.se")  # within min_notice_hours
    with session_scope(portal.engine) as session:
        appointment_id = session.scalar(
            select(Appointment.id).where(Appointment.episode_id == episode_id)
        )
        session.add(
            Reminder(
                idempotency_key=f"reminder:{episode_id}:{appointment_id}:sms",
                episode_id=episode_id,
                appointment_id=appointment_id,
                channel="sms",
                recipient="+46701234567",
                body="Hej!",
                status="sent",
                gateway_id="late1",
                created_on=date.today(),
            )
        )
    client = portal.client()
    url = "/api/v1/sms-status/s3cret-long-random"
    assert client.post(url, data={"id": "late1", "status": "failed"}).status_code == 200
    assert _channels(portal.engine, episode_id) == [("sms", "failed")]
    with session_scope(portal.engine) as session:
        assert failed_reminders(session, datetime.now(UTC))["episode_id"].to_list() == [episode_id]
