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
from functools import lru_cache

import holidays

from domain.formatting import STOCKHOLM
from models.config import WEEKDAYS, AdvisorConfig, parse_time_range


@lru_cache(maxsize=64)
def _holidays_of_year(year: int) -> frozenset[date]:
    # Public holidays plus the de facto days off (midsommarafton, julafton, nyårsafton);
    # Sundays are weekends anyway and are handled by the weekday rule.
    calendar = holidays.Sweden(years=year, include_sundays=False, categories=("public", "de_facto"))
    return frozenset(calendar.keys())


def is_public_holiday(day: date) -> bool:
    """True on Swedish public holidays and the de facto days off (e.g. julafton)."""
    return day in _holidays_of_year(day.year)


def is_working_day(day: date, blocked: Iterable[date] = ()) -> bool:
    """A weekday that is not a Swedish holiday and not in ``blocked``."""
    return day.weekday() < 5 and not is_public_holiday(day) and day not in set(blocked)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


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
    that lies strictly before its deadline. Those for whom no such slot is left get,
    in the same order, the first free slot at all, flagged ``before_deadline=False``.
    An episode without a known deadline cannot miss it. Requests left over when every
    slot is full get no assignment (the next run tries again).
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
