"""What the letter stage reads and writes: appointments awaiting a letter, versions,
the caseworkers to tell about newly routed episodes, the day's counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from domain.vocabulary import OPEN_STATUSES, AppointmentStatus, LetterKind, LetterStatus, Routing
from models.tables import Appointment, AppointmentSlot, Caseworker, Episode, Letter
from services.outbox import TENANT_KINDS


def next_version(session: Session, episode_id: int) -> int:
    """The version the episode's next tenant letter gets (a rebooking makes the next one)."""
    count = session.scalar(
        select(func.count(Letter.id)).where(
            Letter.episode_id == episode_id, Letter.kind.in_(TENANT_KINDS)
        )
    )
    return int(count or 0) + 1


def appointments_without_letter(session: Session) -> list[int]:
    """Booked appointments of open episodes that have no appointment letter yet."""
    has_letter = exists().where(
        and_(
            Letter.appointment_id == Appointment.id,
            Letter.kind == LetterKind.APPOINTMENT.value,
        )
    )
    return list(
        session.scalars(
            select(Appointment.id)
            .join(Episode, Episode.id == Appointment.episode_id)
            .where(
                Appointment.status == AppointmentStatus.BOOKED,
                Episode.status.in_([s.value for s in OPEN_STATUSES]),
                ~has_letter,
            )
            .order_by(Appointment.id)
        )
    )


def appointments_with_slots(
    session: Session, appointment_ids: Sequence[int]
) -> list[tuple[Episode, Appointment, AppointmentSlot]]:
    """Each given appointment with its episode and slot, in appointment order."""
    rows = session.execute(
        select(Episode, Appointment, AppointmentSlot)
        .join(Appointment, Appointment.episode_id == Episode.id)
        .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
        .where(Appointment.id.in_(appointment_ids))
        .order_by(Appointment.id)
    ).all()
    return [(episode, appointment, slot) for episode, appointment, slot in rows]


def appointment_with_slot(
    session: Session, appointment: Appointment
) -> tuple[Episode, AppointmentSlot]:
    """The episode and slot of an appointment (both exist: foreign keys)."""
    episode = session.get(Episode, appointment.episode_id)
    slot = session.get(AppointmentSlot, appointment.slot_id)
    assert episode is not None and slot is not None
    return episode, slot


def mark_unsendable(letter: Letter) -> None:
    """Neither email nor a full postal address: nothing can be sent; the worklist shows
    the failed letter so that the advisor phones instead."""
    letter.status = LetterStatus.FAILED
    letter.flagged = True
    letter.last_error = "no email address and no complete postal address"


def caseworkers_to_notify(session: Session) -> list[tuple[str, int]]:
    """(caseworker id, newly routed episodes not yet told about) per caseworker."""
    rows = session.execute(
        select(Episode.caseworker_id, func.count(Episode.id))
        .where(
            Episode.routing == Routing.CASEWORKER,
            Episode.caseworker_id.is_not(None),
            Episode.caseworker_notified_on.is_(None),
        )
        .group_by(Episode.caseworker_id)
        .order_by(Episode.caseworker_id)
    ).all()
    return [(str(caseworker_id), int(count)) for caseworker_id, count in rows]


def caseworker(session: Session, caseworker_id: str) -> Caseworker | None:
    """The caseworker as the register last named them."""
    return session.get(Caseworker, caseworker_id)


def notified_on(session: Session, caseworker_id: str, day: date) -> int:
    """How many of the caseworker's routed episodes were already counted in ``day``'s email."""
    already = session.scalar(
        select(func.count(Episode.id)).where(
            Episode.caseworker_id == caseworker_id,
            Episode.routing == Routing.CASEWORKER,
            Episode.caseworker_notified_on == day,
        )
    )
    return int(already or 0)


def mark_notified(session: Session, caseworker_id: str, day: date) -> None:
    """The caseworker's newly routed episodes are in ``day``'s email."""
    session.execute(
        Episode.__table__.update()
        .where(
            Episode.caseworker_id == caseworker_id,
            Episode.routing == Routing.CASEWORKER,
            Episode.caseworker_notified_on.is_(None),
        )
        .values(caseworker_notified_on=day)
    )


def tenant_letters_by_channel(session: Session, day: date) -> dict[str, int]:
    """Tenant letters created on ``day`` per channel (email, print)."""
    return {
        str(channel): int(number)
        for channel, number in session.execute(
            select(Letter.channel, func.count(Letter.id))
            .where(Letter.created_on == day, Letter.kind.in_(TENANT_KINDS))
            .group_by(Letter.channel)
        )
    }
