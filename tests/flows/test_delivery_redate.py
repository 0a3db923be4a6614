"""A tenant letter never goes out on a later day than the date it carries.

A letter queued on a Friday evening (a rebooking in the portal, after the last delivery
run) goes on Monday: it is rendered again as a new version dated Monday, so what it says
about paying is true on Monday, and the Friday letter is superseded unsent.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from booking_helpers import add_episode
from pypdf import PdfReader
from sqlalchemy import select, update

from flows.stages.booking import book_appointments
from flows.stages.delivery import deliver_outbox
from flows.stages.letters import create_letters
from models.db import session_scope
from models.tables import Letter

FRIDAY = date(2026, 11, 6)  # the last day to pay
MONDAY = date(2026, 11, 9)


@pytest.fixture
def quick(settings):  # noqa: ANN001, ANN201
    settings.smtp.backoff_seconds = 0.05
    settings.smtp.rate_per_second = 1000
    settings.letters.post_when_email_from_landlord = False
    return settings


def _letters(engine) -> list[Letter]:  # noqa: ANN001
    with session_scope(engine) as session:
        rows = list(session.scalars(select(Letter).order_by(Letter.id)))
        session.expunge_all()
        return rows


def _text(pdf: bytes | Path) -> str:
    source = io.BytesIO(pdf) if isinstance(pdf, bytes) else pdf
    return " ".join(" ".join(p.extract_text() for p in PdfReader(source).pages).split())


def _friday_letter(engine, settings, email: str | None = "a@example.se") -> int:  # noqa: ANN001
    """A letter dated Friday, the last day to pay, that no delivery run sent that day."""
    episode = add_episode(engine, deadline=FRIDAY, email=email)
    book_appointments(engine, settings, FRIDAY)
    create_letters(engine, settings, FRIDAY)
    return episode


def _sent_after_their_date(engine, settings) -> int:  # noqa: ANN001
    from services.reach import measure_reach

    with session_scope(engine) as session:
        return measure_reach(session, settings, MONDAY).sent_after_date


def test_a_friday_letter_goes_out_on_monday_dated_monday_with_the_after_deadline_text(
    db_engine, quick, smtp_server
) -> None:  # noqa: ANN001
    quick.smtp.port = smtp_server.port
    _friday_letter(db_engine, quick)
    (friday,) = _letters(db_engine)
    # Written on Friday the letter rightly names Friday as the last day to pay.
    assert "senast fredag 6 november 2026" in _text(Path(friday.pdf_path or ""))

    counts = deliver_outbox(db_engine, quick, MONDAY)
    assert counts["redated"] == 1 and counts["sent_email"] == 1 and counts["rebooked"] == 0
    old, new = _letters(db_engine)
    assert old.status == "superseded" and old.sent_at is None and old.message_id is None
    assert "not sent on its date" in (old.last_error or "")
    assert (new.version, new.created_on, new.status) == (2, MONDAY, "sent")
    assert new.appointment_id == old.appointment_id  # the same meeting, only dated again
    (message,) = smtp_server.messages
    assert message["Message-ID"] == new.message_id
    pdf = next(p for p in message.iter_attachments() if p.get_content_type() == "application/pdf")
    text = _text(pdf.get_content())
    assert "har gått ut" in text and "senast fredag 6 november" not in text
    assert "Datum: 9 november 2026" in text

    again = deliver_outbox(db_engine, quick, MONDAY)
    assert again["redated"] == 0 and again["sent_email"] == 0
    assert len(_letters(db_engine)) == 2 and len(smtp_server.messages) == 1
    assert _sent_after_their_date(db_engine, quick) == 0


def test_a_crash_while_dating_again_leaves_one_new_version_sent_once(
    db_engine, quick, smtp_server, monkeypatch
) -> None:  # noqa: ANN001
    import services.letters

    quick.smtp.port = smtp_server.port
    _friday_letter(db_engine, quick)

    def crash(*_: object) -> None:
        raise RuntimeError("killed after rendering the new version")

    monkeypatch.setattr(services.letters, "_drop_copy_already_posted", crash)
    with pytest.raises(RuntimeError):
        deliver_outbox(db_engine, quick, MONDAY)
    (old,) = _letters(db_engine)  # rolled back: no new version without the old superseded
    assert old.status == "sending" and smtp_server.messages == []

    monkeypatch.undo()
    quick.smtp.claim_timeout_seconds = 0  # the crashed run's claim is taken over
    assert deliver_outbox(db_engine, quick, MONDAY)["redated"] == 1
    assert deliver_outbox(db_engine, quick, MONDAY)["redated"] == 0
    letters = _letters(db_engine)
    assert [(x.version, x.status) for x in letters] == [(1, "superseded"), (2, "sent")]
    assert len(smtp_server.messages) == 1
    assert _sent_after_their_date(db_engine, quick) == 0


def test_a_letter_by_post_is_printed_dated_the_batch_day(db_engine, quick) -> None:  # noqa: ANN001
    _friday_letter(db_engine, quick, email=None)
    counts = deliver_outbox(db_engine, quick, date(2026, 11, 10))
    assert counts["printed"] == 1
    old, new = _letters(db_engine)
    assert old.status == "superseded" and old.print_batch is None
    assert new.created_on == date(2026, 11, 10) and new.print_batch == "2026-11-10-01"
    assert "Datum: 10 november 2026" in _text(Path(new.pdf_path or ""))
    assert _sent_after_their_date(db_engine, quick) == 0


def test_a_post_copy_printed_after_its_email_day_is_dated_the_print_day(db_engine, quick) -> None:  # noqa: ANN001
    quick.letters.post_when_email_from_landlord = True
    _friday_letter(db_engine, quick)
    letter, copy = _letters(db_engine)
    assert copy.kind == "post_copy"
    with session_scope(db_engine) as session:  # emailed on Friday; the copy left for Monday
        session.execute(
            update(Letter).where(Letter.id == letter.id).values(status="sent", sent_at=None)
        )
    counts = deliver_outbox(db_engine, quick, MONDAY)
    assert counts["redated"] == 1 and counts["printed"] == 1
    letter, old_copy, new_copy = _letters(db_engine)
    assert old_copy.status == "superseded" and old_copy.print_batch is None
    assert (new_copy.kind, new_copy.copy_of_id, new_copy.created_on) == (
        "post_copy",
        letter.id,
        MONDAY,
    )
    assert new_copy.status == "sent" and new_copy.version == letter.version
    text = _text(Path(new_copy.pdf_path or ""))
    assert "har gått ut" in text and "senast fredag 6 november" not in text
    assert deliver_outbox(db_engine, quick, MONDAY)["printed"] == 0
