"""The delivery deadlines as pure rules: when the post is the last chance, when it is too late."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from domain.delivery import (
    MEETING_PASSED,
    NOT_IN_TIME,
    email_in_time,
    must_post_today,
    post_in_time,
    problem_of,
    scheduled_time,
    staff_gives_up,
    staff_retry_delay,
)


def test_the_post_is_the_last_chance_on_one_day_only() -> None:
    meeting = date(2026, 11, 12)  # Thursday; the post needs two working days
    days = [date(2026, 11, d) for d in (2, 3, 4, 5, 6, 9, 10)]
    assert [must_post_today(d, meeting, 2) for d in days] == [
        False, False, False, False, False, True, False,
    ]  # fmt: skip
    assert post_in_time(date(2026, 11, 9), meeting, 2)
    assert not post_in_time(date(2026, 11, 10), meeting, 2)


def test_a_weekend_counts_no_postal_days() -> None:
    # Letters printed on Friday arrive on Tuesday: a Wednesday meeting is the last in time.
    assert must_post_today(date(2026, 11, 6), date(2026, 11, 11), 2)


def test_email_needs_the_minimum_notice() -> None:
    meeting = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
    assert email_in_time(meeting - timedelta(hours=12), meeting, 12)
    assert not email_in_time(meeting - timedelta(hours=11), meeting, 12)
    assert not email_in_time(meeting + timedelta(minutes=1), meeting, 0)


def test_staff_retries_double_up_to_the_cap_for_a_day() -> None:
    assert [staff_retry_delay(n, 5, 240).total_seconds() / 60 for n in (1, 2, 3, 7, 9)] == [
        5, 10, 20, 240, 240,
    ]  # fmt: skip
    first = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
    assert not staff_gives_up(first + timedelta(hours=23, minutes=59), first, 24)
    assert staff_gives_up(first + timedelta(hours=24), first, 24)


def test_run_time_from_the_daily_schedule() -> None:
    assert scheduled_time("30 6 * * 1-5") == time(6, 30)
    assert scheduled_time("*/15 * * * *") == time(6, 30)


def test_problems_from_the_recorded_error() -> None:
    assert problem_of(None) is None
    assert problem_of(f"{MEETING_PASSED}; no new time booked") == "meeting_passed"
    assert problem_of("cannot connect to SMTP 127.0.0.1:25: ConnectionRefusedError") == "no_answer"
    assert problem_of("gave up after 5 attempts: timeout") == "no_answer"
    assert problem_of("gave up after 5 attempts: SMTP 451 greylisted") == "deferred"
    assert problem_of("SMTP 550 No such user") == "refused"
    assert problem_of(f"{NOT_IN_TIME}: not sent") == "no_answer"
