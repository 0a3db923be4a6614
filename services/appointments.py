"""Appointments: the free slots an episode could get, rebooking and cancelling.

Slots are materialised in ``appointment_slot`` for the booking horizon (idempotent:
one row per advisor and start time); a slot is taken with ``UPDATE ... SET booked =
booked + 1 WHERE booked < capacity`` so that two bookings at the same time can never
overbook it, and a partial unique index allows one active appointment per episode.

The tenant's letter about a new or cancelled time is queued by the caller's
``queue_letter`` (``flows.stages.letters`` renders and queues letters; services do not
import flows), inside the same transaction: the appointment and its letter are stored
together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import case, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.booking import (
    BookingRequest,
    FreeSlot,
    assign_slots,
    earliest_meeting_date,
    generate_slots,
)
from domain.vocabulary import OPEN_STATUSES, AppointmentStatus, Routing
from models.audit import audit
from models.config import Settings
from models.db import insert_or_ignore, skip_locked
from models.errors import KvarboendeError, NotAllowed, NotFound
from models.tables import Appointment, AppointmentSlot, Episode
from services._common import as_utc, local_date, start_of_day

ACTIVE = (AppointmentStatus.BOOKED.value, AppointmentStatus.ATTENDED.value)

#: Queues the tenant's letter about an appointment in the caller's transaction; how many.
QueueLetter = Callable[[Session, Appointment], int]


class BookingError(KvarboendeError):
    """A rebooking or cancellation that cannot be done, worded for the operator."""


class BookingNotAllowed(BookingError, NotAllowed):
    """The episode's state forbids it (closed, meeting held, slot not free)."""


class EpisodeNotFound(BookingError, NotFound):
    """No such episode."""


@dataclass(frozen=True)
class SlotOption:
    """A slot the episode could be booked into; ``before_deadline``: in time to pay."""

    slot_id: int
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    advisor_id: str
    location: str
    free: int
    before_deadline: bool


@dataclass(frozen=True)
class Rebooked:
    appointment_id: int
    slot_id: int
    starts_at: datetime  # UTC
    before_deadline: bool
    letters: int


@dataclass(frozen=True)
class Cancelled:
    appointment_id: int
    letters: int


# --- slots ------------------------------------------------------------------------------------


def materialise_slots(session: Session, settings: Settings, first: date, last: date) -> int:
    """Insert the configured slots between two dates unless present; returns rows added."""
    wanted = generate_slots(settings.advisors, first, last)
    if not wanted:
        return 0
    existing = {
        (advisor, as_utc(starts))
        for advisor, starts in session.execute(
            select(AppointmentSlot.advisor_id, AppointmentSlot.starts_at).where(
                AppointmentSlot.starts_at >= start_of_day(first),
                AppointmentSlot.starts_at < start_of_day(last + timedelta(days=1)),
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
                AppointmentSlot.starts_at >= start_of_day(first),
                AppointmentSlot.starts_at < start_of_day(last + timedelta(days=1)),
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
    session.execute(insert_or_ignore(session, AppointmentSlot), rows)
    return len(rows)


def free_slot_list(
    session: Session, settings: Settings, earliest: date, last: date
) -> list[FreeSlot]:
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
            AppointmentSlot.starts_at >= start_of_day(earliest),
            AppointmentSlot.starts_at < start_of_day(last + timedelta(days=1)),
        )
        .order_by(AppointmentSlot.starts_at, AppointmentSlot.advisor_id)
    )
    return [
        FreeSlot(sid, as_utc(start), int(free), advisor)
        for sid, start, free, advisor in rows
        if (advisor, as_utc(start)) in offered
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


def book(session: Session, episode_id: int, slot_id: int, before_deadline: bool) -> bool:
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


def booking_requests(session: Session) -> list[BookingRequest]:
    """Advisor-routed open episodes without an appointment, by id: the day's candidates.

    A household whose children nobody knows about yet ranks with the households with
    children (the safe side) until the advisor records the answer.

    Rows are taken ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so that two runs at the same
    time never try to book the same episode.
    """
    query = (
        select(Episode.id, Episode.deadline_date, Episode.has_children, Episode.children_known)
        .where(
            Episode.routing == Routing.ADVISOR,
            Episode.status.in_([s.value for s in OPEN_STATUSES]),
            ~exists().where(Appointment.episode_id == Episode.id),
        )
        .order_by(Episode.id)
    )
    query = skip_locked(session, query, Episode)
    return [
        BookingRequest(episode_id, deadline, bool(children) or not known)
        for episode_id, deadline, children, known in session.execute(query)
    ]


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
        raise EpisodeNotFound(f"episode {episode_id} does not exist")
    return episode


def _booking_window(settings: Settings, run_date: date) -> tuple[date, date]:
    """The first day a letter posted today can announce, and the booking horizon's end."""
    earliest = earliest_meeting_date(run_date, settings.booking.postal_days)
    return earliest, run_date + timedelta(days=settings.booking.horizon_days)


def _rebookable(session: Session, episode_id: int) -> tuple[Episode, Appointment | None]:
    """The open episode and its active appointment, unless its meeting already took place."""
    episode = _episode(session, episode_id)
    if episode.status not in {s.value for s in OPEN_STATUSES}:
        raise BookingNotAllowed(f"episode {episode_id} is {episode.status}; nothing to rebook")
    old = _active_appointment(session, episode_id)
    if old is not None and old.status == AppointmentStatus.ATTENDED:
        raise BookingNotAllowed(f"episode {episode_id}: the meeting already took place")
    return episode, old


def _options(
    session: Session, settings: Settings, episode: Episode, old: Appointment | None, run_date: date
) -> list[SlotOption]:
    earliest, last = _booking_window(settings, run_date)
    materialise_slots(session, settings, run_date, last)
    old_slot = old.slot_id if old is not None else None
    free = [s for s in free_slot_list(session, settings, earliest, last) if s.slot_id != old_slot]
    if not free:
        return []
    stored = {
        slot.id: slot
        for slot in session.scalars(
            select(AppointmentSlot).where(AppointmentSlot.id.in_([s.slot_id for s in free]))
        )
    }
    deadline = episode.deadline_date
    return [
        SlotOption(
            slot_id=s.slot_id,
            starts_at=s.starts_at,
            ends_at=as_utc(stored[s.slot_id].ends_at),
            advisor_id=s.advisor_id,
            location=stored[s.slot_id].location,
            free=s.free,
            before_deadline=deadline is None or local_date(s.starts_at) < deadline,
        )
        for s in free
        if local_date(s.starts_at) >= earliest
    ]


def free_slots(
    session: Session, settings: Settings, episode_id: int, run_date: date
) -> list[SlotOption]:
    """The slots the episode could be moved to today, earliest first.

    The same window as every booking: from the first day a letter posted today can
    announce (``booking.postal_days``) to the booking horizon, only slots the advisors'
    configured hours still offer, never the episode's current slot. Refused (one line)
    when the episode is closed or its meeting already took place. Slots of the window
    are stored first, so every option has an id.
    """
    episode, old = _rebookable(session, episode_id)
    return _options(session, settings, episode, old, run_date)


def rebook(
    session: Session,
    settings: Settings,
    episode_id: int,
    run_date: date,
    *,
    by: str,
    queue_letter: QueueLetter,
    slot_id: int | None = None,
    starts_at: datetime | None = None,
) -> Rebooked:
    """Move the episode to a new slot, free the old one and queue a new letter version.

    Without a choice: the next free slot by the first booking's rule (before the
    deadline if any is left). With ``slot_id`` or ``starts_at`` (an aware time): that
    slot, refused in one line unless it is among :func:`free_slots`.
    """
    if slot_id is not None and starts_at is not None:
        raise BookingError("give either a slot id or a time, not both")
    episode, old = _rebookable(session, episode_id)
    options = _options(session, settings, episode, old, run_date)
    if slot_id is not None or starts_at is not None:
        chosen = _chosen(options, slot_id, starts_at)
        slot, before_deadline = chosen.slot_id, chosen.before_deadline
    else:
        earliest, last = _booking_window(settings, run_date)
        request = BookingRequest(
            episode_id,
            episode.deadline_date,
            bool(episode.has_children) or not episode.children_known,
        )
        free = [FreeSlot(o.slot_id, o.starts_at, o.free, o.advisor_id) for o in options]
        assigned = assign_slots([request], free, earliest)
        if not assigned:
            raise BookingNotAllowed(f"no free appointment slot in the next {last - run_date} days")
        slot, before_deadline = assigned[0].slot_id, assigned[0].before_deadline
    if old is not None:
        old.status = AppointmentStatus.CANCELLED
        _release_slot(session, old.slot_id)
        session.flush()
    if not book(session, episode_id, slot, before_deadline):
        raise BookingNotAllowed("the chosen slot was taken meanwhile; try again")
    new = _active_appointment(session, episode_id)
    assert new is not None
    letters = queue_letter(session, new)
    audit(session, by, "appointment.rebook", "appointment", new.id)
    starts = next(o.starts_at for o in options if o.slot_id == slot)
    return Rebooked(new.id, slot, starts, before_deadline, letters)


def _chosen(
    options: list[SlotOption], slot_id: int | None, starts_at: datetime | None
) -> SlotOption:
    """The option asked for, or a one-line refusal (taken, not offered, outside the window)."""
    if slot_id is not None:
        found = [o for o in options if o.slot_id == slot_id]
        if not found:
            raise BookingNotAllowed(f"slot {slot_id} is not free for this episode")
        return found[0]
    assert starts_at is not None
    if starts_at.tzinfo is None:
        raise BookingError("the time needs a time zone")
    wanted = starts_at.astimezone(UTC)
    found = [o for o in options if o.starts_at == wanted]
    if not found:
        raise BookingNotAllowed(f"no free slot at {starts_at:%Y-%m-%d %H:%M}")
    return found[0]


def cancel(session: Session, episode_id: int, *, by: str, queue_letter: QueueLetter) -> Cancelled:
    """Cancel the episode's booked appointment, free its slot and queue a cancellation letter.

    The tenant gets a new letter version that says the time is cancelled and how to
    book a new one; the episode is not booked again automatically.
    """
    _episode(session, episode_id)
    appointment = _active_appointment(session, episode_id)
    if appointment is None or appointment.status != AppointmentStatus.BOOKED:
        raise BookingNotAllowed(f"episode {episode_id} has no booked appointment to cancel")
    appointment.status = AppointmentStatus.CANCELLED
    _release_slot(session, appointment.slot_id)
    session.flush()
    letters = queue_letter(session, appointment)
    audit(session, by, "appointment.cancel", "appointment", appointment.id)
    return Cancelled(appointment.id, letters)
