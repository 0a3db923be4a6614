"""Stage: book an appointment for every advisor-routed episode that has none.

Slots are materialised in ``appointment_slot`` for the booking horizon (idempotent:
one row per advisor and start time); the pure rule in :mod:`domain.booking` picks
the slots; a slot is taken with ``UPDATE ... SET booked = booked + 1 WHERE booked <
capacity`` so that two runs at the same time can never overbook it, and a partial
unique index allows one active appointment per episode.

An episode is booked once. An advisor who wants another time uses :func:`rebook`;
:func:`cancel` frees the slot and sends the tenant a cancellation. Neither a no-show
nor a cancellation is rebooked automatically: after a no-show the follow-up is a
phone call (see the outcome rules), not a second letter by itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, case, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.booking import (
    BookingRequest,
    FreeSlot,
    assign_slots,
    earliest_meeting_date,
    generate_slots,
)
from domain.formatting import STOCKHOLM
from models.audit import audit, current_actor
from models.config import Settings
from models.db import session_scope
from models.domain import OPEN_STATUSES, AppointmentStatus, Routing
from models.errors import KvarboendeError
from models.tables import Appointment, AppointmentSlot, Episode

ACTIVE = (AppointmentStatus.BOOKED.value, AppointmentStatus.ATTENDED.value)


class BookingError(KvarboendeError):
    """A rebooking or cancellation that cannot be done, worded for the operator."""


def _start_of_day(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=STOCKHOLM).astimezone(UTC)


def materialise_slots(session: Session, settings: Settings, first: date, last: date) -> int:
    """Insert the configured slots between two dates unless present; returns rows added."""
    wanted = generate_slots(settings.advisors, first, last)
    if not wanted:
        return 0
    existing = {
        (advisor, _as_utc(starts))
        for advisor, starts in session.execute(
            select(AppointmentSlot.advisor_id, AppointmentSlot.starts_at).where(
                AppointmentSlot.starts_at >= _start_of_day(first),
                AppointmentSlot.starts_at < _start_of_day(last + timedelta(days=1)),
            )
        )
    }
    rows = [
        {
            "advisor_id": slot.advisor_id,
            "location": slot.location,
            "starts_at": slot.starts_at.astimezone(UTC),
            "ends_at": slot.ends_at.astimezone(UTC),
            "capacity": slot.capacity,
            "booked": 0,
        }
        for slot in wanted
        if (slot.advisor_id, slot.starts_at.astimezone(UTC)) not in existing
    ]
    for advisor in settings.advisors:
        # Capacity follows the configuration, but never drops below what is booked.
        session.execute(
            update(AppointmentSlot)
            .where(
                AppointmentSlot.advisor_id == advisor.id,
                AppointmentSlot.capacity != advisor.capacity,
                AppointmentSlot.starts_at >= _start_of_day(first),
                AppointmentSlot.starts_at < _start_of_day(last + timedelta(days=1)),
            )
            .values(
                capacity=case(
                    (AppointmentSlot.booked > advisor.capacity, AppointmentSlot.booked),
                    else_=advisor.capacity,
                )
            )
        )
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(AppointmentSlot).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(AppointmentSlot).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        statement = AppointmentSlot.__table__.insert()
    session.execute(statement, rows)
    return len(rows)


def _as_utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC); PostgreSQL returns aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _free_slots(session: Session, settings: Settings, earliest: date, last: date) -> list[FreeSlot]:
    """Stored slots with free places that the configuration still offers.

    A slot stays in the table when hours change or a date is blocked later (its
    bookings must survive), but it is no longer offered.
    """
    offered = {
        (slot.advisor_id, slot.starts_at.astimezone(UTC))
        for slot in generate_slots(settings.advisors, earliest, last)
    }
    rows = session.execute(
        select(
            AppointmentSlot.id,
            AppointmentSlot.starts_at,
            AppointmentSlot.capacity - AppointmentSlot.booked,
            AppointmentSlot.advisor_id,
        )
        .where(
            AppointmentSlot.booked < AppointmentSlot.capacity,
            AppointmentSlot.starts_at >= _start_of_day(earliest),
            AppointmentSlot.starts_at < _start_of_day(last + timedelta(days=1)),
        )
        .order_by(AppointmentSlot.starts_at, AppointmentSlot.advisor_id)
    )
    return [
        FreeSlot(sid, _as_utc(start), int(free), advisor)
        for sid, start, free, advisor in rows
        if (advisor, _as_utc(start)) in offered
    ]


def _take_slot(session: Session, slot_id: int) -> bool:
    """Atomically take one place in a slot; False when it filled up meanwhile."""
    result = session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot_id, AppointmentSlot.booked < AppointmentSlot.capacity)
        .values(booked=AppointmentSlot.booked + 1)
    )
    return result.rowcount == 1


def _release_slot(session: Session, slot_id: int) -> None:
    session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot_id, AppointmentSlot.booked > 0)
        .values(booked=AppointmentSlot.booked - 1)
    )


def _book(session: Session, episode_id: int, slot_id: int, before_deadline: bool) -> bool:
    """Take the slot and store the appointment in a savepoint; False if either lost a race."""
    try:
        with session.begin_nested():
            if not _take_slot(session, slot_id):
                return False
            session.add(
                Appointment(
                    episode_id=episode_id,
                    slot_id=slot_id,
                    status=AppointmentStatus.BOOKED,
                    before_deadline=before_deadline,
                )
            )
            session.flush()
    except IntegrityError:
        return False  # another run booked this episode at the same moment
    return True


def book_appointments(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Book every advisor-routed open episode without an appointment; returns counts."""
    counts = {"candidates": 0, "booked": 0, "after_deadline": 0, "no_slot": 0, "slots_added": 0}
    if not settings.advisors:
        return counts
    earliest = earliest_meeting_date(run_date, settings.booking.postal_days)
    last = run_date + timedelta(days=settings.booking.horizon_days)
    with session_scope(engine) as session:
        counts["slots_added"] = materialise_slots(session, settings, run_date, last)
        query = (
            select(Episode.id, Episode.deadline_date, Episode.has_children)
            .where(
                Episode.routing == Routing.ADVISOR,
                Episode.status.in_([s.value for s in OPEN_STATUSES]),
                ~exists().where(Appointment.episode_id == Episode.id),
            )
            .order_by(Episode.id)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=Episode)
        requests = [
            BookingRequest(episode_id, deadline, bool(children))
            for episode_id, deadline, children in session.execute(query)
        ]
        counts["candidates"] = len(requests)
        if not requests:
            return counts
        free = _free_slots(session, settings, earliest, last)
        assignments = assign_slots(requests, free, earliest)
        for assignment in assignments:
            if _book(
                session, assignment.episode_id, assignment.slot_id, assignment.before_deadline
            ):
                counts["booked"] += 1
                counts["after_deadline"] += 0 if assignment.before_deadline else 1
        counts["no_slot"] = counts["candidates"] - counts["booked"]
    return counts


def _active_appointment(session: Session, episode_id: int) -> Appointment | None:
    return session.scalars(
        select(Appointment)
        .where(Appointment.episode_id == episode_id, Appointment.status.in_(ACTIVE))
        .order_by(Appointment.id.desc())
        .with_for_update()
    ).first()


def _episode(session: Session, episode_id: int) -> Episode:
    episode = session.get(Episode, episode_id)
    if episode is None:
        raise BookingError(f"episode {episode_id} does not exist")
    return episode


def cancel(
    engine: Engine,
    settings: Settings,
    episode_id: int,
    run_date: date,
    by: str | None = None,
) -> dict[str, int]:
    """Cancel the episode's booked appointment, free its slot and queue a cancellation letter.

    The tenant gets a new letter version that says the time is cancelled and how to
    book a new one; the episode is not booked again automatically.
    """
    from flows.stages.letters import queue_cancellation_letter

    actor = current_actor(by)
    with session_scope(engine) as session:
        _episode(session, episode_id)
        appointment = _active_appointment(session, episode_id)
        if appointment is None or appointment.status != AppointmentStatus.BOOKED:
            raise BookingError(f"episode {episode_id} has no booked appointment to cancel")
        appointment.status = AppointmentStatus.CANCELLED
        _release_slot(session, appointment.slot_id)
        session.flush()
        letters = queue_cancellation_letter(session, settings, appointment, run_date)
        audit(session, actor, "appointment.cancel", "appointment", appointment.id)
    return {"cancelled": 1, "letters": letters}


def rebook(
    engine: Engine,
    settings: Settings,
    episode_id: int,
    run_date: date,
    by: str | None = None,
) -> dict[str, int]:
    """Move the episode to the next free slot, free the old one and queue a new letter version.

    The new time follows the same rule as the first booking (letter time, deadline),
    and must differ from the old time. Raises BookingError when no slot is free.
    """
    from flows.stages.letters import queue_appointment_letters

    actor = current_actor(by)
    earliest = earliest_meeting_date(run_date, settings.booking.postal_days)
    last = run_date + timedelta(days=settings.booking.horizon_days)
    with session_scope(engine) as session:
        episode = _episode(session, episode_id)
        if episode.status not in {s.value for s in OPEN_STATUSES}:
            raise BookingError(f"episode {episode_id} is {episode.status}; nothing to rebook")
        materialise_slots(session, settings, run_date, last)
        old = _active_appointment(session, episode_id)
        if old is not None and old.status == AppointmentStatus.ATTENDED:
            raise BookingError(f"episode {episode_id}: the meeting already took place")
        old_slot = old.slot_id if old is not None else None
        free = [s for s in _free_slots(session, settings, earliest, last) if s.slot_id != old_slot]
        request = BookingRequest(episode_id, episode.deadline_date, episode.has_children)
        chosen = assign_slots([request], free, earliest)
        if not chosen:
            raise BookingError(f"no free appointment slot in the next {last - run_date} days")
        if old is not None:
            old.status = AppointmentStatus.CANCELLED
            _release_slot(session, old.slot_id)
            session.flush()
        if not _book(session, episode_id, chosen[0].slot_id, chosen[0].before_deadline):
            raise BookingError("the chosen slot was taken meanwhile; try again")
        new = _active_appointment(session, episode_id)
        assert new is not None
        letters = queue_appointment_letters(session, settings, [new.id], run_date)
        audit(session, actor, "appointment.rebook", "appointment", new.id)
    return {"rebooked": 1, "before_deadline": int(chosen[0].before_deadline), "letters": letters}
