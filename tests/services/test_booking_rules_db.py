"""Issue 12 on SQLite and PostgreSQL: bookings before the eviction, the lead time, reviews
that never block the letter, and rebooking to a time agreed on the phone."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from booking_helpers import add_episode
from sqlalchemy import select

from domain.formatting import STOCKHOLM
from flows.stages.booking import book_appointments
from models.db import as_utc, session_scope
from models.errors import NotAllowed
from models.tables import Appointment, AppointmentSlot, Episode
from services import appointments
from services.letters import appointment_letter_queue

RUN = date(2026, 11, 2)  # a Monday


def _set(engine, episode_id: int, **values: object) -> None:  # noqa: ANN001
    with session_scope(engine) as session:
        episode = session.get(Episode, episode_id)
        for name, value in values.items():
            setattr(episode, name, value)


def _meeting(engine, episode_id: int) -> tuple[datetime, bool, bool] | None:  # noqa: ANN001
    """(local start, before_deadline, short_notice) of the episode's booked meeting."""
    with session_scope(engine) as session:
        row = session.execute(
            select(AppointmentSlot.starts_at, Appointment.before_deadline, Appointment.short_notice)
            .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .where(Appointment.episode_id == episode_id, Appointment.status == "booked")
        ).first()
    if row is None:
        return None
    return as_utc(row[0]).astimezone(STOCKHOLM), bool(row[1]), bool(row[2])


def test_booking_keeps_the_lead_time_and_the_eviction_margin(db_engine, settings) -> None:  # noqa: ANN001
    roomy = add_episode(db_engine, deadline=date(2026, 11, 30))
    tight = add_episode(db_engine, deadline=date(2026, 11, 6))
    by_email = add_episode(db_engine, deadline=date(2026, 11, 30), email="a@example.se")
    _set(db_engine, by_email, tenant_email="a@example.se")  # the tenant gave it: no post copy
    landlords = add_episode(db_engine, deadline=date(2026, 11, 30), email="b@example.se")
    evicted = add_episode(db_engine, deadline=date(2026, 10, 26), status="eviction_scheduled")
    _set(db_engine, evicted, eviction_at=datetime(2026, 11, 9, 9, 0, tzinfo=STOCKHOLM))
    too_close = add_episode(db_engine, deadline=date(2026, 10, 26), status="eviction_scheduled")
    _set(db_engine, too_close, eviction_at=datetime(2026, 11, 5, 9, 0, tzinfo=STOCKHOLM))

    counts = book_appointments(db_engine, settings, RUN)
    assert counts["booked"] == 5 and counts["no_slot_before_eviction"] == 1
    assert counts["short_notice"] == 2

    start, before, short = _meeting(db_engine, roomy)
    assert start.date() == date(2026, 11, 9) and before and not short  # five working days
    start, before, short = _meeting(db_engine, tight)
    assert start.date() == date(2026, 11, 5) and before and short  # the deadline forced it
    start, _, short = _meeting(db_engine, by_email)
    assert start.date() == date(2026, 11, 4) and not short  # email: two working days
    # The landlord's address: the letter is posted too, so the post's five working days.
    start, _, short = _meeting(db_engine, landlords)
    assert start.date() == date(2026, 11, 9) and not short
    # Eviction Monday 9 Nov 09:00: at the latest Thursday 5th, never on the eviction day.
    start, before, short = _meeting(db_engine, evicted)
    assert start.date() <= date(2026, 11, 5) and not before and short
    assert _meeting(db_engine, too_close) is None  # flagged on the worklist instead


def test_rebooking_never_lands_on_or_after_the_eviction(db_engine, settings) -> None:  # noqa: ANN001
    """The demo's case: rebooked after the deadline, an eviction booked for 9 November."""
    episode = add_episode(db_engine, deadline=date(2026, 10, 26), status="eviction_scheduled")
    _set(db_engine, episode, eviction_at=datetime(2026, 11, 9, 9, 0, tzinfo=STOCKHOLM))
    book_appointments(db_engine, settings, date(2026, 10, 26))
    with session_scope(db_engine) as session:
        options = appointments.free_slots(session, settings, episode, RUN)
        assert options and max(o.starts_at for o in options).astimezone(STOCKHOLM).date() == (
            date(2026, 11, 5)
        )
        done = appointments.rebook(
            session,
            settings,
            episode,
            RUN,
            by="anna",
            queue_letter=appointment_letter_queue(settings, RUN),
        )
    local = done.starts_at.astimezone(STOCKHOLM)
    assert local.date() == date(2026, 11, 5) and done.short_notice and not done.before_deadline
    assert done.location and done.advisor_id == settings.advisors[0].id
    # Nothing is left before the eviction: refused in one line, the old time kept.
    with session_scope(db_engine) as session:
        for slot in session.scalars(select(AppointmentSlot)):
            slot.booked = slot.capacity
    with session_scope(db_engine) as session, pytest.raises(NotAllowed) as refused:
        appointments.rebook(
            session,
            settings,
            episode,
            RUN,
            by="anna",
            queue_letter=appointment_letter_queue(settings, RUN),
        )
    assert "before the eviction on 2026-11-09" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_time_agreed_on_the_phone_is_refused_with_the_reason(db_engine, settings) -> None:  # noqa: ANN001
    episode = add_episode(db_engine, deadline=date(2026, 11, 30), status="eviction_scheduled")
    _set(db_engine, episode, eviction_at=datetime(2026, 11, 16, 9, 0, tzinfo=STOCKHOLM))
    book_appointments(db_engine, settings, RUN)

    def at(text: str) -> appointments.Rebooked:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=STOCKHOLM)
        with session_scope(db_engine) as session:
            return appointments.rebook(
                session,
                settings,
                episode,
                RUN,
                by="anna",
                queue_letter=appointment_letter_queue(settings, RUN),
                starts_at=moment,
            )

    refusals = {
        "2026-11-05 12:30": "outside the advisors' hours",  # lunch
        "2026-11-04 09:00": "too soon",  # the letter arrives on the 4th
        "2026-11-13 09:00": "too close to the eviction on 2026-11-16",  # Thu 12th is the last
        "2026-11-06 14:00": "outside the advisors' hours",  # Friday afternoon
    }
    for text, reason in refusals.items():
        with pytest.raises(NotAllowed, match=reason):
            at(text)
    # Thursday 5 Nov is short notice by post but fine when agreed on the phone.
    done = at("2026-11-05 10:30")
    assert done.starts_at.astimezone(STOCKHOLM) == datetime(2026, 11, 5, 10, 30, tzinfo=STOCKHOLM)
    assert done.short_notice and done.before_deadline


def test_an_undecided_review_is_booked_before_its_deadline(db_engine, settings) -> None:  # noqa: ANN001
    waiting = add_episode(db_engine, routing="review", deadline=date(2026, 11, 30))
    due = add_episode(db_engine, routing="review", deadline=date(2026, 11, 9))
    # 2 Nov + 5 working days = 9 Nov: the 9th is within reach, the 30th is not.
    counts = book_appointments(db_engine, settings, RUN)
    assert counts["booked"] == 1 and counts["review_fallback"] == 1
    assert _meeting(db_engine, waiting) is None
    start, before, _ = _meeting(db_engine, due)
    assert before and start.date() < date(2026, 11, 9)
    with session_scope(db_engine) as session:
        assert session.get(Episode, due).routing == "review"  # the advisor still decides
    # Three weeks later the other one is due too.
    assert book_appointments(db_engine, settings, date(2026, 11, 23))["review_fallback"] == 1
    assert _meeting(db_engine, waiting) is not None


def test_no_register_yet_never_costs_a_household_its_deadline(db_engine, settings) -> None:  # noqa: ANN001
    """Before the first case-register import nobody can be matched; close to the deadline
    the household is booked and lettered as unknown, and matched once a register comes."""
    waiting = add_episode(db_engine, routing=None, deadline=date(2026, 11, 30))
    due = add_episode(db_engine, routing=None, deadline=date(2026, 11, 9))
    counts = book_appointments(db_engine, settings, RUN)
    assert counts["booked"] == 1 and counts["review_fallback"] == 1
    assert _meeting(db_engine, waiting) is None
    start, before, _ = _meeting(db_engine, due)
    assert before and start.date() < date(2026, 11, 9)
    with session_scope(db_engine) as session:
        assert session.get(Episode, due).routing is None  # still matched when a register comes
