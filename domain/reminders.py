"""Meeting reminders as pure rules: when one is due, by which channel, and its words.

A reminder goes out the working day before each booked meeting (Swedish holidays and
big eves skipped, Europe/Stockholm), from ``send_from`` that day; one that could not
go then (an outage, or a meeting booked later) may still go until ``min_notice_hours``
before the meeting, never after. By SMS when the company gave a Swedish mobile number
and the tenant is not marked "no SMS", else by email when there is an address. The
"no SMS" mark belongs to the person (:func:`person_keys`), not to one episode.

The text says only who is expecting the tenant, when, where and a phone number. A
phone or an inbox is often seen by others in the household: never the debt, the
rent, an amount, the landlord or Kronofogden (:func:`is_discreet` checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from domain.formatting import MONTHS_SV, STOCKHOLM, WEEKDAYS_SV
from domain.working_days import is_working_day

SMS = "sms"
EMAIL = "email"

#: Mobile prefixes of Swedish numbers (070, 072, 073, 076, 079); 071 is for machines.
_MOBILE = re.compile(r"^7[02369]\d{7}$")


def swedish_mobile(phone: str | None) -> str | None:
    """A Swedish mobile number in E.164 (``+46701234567``), else None.

    Accepts ``070-123 45 67``, ``0701234567``, ``+46 70 123 45 67``, ``0046701234567``
    and ``46701234567``; landlines, foreign and short numbers give None.
    """
    if not phone:
        return None
    digits = re.sub(r"[\s\-().]", "", phone)
    if digits.startswith("+46"):
        national = digits[3:]
    elif digits.startswith("0046"):
        national = digits[4:]
    elif digits.startswith("46") and len(digits) == 11:
        national = digits[2:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        return None
    national = national.removeprefix("0")  # "+46 (0)70 ..." is written too
    return f"+46{national}" if _MOBILE.match(national) else None


def previous_working_day(day: date) -> date:
    """The last working day before ``day``."""
    current = day - timedelta(days=1)
    while not is_working_day(current):
        current -= timedelta(days=1)
    return current


@dataclass(frozen=True)
class Window:
    """When a meeting's reminder may be sent: from ``opens`` until before ``closes``."""

    opens: datetime
    closes: datetime


def reminder_window(meeting_start: datetime, send_from: time, min_notice_hours: float) -> Window:
    """From ``send_from`` on the working day before the meeting until the last moment."""
    local = meeting_start.astimezone(STOCKHOLM)
    day_before = previous_working_day(local.date())
    opens = datetime.combine(day_before, send_from, tzinfo=STOCKHOLM)
    return Window(opens, meeting_start - timedelta(hours=min_notice_hours))


def channel_for(mobile: str | None, email: str | None, no_sms: bool, sms_on: bool) -> str | None:
    """SMS to a mobile number (unless the tenant said no, or SMS is off), else email."""
    if mobile and not no_sms and sms_on:
        return SMS
    if email:
        return EMAIL
    return None


#: The keys a person is known by across episodes (as recurrence links them).
PERSONNUMMER_KEY = "personnummer"
TENANCY_KEY = "tenancy"

PersonKey = tuple[str, str]


def person_keys(
    personnummer: str | None, personnummer_valid: bool, tenancy_key: str | None
) -> list[PersonKey]:
    """The keys that find the tenant of an episode again on a later episode.

    A valid personnummer (a tenant who moved and fell behind again), and the tenancy
    (the same contract, also when the number was missing or wrong on a notice).
    """
    keys: list[PersonKey] = []
    if personnummer_valid and personnummer:
        keys.append((PERSONNUMMER_KEY, personnummer))
    if tenancy_key:
        keys.append((TENANCY_KEY, tenancy_key))
    return keys


@dataclass(frozen=True)
class SmsChoiceRow:
    """One stored choice: under which key, whether SMS are refused, and when it was made."""

    key: PersonKey
    no_sms: bool
    decided_at: datetime


def refuses_sms(choices: dict[PersonKey, SmsChoiceRow], keys: list[PersonKey]) -> bool:
    """Whether the person with ``keys`` said "no SMS": the newest choice under any key wins.

    No choice at all: SMS are allowed.
    """
    found = [choices[key] for key in keys if key in choices]
    if not found:
        return False
    return max(found, key=lambda c: (c.decided_at, c.no_sms)).no_sms


def reminder_key(episode_id: int, appointment_id: int, channel: str) -> str:
    """The reminder's idempotency key: one per episode, meeting and channel."""
    return f"reminder:{episode_id}:{appointment_id}:{channel}"


@dataclass(frozen=True)
class Meeting:
    """What a reminder says: who, when, where, and whom to call."""

    advisor_name: str
    organisation: str
    starts_at: datetime
    place: str
    address: str
    phone: str


_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def _when(meeting: Meeting, english: bool) -> str:
    local = meeting.starts_at.astimezone(STOCKHOLM)
    if english:
        day = f"{_WEEKDAYS_EN[local.weekday()]} {local.day} {_MONTHS_EN[local.month - 1]}"
        return f"{day} at {local.hour:02d}:{local.minute:02d}"
    day = f"{WEEKDAYS_SV[local.weekday()]} {local.day} {MONTHS_SV[local.month - 1]}"
    return f"{day} kl. {local.hour:02d}.{local.minute:02d}"


def _where(meeting: Meeting) -> str:
    return ", ".join(part for part in (meeting.place, meeting.address) if part)


def sms_text(meeting: Meeting, language: str = "sv") -> str:
    """The SMS: who is expecting the tenant, when, where, and a phone number."""
    call = meeting.phone
    if language == "en":
        text = (
            f"Hello! A reminder: {meeting.advisor_name} at {meeting.organisation} is expecting "
            f"you on {_when(meeting, True)}. Place: {_where(meeting)}."
        )
        return text + (f" Cannot come? Call {call}." if call else "")
    text = (
        f"Hej! En påminnelse: {meeting.advisor_name} på {meeting.organisation} väntar på dig "
        f"{_when(meeting, False)}. Plats: {_where(meeting)}."
    )
    return text + (f" Kan du inte komma? Ring {call}." if call else "")


def email_subject(meeting: Meeting, language: str = "sv") -> str:
    """A subject anyone may see: the organisation and the day, nothing else."""
    local = meeting.starts_at.astimezone(STOCKHOLM)
    if language == "en":
        day = f"{_WEEKDAYS_EN[local.weekday()]} {local.day} {_MONTHS_EN[local.month - 1]}"
        return f"Reminder: your appointment at {meeting.organisation} on {day}"
    day = f"{WEEKDAYS_SV[local.weekday()]} {local.day} {MONTHS_SV[local.month - 1]}"
    return f"Påminnelse: din tid hos {meeting.organisation} {day}"


def email_text(meeting: Meeting, language: str = "sv") -> str:
    """The reminder email's body: as neutral as the SMS, with a greeting and a signature."""
    call = meeting.phone
    if language == "en":
        lines = [
            "Hello,",
            "",
            f"This is a reminder that {meeting.advisor_name} at {meeting.organisation} is "
            f"expecting you on {_when(meeting, True)}.",
            "",
            f"Place: {_where(meeting)}",
        ]
        if call:
            lines += ["", f"If you cannot come, please call {call} and we will find another time."]
        lines += ["", "Kind regards,", meeting.advisor_name, meeting.organisation]
        return "\n".join(lines) + "\n"
    lines = [
        "Hej!",
        "",
        f"Det här är en påminnelse om att {meeting.advisor_name} på {meeting.organisation} "
        f"väntar på dig {_when(meeting, False)}.",
        "",
        f"Plats: {_where(meeting)}",
    ]
    if call:
        lines += ["", f"Kan du inte komma? Ring {call}, så hittar vi en annan tid."]
    lines += ["", "Vänliga hälsningar", meeting.advisor_name, meeting.organisation]
    return "\n".join(lines) + "\n"


#: Words a reminder never contains (Swedish and English): the debt, the rent, the
#: landlord's steps, money.
UNSAID_WORDS: tuple[str, ...] = (
    "skuld", "hyra", "hyran", "hyres", "betal", "kronofogd", "avhys", "vräk", "uppsägning",
    "socialtjänst", "ekonomiskt bistånd", "kr ", "kronor", "sek",
    "debt", "rent", "arrears", "evict", "payment", "bailiff", "social services",
)  # fmt: skip

_AMOUNT = re.compile(r"\d[\d \u00a0]*(?:,\d{2})?\s*(?:kr|kronor|sek)\b", re.I)


def is_discreet(text: str) -> bool:
    """True when the text names no debt, rent, eviction or amount (what others may read)."""
    lowered = f" {text.lower()} "
    if _AMOUNT.search(text):
        return False
    return not any(re.search(rf"\b{re.escape(word)}", lowered) for word in UNSAID_WORDS)
