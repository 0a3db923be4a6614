"""Did the letters reach the tenant in time? The measures of issue 12, as pure polars.

Over the tenant letters and the episodes (frames the service loads):

* lead time: working days from an appointment letter's date to its meeting, against
  ``booking.min_lead_days_print`` / ``_email`` by the booking's own rule: by post, or
  by email with a post copy (``domain.addresses.gets_post_copy``), the post's lead;
* meetings before the last day to pay, and before a booked eviction with the margin
  (never on or after the eviction day);
* tenant letters (appointments, cancellations, post copies) that went out after the
  date they carry (must be 0) or still wait past it;
* episodes whose last day to pay passed without anyone reaching out: no appointment
  letter (or its post copy) sent or printed before it and no caseworker told before
  it (must be 0 when capacity allows). A letter that failed, was replaced or never
  went out reached nobody. Episodes opened on or after their deadline, and those
  settled, withdrawn or ended before it, are counted apart: nobody could or needed to
  reach them in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from domain.booking import LeadTimes
from domain.working_days import non_working_weekdays, subtract_working_days

#: The tenant letter kinds in the letters frame; the meeting measures are of the first.
APPOINTMENT = "appointment"

LETTERS_SCHEMA: dict[str, pl.DataType] = {
    "letter_id": pl.Int64(),
    "episode_id": pl.Int64(),
    "kind": pl.String(),  # appointment, appointment_cancelled or post_copy
    "channel": pl.String(),
    "post_copy": pl.Boolean(),  # an emailed letter that also went by post
    "status": pl.String(),
    "created_on": pl.Date(),  # the date the letter carries
    "sent_on": pl.Date(),  # the day it went out (Stockholm), null while not sent
    "meeting_on": pl.Date(),
    "short_notice": pl.Boolean(),
    "deadline_date": pl.Date(),
    "eviction_on": pl.Date(),
    # The date of the first notice that named an eviction day: it reaches us a day later
    # at the earliest, so a letter dated on or before it could not know the eviction.
    "eviction_known_on": pl.Date(),
}

EPISODES_SCHEMA: dict[str, pl.DataType] = {
    "episode_id": pl.Int64(),
    "opened_on": pl.Date(),
    "deadline_date": pl.Date(),
    "caseworker_told_on": pl.Date(),  # routed to a caseworker on (null: never)
    "ended_on": pl.Date(),  # settled, withdrawn or ended (first such day; null: open)
    # The first day an appointment letter or its post copy went out (null: none did).
    "first_sent_on": pl.Date(),
}


@dataclass(frozen=True)
class ReachMeasures:
    letters: int  # appointment letters that went or go out (not replaced unsent)
    lead_kept: int  # at least min_lead_days after the letter's date
    short_notice: int  # booked shorter, because the deadline or eviction forced it
    with_deadline: int
    before_deadline: int
    with_eviction: int  # letters written when the eviction was known
    before_eviction: int  # by the last day with the margin
    on_or_after_eviction: int  # the meeting on or after the eviction day
    eviction_after_letter: int  # eviction notified after the letter (the worklist flags it)
    sent: int  # tenant letters sent: appointments, cancellations, post copies
    sent_after_date: int  # of those, sent after the date they carry: must be 0
    waiting_past_date: int  # tenant letters not sent by the end of the day they carry
    deadlines_passed: int  # episodes whose last day to pay has passed, reachable
    passed_unreached: int  # must be 0 at the demo's capacity
    opened_after_deadline: int
    ended_before_deadline: int

    def share(self, part: int, whole: int) -> str:
        return "–" if whole == 0 else f"{100 * part / whole:.1f} %"


def _working_days_after(first: str, last: str, years: tuple[int, int]) -> pl.Expr:
    """Working days after ``first`` up to and including ``last``."""
    return pl.business_day_count(
        pl.col(first) + timedelta(days=1),
        pl.col(last) + timedelta(days=1),
        holidays=non_working_weekdays(*years),
    )


def reach_measures(
    letters: pl.DataFrame, episodes: pl.DataFrame, as_of: date, rules: LeadTimes
) -> ReachMeasures:
    """The measures over the letters and episodes as they stand on ``as_of``."""
    letters = letters.cast(LETTERS_SCHEMA)  # type: ignore[arg-type]
    episodes = episodes.cast(EPISODES_SCHEMA)  # type: ignore[arg-type]
    dates = letters["created_on"].drop_nulls().to_list() or [as_of]
    years = (min(dates).year - 1, max(max(dates).year, as_of.year) + 1)
    wanted = (
        pl.when((pl.col("channel") == "email") & pl.col("post_copy").fill_null(False))
        .then(rules.wanted(True, post_copy=True))
        .when(pl.col("channel") == "email")
        .then(rules.wanted(True))
        .otherwise(rules.wanted(False))
    )
    last = {
        day: subtract_working_days(day, rules.eviction_margin)
        for day in letters["eviction_on"].drop_nulls().unique().to_list()
    }
    if "eviction_known_on" not in letters.columns:
        letters = letters.with_columns(eviction_known_on=pl.lit(None, dtype=pl.Date))
    every = letters  # every tenant letter: sent on its date or not
    frame = letters.filter(pl.col("kind") == APPOINTMENT).with_columns(
        lead=_working_days_after("created_on", "meeting_on", years),
        wanted=wanted,
        last_day=pl.col("eviction_on").replace_strict(last, default=None, return_dtype=pl.Date),
    )
    due = episodes.filter(pl.col("deadline_date").is_not_null() & (pl.col("deadline_date") < as_of))
    opened_late = due.filter(pl.col("opened_on") >= pl.col("deadline_date"))
    due = due.filter(pl.col("opened_on") < pl.col("deadline_date"))
    ended = due.filter(
        pl.col("ended_on").is_not_null() & (pl.col("ended_on") < pl.col("deadline_date"))
    )
    reachable = due.filter(
        pl.col("ended_on").is_null() | (pl.col("ended_on") >= pl.col("deadline_date"))
    )
    reached = (
        pl.col("first_sent_on").is_not_null() & (pl.col("first_sent_on") < pl.col("deadline_date"))
    ) | (
        pl.col("caseworker_told_on").is_not_null()
        & (pl.col("caseworker_told_on") < pl.col("deadline_date"))
    )

    known = pl.col("eviction_on").is_not_null() & (
        pl.col("eviction_known_on").is_null() | (pl.col("eviction_known_on") < pl.col("created_on"))
    )

    def count(expr: pl.Expr, source: pl.DataFrame = frame) -> int:
        return int(source.select(expr.fill_null(False).sum()).item())

    sent = pl.col("sent_on").is_not_null()
    return ReachMeasures(
        letters=frame.height,
        lead_kept=count(pl.col("lead") >= pl.col("wanted")),
        short_notice=count(pl.col("short_notice")),
        with_deadline=count(pl.col("deadline_date").is_not_null()),
        before_deadline=count(pl.col("meeting_on") < pl.col("deadline_date")),
        with_eviction=count(known),
        before_eviction=count(known & (pl.col("meeting_on") <= pl.col("last_day"))),
        on_or_after_eviction=count(known & (pl.col("meeting_on") >= pl.col("eviction_on"))),
        eviction_after_letter=count(pl.col("eviction_on").is_not_null() & ~known),
        sent=count(sent, every),
        sent_after_date=count(sent & (pl.col("sent_on") > pl.col("created_on")), every),
        waiting_past_date=count(
            pl.col("status").is_in(["pending", "sending"]) & (pl.col("created_on") < as_of),
            every,
        ),
        deadlines_passed=reachable.height,
        passed_unreached=count(~reached, reachable),
        opened_after_deadline=opened_late.height,
        ended_before_deadline=ended.height,
    )
