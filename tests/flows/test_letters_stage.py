"""create_letters: one letter per booked appointment, rendered, queued once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from booking_helpers import add_episode
from pypdf import PdfReader
from sqlalchemy import select, update

from flows.stages.booking import book_appointments
from flows.stages.letters import create_letters
from models.db import session_scope
from models.tables import Episode, Letter

RUN = date(2026, 11, 2)


def test_create_letters_queues_each_appointment_once(db_engine, settings) -> None:  # noqa: ANN001
    by_email = add_episode(db_engine, email=" asa@example.se ", language="en")
    by_post = add_episode(db_engine, email="not an address", language="so")
    settled = add_episode(db_engine)
    book_appointments(db_engine, settings, RUN)
    with session_scope(db_engine) as session:  # settled after booking, before the letter
        session.execute(update(Episode).where(Episode.id == settled).values(status="settled"))

    counts = create_letters(db_engine, settings, RUN)
    assert counts == {
        "letters": 2,
        "email": 1,
        "print": 1,
        "post_copies": 1,  # the email went to the landlord's address
        "caseworker_emails": 0,
    }
    assert create_letters(db_engine, settings, RUN)["letters"] == 0

    with session_scope(db_engine) as session:
        letters = {
            x.episode_id: x
            for x in session.scalars(select(Letter).where(Letter.kind != "post_copy"))
        }
    assert set(letters) == {by_email, by_post}
    email, post = letters[by_email], letters[by_post]
    assert (email.channel, email.recipient, email.language) == ("email", "asa@example.se", "en")
    assert (post.channel, post.recipient, post.language) == ("print", None, "sv")
    assert email.idempotency_key == f"appointment:{by_email}:{email.appointment_id}:v1"
    assert email.subject == "You have a booked appointment with Exempelby kommun"
    assert "Monday 30 November 2026" in (email.body or "")  # the payment deadline
    for letter in (email, post):
        path = Path(letter.pdf_path or "")
        assert path.parent == settings.paths.letters_dir / "2026-11-02" and path.exists()
        text = PdfReader(path).pages[0].extract_text()
        assert "Ringvägen 12 lgh 1102" in text and "123 45 Exempelby" in text
    assert "Warqad muhiim ah" in PdfReader(post.pdf_path).pages[0].extract_text()


def test_an_estimated_deadline_reaches_the_letter_and_the_email(db_engine, settings) -> None:  # noqa: ANN001
    """The stage passes Episode.deadline_estimated on: the letter calls the date an estimate."""
    estimated = add_episode(db_engine, email="asa@example.se")
    served = add_episode(db_engine)
    with session_scope(db_engine) as session:
        session.execute(
            update(Episode).where(Episode.id == estimated).values(deadline_estimated=True)
        )
    book_appointments(db_engine, settings, RUN)
    assert create_letters(db_engine, settings, RUN)["letters"] == 2
    with session_scope(db_engine) as session:
        letters = {x.episode_id: x for x in session.scalars(select(Letter))}
    guess = " ".join(PdfReader(letters[estimated].pdf_path).pages[0].extract_text().split())
    assert "Vi uppskattar att det är omkring måndag 30 november 2026" in guess
    assert "Fråga din hyresvärd vilket datum som gäller för dig" in guess
    assert "senast måndag 30 november" not in guess
    assert "30 november" not in (letters[estimated].body or "")
    law = " ".join(PdfReader(letters[served].pdf_path).pages[0].extract_text().split())
    assert "betald senast måndag 30 november 2026 har du rätt att bo kvar" in law
