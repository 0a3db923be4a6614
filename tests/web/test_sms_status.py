"""The SMS gateway's delivery reports (46elks whendelivered) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from booking_helpers import add_episode
from pydantic import SecretStr
from sqlalchemy import select

from models.db import session_scope
from models.tables import Appointment, AppointmentSlot, Reminder


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
