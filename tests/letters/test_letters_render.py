"""Every letter template in every language, read back from the PDF with pypdf."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from domain.formatting import STOCKHOLM
from letters.emails import render_email
from letters.render import (
    AdvisorContact,
    LetterInput,
    Sender,
    en_amount,
    letter_language,
    render_appointment_letter,
    render_letters,
)

SENDER = Sender(
    "Exempelby kommun",
    "Individ- och familjeomsorgen",
    "Storgatan 1, 123 45 Exempelby",
    "08-123 456 00",
    "exempelby.se/boenderadgivning",
)
ADVISOR = AdvisorContact(
    "Anna Lindqvist",
    "08-123 456 78",
    "anna.lindqvist@exempelby.se",
    "Boenderådgivningen, Medborgarhuset",
    "Storgatan 1, plan 2",
)
MM = 72 / 25.4  # PDF points per millimetre


def make(
    template: str = "appointment",
    language: str | None = "sv",
    *,
    version: int = 1,
    before_deadline: bool = True,
    debt: Decimal | None = Decimal("12345.50"),
) -> LetterInput:
    return LetterInput(
        template=template,  # type: ignore[arg-type]
        language=language or "",
        reference="4711",
        letter_date=date(2026, 11, 2),
        version=version,
        recipient_lines=("Åsa Öberg", "Ringvägen 12 lgh 1102", "123 45 Exempelby"),
        sender=SENDER,
        advisor=ADVISOR,
        starts_at=datetime(2026, 11, 9, 9, 0, tzinfo=STOCKHOLM),
        ends_at=datetime(2026, 11, 9, 9, 45, tzinfo=STOCKHOLM),
        deadline=date(2026, 11, 20),
        debt=debt,
        before_deadline=before_deadline,
    )


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


SWEDISH_FACTS = (
    "Åsa Öberg",
    "Ringvägen 12 lgh 1102",
    "123 45 Exempelby",
    "måndag 9 november 2026 kl. 09.00–09.45",
    "fredag 20 november 2026",
    "12 345,50 kr",
    "Anna Lindqvist",
    "08-123 456 78",
    "Ärende: 4711",
)
ENGLISH_FACTS = (
    "Åsa Öberg",
    "Monday 9 November 2026 at 09:00–09:45",
    "Friday 20 November 2026",
    "SEK 12,345.50",
    "Anna Lindqvist",
    "Reference: 4711",
)


@pytest.mark.parametrize("language", ["sv", "ar", "so", "fa", "fi", None])
def test_swedish_appointment_letter_has_every_required_part(language: str | None) -> None:
    text = text_of(render_appointment_letter(make(language=language)))
    for fact in SWEDISH_FACTS:
        assert fact in text, fact
    for part in (
        "Välkommen till ett möte om din hyresskuld",
        "måste enligt lag meddela socialtjänsten",  # why we write
        "gratis",
        "frivilligt",
        "Vill du byta tid?",
        "Ta med dig till mötet",
        "Budget- och skuldrådgivning",
        "Viktigt brev – ring oss om du behöver hjälp på ditt språk",
        "Tämä on tärkeä kirje. Soita meille",  # Finnish
        "Warqad muhiim ah",  # Somali
    ):
        assert part in text, part


def test_english_appointment_letter_is_complete() -> None:
    text = text_of(render_appointment_letter(make(language="en")))
    for fact in ENGLISH_FACTS:
        assert fact in text, fact
    for part in (
        "You are welcome to a meeting about your rent arrears",
        "By law, the landlord must inform the social services",
        "free of charge",
        "voluntary",
        "Do you want another time?",
        "Please bring to the meeting",
        "Budget and debt advice",
        "Important letter – call us if you need help in your language",
    ):
        assert part in text, part
    assert "Välkommen" not in text


def test_arabic_and_persian_run_right_to_left_with_words_intact() -> None:
    reader = PdfReader(io.BytesIO(render_appointment_letter(make())))
    lines = reader.pages[0].extract_text().splitlines()
    arabic = next(line for line in lines if "رسالة" in line)
    persian = next(line for line in lines if "نامه" in line)
    # Text is extracted in visual order (left to right on the page): in a right-to-left
    # line the sentence's first word comes last.
    assert arabic.index("مهمة") < arabic.index("رسالة") < arabic.index("هذه")
    assert persian.index("مهمی") < persian.index("نامه") < persian.index("این")
    # The phone number stays left to right, at the (left) end of each sentence (it may
    # wrap to the sentence's next line as a whole).
    for word in ("بلغتك", "بگیرید"):
        at = next(i for i, line in enumerate(lines) if word in line)
        assert "08-123 456 78" in " ".join(lines[at : at + 2]), word


def test_new_version_late_booking_and_unknown_debt_are_said_plainly() -> None:
    text = text_of(render_appointment_letter(make(version=2, before_deadline=False, debt=None)))
    assert "Ny tid för ditt möte om hyresskulden" in text
    assert "ersätter tiden i vårt tidigare brev" in text
    assert "Vi har ingen ledig tid före fredag 20 november 2026" in text
    assert "Fråga din hyresvärd hur stor skulden är" in text
    english = text_of(render_appointment_letter(make(language="en", before_deadline=False)))
    assert "We have no free time before Friday 20 November 2026" in english


@pytest.mark.parametrize(
    ("language", "title", "amount"),
    [
        ("sv", "Din tid hos boenderådgivaren är avbokad", "12 345,50 kr"),
        ("en", "Your meeting with the housing advisor is cancelled", "SEK 12,345.50"),
    ],
)
def test_cancellation_letters(language: str, title: str, amount: str) -> None:
    text = text_of(render_appointment_letter(make("cancellation", language)))
    assert title in text and amount in text and "Åsa Öberg" in text


def test_address_sits_in_the_c5_window() -> None:
    reader = PdfReader(io.BytesIO(render_appointment_letter(make())))
    page = reader.pages[0]
    height = float(page.mediabox.height)
    assert round(float(page.mediabox.width) / MM) == 210 and round(height / MM) == 297
    found: dict[str, tuple[float, float]] = {}

    def visit(text, cm, tm, font_dict, font_size) -> None:  # noqa: ANN001
        for line in ("Åsa Öberg", "123 45 Exempelby"):
            if line in text and line not in found:
                x = tm[4] * cm[0] + cm[4]
                y = tm[5] * cm[3] + cm[5]
                found[line] = (x / MM, (height - y) / MM)

    page.extract_text(visitor_text=visit)
    for left, top in found.values():
        assert 20 <= left <= 30, left  # window from 20 mm, 85 mm wide
        assert 45 <= top <= 90, top  # window 45–90 mm from the top of the sheet
    assert len(found) == 2


def test_batch_rendering_splits_into_one_pdf_per_letter_in_order() -> None:
    letters = [make(language=lang) for lang in ("sv", "en", "fi")] + [make("cancellation")]
    pdfs = render_letters(letters, batch_size=3)
    assert len(pdfs) == 4
    titles = [text_of(pdf) for pdf in pdfs]
    assert "Välkommen" in titles[0] and "You are welcome" in titles[1]
    assert "Välkommen" in titles[2] and "avbokad" in titles[3]
    single = text_of(render_appointment_letter(letters[1]))
    assert titles[1] == single


def test_letter_language_and_english_amounts() -> None:
    assert letter_language("EN") == "en" and letter_language("ar") == "sv"
    assert letter_language(None) == "sv"
    assert en_amount(Decimal("12345")) == "SEK 12,345"


def _email_context(letter: LetterInput, **changes: object) -> dict[str, object]:
    from letters.compose import email_context
    from models.config import Settings

    return {**email_context(Settings(), letter), **changes}


def test_email_templates_render_in_both_languages() -> None:
    subject, body = render_email("appointment", "sv", **_email_context(make()))
    assert subject == "Du har en bokad tid hos Exempelby kommun"  # nothing about a debt
    assert "måndag 9 november 2026 kl. 09.00–09.45" in body and "4711" in body
    subject, _ = render_email(
        "appointment", "en", **_email_context(make("appointment", "en"), version=2)
    )
    assert subject == "You have a new appointment time with Exempelby kommun"
    subject, body = render_email("appointment_cancelled", "fi", **_email_context(make()))
    assert subject == "Din tid hos Exempelby kommun är avbokad"  # Swedish fallback


@pytest.mark.parametrize("language", ["sv", "en"])
def test_email_never_calls_an_estimated_date_the_last_day(language: str) -> None:
    from dataclasses import replace

    letter = replace(make(language=language), deadline_estimated=True)
    _, body = render_email("appointment", language, **_email_context(letter))
    assert "20 november 2026" not in body and "20 November 2026" not in body
    assert ("hur länge du har på dig att betala" in body) or ("how long you have" in body)


def test_fast_split_copies_exactly_the_pages_pypdf_would() -> None:
    from pypdf import PdfWriter

    from letters.pdfsplit import letter_pages, split_pages
    from letters.render import _compile, letter_context

    letters = [make(language=lang) for lang in ("sv", "en")] + [make("cancellation", "en")]
    batch = _compile([letter_context(letter) for letter in letters])
    reader = PdfReader(io.BytesIO(batch))
    pages, starts = letter_pages(batch)
    assert starts == [0, 1, 2] and len(pages) == len(reader.pages) == 3
    ranges = [(0, 1), (1, 3), (0, 3)]
    fast = split_pages(batch, ranges)
    for (first, end), part in zip(ranges, fast, strict=True):
        writer = PdfWriter()
        for index in range(first, end):
            writer.add_page(reader.pages[index])
        buffer = io.BytesIO()
        writer.write(buffer)
        expected = PdfReader(io.BytesIO(buffer.getvalue()))
        got = PdfReader(io.BytesIO(part), strict=True)
        assert [p.extract_text() for p in got.pages] == [p.extract_text() for p in expected.pages]
        assert [p.mediabox for p in got.pages] == [p.mediabox for p in expected.pages]
        assert len(part) < 1.3 * len(buffer.getvalue())


def test_fast_split_refuses_pdfs_it_does_not_understand() -> None:
    from pypdf import PdfWriter

    from letters.pdfsplit import Unsupported, letter_pages

    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(Unsupported):
        letter_pages(buffer.getvalue())  # no outline: not a batch of letters
    with pytest.raises(Unsupported):
        letter_pages(b"%PDF-1.7\nnot really\n%%EOF\n")


@pytest.mark.parametrize(
    ("template", "language"),
    [("appointment", "sv"), ("appointment", "en"), ("cancellation", "sv"), ("cancellation", "en")],
)
def test_unknown_deadline_is_not_invented(template: str, language: str) -> None:
    from dataclasses import replace

    text = text_of(render_appointment_letter(replace(make(template, language), deadline=None)))
    assert "kan – senast" not in text and "can – by" not in text and "None" not in text
    # Without a termination notice there is no 12:44 right to keep the home by paying:
    # the letter must not promise one.
    assert "rätt att bo kvar" not in text and "right to stay" not in text
    assert ("Fråga din hyresvärd vilket datum" in text) or ("Ask your landlord which date" in text)
    assert ("12 345,50 kr" in text) or ("SEK 12,345.50" in text)


ESTIMATED_WORDING = {
    "sv": (
        "Du har rätt att bo kvar om hela skulden är betald inom tre veckor från den dag du "
        "fick uppsägningen.",
        "Fråga din hyresvärd vilket datum som gäller för dig.",
        "Vi uppskattar att det är omkring fredag 20 november 2026, men det kan vara tidigare.",
        "Betala om du kan – så snart som möjligt",
    ),
    "en": (
        "You have the right to stay in your home if the whole debt is paid within three weeks "
        "of the day you received the termination notice.",
        "Ask your landlord which date applies to you.",
        "We estimate that it is around Friday 20 November 2026, but it may be earlier.",
        "Pay if you can – as soon as possible",
    ),
}


@pytest.mark.parametrize(
    ("template", "language"),
    [("appointment", "sv"), ("appointment", "en"), ("cancellation", "sv"), ("cancellation", "en")],
)
def test_estimated_deadline_is_never_stated_as_the_legal_date(template: str, language: str) -> None:
    """No service date: the date is our estimate, so the letter explains the three weeks,
    sends the tenant to the landlord for the real date and calls ours an estimate."""
    from dataclasses import replace

    letter = replace(make(template, language), deadline_estimated=True)
    text = text_of(render_appointment_letter(letter))
    for part in ESTIMATED_WORDING[language]:
        assert part in text, part
    assert "senast" not in text and "at the latest" not in text
    assert "har du rätt" not in text and "by Friday 20 November" not in text
    assert ("12 345,50 kr" in text) or ("SEK 12,345.50" in text)


@pytest.mark.parametrize("language", ["sv", "en"])
def test_served_deadline_is_still_stated_as_the_last_day(language: str) -> None:
    """With a service date the date is the law's: the letter says it plainly, as before."""
    text = text_of(render_appointment_letter(make(language=language)))
    if language == "sv":
        assert "Om hela skulden är betald senast fredag 20 november 2026 har du rätt" in text
    else:
        assert "If the whole debt is paid by Friday 20 November 2026 at the latest" in text
    assert "omkring" not in text and "estimate" not in text


def test_estimated_deadline_late_booking_and_unknown_debt() -> None:
    from dataclasses import replace

    letter = replace(
        make(before_deadline=False, debt=None), deadline_estimated=True, payment_days=14
    )
    text = text_of(render_appointment_letter(letter))
    assert "inom två veckor från den dag du fick uppsägningen" in text  # from the config
    assert "Vi har ingen ledig tid före omkring fredag 20 november 2026" in text
    assert "Fråga också hur stor skulden är" in text


@pytest.mark.parametrize(
    ("language", "wait", "late", "notice_late"),
    [
        (
            "sv",
            "Vänta inte till mötet",
            "Vi har ingen ledig tid före den dagen.",
            "kom till oss så sent",
        ),
        (
            "en",
            "do not wait for the meeting",
            "We have no free time before that day.",
            "reached us so late",
        ),
    ],
)
def test_email_says_what_the_letter_says_about_a_meeting_after_the_deadline(
    language: str, wait: str, late: str, notice_late: str
) -> None:
    """The letter's paragraph on a meeting after the last day to pay is in the email too."""
    from dataclasses import replace

    in_time = make(language=language)
    _, body = render_email("appointment", language, **_email_context(in_time))
    assert wait in body and late not in body
    full = replace(in_time, before_deadline=False, notice_received=date(2026, 10, 12))
    _, body = render_email("appointment", language, **_email_context(full))
    assert wait in body and late in body
    late_notice = replace(full, notice_received=date(2026, 11, 18), letter_date=date(2026, 11, 18))
    _, body = render_email("appointment", language, **_email_context(late_notice))
    assert notice_late in body and late not in body
    # A cancellation books no meeting: nothing about waiting for one.
    _, body = render_email("appointment_cancelled", language, **_email_context(full))
    assert wait not in body
