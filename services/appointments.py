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
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, case, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.addresses import gets_post_copy, tenant_email
from domain.booking import (
    BookingRequest,
    FreeSlot,
    LeadTimes,
    assign_slots,
    generate_slots,
)
from domain.formatting import STOCKHOLM
from domain.vocabulary import OPEN_STATUSES, AppointmentStatus, Routing
from domain.working_days import add_working_days
from models.audit import audit
from models.config import Settings
from models.db import chunks, insert_or_ignore, rowcount, skip_locked
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
    """A slot the episode could be booked into; ``before_deadline``: in time to pay;
    ``short_notice``: less than the wanted lead time after a letter dated today."""

    slot_id: int
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    advisor_id: str
    location: str
    free: int
    before_deadline: bool
    short_notice: bool = False


@dataclass(frozen=True)
class Rebooked:
    appointment_id: int
    slot_id: int
    starts_at: datetime  # UTC
    before_deadline: bool
    letters: int
    ends_at: datetime | None = None  # UTC
    advisor_id: str = ""
    location: str = ""
    short_notice: bool = False


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
    return rowcount(result) == 1


def _release_slot(session: Session, slot_id: int) -> None:
    session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot_id, AppointmentSlot.booked > 0)
        .values(booked=AppointmentSlot.booked - 1)
    )


def book(
    session: Session,
    episode_id: int,
    slot_id: int,
    before_deadline: bool,
    short_notice: bool = False,
) -> bool:
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
                    short_notice=short_notice,
                )
            )
            session.flush()
    except IntegrityError:
        return False  # another run booked this episode at the same moment
    return True


def _eviction_day(eviction_at: datetime | None) -> date | None:
    return None if eviction_at is None else local_date(eviction_at)


def booking_request(episode: Episode, post_copies: bool = False) -> BookingRequest:
    """What the booking rule needs of one episode (its channel, deadline, eviction day).

    ``post_copies``: ``letters.post_when_email_from_landlord``; such an emailed letter
    also goes by post and is booked with the post's lead time.
    """
    return BookingRequest(
        episode.id,
        episode.deadline_date,
        bool(episode.has_children) or not episode.children_known,
        tenant_email(episode.email, episode.tenant_email)[0] is not None,
        _eviction_day(episode.eviction_at),
        post_copy=gets_post_copy(episode, post_copies),
    )


@dataclass
class _Household:
    """The address fields of a row of :func:`booking_requests` (domain.addresses)."""

    tenant_name: str | None
    co_tenant_name: str | None
    street_address: str | None
    apartment: str | None
    postal_code: str | None
    town: str | None
    email: str | None
    tenant_email: str | None


def booking_requests(
    session: Session,
    run_date: date | None = None,
    review_working_days: int | None = None,
    post_copies: bool = False,
) -> list[BookingRequest]:
    """Open episodes without an appointment that are to be booked today, by id.

    Advisor-routed ones, and (with ``run_date``) those whose match review is still
    undecided ``review_working_days`` working days before their last day to pay or
    their eviction: a review never holds back the letter past that (they are booked as
    unknown to social services; the advisor can still confirm the match later). The
    same holds for episodes not yet matched because no case register has been imported:
    a missing register never costs a household its deadline.

    A household whose children nobody knows about yet ranks with the households with
    children (the safe side) until the advisor records the answer. ``post_copies``: as
    in :func:`booking_request`.

    Rows are taken ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so that two runs at the same
    time never try to book the same episode.
    """
    wanted = Episode.routing == Routing.ADVISOR
    if run_date is not None and review_working_days is not None:
        cutoff = add_working_days(run_date, review_working_days)
        wanted = or_(
            wanted,
            and_(
                or_(Episode.routing == Routing.REVIEW, Episode.routing.is_(None)),
                or_(
                    Episode.deadline_date <= cutoff,
                    Episode.eviction_at < start_of_day(cutoff + timedelta(days=1)),
                ),
            ),
        )
    query = (
        select(
            Episode.id,
            Episode.deadline_date,
            Episode.has_children,
            Episode.email,
            Episode.eviction_at,
            Episode.children_known,
            Episode.tenant_email,
            Episode.tenant_name,
            Episode.co_tenant_name,
            Episode.street_address,
            Episode.apartment,
            Episode.postal_code,
            Episode.town,
        )
        .where(
            wanted,
            Episode.status.in_([s.value for s in OPEN_STATUSES]),
            ~exists().where(Appointment.episode_id == Episode.id),
        )
        .order_by(Episode.id)
    )
    query = skip_locked(session, query, Episode)
    requests = []
    for row in session.execute(query):
        household = _Household(
            row.tenant_name,
            row.co_tenant_name,
            row.street_address,
            row.apartment,
            row.postal_code,
            row.town,
            row.email,
            row.tenant_email,
        )
        requests.append(
            BookingRequest(
                row.id,
                row.deadline_date,
                bool(row.has_children) or not row.children_known,
                tenant_email(row.email, row.tenant_email)[0] is not None,
                _eviction_day(row.eviction_at),
                post_copy=gets_post_copy(household, post_copies),
            )
        )
    return requests


def review_episode_ids(session: Session, episode_ids: list[int]) -> set[int]:
    """Of these episodes, those not yet routed: a match review still undecided, or no
    register to match against yet."""
    found: set[int] = set()
    for chunk in chunks(episode_ids):
        found.update(
            session.scalars(
                select(Episode.id).where(
                    Episode.id.in_(chunk),
                    or_(Episode.routing == Routing.REVIEW, Episode.routing.is_(None)),
                )
            )
        )
    return found


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


def booking_window(settings: Settings, run_date: date) -> tuple[date, date]:
    """The first day any letter dated today can announce (by email: the next working
    day), and the booking horizon's last day: the slots every booking chooses from."""
    return add_working_days(run_date, 1), run_date + timedelta(days=settings.booking.horizon_days)


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
    session: Session,
    settings: Settings,
    episode: Episode,
    old: Appointment | None,
    run_date: date,
    by_post: bool = False,
) -> list[SlotOption]:
    """The free slots the booking rules allow for this episode, earliest first.

    From the first day its letter (by email or post) can announce to the horizon, and
    never later than ``eviction_margin_working_days`` before a booked eviction.
    """
    first, last = booking_window(settings, run_date)
    materialise_slots(session, settings, run_date, last)
    old_slot = old.slot_id if old is not None else None
    free = [s for s in free_slot_list(session, settings, first, last) if s.slot_id != old_slot]
    if not free:
        return []
    rules = LeadTimes.of(settings.booking)
    request = booking_request(episode, settings.letters.post_when_email_from_landlord)
    by_email = request.by_email and not by_post
    earliest = rules.first_day(run_date, by_email)
    wanted = rules.wanted_day(run_date, by_email, request.post_copy)
    latest = rules.last_day(request.eviction)
    stored = {
        slot.id: slot
        for slot in session.scalars(
            select(AppointmentSlot).where(AppointmentSlot.id.in_([s.slot_id for s in free]))
        )
    }
    deadline = episode.deadline_date
    options = []
    for s in free:
        day = local_date(s.starts_at)
        if day < earliest or (latest is not None and day > latest):
            continue
        options.append(
            SlotOption(
                slot_id=s.slot_id,
                starts_at=s.starts_at,
                ends_at=as_utc(stored[s.slot_id].ends_at),
                advisor_id=s.advisor_id,
                location=stored[s.slot_id].location,
                free=s.free,
                before_deadline=deadline is None or day < deadline,
                short_notice=day < wanted,
            )
        )
    return options


def free_slots(
    session: Session, settings: Settings, episode_id: int, run_date: date
) -> list[SlotOption]:
    """The slots the episode could be moved to today, earliest first.

    The same rules as every booking (the daily booking and :func:`rebook` use them too):
    from the first day the episode's letter dated today can announce (by post: it
    arrives ``booking.postal_days`` later and a working day before the meeting; by
    email: the next working day) to the booking horizon, never closer than
    ``booking.eviction_margin_working_days`` to a booked eviction, only slots the
    advisors' configured hours still offer, never the episode's current slot. Each says
    whether it lies before the last day to pay and whether it is shorter notice than
    ``booking.min_lead_days_*``. Refused (one line) when the episode is closed or its
    meeting already took place. Slots of the window are stored first, so every option
    has an id.
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
    by_post: bool = False,
) -> Rebooked:
    """Move the episode to a new slot, free the old one and queue a new letter version.

    Without a choice: the next free slot by the first booking's rule (before a booked
    eviction with its margin, before the deadline if any is left, the wanted lead time
    if the deadline allows). With ``slot_id`` or ``starts_at`` (an aware time, e.g. one
    agreed with the tenant on the phone): that slot, refused in one line unless it is
    among :func:`free_slots` (the line says why: taken, outside the advisors' hours,
    too soon for the letter, too close to the eviction, beyond the horizon).
    ``by_post``: the new letter goes by post even if the tenant has an email address.
    """
    if slot_id is not None and starts_at is not None:
        raise BookingError("give either a slot id or a time, not both")
    episode, old = _rebookable(session, episode_id)
    options = _options(session, settings, episode, old, run_date, by_post)
    if slot_id is not None or starts_at is not None:
        chosen = _chosen(session, settings, episode, old, run_date, options, slot_id, starts_at)
    else:
        chosen = _automatic(settings, episode, run_date, options, by_post)
    if old is not None:
        old.status = AppointmentStatus.CANCELLED
        _release_slot(session, old.slot_id)
        session.flush()
    if not book(session, episode_id, chosen.slot_id, chosen.before_deadline, chosen.short_notice):
        raise BookingNotAllowed("the chosen slot was taken meanwhile; try again")
    new = _active_appointment(session, episode_id)
    assert new is not None
    letters = queue_letter(session, new)
    audit(session, by, "appointment.rebook", "appointment", new.id, episode_id=episode_id)
    return Rebooked(
        new.id,
        chosen.slot_id,
        chosen.starts_at,
        chosen.before_deadline,
        letters,
        ends_at=chosen.ends_at,
        advisor_id=chosen.advisor_id,
        location=chosen.location,
        short_notice=chosen.short_notice,
    )


def _automatic(
    settings: Settings, episode: Episode, run_date: date, options: list[SlotOption], by_post: bool
) -> SlotOption:
    """The slot the booking rule gives the episode among its options, or a one-line refusal."""
    request = booking_request(episode, settings.letters.post_when_email_from_landlord)
    if by_post:
        request = replace(request, by_email=False)
    free = [FreeSlot(o.slot_id, o.starts_at, o.free, o.advisor_id) for o in options]
    assigned = assign_slots([request], free, run_date, LeadTimes.of(settings.booking))
    if not assigned:
        latest = LeadTimes.of(settings.booking).last_day(request.eviction)
        if latest is not None and request.eviction is not None:
            raise BookingNotAllowed(
                f"episode {episode.id}: no free time by {latest:%Y-%m-%d}, "
                f"{settings.booking.eviction_margin_working_days} working days before the "
                f"eviction on {request.eviction:%Y-%m-%d}: phone the household"
            )
        raise BookingNotAllowed(
            f"no free appointment slot in the next {settings.booking.horizon_days} days"
        )
    chosen = next(o for o in options if o.slot_id == assigned[0].slot_id)
    return replace(
        chosen,
        before_deadline=assigned[0].before_deadline,
        short_notice=assigned[0].short_notice,
    )


def _chosen(
    session: Session,
    settings: Settings,
    episode: Episode,
    old: Appointment | None,
    run_date: date,
    options: list[SlotOption],
    slot_id: int | None,
    starts_at: datetime | None,
) -> SlotOption:
    """The option asked for, or a one-line refusal saying why it is not offered."""
    if slot_id is not None:
        found = [o for o in options if o.slot_id == slot_id]
        if found:
            return found[0]
        slot = session.get(AppointmentSlot, slot_id)
        if slot is None:
            raise BookingNotAllowed(f"slot {slot_id} does not exist")
        raise BookingNotAllowed(
            _why_not(settings, episode, old, run_date, as_utc(slot.starts_at), slot_id)
        )
    assert starts_at is not None
    if starts_at.tzinfo is None:
        raise BookingError("the time needs a time zone")
    wanted = starts_at.astimezone(UTC)
    found = [o for o in options if o.starts_at == wanted]
    if not found:
        stored = session.scalars(
            select(AppointmentSlot.id).where(AppointmentSlot.starts_at == wanted)
        ).first()
        raise BookingNotAllowed(_why_not(settings, episode, old, run_date, wanted, stored))
    return found[0]


def _why_not(
    settings: Settings,
    episode: Episode,
    old: Appointment | None,
    run_date: date,
    moment: datetime,
    slot_id: int | None,
) -> str:
    """Why a time is not among the episode's options, in one line for the advisor."""
    local = moment.astimezone(STOCKHOLM)
    when = f"{local:%Y-%m-%d %H:%M}"
    day = local.date()
    offered = {s.starts_at.astimezone(UTC) for s in generate_slots(settings.advisors, day, day)}
    if moment not in offered:
        return (
            f"{when} is not a meeting time: outside the advisors' hours (see: appointments slots)"
        )
    rules = LeadTimes.of(settings.booking)
    request = booking_request(episode, settings.letters.post_when_email_from_landlord)
    first = rules.first_day(run_date, request.by_email)
    latest = rules.last_day(request.eviction)
    _, horizon = booking_window(settings, run_date)
    if day < first:
        how = "an email" if request.by_email else "a letter posted"
        return f"{when} is too soon: {how} today can announce {first:%Y-%m-%d} at the earliest"
    if latest is not None and request.eviction is not None and day > latest:
        return (
            f"{when} is too close to the eviction on {request.eviction:%Y-%m-%d}: "
            f"the meeting must be by {latest:%Y-%m-%d}"
        )
    if day > horizon:
        return f"{when} is beyond the booking horizon ({settings.booking.horizon_days} days)"
    if old is not None and slot_id is not None and old.slot_id == slot_id:
        return f"{when} is already the episode's time"
    return f"{when} is not free: fully booked"


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
    audit(session, by, "appointment.cancel", "appointment", appointment.id, episode_id=episode_id)
    return Cancelled(appointment.id, letters)
