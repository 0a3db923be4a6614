"""Appointment booking as pure functions: working days, slot generation and assignment.

The letter (kallelse) is the one chance to reach a tenant who is not known to social
services, and the three-week deadline of Jordabalken 12:44 is running. The rules, in
order of weight:

1. A meeting never lies after a booked eviction, nor closer to it than
   ``eviction_margin`` working days: a time on the eviction day (or a month after it)
   helps nobody. When no free time is left before that, the episode is not booked at
   all and the advisor's worklist says so (phone instead).
2. The meeting lies before the last day to pay when a free time allows; otherwise the
   first free time after it (before the eviction), flagged ``before_deadline=False``.
3. Between the letter's date and the meeting lie at least the wanted lead days
   (``min_lead_days_print`` / ``_email``: print vendors add a day and the post is not
   daily everywhere) whenever the deadline allows; shorter only when the deadline
   forces it (``short_notice``), and never shorter than the channel can carry (by
   post: the letter arrives a working day before the meeting; by email: the next
   working day).

Households with children first, then the closest deadline. Nothing here touches a
database or a clock: callers pass in the run date, the configured advisors and the
slots' remaining capacity.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.formatting import STOCKHOLM
from domain.working_days import add_working_days, is_public_holiday, subtract_working_days
from models.config import WEEKDAYS, AdvisorConfig, BookingConfig, parse_time_range


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
class LeadTimes:
    """Working days between a letter's date and its meeting, and the eviction margin.

    ``print_days`` / ``email_days``: what is wanted (``booking.min_lead_days_print`` /
    ``_email``); the shortest possible is what the channel can carry: by post the
    letter arrives after ``postal_days`` and the tenant has it a working day before the
    meeting; an email arrives at once, so the next working day.
    """

    postal_days: int = 2
    print_days: int = 5
    email_days: int = 2
    eviction_margin: int = 2

    @classmethod
    def of(cls, config: BookingConfig) -> LeadTimes:
        """The lead times of the ``[booking]`` configuration."""
        return cls(
            postal_days=config.postal_days,
            print_days=config.min_lead_days_print,
            email_days=config.min_lead_days_email,
            eviction_margin=config.eviction_margin_working_days,
        )

    def shortest(self, by_email: bool) -> int:
        return 1 if by_email else self.postal_days + 1

    def wanted(self, by_email: bool, post_copy: bool = False) -> int:
        """The wanted lead; an emailed letter with a post copy wants the post's."""
        by_post = not by_email or post_copy
        return max(self.print_days if by_post else self.email_days, self.shortest(by_email))

    def first_day(self, run_date: date, by_email: bool) -> date:
        """The first day a meeting may lie when the letter is dated ``run_date``."""
        return add_working_days(run_date, self.shortest(by_email))

    def wanted_day(self, run_date: date, by_email: bool, post_copy: bool = False) -> date:
        """The first day that leaves the wanted lead time."""
        return add_working_days(run_date, self.wanted(by_email, post_copy))

    def last_day(self, eviction: date | None) -> date | None:
        """The last day a meeting may lie before a booked eviction (None: no eviction)."""
        return last_day_before_eviction(eviction, self.eviction_margin)


def last_day_before_eviction(eviction: date | None, margin: int) -> date | None:
    """``margin`` working days before the eviction day; None when no eviction is booked.

    Eviction Monday 9 November, margin 2: the last meeting day is Thursday 5 November.
    """
    if eviction is None:
        return None
    return subtract_working_days(eviction, margin)


@dataclass(frozen=True)
class FreeSlot:
    """A stored slot with the capacity that is still free."""

    slot_id: int
    starts_at: datetime
    free: int
    advisor_id: str = ""


@dataclass(frozen=True)
class BookingRequest:
    """An episode that needs an appointment.

    ``by_email``: its letter goes by email (a usable address), else by post;
    ``eviction``: the day of a booked eviction (Stockholm), if any;
    ``post_copy``: the emailed letter also goes by post (an address from the landlord),
    so the wanted lead time is the post's; the shortest is still the email's.
    """

    episode_id: int
    deadline: date | None
    # True also when nobody knows yet (not in the register, not asked): unknown ranks
    # with "yes" until the advisor records the answer.
    has_children: bool
    by_email: bool = False
    eviction: date | None = None
    post_copy: bool = False


@dataclass(frozen=True)
class Assignment:
    episode_id: int
    slot_id: int
    before_deadline: bool
    short_notice: bool = False  # less than the wanted lead time: the deadline forced it


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


class _Places:
    """Free places of slots in time order; the earliest free one in a day range, fast.

    A "next free slot" pointer per index with path compression (union-find), so that
    thousands of requests over a full calendar never rescan the full slots.
    """

    def __init__(self, slots: Sequence[FreeSlot]) -> None:
        self.slots = sorted(
            (s for s in slots if s.free > 0), key=lambda s: (s.starts_at, s.advisor_id, s.slot_id)
        )
        self.free = [s.free for s in self.slots]
        self.days = [_local_date(s.starts_at) for s in self.slots]
        self._next = list(range(len(self.slots) + 1))

    def _find(self, index: int) -> int:
        root = index
        while self._next[root] != root:
            root = self._next[root]
        while self._next[index] != root:
            self._next[index], index = root, self._next[index]
        return root

    def earliest(self, first: date, last: date | None) -> int | None:
        """Index of the earliest slot with a free place on a day in [first, last]."""
        index = self._find(bisect_left(self.days, first))
        if index >= len(self.slots) or (last is not None and self.days[index] > last):
            return None
        return index

    def take(self, index: int) -> int:
        self.free[index] -= 1
        if self.free[index] == 0:
            self._next[index] = index + 1
        return self.slots[index].slot_id


def _before(deadline: date | None, last: date | None) -> date | None:
    """The last day of a range that must lie strictly before ``deadline`` and by ``last``."""
    if deadline is None:
        return last
    day_before = deadline - timedelta(days=1)
    return day_before if last is None else min(day_before, last)


def _pick(
    places: _Places, request: BookingRequest, run_date: date, rules: LeadTimes, last: date | None
) -> tuple[int, bool] | None:
    """The wanted lead time if a place allows it, else the shortest; (index, short)."""
    wanted = places.earliest(rules.wanted_day(run_date, request.by_email, request.post_copy), last)
    if wanted is not None:
        return wanted, False
    short = places.earliest(rules.first_day(run_date, request.by_email), last)
    return None if short is None else (short, True)


def assign_slots(
    requests: Iterable[BookingRequest],
    slots: Sequence[FreeSlot],
    run_date: date,
    rules: LeadTimes | None = None,
) -> list[Assignment]:
    """Give each request one slot; never more bookings than a slot's free capacity.

    In booking order, each episode gets the earliest free slot that leaves the wanted
    lead time after ``run_date`` (the letter's date) and lies strictly before its
    deadline and by the last day before its eviction; if there is none, the earliest
    such slot with the shortest lead time the channel allows (``short_notice``). The
    deadline is the last day to pay, already moved to a working day (lag 1930:173) by
    the episode rules; a meeting on that day leaves no time to act on the advice, so it
    counts as too late. Those for whom no such slot is left get, in the same order, the
    first free slot after the deadline that is still before the eviction (the same lead
    rule), flagged ``before_deadline=False``. An episode without a known deadline (no
    termination notice) cannot miss it. A request that finds no slot (all full, or none
    before its eviction) gets no assignment: the worklist shows it, the next run tries
    again.
    """
    rules = rules or LeadTimes()
    places = _Places(slots)
    assignments: list[Assignment] = []
    late: list[BookingRequest] = []
    for request in booking_order(requests):
        last = rules.last_day(request.eviction)
        picked = _pick(places, request, run_date, rules, _before(request.deadline, last))
        if picked is None:
            late.append(request)
            continue
        index, short = picked
        assignments.append(Assignment(request.episode_id, places.take(index), True, short))
    for request in late:
        if request.deadline is None:
            continue  # nothing free before its eviction (or at all): not booked
        picked = _pick(places, request, run_date, rules, rules.last_day(request.eviction))
        if picked is None:
            continue
        index, short = picked
        assignments.append(Assignment(request.episode_id, places.take(index), False, short))
    return assignments


def review_booking_due(
    run_date: date, deadline: date | None, eviction: date | None, working_days: int
) -> bool:
    """True when an undecided match review must no longer hold back the letter.

    ``working_days`` before the last day to pay (or before a booked eviction, whichever
    comes first) the episode is booked as unknown to social services; the advisor can
    still confirm the match later. Without either date nothing forces it.
    """
    dates = [d for d in (deadline, eviction) if d is not None]
    if not dates:
        return False
    return add_working_days(run_date, working_days) >= min(dates)
