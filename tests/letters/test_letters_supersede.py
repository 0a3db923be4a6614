"""A newer letter version supersedes every older one of the episode not yet sent."""

from __future__ import annotations

from datetime import date

from booking_helpers import add_episode
from pypdf import PdfReader
from sqlalchemy import select, update

from flows.stages.booking import book_appointments, cancel, rebook
from flows.stages.delivery import deliver_outbox
from flows.stages.letters import create_letters
from models.db import session_scope
from models.tables import Letter

RUN = date(2026, 11, 2)


def _letters(engine, episode_id: int) -> list[Letter]:  # noqa: ANN001
    with session_scope(engine) as session:
        rows = list(
            session.scalars(
                select(Letter).where(Letter.episode_id == episode_id).order_by(Letter.version)
            )
        )
        session.expunge_all()
    return rows


def _text(letter: Letter) -> str:
    return " ".join(PdfReader(letter.pdf_path).pages[0].extract_text().split())


def test_rebook_and_cancel_on_the_same_day_leave_only_the_newest_letter(
    db_engine, settings
) -> None:  # noqa: ANN001, E501
    episode = add_episode(db_engine)
    other = add_episode(db_engine)  # another household's letter is never touched
    book_appointments(db_engine, settings, RUN)
    create_letters(db_engine, settings, RUN)
    rebook(db_engine, settings, episode, RUN, by="anna")
    assert [x.status for x in _letters(db_engine, episode)] == ["superseded", "pending"]
    cancel(db_engine, settings, episode, RUN, by="anna")
    letters = _letters(db_engine, episode)
    assert [(x.version, x.kind, x.status) for x in letters] == [
        (1, "appointment", "superseded"),
        (2, "appointment", "superseded"),
        (3, "appointment_cancelled", "pending"),
    ]
    assert "replaced by version 3" in (letters[1].last_error or "")
    assert [x.status for x in _letters(db_engine, other)] == ["pending"]

    counts = deliver_outbox(db_engine, settings, RUN)
    assert counts["printed"] == 2  # the cancellation and the other household's letter
    letters = _letters(db_engine, episode)
    assert [x.status for x in letters] == ["superseded", "superseded", "sent"]
    assert all(x.print_batch is None and x.sent_at is None for x in letters[:2])
    assert [x.status for x in _letters(db_engine, other)] == ["sent"]


def test_cancel_then_rebook_sends_only_the_new_time(db_engine, settings) -> None:  # noqa: ANN001
    episode = add_episode(db_engine)
    book_appointments(db_engine, settings, RUN)
    create_letters(db_engine, settings, RUN)
    cancel(db_engine, settings, episode, RUN)
    rebook(db_engine, settings, episode, RUN)
    letters = _letters(db_engine, episode)
    assert [(x.kind, x.status) for x in letters] == [
        ("appointment", "superseded"),
        ("appointment_cancelled", "superseded"),
        ("appointment", "pending"),
    ]


def test_a_letter_already_sent_or_in_a_batch_is_not_superseded(db_engine, settings) -> None:  # noqa: ANN001
    """Only unsent letters are replaced; the cancellation names the time the tenant knows."""
    episode = add_episode(db_engine)
    book_appointments(db_engine, settings, RUN)
    create_letters(db_engine, settings, RUN)
    deliver_outbox(db_engine, settings, RUN)  # version 1 printed and posted
    first = _letters(db_engine, episode)[0]
    assert first.status == "sent"
    told = _text(first)
    rebook(db_engine, settings, episode, RUN)
    cancel(db_engine, settings, episode, RUN)  # the rebooked time never reached the tenant
    letters = _letters(db_engine, episode)
    assert [x.status for x in letters] == ["sent", "superseded", "pending"]
    cancelled = _text(letters[2])
    rebooked = _text(letters[1])
    told_time = told.split("När ")[1].split(" Var")[0]
    rebooked_time = rebooked.split("När ")[1].split(" Var")[0]
    assert told_time != rebooked_time
    assert f"Vi har avbokat din tid {told_time}" in cancelled
    assert rebooked_time not in cancelled


def test_a_claimed_letter_is_left_to_its_run(db_engine, settings) -> None:  # noqa: ANN001
    episode = add_episode(db_engine)
    book_appointments(db_engine, settings, RUN)
    create_letters(db_engine, settings, RUN)
    with session_scope(db_engine) as session:
        session.execute(update(Letter).values(status="sending", claim_token="h:1:x"))
    rebook(db_engine, settings, episode, RUN)
    assert [x.status for x in _letters(db_engine, episode)] == ["sending", "pending"]
