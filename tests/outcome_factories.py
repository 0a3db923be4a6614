"""Test data for the outcome and worklist tests, written directly with the ORM."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.config import AdvisorConfig, PathsConfig, Settings
from models.db import session_scope
from models.tables import (
    Appointment,
    AppointmentSlot,
    Caseworker,
    Episode,
    HousingCompany,
    Notice,
    NoticeFile,
)

PNR = "198112189876"
NAME = "Märta Testsson"
STREET = "Rosenvägen 17"


def settings_for(tmp_path: Path, email: str = "anna@exempelby.se") -> Settings:
    return Settings(
        advisors=[
            AdvisorConfig(
                id="radgivare1", name="Anna Lindqvist", email=email, location="Medborgarhuset"
            ),
        ],  # fmt: skip
        paths=PathsConfig(worklist_dir=tmp_path / "worklists"),
    )


def company(engine: Engine) -> int:
    """The housing company and one notice file; returns the file id."""
    with session_scope(engine) as session:
        session.add(HousingCompany(id="bo", name="Bo AB", landlord_type="municipal"))
        session.flush()
        file = NoticeFile(company_id="bo", filename="f.csv", content_hash="x", status="ingested")
        session.add(file)
        session.flush()
        return file.id


def episode(session: Session, n: int, **values: object) -> Episode:
    """An episode with personal data in every field a worklist shows.

    Giving ``has_children`` makes the children known (as the register or the advisor
    would), unless ``children_known`` is given too; without it they are unknown.
    """
    defaults: dict[str, object] = {
        "company_id": "bo",
        "tenancy_key": f"bo|K{n}",
        "contract_ref": f"K{n}",
        "personnummer": PNR,
        "personnummer_valid": True,
        "tenant_name": f"{NAME} {n}",
        "street_address": STREET,
        "apartment": f"{1100 + n}",
        "postal_code": "123 45",
        "town": "Exempelby",
        "status": "payment_order",
        "opened_on": date(2026, 11, 2),
        "first_notice_date": date(2026, 10, 20),
        "last_event_date": date(2026, 11, 2),
        "deadline_date": date(2026, 12, 1),
        "debt_amount": Decimal("12345.50"),
        "routing": "advisor",
    }
    defaults.update(values)
    if "has_children" in values:
        defaults.setdefault("children_known", True)
    row = Episode(**defaults)
    session.add(row)
    session.flush()
    return row


def notice(session: Session, file_id: int, episode_id: int, event_type: str, day: date) -> None:
    session.add(
        Notice(
            natural_key=f"{episode_id}-{event_type}-{day}",
            file_id=file_id,
            row_number=1,
            company_id="bo",
            episode_id=episode_id,
            event_type=event_type,
            event_date=day,
        )
    )


def appointment(
    session: Session,
    episode_id: int,
    starts_at: datetime,
    status: str = "booked",
    before_deadline: bool = True,
    advisor_id: str = "radgivare1",
) -> Appointment:
    slot = session.scalars(
        select(AppointmentSlot).where(
            AppointmentSlot.advisor_id == advisor_id, AppointmentSlot.starts_at == starts_at
        )
    ).first()
    if slot is None:
        slot = AppointmentSlot(
            advisor_id=advisor_id,
            location="Medborgarhuset",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=45),
            capacity=4,
        )
        session.add(slot)
    slot.booked = (slot.booked or 0) + 1
    session.flush()
    row = Appointment(
        episode_id=episode_id, slot_id=slot.id, status=status, before_deadline=before_deadline
    )
    session.add(row)
    session.flush()
    return row


def caseworker(session: Session, cid: str = "hl1", name: str = "Karin Handläggare") -> None:
    session.add(Caseworker(id=cid, name=name, unit="Ekonomiskt bistånd", email="k@x.se"))
    session.flush()


def utc(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A Stockholm wall-clock time in winter (UTC+1), stored as UTC."""
    return datetime(year, month, day, hour - 1, minute, tzinfo=UTC)
