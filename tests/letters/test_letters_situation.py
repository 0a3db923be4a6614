"""Letters that say what applies now: never a past date to pay, the eviction when booked,
who can still stop it and whom to call; one sentence on what happens if nothing is done,
an interpreter, phone hours and a configurable help box in every letter."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest
from test_letters_render import make, text_of

from domain.formatting import STOCKHOLM
from domain.letter_situation import letter_situation
from letters.render import HelpLine, LetterTexts, default_texts, render_appointment_letter

EVICTION = datetime(2026, 11, 9, 9, 0, tzinfo=STOCKHOLM)


def test_phase_follows_the_letter_date_the_post_and_the_eviction() -> None:
    deadline = date(2026, 11, 20)  # a Friday
    # Posted Monday 16th, with the tenant Wednesday 18th: the date is still ahead.
    assert letter_situation(date(2026, 11, 16), deadline, None, None, 2).phase == "before"
    # Posted Thursday 19th: written in time, read on Monday 23rd at the earliest.
    assert letter_situation(date(2026, 11, 19), deadline, None, None, 2).phase == "closing"
    assert letter_situation(date(2026, 11, 20), deadline, None, None, 2).phase == "closing"
    assert letter_situation(date(2026, 11, 23), deadline, None, None, 2).phase == "after"
    assert letter_situation(date(2026, 11, 2), None, None, None, 2).phase == "open"
    # A booked eviction ahead: what is true now, whatever the date to pay was.
    booked = letter_situation(date(2026, 11, 2), None, EVICTION, None, 2)
    assert (booked.phase, booked.eviction_ahead) == ("after", True)
    past = letter_situation(date(2026, 11, 10), None, EVICTION, None, 2)
    assert (past.phase, past.eviction_ahead) == ("open", False)


def test_a_notice_is_late_when_no_meeting_before_the_deadline_was_possible() -> None:
    deadline = date(2026, 11, 20)
    # Received Monday 16th: the first meeting a letter can offer is Thursday 19th.
    assert not letter_situation(
        date(2026, 11, 16), deadline, None, date(2026, 11, 16), 2
    ).notice_late
    # Received Tuesday 17th: the first meeting is on the deadline itself.
    assert letter_situation(date(2026, 11, 17), deadline, None, date(2026, 11, 17), 2).notice_late
    assert not letter_situation(date(2026, 11, 17), None, None, date(2026, 11, 17), 2).notice_late


def after_letter(template: str = "appointment", language: str = "sv", **changes):  # noqa: ANN003, ANN201
    """Issue 12's case: written 2 November, the date to pay was 26 October, eviction 9 November."""
    base = make(template, language, version=2)
    values = {
        "letter_date": date(2026, 11, 2),
        "deadline": date(2026, 10, 26),
        "eviction_at": EVICTION,
        "landlord": "Exempelbyhem AB",
        "notice_received": date(2026, 10, 5),
        "starts_at": datetime(2026, 11, 5, 10, 0, tzinfo=STOCKHOLM),
        "ends_at": datetime(2026, 11, 5, 10, 45, tzinfo=STOCKHOLM),
    }
    return replace(base, **{**values, **changes})


AFTER_SV = (
    "Det går fortfarande att få hjälp",
    "Tiden för att betala och därmed ha rätt att bo kvar har gått ut.",
    "Kronofogden har bokat avhysningen till måndag 9 november 2026 kl. 09.00.",
    "Om ingenting görs måste du och alla som bor med dig flytta ut den dagen.",
    "Om skulden betalas, eller om du kommer överens med hyresvärden om en "
    "avbetalningsplan, kan hyresvärden låta dig bo kvar och stoppa avhysningen",
    "Ring din hyresvärd, Exempelbyhem AB, så snart du kan.",
    "ring Kronofogden, 0771-73 73 00",
    "Boenderådgivaren kan hjälpa dig att kontakta hyresvärden.",
    "Socialtjänsten beslutar om ekonomiskt bistånd",
    "Är det bråttom? Ring oss på 08-123 456 00.",
    "12 345,50 kr",
)
AFTER_EN = (
    "You can still get help",
    "The time to pay and so keep the right to stay in your home has run out.",
    "The Enforcement Authority has booked the eviction for Monday 9 November 2026 at 09:00.",
    "If nothing is done, you and everyone who lives with you will have to move out on that day.",
    "If the debt is paid, or if you agree on a payment plan with the landlord, the landlord "
    "can let you stay and stop the eviction",
    "Call your landlord, Exempelbyhem AB, as soon as you can.",
    "call Kronofogden on 0771-73 73 00",
    "The housing advisor can help you contact the landlord.",
    "social services decide on financial assistance",
    "Is it urgent? Call us on 08-123 456 00.",
    "SEK 12,345.50",
)


@pytest.mark.parametrize("template", ["appointment", "cancellation"])
@pytest.mark.parametrize("language", ["sv", "en"])
def test_after_the_deadline_the_letter_says_what_is_true_now(template: str, language: str) -> None:
    text = text_of(render_appointment_letter(after_letter(template, language)))
    for part in AFTER_SV if language == "sv" else AFTER_EN:
        assert part in text, part
    # The past date is never stated, least of all as the date to pay.
    assert "26 oktober" not in text and "26 October" not in text
    assert "senast" not in text and "at the latest" not in text
    assert "Betala om du kan" not in text and "Pay if you can" not in text


def test_after_the_deadline_without_an_eviction_or_with_an_estimate() -> None:
    text = text_of(render_appointment_letter(after_letter(eviction_at=None)))
    assert "har gått ut" in text and "Kronofogden har bokat" not in text
    assert "Om ingenting görs kan hyresvärden ansöka hos Kronofogden om avhysning" in text
    guess = text_of(render_appointment_letter(after_letter(deadline_estimated=True)))
    assert "har troligen gått ut" in guess and "26 oktober" not in guess
    # A payment order with an eviction booked and no termination notice: no date invented.
    order = text_of(render_appointment_letter(after_letter(deadline=None)))
    assert "har gått ut" not in order and "måndag 9 november 2026 kl. 09.00" in order


@pytest.mark.parametrize("language", ["sv", "en"])
def test_a_first_letter_after_a_late_notice_says_the_notice_came_late(language: str) -> None:
    late = after_letter(
        language=language, version=1, eviction_at=None, notice_received=date(2026, 10, 30)
    )
    text = text_of(render_appointment_letter(late))
    if language == "sv":
        assert "Meddelandet från din hyresvärd kom till oss för sent" in text
    else:
        assert "Your landlord’s notice reached us too late" in text  # a typographic apostrophe
    assert "hann inte" not in text and "ingen ledig tid" not in text
    # A rebooked letter does not repeat it; a notice in time never says it.
    again = text_of(render_appointment_letter(replace(late, version=2)))
    assert "kom till oss för sent" not in again and "reached us too late" not in again
    in_time = text_of(render_appointment_letter(after_letter(version=1, eviction_at=None)))
    assert "kom till oss för sent" not in in_time


def test_a_meeting_after_the_deadline_says_why() -> None:
    """Before the deadline with the meeting after it: a late notice, or no free time."""
    full = replace(make(before_deadline=False), notice_received=date(2026, 10, 12))
    assert "Vi har ingen ledig tid före fredag 20 november 2026" in text_of(
        render_appointment_letter(full)
    )
    late = replace(full, notice_received=date(2026, 11, 18), letter_date=date(2026, 11, 18))
    text = text_of(render_appointment_letter(late))
    assert "kom till oss så sent att vi inte kan träffa dig före fredag 20 november" in text
    assert "ingen ledig tid" not in text


@pytest.mark.parametrize("language", ["sv", "en"])
def test_a_letter_the_post_may_bring_late_says_what_helps_then(language: str) -> None:
    closing = replace(make(language=language), letter_date=date(2026, 11, 19))
    text = text_of(render_appointment_letter(closing))
    if language == "sv":
        assert "senast fredag 20 november 2026" in text  # true when written
        assert "Brevet kan komma fram först efter den dagen." in text
    else:
        assert "by Friday 20 November 2026 at the latest" in text
        assert "This letter may reach you only after that day." in text


CONSEQUENCE = {
    "sv": "Om ingenting görs kan hyresvärden ansöka hos Kronofogden om avhysning, och då "
    "kan du och alla som bor med dig behöva flytta.",
    "en": "If nothing is done, the landlord may apply to the Swedish Enforcement Authority "
    "(Kronofogden) for an eviction, and you and everyone who lives with you may have to move.",
}
INTERPRETER = {
    "sv": "Behöver du tolk? Säg det när du ringer oss, så ordnar vi en tolk. Det kostar ingenting.",
    "en": "Do you need an interpreter? Tell us when you call, and we will arrange one.",
}
HOURS = {"sv": "08-123 456 78 (måndag–fredag kl. 9–12)", "en": "08-123 456 78 (Monday–Friday 9–12)"}


@pytest.mark.parametrize("template", ["appointment", "cancellation"])
@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("deadline", [date(2026, 11, 20), None])
def test_every_letter_says_what_happens_offers_an_interpreter_and_phone_hours(
    template: str, language: str, deadline: date | None
) -> None:
    text = text_of(render_appointment_letter(replace(make(template, language), deadline=deadline)))
    assert CONSEQUENCE[language] in text
    assert INTERPRETER[language] in text
    assert HOURS[language] in text


def test_the_help_box_names_each_language_in_its_own_script() -> None:
    text = text_of(render_appointment_letter(make()))
    for name in ("العربية", "Soomaali", "ትግርኛ", "فارسی", "English", "Suomi", "Українська"):
        assert name in text, name
    assert "ብቋንቋኹም" in text  # Ethiopic text is set in a font that has it (not dropped)
    english = text_of(render_appointment_letter(make(language="en")))
    assert "English:" not in english and "Suomi" in english  # no line for the letter's own


def test_the_help_box_and_phone_hours_come_from_the_configuration() -> None:
    texts = replace(
        default_texts(),
        phone_hours={"sv": "vardagar 8–10"},
        urgent_phone="08-999 99 99",
        help_title={"sv": "Hjälp på ditt språk"},
        help=(HelpLine("pl", "Polski", "Ważny list. Zadzwoń do nas:"),),
    )
    assert isinstance(texts, LetterTexts)
    text = text_of(render_appointment_letter(replace(after_letter(), texts=texts)))
    assert "Hjälp på ditt språk" in text and "Polski: Ważny list. Zadzwoń do nas:" in text
    assert "Soomaali" not in text and "(vardagar 8–10)" in text
    assert "Ring oss på 08-999 99 99" in text


@pytest.mark.parametrize(
    ("language", "with_day_only", "invented"),
    [
        ("sv", "avhysningen till måndag 9 november 2026.", "kl. 00.00"),
        ("en", "Monday 9 November 2026", "00:00"),
    ],
)
def test_an_eviction_reported_without_a_time_gets_none_invented(
    language: str, with_day_only: str, invented: str
) -> None:
    """Companies often give only the day; ingest stores it at local midnight."""
    midnight = datetime(2026, 11, 9, 0, 0, tzinfo=STOCKHOLM)
    text = text_of(render_appointment_letter(after_letter(language=language, eviction_at=midnight)))
    assert with_day_only in text
    assert invented not in text
