"""Swedish personal identity numbers: personnummer and samordningsnummer.

Every number is normalised to 12 digits (``YYYYMMDDNNNC``). The check digit is a
Luhn digit over the 10-digit form (``stdnum.luhn``). A samordningsnummer has 60
added to the day. A ``+`` separator means the person is 100 or older, which decides
the century of a 10-digit number. An invalid number is never dropped: the caller
keeps the digits and flags the row for review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from stdnum import luhn

_CLEAN = re.compile(r"[\s\u00a0]")
_SHAPE = re.compile(r"^(\d{2})?(\d{6})([-+]?)(\d{4})$", re.ASCII)


@dataclass(frozen=True)
class Identity:
    """The normalised form of a number as written in a file."""

    digits: str | None  # 12 digits when the shape allowed it, else None
    valid: bool  # shape, date and Luhn check all hold
    coordination: bool  # samordningsnummer (day + 60)

    @property
    def birth_date(self) -> date | None:
        return birth_date(self.digits) if self.digits else None


def _century(yymmdd: str, plus: bool, today: date) -> int:
    """The century for a 10-digit number: the latest that is not in the future (+: 100 back)."""
    year = int(yymmdd[:2])
    full = (today.year // 100) * 100 + year
    if full > today.year:
        full -= 100
    if plus:
        full -= 100
    return full // 100


def birth_date(digits12: str) -> date | None:
    """The date in a 12-digit number (day - 60 for samordningsnummer), or None if none."""
    try:
        year, month, day = int(digits12[:4]), int(digits12[4:6]), int(digits12[6:8])
        if day > 60:
            day -= 60
        return date(year, month, day)
    except (ValueError, IndexError):
        return None


def normalise(text: str | None, today: date | None = None) -> Identity:
    """Normalise a number written as ``YYMMDD-NNNC``, ``YYMMDD+NNNC`` or ``YYYYMMDDNNNC``."""
    if text is None:
        return Identity(None, False, False)
    cleaned = _CLEAN.sub("", str(text))
    match = _SHAPE.match(cleaned)
    if not match:
        return Identity(None, False, False)
    century, yymmdd, separator, tail = match.groups()
    if century is None:
        century = str(_century(yymmdd, separator == "+", today or date.today()))
    digits = f"{century}{yymmdd}{tail}"
    coordination = int(yymmdd[4:6]) > 60
    valid = luhn.is_valid(digits[2:]) and birth_date(digits) is not None
    return Identity(digits, valid, coordination)


def format_personnummer(digits12: str) -> str:
    """``YYYYMMDD-NNNC``, the form people recognise."""
    return f"{digits12[:8]}-{digits12[8:]}"


def check_digit(first9: str) -> str:
    """The Luhn check digit for the first nine digits of the 10-digit form."""
    return luhn.calc_check_digit(first9)
