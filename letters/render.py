"""Render letters to A4 PDF with Typst, using only the fonts shipped in ``letters/fonts``.

The Typst templates in ``letters/templates`` hold the wording; this module turns the
facts of one letter (who, when, where, how much, by when) into the already formatted
strings a template prints, in the letter's language. Many letters are rendered in one
Typst compile and split into one PDF per letter (:mod:`letters.pdfsplit`), which is
several times faster than compiling each letter on its own. Every template has exactly one level-1
heading (the letter's title); the PDF outline built from it marks where letters start.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import typst
from pypdf import PdfReader, PdfWriter

from domain.formatting import STOCKHOLM, has_clock_time, sv_amount, sv_weekday_date, sv_weekday_when
from domain.letter_situation import letter_situation
from letters.pdfsplit import Unsupported, split_letters
from models.config import LettersConfig
from models.errors import KvarboendeError

HERE = Path(__file__).parent
FONT_DIR = HERE / "fonts"
TEMPLATE_DIR = HERE / "templates"
ENTRY = TEMPLATE_DIR / "letters.typ"

#: Languages with a complete letter; every other language gets Swedish + the help box.
LETTER_LANGUAGES = ("sv", "en")
LetterTemplate = Literal["appointment", "cancellation"]

EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

LABELS = {
    "sv": {"date": "Datum", "reference": "Ärende", "regards": "Med vänliga hälsningar"},
    "en": {"date": "Date", "reference": "Reference", "regards": "Kind regards"},
}


@dataclass(frozen=True)
class HelpLine:
    """One language of the help box, named in its own script."""

    lang: str
    name: str
    text: str
    rtl: bool = False


@dataclass(frozen=True)
class LetterTexts:
    """The configured parts of every letter (``[letters]`` in config.toml)."""

    phone_hours: dict[str, str]
    urgent_phone: str
    help_title: dict[str, str]
    help: tuple[HelpLine, ...]

    @classmethod
    def from_config(cls, config: LettersConfig, fallback_phone: str = "") -> LetterTexts:
        return cls(
            phone_hours=dict(config.phone_hours),
            urgent_phone=config.urgent_phone or fallback_phone,
            help_title=dict(config.help_title),
            help=tuple(HelpLine(h.lang, h.name, h.text, h.rtl) for h in config.help),
        )


def default_texts() -> LetterTexts:
    return LetterTexts.from_config(LettersConfig())


class RenderError(KvarboendeError):
    """Typst could not render a letter (a template or font problem, not user data)."""


@dataclass(frozen=True)
class Sender:
    municipality: str
    unit: str
    address: str
    phone: str
    website: str


@dataclass(frozen=True)
class AdvisorContact:
    name: str
    phone: str
    email: str
    location: str
    address: str


@dataclass(frozen=True)
class LetterInput:
    """The facts of one appointment or cancellation letter."""

    template: LetterTemplate
    language: str
    reference: str
    letter_date: date
    version: int
    recipient_lines: tuple[str, ...]
    sender: Sender
    advisor: AdvisorContact
    starts_at: datetime
    ends_at: datetime
    deadline: date | None
    debt: Decimal | None
    before_deadline: bool = True
    #: The deadline is our estimate (no service date known), not the legal last day.
    deadline_estimated: bool = False
    #: Days the law gives to pay after service (Jordabalken 12:44; ``booking.payment_days``).
    payment_days: int = 21
    #: Kronofogden's booked eviction (aware), when the landlord reported one.
    eviction_at: datetime | None = None
    #: The landlord's name, for "call your landlord".
    landlord: str | None = None
    #: The day the landlord's notice reached us (the episode was opened).
    notice_received: date | None = None
    #: Working days the post needs (``booking.postal_days``).
    postal_days: int = 2
    texts: LetterTexts = field(default_factory=default_texts)


def letter_language(known: str | None) -> str:
    """The language a letter is written in: the tenant's if we have a full letter in it."""
    code = (known or "").strip().lower()[:2]
    return code if code in LETTER_LANGUAGES else "sv"


def en_date(value: date) -> str:
    """``Monday 2 November 2026``."""
    return f"{EN_WEEKDAYS[value.weekday()]} {value.day} {EN_MONTHS[value.month - 1]} {value.year}"


def en_amount(value: Decimal) -> str:
    """``SEK 12,345`` or ``SEK 12,345.50``."""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    text = f"{amount:,.2f}"
    return "SEK " + (text[:-3] if text.endswith(".00") else text)


SV_WEEKS = {1: "en vecka", 2: "två veckor", 3: "tre veckor", 4: "fyra veckor"}
EN_WEEKS = {1: "one week", 2: "two weeks", 3: "three weeks", 4: "four weeks"}


def payment_period(days: int, lang: str) -> str:
    """The time to pay in words: ``tre veckor`` / ``three weeks``, else ``N dagar`` / ``N days``."""
    weeks = SV_WEEKS if lang == "sv" else EN_WEEKS
    if days % 7 == 0 and days // 7 in weeks:
        return weeks[days // 7]
    return f"{days} dagar" if lang == "sv" else f"{days} days"


def _clock(moment: datetime, sep: str) -> str:
    local = moment.astimezone(STOCKHOLM)
    return f"{local.hour:02d}{sep}{local.minute:02d}"


def letter_context(letter: LetterInput) -> dict[str, Any]:
    """Everything the Typst template prints, formatted for the letter's language."""
    lang = letter_language(letter.language)
    start_day = letter.starts_at.astimezone(STOCKHOLM).date()
    if lang == "en":
        day = en_date(start_day)
        time = f"at {_clock(letter.starts_at, ':')}–{_clock(letter.ends_at, ':')}"
        deadline = en_date(letter.deadline) if letter.deadline else None
        debt = en_amount(letter.debt) if letter.debt is not None else None
        letter_date = en_date(letter.letter_date).split(" ", 1)[1]
        title = "Housing advisor"
    else:
        day = sv_weekday_date(start_day)
        time = f"kl. {_clock(letter.starts_at, '.')}–{_clock(letter.ends_at, '.')}"
        deadline = sv_weekday_date(letter.deadline) if letter.deadline else None
        debt = sv_amount(letter.debt) if letter.debt is not None else None
        letter_date = sv_weekday_date(letter.letter_date).split(" ", 1)[1]
        title = "Boenderådgivare"
    sender = letter.sender
    situation = letter_situation(
        letter.letter_date,
        letter.deadline,
        letter.eviction_at,
        letter.notice_received,
        letter.postal_days,
    )
    eviction = None
    if situation.eviction_ahead and letter.eviction_at is not None:
        moment = letter.eviction_at.astimezone(STOCKHOLM)
        if lang != "en":
            eviction = sv_weekday_when(moment)
        elif has_clock_time(moment):
            eviction = f"{en_date(moment.date())} at {_clock(moment, ':')}"
        else:
            eviction = en_date(moment.date())
    texts = letter.texts
    return {
        "template": f"{letter.template}-{lang}",
        "lang": lang,
        "version": letter.version,
        "reference": letter.reference,
        "letter_date": letter_date,
        "address_lines": [line for line in letter.recipient_lines if line],
        "sender": {
            "municipality": sender.municipality,
            "unit": sender.unit,
            "phone": sender.phone,
            "website": sender.website,
            "return_line": ", ".join(p for p in (sender.municipality, sender.address) if p),
        },
        "advisor": {
            "name": letter.advisor.name,
            "title": title,
            "phone": letter.advisor.phone,
            "email": letter.advisor.email,
        },
        "meeting": {
            "day": day,
            "time": time,
            "location": letter.advisor.location,
            "address": letter.advisor.address,
        },
        "deadline": deadline,
        # An estimated date is never printed as the legal last day (see the templates).
        "deadline_estimated": bool(letter.deadline_estimated and deadline is not None),
        "payment_period": payment_period(letter.payment_days, lang),
        "debt": debt,
        "before_deadline": letter.before_deadline,
        "labels": LABELS[lang],
        "phase": situation.phase,
        "eviction": eviction,
        "notice_late": situation.notice_late,
        "landlord": letter.landlord,
        "phone_hours": texts.phone_hours.get(lang) or texts.phone_hours.get("sv", ""),
        "urgent_phone": texts.urgent_phone or sender.phone,
        "help": {
            "title": texts.help_title.get(lang) or texts.help_title.get("sv", ""),
            "phone": letter.advisor.phone or sender.phone,
            # The letter's own language needs no line of its own.
            "items": [
                {"lang": h.lang, "name": h.name, "text": h.text, "rtl": h.rtl}
                for h in texts.help
                if h.lang != lang
            ],
        },
    }


@lru_cache(maxsize=1)
def _compiler() -> typst.Compiler:
    # One compiler per process keeps the fonts and templates parsed between letters.
    return typst.Compiler(
        str(ENTRY),
        root=str(TEMPLATE_DIR),
        font_paths=[str(FONT_DIR)],
        ignore_system_fonts=True,
    )


_COMPILE_LOCK = threading.Lock()


def one_pdf(compiled: bytes | list[bytes] | None) -> bytes:
    """The one PDF a Typst compile to ``format="pdf"`` returns (typed as bytes, pages or None)."""
    if not isinstance(compiled, bytes):
        raise RenderError("Typst returned no PDF document")
    return compiled


def _compile(contexts: Sequence[dict[str, Any]]) -> bytes:
    try:
        with _COMPILE_LOCK:  # one shared compiler: one compile at a time per process
            return one_pdf(
                _compiler().compile(
                    format="pdf",
                    sys_inputs={"data": json.dumps(list(contexts), ensure_ascii=False)},
                )
            )
    except typst.TypstError as exc:
        raise RenderError(
            f"Typst could not render the letter: {str(exc).splitlines()[0]}"
        ) from None


def _split(pdf: bytes, expected: int) -> list[bytes]:
    """One PDF per letter: each letter's single level-1 heading marks its first page."""
    try:
        parts = split_letters(pdf)
    except Unsupported:
        parts = _split_with_pypdf(pdf)
    if len(parts) != expected:
        raise RenderError(f"expected {expected} letters in the batch, found {len(parts)}")
    return parts


def _split_with_pypdf(pdf: bytes) -> list[bytes]:
    """The general, slower way, for PDFs the byte-copying splitter does not handle."""
    reader = PdfReader(io.BytesIO(pdf))
    numbers = [
        reader.get_destination_page_number(entry)
        for entry in reader.outline
        if not isinstance(entry, list)
    ]
    starts = [n for n in numbers if n is not None]
    if not starts or starts[0] != 0:
        return []
    bounds = [*starts, len(reader.pages)]
    parts: list[bytes] = []
    for begin, end in zip(bounds, bounds[1:], strict=False):
        writer = PdfWriter()
        for index in range(begin, end):
            writer.add_page(reader.pages[index])
        buffer = io.BytesIO()
        writer.write(buffer)
        parts.append(buffer.getvalue())
    return parts


def render_letters(letters: Sequence[LetterInput], batch_size: int = 100) -> list[bytes]:
    """Render many letters, one PDF (bytes) per letter, in the given order."""
    result: list[bytes] = []
    for begin in range(0, len(letters), batch_size):
        chunk = [letter_context(letter) for letter in letters[begin : begin + batch_size]]
        if len(chunk) == 1:
            result.append(_compile(chunk))
        else:
            result.extend(_split(_compile(chunk), len(chunk)))
    return result


def render_appointment_letter(letter: LetterInput) -> bytes:
    """Render one appointment (or cancellation) letter to an A4 PDF."""
    return _compile([letter_context(letter)])
