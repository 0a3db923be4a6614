"""The outbox: every letter and email is queued here once, under an idempotency key.

Whoever wants something sent (appointment letters, caseworker notices, the advisor's
worklist email, the managers' report) calls :func:`enqueue`; ``deliver_outbox``
sends what is pending. A second enqueue with the same key returns the existing row,
so a rerun after a crash queues nothing twice. The insert is ``ON CONFLICT DO NOTHING``:
when two runs queue the same key at the same moment, the second waits for the first
to commit and takes its row, instead of failing on the unique key.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.vocabulary import LetterStatus
from models.db import insert_or_ignore
from models.tables import Letter


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    channel: str,
    created_on: date,
    episode_id: int | None = None,
    appointment_id: int | None = None,
    recipient: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    pdf_path: str | None = None,
    language: str = "sv",
    version: int = 1,
) -> tuple[Letter, bool]:
    """Queue a letter unless its key is already queued; returns (letter, created)."""
    existing = session.scalars(select(Letter).where(Letter.idempotency_key == key)).first()
    if existing is not None:
        return existing, False
    values = {
        "idempotency_key": key,
        "kind": kind,
        "channel": channel,
        "created_on": created_on,
        "episode_id": episode_id,
        "appointment_id": appointment_id,
        "recipient": recipient,
        "subject": subject,
        "body": body,
        "pdf_path": pdf_path,
        "language": language,
        "version": version,
        "status": LetterStatus.PENDING,
    }
    session.flush()
    table = Letter.__table__
    inserted = session.execute(
        insert_or_ignore(session, table).values(**values).returning(table.c.id)
    ).scalar()
    if inserted is None:  # another run queued this key meanwhile: theirs is the letter
        existing = session.scalars(select(Letter).where(Letter.idempotency_key == key)).one()
        return existing, False
    letter = session.get(Letter, inserted)
    assert letter is not None
    return letter, True
