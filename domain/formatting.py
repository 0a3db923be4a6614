"""Swedish presentation: dates, amounts, times in Europe/Stockholm, safe spreadsheet cells."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")

MONTHS_SV = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)  # fmt: skip
MONTHS_SHORT_SV = (
    "jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
)  # fmt: skip
WEEKDAYS_SV = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
NBSP = "\u00a0"


def sv_date(value: date) -> str:
    """``2 november 2026``: the form letters use."""
    return f"{value.day} {MONTHS_SV[value.month - 1]} {value.year}"


def sv_weekday_date(value: date) -> str:
    """``måndag 2 november 2026``."""
    return f"{WEEKDAYS_SV[value.weekday()]} {sv_date(value)}"


def sv_time(value: datetime) -> str:
    """``kl. 09.30`` in Stockholm time (Swedish writes a dot between hours and minutes)."""
    local = value.astimezone(STOCKHOLM) if value.tzinfo else value
    return f"kl. {local.hour:02d}.{local.minute:02d}"


def has_clock_time(moment: datetime) -> bool:
    """False for a time stored at local midnight: a day reported without its time.

    Companies often report only the eviction day; ingest stores it at 00:00 Stockholm.
    Printing "kl. 00.00" would invent a time nobody gave, so callers print the day alone.
    """
    local = moment.astimezone(STOCKHOLM) if moment.tzinfo else moment
    return (local.hour, local.minute) != (0, 0)


def sv_weekday_when(moment: datetime) -> str:
    """``måndag 14 december 2026 kl. 09.00``; only the day when no time was given."""
    local = moment.astimezone(STOCKHOLM) if moment.tzinfo else moment
    day = sv_weekday_date(local.date())
    return f"{day} {sv_time(local)}" if has_clock_time(local) else day


def sv_amount(value: Decimal | float | int | None, nbsp: bool = False) -> str:
    """``12 345 kr`` (whole kronor) or ``12 345,50 kr`` when there are öre."""
    if value is None:
        return "–"
    amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    space = NBSP if nbsp else " "
    whole = int(abs(amount))
    ore = int((abs(amount) - whole) * 100)
    text = f"{whole:,}".replace(",", space)
    if ore:
        text += f",{ore:02d}"
    sign = "−" if amount < 0 else ""
    return f"{sign}{text}{space}kr"


def local_now() -> datetime:
    return datetime.now(STOCKHOLM)


def local_today() -> date:
    """Today in Stockholm, whatever the server's clock zone: the default run date."""
    return datetime.now(STOCKHOLM).date()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Neutralise spreadsheet formula injection: text starting with = + - @ tab CR gets a '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def looks_like_formula(text: str) -> bool:
    """Text a spreadsheet would read as a formula if typed in (= + - @ tab CR first).

    XLSX writers put such text in with ``write_string`` and Excel's quote prefix
    instead of the ``'`` :func:`safe_cell` adds for CSV.
    """
    return safe_cell(text) != text
