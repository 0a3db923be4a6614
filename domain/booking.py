"""Appointment booking as pure functions: working days, slot generation and assignment.

The letter (kallelse) is the one chance to reach a tenant who is not known to social
services, and the three-week deadline of Jordabalken 12:44 is running. So the rule
is: the earliest free slot that leaves the letter time to arrive and lies before the
tenant's deadline, children first, then the closest deadline. When no such slot is
left the tenant still gets the first free slot after it, flagged so that the advisor
can phone instead. Nothing here touches a database or a clock: the stage passes in
the run date, the configured advisors and the slots' remaining capacity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.formatting import STOCKHOLM
from domain.working_days import add_working_days, is_public_holiday
from models.config import WEEKDAYS, AdvisorConfig, parse_time_range


def earliest_meeting_date(run_date: date, postal_days: int) -> date:
    """First day a meeting may be offered when the letter is sent on ``run_date``.

    The post needs ``postal_days`` working days; the tenant should have the letter in
    hand at least one working day before the meeting, so the first offered day is the
    working day after the letter has arrived.
    """
    return add_working_days(run_date, postal_days + 1)


@dataclass(frozen=True)
class Slot:
    """A bookable time of one advisor; times are aware datetimes in Europe/Stockholm."""

    advisor_id: str
    location: str
    starts_at: datetime
    ends_at: datetime
    capacity: int


def generate_slots(advisors: Sequence[AdvisorConfig], first: date, last: date) -> list[Slot]:
    """Every slot of every advisor from ``first`` to ``last`` inclusive, in time order.

    Weekly ``hours`` are cut into ``slot_minutes`` pieces (a remainder too short for a
    whole meeting is not offered); Swedish holidays and the advisor's blocked dates are
    skipped. Times are wall-clock times in Stockholm, so daylight saving is handled by
    the time zone, not by arithmetic on UTC.
    """
    slots: list[Slot] = []
    day = first
    while day <= last:
        if not is_public_holiday(day):
            weekday = WEEKDAYS[day.weekday()]
            for advisor in advisors:
                if day in advisor.blocked_dates:
                    continue
                length = timedelta(minutes=advisor.slot_minutes)
                for text in advisor.hours.get(weekday, []):
                    start_time, end_time = parse_time_range(text)
                    start = datetime.combine(day, start_time, tzinfo=STOCKHOLM)
                    end = datetime.combine(day, end_time, tzinfo=STOCKHOLM)
                    while start + length <= end:
                        slots.append(
                            Slot(
                                advisor_id=advisor.id,
                                location=advisor.location,
                                starts_at=start,
                                ends_at=start + length,
                                capacity=advisor.capacity,
                            )
                        )
                        start += length
        day += timedelta(days=1)
    slots.sort(key=lambda slot: (slot.starts_at, slot.advisor_id))
    return slots


@dataclass(frozen=True)
class FreeSlot:
    """A stored slot with the capacity that is still free."""

    slot_id: int
    starts_at: datetime
    free: int
    advisor_id: str = ""


@dataclass(frozen=True)
class BookingRequest:
    """An episode that needs an appointment."""

    episode_id: int
    deadline: date | None
    # True also when nobody knows yet (not in the register, not asked): unknown ranks
    # with "yes" until the advisor records the answer.
    has_children: bool


@dataclass(frozen=True)
class Assignment:
    episode_id: int
    slot_id: int
    before_deadline: bool


def booking_order(requests: Iterable[BookingRequest]) -> list[BookingRequest]:
    """Households with children first, then the closest deadline (unknown last), then id."""
    return sorted(
        requests,
        key=lambda r: (
            not r.has_children,
            r.deadline is None,
            r.deadline or date.max,
            r.episode_id,
        ),
    )


def _local_date(moment: datetime) -> date:
    return moment.astimezone(STOCKHOLM).date()


def assign_slots(
    requests: Iterable[BookingRequest], slots: Sequence[FreeSlot], earliest: date
) -> list[Assignment]:
    """Give each request one slot; never more bookings than a slot's free capacity.

    In booking order, each episode gets the earliest free slot on or after ``earliest``
    that lies strictly before its deadline. The deadline is the last day to pay, already
    moved to a working day (lag 1930:173) by the episode rules; a meeting on that day
    leaves no time to act on the advice, so it counts as too late, and the letter's
    "we could not book a time before <deadline>" is then true. Those for whom no such
    slot is left get, in the same order, the first free slot at all, flagged
    ``before_deadline=False``. An episode without a known deadline (no termination
    notice, so no right to keep the home by paying) gets the earliest free slot and
    cannot miss it. Requests left over when every slot is full get no assignment (the
    next run tries again).
    """
    usable = sorted(
        (s for s in slots if s.free > 0 and _local_date(s.starts_at) >= earliest),
        key=lambda s: (s.starts_at, s.advisor_id, s.slot_id),
    )
    free = [s.free for s in usable]
    days = [_local_date(s.starts_at) for s in usable]
    first_open = 0  # every slot before this index is full
    assignments: list[Assignment] = []
    late: list[BookingRequest] = []

    def advance() -> None:
        nonlocal first_open
        while first_open < len(usable) and free[first_open] == 0:
            first_open += 1

    for request in booking_order(requests):
        advance()
        chosen = None
        for index in range(first_open, len(usable)):
            if request.deadline is not None and days[index] >= request.deadline:
                break
            if free[index] > 0:
                chosen = index
                break
        if chosen is None:
            late.append(request)
            continue
        free[chosen] -= 1
        assignments.append(Assignment(request.episode_id, usable[chosen].slot_id, True))

    for request in late:
        advance()
        if first_open >= len(usable):
            break
        free[first_open] -= 1
        assignments.append(
            Assignment(request.episode_id, usable[first_open].slot_id, request.deadline is None)
        )
    return assignments
