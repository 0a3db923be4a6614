"""Delivery deadlines as pure functions: when a letter must go by post, when it is too late.

An appointment letter is worth something only if the tenant has it before the meeting.
Email is instant but may be down for days; the post needs ``postal_days`` working days.
So an email that has not gone out moves to the print batch at the latest on the last day
the post still arrives before the meeting, and a letter whose meeting is too close for
its channel is never sent as it was: the stage books a new time instead (a new letter
version) or puts it on the advisor's worklist.

Staff emails (counts and links only) have no paper form: temporary failures are retried
across runs with a growing pause for at least ``staff_retry_hours``, then given up and
shown on the worklist. Nothing here reads a clock or a database.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from domain.working_days import add_working_days

#: ``Letter.last_error`` prefixes the worklist recognises (the stage writes them).
MEETING_PASSED = "meeting too close or passed before the letter went out"
NOT_IN_TIME = "email not delivered in time; moved to the print batch"

#: What the worklist says went wrong, from a letter's ``last_error``.
PROBLEM_MEETING_PASSED = "meeting_passed"
PROBLEM_NO_ANSWER = "no_answer"  # the server could not be reached or did not answer
PROBLEM_DEFERRED = "deferred"  # 4xx until we gave up
PROBLEM_REFUSED = "refused"  # 5xx, invalid address

_DEFAULT_RUN_TIME = time(6, 30)


def postal_arrival(run_date: date, postal_days: int) -> date:
    """The day a letter in ``run_date``'s print batch is with the tenant."""
    return add_working_days(run_date, postal_days)


def post_in_time(run_date: date, meeting_day: date, postal_days: int) -> bool:
    """True when a letter printed on ``run_date`` arrives at least a day before the meeting."""
    return postal_arrival(run_date, postal_days) < meeting_day


def must_post_today(run_date: date, meeting_day: date, postal_days: int) -> bool:
    """True when today's print batch is the last one that still reaches the tenant in time."""
    tomorrow = add_working_days(run_date, 1)
    return post_in_time(run_date, meeting_day, postal_days) and not post_in_time(
        tomorrow, meeting_day, postal_days
    )


def email_in_time(now: datetime, meeting_start: datetime, min_notice_hours: float) -> bool:
    """True when an email sent now leaves the tenant at least ``min_notice_hours``."""
    return meeting_start - now >= timedelta(hours=min_notice_hours)


def letter_too_late(
    channel: str,
    now: datetime,
    run_date: date,
    meeting_start: datetime,
    meeting_day: date,
    postal_days: int,
    min_notice_hours: float,
) -> bool:
    """True when the letter, sent now by its channel, would reach the tenant too late."""
    if channel == "print":
        return not post_in_time(run_date, meeting_day, postal_days)
    return not email_in_time(now, meeting_start, min_notice_hours)


def staff_retry_delay(attempts: int, base_minutes: float, max_minutes: float) -> timedelta:
    """The pause after the ``attempts``-th failure of a staff email: doubling, capped."""
    minutes = base_minutes * (2 ** max(0, attempts - 1))
    return timedelta(minutes=min(minutes, max_minutes))


def staff_gives_up(now: datetime, first_try: datetime, retry_hours: float) -> bool:
    """True once a staff email has been retried for ``retry_hours`` since its first try."""
    return now - first_try >= timedelta(hours=retry_hours)


def scheduled_time(cron: str) -> time:
    """The time of day of a daily cron entry (``30 6 * * 1-5`` is 06:30), else 06:30."""
    fields = cron.split()
    if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
        minute, hour = int(fields[0]), int(fields[1])
        if minute < 60 and hour < 24:
            return time(hour, minute)
    return _DEFAULT_RUN_TIME


_NO_ANSWER = re.compile(r"cannot connect|timeout|connection dropped|login refused", re.I)
_DEFERRED = re.compile(r"SMTP 4\d\d|recipient refused \(4", re.I)


def problem_of(last_error: str | None) -> str | None:
    """What went wrong with a letter, as one of the PROBLEM_* codes (None: nothing known)."""
    if not last_error:
        return None
    if last_error.startswith(MEETING_PASSED):
        return PROBLEM_MEETING_PASSED
    if _NO_ANSWER.search(last_error):
        return PROBLEM_NO_ANSWER
    if _DEFERRED.search(last_error):
        return PROBLEM_DEFERRED
    if last_error.startswith(NOT_IN_TIME):
        return PROBLEM_NO_ANSWER
    return PROBLEM_REFUSED
