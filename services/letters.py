"""What the letter stage reads and writes: appointments awaiting a letter, versions,
the caseworkers to tell about newly routed episodes, the day's counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from domain.vocabulary import OPEN_STATUSES, AppointmentStatus, LetterKind, LetterStatus, Routing
from models.db import rowcount
from models.tables import Appointment, AppointmentSlot, Caseworker, Episode, Letter
from services._common import start_of_day
from services.outbox import POST_COPY, TENANT_KINDS


def next_version(session: Session, episode_id: int) -> int:
    """The version the episode's next tenant letter gets (a rebooking makes the next one)."""
    count = session.scalar(
        select(func.count(Letter.id)).where(
            Letter.episode_id == episode_id, Letter.kind.in_(TENANT_KINDS)
        )
    )
    return int(count or 0) + 1


def supersede_older(session: Session, episode_id: int, version: int) -> int:
    """A newer tenant letter replaces every older one of the episode not yet on its way.

    Older versions still ``pending`` (not claimed by a delivery run, not in a print
    batch) become ``superseded`` and are never sent or printed: after a rebooking and a
    cancellation on the same day the tenant gets only the newest letter. Their post
    copies too. Returns how many letters (copies not counted).
    """
    session.execute(
        update(Letter)
        .where(
            Letter.episode_id == episode_id,
            Letter.kind == POST_COPY,
            Letter.version < version,
            Letter.status == LetterStatus.PENDING,
            Letter.print_batch.is_(None),
        )
        .values(
            status=LetterStatus.SUPERSEDED,
            last_error=f"replaced by version {version} before it was printed",
        )
        .execution_options(synchronize_session=False)
    )
    result = session.execute(
        update(Letter)
        .where(
            Letter.episode_id == episode_id,
            Letter.kind.in_(TENANT_KINDS),
            Letter.version < version,
            Letter.status == LetterStatus.PENDING,
            Letter.print_batch.is_(None),
        )
        .values(
            status=LetterStatus.SUPERSEDED,
            next_attempt_at=None,
            last_error=f"replaced by version {version} before it was sent",
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def last_told_slot(session: Session, episode_id: int, day: date) -> AppointmentSlot | None:
    """The slot of the newest appointment letter that went out (or is on its way) to the
    tenant, when that appointment is cancelled and still ahead on ``day``: the time the
    tenant knows of, whatever was booked and cancelled unseen since."""
    return session.scalars(
        select(AppointmentSlot)
        .join(Appointment, Appointment.slot_id == AppointmentSlot.id)
        .join(Letter, Letter.appointment_id == Appointment.id)
        .where(
            Letter.episode_id == episode_id,
            Letter.kind == LetterKind.APPOINTMENT.value,
            Letter.status.in_([LetterStatus.SENT, LetterStatus.SENDING]),
            Appointment.status == AppointmentStatus.CANCELLED,
            AppointmentSlot.starts_at >= start_of_day(day),
        )
        .order_by(Letter.version.desc())
        .limit(1)
    ).first()


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


def post_copies_on(session: Session, day: date) -> int:
    """Post copies of emailed letters queued on ``day``."""
    return int(
        session.scalar(
            select(func.count(Letter.id)).where(Letter.created_on == day, Letter.kind == POST_COPY)
        )
        or 0
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
