"""Booking: the pure rules (holidays, capacity, children first, deadlines) and the stage."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from booking_helpers import add_episode
from sqlalchemy import func, select

from domain.booking import (
    Assignment,
    BookingRequest,
    FreeSlot,
    LeadTimes,
    earliest_meeting_date,
    generate_slots,
)
from domain.booking import assign_slots as assign_for_letter_date
from domain.formatting import STOCKHOLM
from domain.working_days import add_working_days, is_working_day, subtract_working_days
from flows.stages.booking import BookingError, book_appointments, cancel, rebook
from models.config import AdvisorConfig
from models.db import session_scope
from models.tables import Appointment, AppointmentSlot, Letter
from services.outbox import POST_COPY


def advisor(**overrides: object) -> AdvisorConfig:
    values: dict[str, object] = {
        "id": "a1",
        "name": "Anna",
        "location": "Medborgarhuset",
        "slot_minutes": 45,
        "capacity": 1,
        "hours": {"mon": ["09:00-12:00"], "wed": ["13:00-14:30"]},
    }
    values.update(overrides)
    return AdvisorConfig(**values)


def slot(slot_id: int, day: date, hour: int = 9, free: int = 1) -> FreeSlot:
    return FreeSlot(slot_id, datetime(day.year, day.month, day.day, hour, tzinfo=STOCKHOLM), free)


#: Lead time = what the post needs: the first offered day is postal_days + 1 after the letter.
POST_ONLY = LeadTimes(postal_days=2, print_days=3, email_days=3)


def assign_slots(requests, slots, earliest: date):  # noqa: ANN001, ANN201
    """The deadline rules alone: no lead time beyond the post, letters dated so that
    ``earliest`` is the first day offered."""
    return assign_for_letter_date(requests, slots, subtract_working_days(earliest, 3), POST_ONLY)


# --- working days and slot generation -------------------------------------------------


def test_christmas_and_new_year_are_not_working_days() -> None:
    for day in (date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 31), date(2027, 1, 6)):
        assert not is_working_day(day)
    assert is_working_day(date(2026, 12, 23))
    assert add_working_days(date(2026, 12, 23), 2) == date(2026, 12, 29)


def test_earliest_meeting_leaves_postal_days_across_holidays() -> None:
    # Sent Wednesday 23 December: 24-27 are off, the letter arrives by Tuesday 29th,
    # so Wednesday 30th is the first meeting day.
    assert earliest_meeting_date(date(2026, 12, 23), 2) == date(2026, 12, 30)
    assert earliest_meeting_date(date(2026, 11, 2), 2) == date(2026, 11, 5)


def test_slots_cut_hours_into_whole_meetings_and_skip_holidays() -> None:
    # Monday 28 Dec and Wednesday 30 Dec 2026 are working days; Wed 6 Jan 2027 is Epiphany.
    slots = generate_slots([advisor()], date(2026, 12, 28), date(2027, 1, 6))
    days = sorted({s.starts_at.date() for s in slots})
    assert days == [date(2026, 12, 28), date(2026, 12, 30), date(2027, 1, 4)]
    monday = [s.starts_at.strftime("%H:%M") for s in slots if s.starts_at.date() == days[0]]
    assert monday == ["09:00", "09:45", "10:30", "11:15"]  # 12:00 would end after closing
    wednesday = [s for s in slots if s.starts_at.date() == days[1]]
    assert [s.starts_at.strftime("%H:%M") for s in wednesday] == ["13:00", "13:45"]


def test_slots_skip_blocked_dates_and_follow_stockholm_time() -> None:
    blocked = advisor(blocked_dates=[date(2026, 10, 26)])
    assert generate_slots([blocked], date(2026, 10, 26), date(2026, 10, 26)) == []
    # After the switch to winter time (25 Oct) 09:00 in Stockholm is 08:00 UTC.
    first = generate_slots([advisor()], date(2026, 10, 26), date(2026, 10, 26))[0]
    assert first.starts_at.astimezone(UTC).hour == 8
    summer = generate_slots([advisor()], date(2026, 10, 19), date(2026, 10, 19))[0]
    assert summer.starts_at.astimezone(UTC).hour == 7


# --- assignment -------------------------------------------------------------------------


def test_children_first_then_closest_deadline() -> None:
    day = date(2026, 11, 9)
    slots = [slot(1, day, 9), slot(2, day, 10), slot(3, day, 11)]
    requests = [
        BookingRequest(10, date(2026, 11, 20), False),
        BookingRequest(11, date(2026, 11, 12), False),
        BookingRequest(12, date(2026, 11, 25), True),
    ]
    result = assign_slots(requests, slots, day)
    assert result == [Assignment(12, 1, True), Assignment(11, 2, True), Assignment(10, 3, True)]


def test_full_week_books_after_deadline_and_flags_it() -> None:
    week = [slot(i, date(2026, 11, 9 + i)) for i in range(5)]  # Mon-Fri, one place each
    later = [slot(10, date(2026, 11, 16))]
    requests = [BookingRequest(n, date(2026, 11, 14), False) for n in range(1, 7)]
    result = assign_slots(requests, week + later, date(2026, 11, 9))
    assert [a.slot_id for a in result] == [0, 1, 2, 3, 4, 10]
    assert [a.before_deadline for a in result] == [True] * 5 + [False]


def test_never_overbooks_and_leaves_the_rest_unbooked() -> None:
    slots = [slot(1, date(2026, 11, 9), free=2), slot(2, date(2026, 11, 10), free=1)]
    requests = [BookingRequest(n, None, False) for n in range(5)]
    result = assign_slots(requests, slots, date(2026, 11, 9))
    assert [a.slot_id for a in result] == [1, 1, 2]
    assert all(a.before_deadline for a in result)  # no known deadline cannot be missed


def test_slots_before_earliest_day_are_not_offered() -> None:
    slots = [slot(1, date(2026, 11, 4)), slot(2, date(2026, 11, 5))]
    result = assign_slots([BookingRequest(1, date(2026, 11, 30), False)], slots, date(2026, 11, 5))
    assert result == [Assignment(1, 2, True)]


def test_meeting_on_the_deadline_day_counts_as_too_late() -> None:
    slots = [slot(1, date(2026, 11, 12))]
    result = assign_slots([BookingRequest(1, date(2026, 11, 12), False)], slots, date(2026, 11, 9))
    assert result == [Assignment(1, 1, False)]


def test_rolled_deadline_day_itself_is_too_late_the_working_day_before_is_not() -> None:
    from domain.episodes import EpisodePolicy, deadline

    # Served Saturday 7 Nov + 21 days = Saturday 28 Nov: the last day to pay is Monday 30th.
    last_day = deadline(date(2026, 11, 7), None, EpisodePolicy(payment_days=21))
    assert last_day == date(2026, 11, 30)
    friday, monday = slot(1, date(2026, 11, 27)), slot(2, date(2026, 11, 30))
    request = BookingRequest(1, last_day, False)
    assert assign_slots([request], [friday, monday], date(2026, 11, 23)) == [Assignment(1, 1, True)]
    assert assign_slots([request], [monday], date(2026, 11, 23)) == [Assignment(1, 2, False)]


# --- the stage on SQLite and PostgreSQL ---------------------------------------------------


def _booked_per_slot(engine) -> dict[int, tuple[int, int]]:  # noqa: ANN001
    with session_scope(engine) as session:
        rows = session.execute(
            select(AppointmentSlot.id, AppointmentSlot.booked, AppointmentSlot.capacity)
        )
        return {sid: (booked, cap) for sid, booked, cap in rows}


def test_book_appointments_books_advisor_episodes_once(db_engine, settings) -> None:  # noqa: ANN001
    run = date(2026, 11, 2)
    child = add_episode(db_engine, children=True, deadline=date(2026, 11, 25))
    urgent = add_episode(db_engine, deadline=date(2026, 11, 12))
    add_episode(db_engine, routing="caseworker")
    add_episode(db_engine, status="settled")
    add_episode(db_engine, routing=None)

    counts = book_appointments(db_engine, settings, run)
    assert counts["candidates"] == 2 and counts["booked"] == 2 and counts["after_deadline"] == 0
    assert counts["slots_added"] > 0

    with session_scope(db_engine) as session:
        rows = session.execute(
            select(Appointment.episode_id, AppointmentSlot.starts_at)
            .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .order_by(AppointmentSlot.starts_at)
        ).all()
    assert [episode for episode, _ in rows] == [child, urgent]
    first = rows[0][1].replace(tzinfo=UTC) if rows[0][1].tzinfo is None else rows[0][1]
    # Printed Monday 2 Nov, min_lead_days_print = 5: Monday 9 Nov 09:00 is the first time
    # the deadlines (25 and 12 Nov) allow with the full lead time.
    assert first.astimezone(STOCKHOLM) == datetime(2026, 11, 9, 9, 0, tzinfo=STOCKHOLM)

    again = book_appointments(db_engine, settings, run)
    assert again["booked"] == 0 and again["candidates"] == 0 and again["slots_added"] == 0
    assert sum(b for b, _ in _booked_per_slot(db_engine).values()) == 2


def test_unknown_children_rank_with_children_until_the_answer_is_recorded(
    db_engine,  # noqa: ANN001
    settings,  # noqa: ANN001
) -> None:
    run = date(2026, 11, 2)
    without = add_episode(db_engine, deadline=date(2026, 11, 12))
    unknown = add_episode(db_engine, children_known=False, deadline=date(2026, 11, 25))
    with_children = add_episode(db_engine, children=True, deadline=date(2026, 11, 30))
    book_appointments(db_engine, settings, run)
    with session_scope(db_engine) as session:
        order = session.scalars(
            select(Appointment.episode_id)
            .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .order_by(AppointmentSlot.starts_at)
        ).all()
    # Unknown is booked with "yes" (closest deadline first among them), "no" after.
    assert order == [unknown, with_children, without]


def test_booking_never_exceeds_capacity(db_engine, settings) -> None:  # noqa: ANN001
    # Horizon Mon 2 - Mon 9 Nov; the first offered day is Thu 5 Nov. Offered places:
    # Thu 8 + Fri 4 + Mon 8 = 20, of which Monday's 8 lie after the 7 Nov deadline.
    settings.booking.horizon_days = 7
    for _ in range(30):
        add_episode(db_engine, deadline=date(2026, 11, 7))
    counts = book_appointments(db_engine, settings, date(2026, 11, 2))
    assert counts["booked"] == 20 and counts["no_slot"] == 10
    assert counts["after_deadline"] == 8
    assert all(booked <= cap for booked, cap in _booked_per_slot(db_engine).values())
    assert book_appointments(db_engine, settings, date(2026, 11, 2))["booked"] == 0


def test_rebook_frees_the_old_slot_and_queues_a_new_letter_version(db_engine, settings) -> None:  # noqa: ANN001
    from flows.stages.letters import create_letters

    run = date(2026, 11, 2)
    episode = add_episode(db_engine, email="tenant@example.se")
    book_appointments(db_engine, settings, run)
    create_letters(db_engine, settings, run)
    result = rebook(db_engine, settings, episode, date(2026, 11, 3), by="anna")
    assert result["rebooked"] == 1 and result["letters"] == 1
    with session_scope(db_engine) as session:
        statuses = session.execute(
            select(Appointment.status, AppointmentSlot.booked)
            .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .order_by(Appointment.id)
        ).all()
        keys = list(
            session.scalars(
                select(Letter.idempotency_key).where(Letter.kind != POST_COPY).order_by(Letter.id)
            )
        )
        copies = session.execute(
            select(Letter.idempotency_key, Letter.status)
            .where(Letter.kind == POST_COPY)
            .order_by(Letter.id)
        ).all()
    assert statuses == [("cancelled", 0), ("booked", 1)]
    assert keys[0].endswith(":v1") and keys[1].endswith(":v2")
    # The address came from the landlord: each version has its post copy, the old one's
    # replaced with it.
    assert copies == [(f"{keys[0]}:post", "superseded"), (f"{keys[1]}:post", "pending")]
    assert keys[1].startswith(f"appointment:{episode}:")


def test_cancel_queues_cancellation_and_is_not_rebooked(db_engine, settings) -> None:  # noqa: ANN001
    run = date(2026, 11, 2)
    episode = add_episode(db_engine)
    book_appointments(db_engine, settings, run)
    assert cancel(db_engine, settings, episode, run, by="anna") == {"cancelled": 1, "letters": 1}
    with session_scope(db_engine) as session:
        assert session.scalar(select(func.sum(AppointmentSlot.booked))) == 0
        letter = session.scalars(select(Letter)).one()
    assert letter.kind == "appointment_cancelled" and letter.channel == "print"
    assert book_appointments(db_engine, settings, run)["candidates"] == 0
    with pytest.raises(BookingError, match="no booked appointment"):
        cancel(db_engine, settings, episode, run)
    with pytest.raises(BookingError, match="does not exist"):
        rebook(db_engine, settings, 999_999, run)


def test_two_booking_runs_at_once_never_double_book(db_engine, settings) -> None:  # noqa: ANN001
    import threading

    for n in range(40):
        add_episode(db_engine, children=n % 5 == 0)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            book_appointments(db_engine, settings, date(2026, 11, 2))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with session_scope(db_engine) as session:
        per_episode = session.execute(
            select(Appointment.episode_id, func.count(Appointment.id)).group_by(
                Appointment.episode_id
            )
        ).all()
    assert len(per_episode) == 40 and {count for _, count in per_episode} == {1}
    slots = _booked_per_slot(db_engine)
    assert sum(booked for booked, _ in slots.values()) == 40
    assert all(booked <= cap for booked, cap in slots.values())


def test_configuration_changes_apply_to_stored_slots(db_engine, settings) -> None:  # noqa: ANN001
    run = date(2026, 11, 2)
    settings.booking.horizon_days = 7
    settings.booking.min_lead_days_print = 3  # the first day offered: Thursday 5 Nov
    add_episode(db_engine)
    book_appointments(db_engine, settings, run)  # materialises Mon 2 - Mon 9 Nov
    advisor_config = settings.advisors[0]
    advisor_config.capacity = 2
    advisor_config.blocked_dates = [date(2026, 11, 5)]  # Thursday: no longer offered
    for _ in range(3):
        add_episode(db_engine)
    book_appointments(db_engine, settings, run)
    with session_scope(db_engine) as session:
        rows = session.execute(
            select(AppointmentSlot.starts_at, AppointmentSlot.booked, AppointmentSlot.capacity)
            .where(AppointmentSlot.booked > 0)
            .order_by(AppointmentSlot.starts_at)
        ).all()
    days = [
        (s.replace(tzinfo=UTC) if s.tzinfo is None else s).astimezone(STOCKHOLM).date()
        for s, _, _ in rows
    ]
    # The first episode keeps its Thursday 09:00; the new ones fill Friday, two per slot.
    assert days[0] == date(2026, 11, 5) and rows[0][1] == 1
    assert days[1:] == [date(2026, 11, 6), date(2026, 11, 6)]
    assert [(booked, cap) for _, booked, cap in rows[1:]] == [(2, 2), (1, 2)]


def test_episode_without_deadline_gets_the_earliest_slot_and_an_ask_the_landlord_letter(
    db_engine,  # noqa: ANN001
    settings,  # noqa: ANN001
) -> None:
    """Opened by a payment order (no termination notice): no deadline, still booked first."""
    from pathlib import Path

    from pypdf import PdfReader

    from flows.stages.letters import create_letters

    episode = add_episode(db_engine, deadline=None, status="payment_order")
    counts = book_appointments(db_engine, settings, date(2026, 11, 2))
    assert counts["booked"] == 1 and counts["after_deadline"] == 0
    with session_scope(db_engine) as session:
        booked = session.execute(
            select(Appointment.before_deadline, AppointmentSlot.starts_at)
            .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .where(Appointment.episode_id == episode)
        ).one()
    starts = booked[1].replace(tzinfo=UTC) if booked[1].tzinfo is None else booked[1]
    assert booked[0] is True  # the first time with the full lead time (5 working days)
    assert starts.astimezone(STOCKHOLM) == datetime(2026, 11, 9, 9, 0, tzinfo=STOCKHOLM)

    assert create_letters(db_engine, settings, date(2026, 11, 2))["letters"] == 1
    with session_scope(db_engine) as session:
        path = session.scalars(select(Letter.pdf_path).where(Letter.episode_id == episode)).one()
    text = " ".join(PdfReader(Path(path or "")).pages[0].extract_text().split())
    assert "Fråga din hyresvärd vilket datum som gäller för dig" in text
    assert "rätt att bo kvar" not in text and "ingen ledig tid" not in text


# --- issue 12: the eviction, the lead time, reviews (pure rules) --------------------------

RULES = LeadTimes(postal_days=2, print_days=5, email_days=2, eviction_margin=2)
MON = date(2026, 11, 2)  # the letter's date in these tests


def week_slots(first: date, days: int = 20) -> list[FreeSlot]:
    """One place at 09:00 on every working day from ``first``, ids 1, 2, ..."""
    out, day = [], first
    while len(out) < days:
        if is_working_day(day):
            out.append(slot(len(out) + 1, day))
        day = date.fromordinal(day.toordinal() + 1)
    return out


def day_of(assignment: Assignment, slots: list[FreeSlot]) -> date:
    return next(s.starts_at.date() for s in slots if s.slot_id == assignment.slot_id)


def test_last_meeting_day_keeps_the_margin_in_working_days() -> None:
    # Eviction Monday 9 Nov: Friday 6 and Thursday 5 are the two working days before it.
    assert RULES.last_day(date(2026, 11, 9)) == date(2026, 11, 5)
    # Eviction Monday 28 Dec 2026: 24-27 are off, so the margin reaches back to Tue 22nd.
    assert RULES.last_day(date(2026, 12, 28)) == date(2026, 12, 22)
    assert RULES.last_day(None) is None


def test_meetings_leave_the_wanted_lead_time_when_the_deadline_allows() -> None:
    slots = week_slots(date(2026, 11, 3))
    post = BookingRequest(1, date(2026, 11, 30), False)
    email = BookingRequest(2, date(2026, 11, 30), False, by_email=True)
    result = assign_for_letter_date([post, email], slots, MON, RULES)
    days = {a.episode_id: day_of(a, slots) for a in result}
    assert days == {1: date(2026, 11, 9), 2: date(2026, 11, 4)}  # 5 and 2 working days
    assert not any(a.short_notice for a in result)


def test_an_emailed_letter_with_a_post_copy_wants_the_posts_lead_time() -> None:
    """The copy must arrive before the meeting; the email alone still allows a short one."""
    slots = week_slots(date(2026, 11, 3))
    roomy = BookingRequest(1, date(2026, 11, 30), False, by_email=True, post_copy=True)
    tight = BookingRequest(2, date(2026, 11, 5), False, by_email=True, post_copy=True)
    result = assign_for_letter_date([roomy, tight], slots, MON, RULES)
    got = {a.episode_id: (day_of(a, slots), a.short_notice) for a in result}
    assert got == {1: (date(2026, 11, 9), False), 2: (date(2026, 11, 3), True)}


def test_lead_time_is_shortened_only_when_the_deadline_forces_it() -> None:
    slots = week_slots(date(2026, 11, 3))
    tight = BookingRequest(1, date(2026, 11, 9), False)  # deadline Monday 9 Nov
    result = assign_for_letter_date([tight], slots, MON, RULES)
    # By post the letter arrives Wed 4th: Thursday 5th is the earliest, and it is short.
    assert [(day_of(a, slots), a.before_deadline, a.short_notice) for a in result] == [
        (date(2026, 11, 5), True, True)
    ]
    # Once the deadline has passed anyway, the full lead time is kept again.
    passed = BookingRequest(2, date(2026, 11, 3), False)
    late = assign_for_letter_date([passed], slots, MON, RULES)
    assert [(day_of(a, slots), a.before_deadline, a.short_notice) for a in late] == [
        (date(2026, 11, 9), False, False)
    ]


def test_no_meeting_on_or_after_the_eviction_day() -> None:
    slots = week_slots(date(2026, 11, 3))
    # Eviction Thursday 12 Nov, deadline already passed: at the latest Tuesday 10th.
    request = BookingRequest(1, date(2026, 10, 26), False, eviction=date(2026, 11, 12))
    result = assign_for_letter_date([request], slots, MON, RULES)
    assert [(day_of(a, slots), a.before_deadline) for a in result] == [(date(2026, 11, 9), False)]
    # The 9th taken: the 10th is the last day; both taken: a shorter lead time (the 5th);
    # nothing free by the 10th: not booked at all (the worklist says so).
    taken = [s for s in slots if s.starts_at.date() != date(2026, 11, 9)]
    assert day_of(assign_for_letter_date([request], taken, MON, RULES)[0], slots) == date(
        2026, 11, 10
    )
    short = [s for s in taken if s.starts_at.date() != date(2026, 11, 10)]
    [forced] = assign_for_letter_date([request], short, MON, RULES)
    assert (day_of(forced, slots), forced.short_notice) == (date(2026, 11, 5), True)
    none = [s for s in slots if s.starts_at.date() > date(2026, 11, 10)]
    assert assign_for_letter_date([request], none, MON, RULES) == []


def test_eviction_close_shortens_the_lead_time_rather_than_passing_it() -> None:
    slots = week_slots(date(2026, 11, 3))
    # Eviction Monday 9 Nov, no deadline known: Thursday 5th is the last day (short notice).
    request = BookingRequest(1, None, True, eviction=date(2026, 11, 9))
    result = assign_for_letter_date([request], slots, MON, RULES)
    assert [(day_of(a, slots), a.short_notice) for a in result] == [(date(2026, 11, 5), True)]
    # Eviction Thursday 5th: no day is both after the letter arrives and two days before.
    soon = BookingRequest(2, None, False, eviction=date(2026, 11, 5))
    assert assign_for_letter_date([soon], slots, MON, RULES) == []


def test_review_is_booked_five_working_days_before_the_deadline() -> None:
    from domain.booking import review_booking_due

    deadline = date(2026, 11, 16)  # a Monday
    assert not review_booking_due(date(2026, 11, 6), deadline, None, 5)
    assert review_booking_due(date(2026, 11, 9), deadline, None, 5)
    assert review_booking_due(date(2026, 11, 20), deadline, None, 5)  # passed: at once
    assert review_booking_due(date(2026, 11, 2), None, date(2026, 11, 9), 5)  # eviction
    assert not review_booking_due(date(2026, 11, 2), None, None, 5)
