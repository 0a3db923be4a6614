"""The shared Swedish working-day calendar (lag 1930:173 days off)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from domain.working_days import (
    is_working_day,
    non_working_weekdays,
    roll_to_working_day,
    roll_to_working_day_expr,
)


@pytest.mark.parametrize(
    ("day", "rolled"),
    [
        (date(2026, 11, 25), date(2026, 11, 25)),  # an ordinary Wednesday
        (date(2026, 11, 28), date(2026, 11, 30)),  # Saturday
        (date(2026, 11, 29), date(2026, 11, 30)),  # Sunday
        (date(2026, 6, 19), date(2026, 6, 22)),  # midsommarafton (not a public holiday)
        (date(2026, 12, 24), date(2026, 12, 28)),  # julafton, juldagen, annandag, Sunday
        (date(2026, 12, 31), date(2027, 1, 4)),  # nyårsafton, nyårsdagen, weekend
        (date(2027, 1, 6), date(2027, 1, 7)),  # trettondedag jul
        (date(2026, 4, 3), date(2026, 4, 7)),  # långfredag, then annandag påsk
        (date(2026, 5, 14), date(2026, 5, 15)),  # Kristi himmelsfärd
        (date(2027, 6, 25), date(2027, 6, 28)),  # midsommarafton 2027
    ],
)
def test_a_day_off_rolls_to_the_next_working_day(day: date, rolled: date) -> None:
    assert roll_to_working_day(day) == rolled
    assert is_working_day(rolled)


def test_the_eves_are_days_off_every_year() -> None:
    for year in range(2024, 2040):
        assert not is_working_day(date(year, 12, 24))
        assert not is_working_day(date(year, 12, 31))
        midsummer_eve = next(
            date(year, 6, d) for d in range(19, 26) if date(year, 6, d).weekday() == 4
        )
        assert not is_working_day(midsummer_eve)


def test_frame_rolls_exactly_like_the_single_value() -> None:
    days = [date(2025, 12, 1) + timedelta(days=n) for n in range(800)]
    frame = pl.DataFrame({"day": [*days, None]}, schema={"day": pl.Date})
    rolled = frame.select(roll_to_working_day_expr(pl.col("day"), 2025, 2028))["day"].to_list()
    assert rolled == [*(roll_to_working_day(d) for d in days), None]


def test_non_working_weekdays_are_weekdays_only() -> None:
    days = non_working_weekdays(2026, 2026)
    assert all(d.weekday() < 5 for d in days)
    assert date(2026, 6, 19) in days and date(2026, 6, 20) not in days  # Saturday left out
