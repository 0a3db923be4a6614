"""The demo's closing summary counts what was stored, by the rules users read it with."""

from __future__ import annotations

from datetime import date

from booking_helpers import add_episode
from sqlalchemy import update

from flows.stages.booking import book_appointments
from flows.stages.letters import create_letters
from models.db import session_scope
from models.tables import Letter
from services.demo import demo_counts

RUN = date(2026, 11, 2)


def test_post_copies_count_once_and_only_when_printed(db_engine, settings) -> None:  # noqa: ANN001
    add_episode(db_engine, email="asa@example.se")  # the landlord's address: email + post copy
    add_episode(db_engine)  # no address: print
    book_appointments(db_engine, settings, RUN)
    create_letters(db_engine, settings, RUN)
    with session_scope(db_engine) as session:
        queued = demo_counts(session)
    assert queued.letters["appointment"] == 2
    assert queued.appointment_channels == {"email": 1, "print": 1}
    assert queued.post_copies_sent == 0  # queued, not yet printed

    with session_scope(db_engine) as session:
        session.execute(update(Letter).where(Letter.kind == "post_copy").values(status="sent"))
        printed = demo_counts(session)
    assert printed.post_copies_sent == 1
    assert printed.appointment_channels == {"email": 1, "print": 1}  # the tenant's letter once
