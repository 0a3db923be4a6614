"""What a tenant's letter may say about paying, decided from its dates: a pure rule.

A letter never states a past date as the date to pay. Which paragraph a letter carries:

* ``before``: the last day to pay (the law's, or our estimate) is still ahead when the
  letter arrives by post: the letter says it.
* ``closing``: the letter is written on or before the last day, but the post may bring
  it only after it. The letter says the date (it is true when written) and what still
  helps if the day has passed when it is read.
* ``after``: the day has passed when the letter is written, or Kronofogden has booked
  an eviction: the letter says what is true now (the eviction date and time, that the
  landlord may still stop it if the debt is paid or a payment plan agreed, whom to call,
  that we can still help) and never names the past date.
* ``open``: no termination notice and no eviction: no date at all.

``notice_late``: the landlord's notice reached us so late that no meeting before the
last day could be offered even on the day it arrived (the letter then says that the
notice came late, not that our times were full).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from domain.booking import earliest_meeting_date
from domain.delivery import postal_arrival
from domain.formatting import STOCKHOLM

Phase = Literal["before", "closing", "after", "open"]


@dataclass(frozen=True)
class LetterSituation:
    phase: Phase
    #: Kronofogden's eviction is booked for a moment after the letter's day.
    eviction_ahead: bool
    notice_late: bool


def letter_situation(
    letter_date: date,
    deadline: date | None,
    eviction_at: datetime | None,
    notice_received: date | None,
    postal_days: int,
) -> LetterSituation:
    """Which paragraph about paying a letter written on ``letter_date`` carries."""
    eviction_ahead = (
        eviction_at is not None and eviction_at.astimezone(STOCKHOLM).date() >= letter_date
    )
    notice_late = (
        deadline is not None
        and notice_received is not None
        and earliest_meeting_date(notice_received, postal_days) >= deadline
    )
    phase: Phase
    if eviction_ahead or (deadline is not None and letter_date > deadline):
        phase = "after"
    elif deadline is None:
        phase = "open"
    elif postal_arrival(letter_date, postal_days) > deadline:
        phase = "closing"
    else:
        phase = "before"
    return LetterSituation(phase, eviction_ahead, notice_late)
