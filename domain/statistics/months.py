"""Months as ``YYYY-MM`` strings, their Swedish labels, and the report periods.

Part of :mod:`domain.statistics` (see its docstring for the three layers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from domain.formatting import MONTHS_SHORT_SV, MONTHS_SV


def parse_month(text: str) -> str:
    """Validate ``YYYY-MM`` and return it; ValueError with the text otherwise."""
    parts = text.strip().split("-")
    if len(parts) != 2 or len(parts[0]) != 4 or len(parts[1]) != 2:
        raise ValueError(f"month {text!r} must look like 2026-10")
    try:
        year, month = int(parts[0]), int(parts[1])
    except ValueError:
        raise ValueError(f"month {text!r} must look like 2026-10") from None
    if not 1 <= month <= 12 or not 1900 <= year <= 2999:
        raise ValueError(f"month {text!r} is not a calendar month")
    return f"{year:04d}-{month:02d}"


def shift_month(month: str, delta: int) -> str:
    """The month ``delta`` months after (negative: before) ``month``."""
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + (mon - 1) + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive, in order."""
    months, current = [], first
    while current <= last:
        months.append(current)
        current = shift_month(current, 1)
    return months


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def previous_month(today: date) -> str:
    """The month before the one ``today`` falls in: what the monthly flow reports."""
    return shift_month(month_of(today), -1)


def month_spans(months: Sequence[str]) -> list[str]:
    """Consecutive months joined into spans: ``["nov 2024–okt 2025", "mar 2026"]``."""

    def short(month: str) -> str:
        return f"{MONTHS_SHORT_SV[int(month[5:7]) - 1]} {month[:4]}"

    spans: list[list[str]] = []
    for month in sorted(set(months)):
        if spans and shift_month(spans[-1][-1], 1) == month:
            spans[-1].append(month)
        else:
            spans.append([month])
    return [
        short(span[0]) if len(span) == 1 else f"{short(span[0])}–{short(span[-1])}"
        for span in spans
    ]


def month_label(month: str) -> str:
    """``oktober 2026``."""
    return f"{MONTHS_SV[int(month[5:7]) - 1]} {month[:4]}"


@dataclass(frozen=True)
class Period:
    """A run of whole months the report sums facts over."""

    key: str
    label: str
    first: str
    last: str

    @property
    def months(self) -> list[str]:
        return month_range(self.first, self.last)

    def a_year_earlier(self) -> Period:
        first, last = shift_month(self.first, -12), shift_month(self.last, -12)
        return Period(self.key + "_prev", _period_label(self.key, first, last), first, last)


def _period_label(key: str, first: str, last: str) -> str:
    if key == "month":
        return month_label(last).capitalize()
    if key == "year":
        return f"År {last[:4]}"
    if key == "ytd":
        return f"Jan–{MONTHS_SHORT_SV[int(last[5:7]) - 1]} {last[:4]}"
    start = f"{MONTHS_SHORT_SV[int(first[5:7]) - 1]} {first[:4]}".capitalize()
    return f"{start}–{MONTHS_SHORT_SV[int(last[5:7]) - 1]} {last[:4]}"


def report_periods(month: str | None = None, year: int | None = None) -> list[Period]:
    """The report's current periods: month, year to date and rolling 12 months, or a year."""
    if (month is None) == (year is None):
        raise ValueError("give either a month or a year")
    if year is not None:
        first, last = f"{year:04d}-01", f"{year:04d}-12"
        return [Period("year", _period_label("year", first, last), first, last)]
    assert month is not None
    ytd_first = f"{month[:4]}-01"
    rolling_first = shift_month(month, -11)
    return [
        Period("month", _period_label("month", month, month), month, month),
        Period("ytd", _period_label("ytd", ytd_first, month), ytd_first, month),
        Period("rolling12", _period_label("rolling12", rolling_first, month), rolling_first, month),
    ]
