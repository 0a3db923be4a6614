"""The Swedish working-day calendar, shared by booking and the payment deadline.

Lag (1930:173) om beräkning av lagstadgad tid: a time limit whose last day falls on a
Saturday, a Sunday, another public holiday, midsommarafton, julafton or nyårsafton
ends on the next working day. Those eves are not public holidays, but the ``holidays``
package lists them in its ``de_facto`` category for Sweden, so one calendar serves
both the law's deadline and the days the advisor's office is open.

(Named ``working_days`` rather than ``calendar`` so it never shadows the standard
library module of that name.)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

import holidays
import polars as pl


@lru_cache(maxsize=128)
def _holidays_of_year(year: int) -> frozenset[date]:
    # Public holidays plus the de facto days off (midsommarafton, julafton, nyårsafton);
    # Sundays are weekends anyway and are handled by the weekday rule.
    calendar = holidays.Sweden(years=year, include_sundays=False, categories=("public", "de_facto"))
    return frozenset(calendar.keys())


def is_public_holiday(day: date) -> bool:
    """True on Swedish public holidays and the de facto days off (e.g. julafton)."""
    return day in _holidays_of_year(day.year)


def is_working_day(day: date, blocked: Iterable[date] = ()) -> bool:
    """A weekday that is not a Swedish holiday or big eve, and not in ``blocked``."""
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


def subtract_working_days(start: date, days: int) -> date:
    """The date ``days`` working days before ``start`` (``start`` itself not counted)."""
    current = start
    remaining = days
    while remaining > 0:
        current -= timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(first: date, last: date) -> int:
    """Working days after ``first`` up to and including ``last`` (0 when ``last <= first``)."""
    count = 0
    current = first
    while current < last:
        current += timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count


def roll_to_working_day(day: date) -> date:
    """``day`` itself when it is a working day, else the next working day (lag 1930:173)."""
    current = day
    while not is_working_day(current):
        current += timedelta(days=1)
    return current


def non_working_weekdays(first_year: int, last_year: int) -> list[date]:
    """Monday-to-Friday dates from ``first_year`` to ``last_year`` that are days off.

    The ``holidays`` list for polars' ``dt.add_business_days`` (which already skips
    weekends), so that a whole frame is rolled with the same calendar as
    :func:`is_working_day`.
    """
    return sorted(
        day
        for year in range(first_year, last_year + 1)
        for day in _holidays_of_year(year)
        if day.weekday() < 5
    )


def roll_to_working_day_expr(column: pl.Expr, first_year: int, last_year: int) -> pl.Expr:
    """:func:`roll_to_working_day` for a date column, for dates in the given years.

    Null stays null. The caller passes the years its dates fall in; the next year's
    days off are included too, so that a roll over New Year (nyårsafton, then New
    Year's Day) lands on the right day.
    """
    return column.dt.add_business_days(
        0, holidays=non_working_weekdays(first_year, last_year + 1), roll="forward"
    )
