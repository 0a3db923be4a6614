"""The outbox: every letter and email is queued here once, under an idempotency key.

Whoever wants something sent (appointment letters, caseworker notices, the advisor's
worklist email, the managers' report) calls :func:`enqueue`; ``deliver_outbox``
sends what is pending. A second enqueue with the same key returns the existing row,
so a rerun after a crash queues nothing twice. The insert is ``ON CONFLICT DO NOTHING``:
when two runs queue the same key at the same moment, the second waits for the first
to commit and takes its row, instead of failing on the unique key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.vocabulary import LetterKind, LetterStatus
from models.db import insert_or_ignore
from models.tables import Letter

#: Letters to tenants (the rest are staff emails): versions, channels and deadlines apply.
TENANT_KINDS = frozenset({LetterKind.APPOINTMENT.value, LetterKind.APPOINTMENT_CANCELLED.value})
#: A tenant letter's print copy is no letter of its own: not versioned, not counted.
POST_COPY = LetterKind.POST_COPY.value


def letter_by_key(session: Session, key: str) -> Letter | None:
    """The letter queued under this idempotency key, if any."""
    return session.scalars(select(Letter).where(Letter.idempotency_key == key)).first()


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
    copy_of_id: int | None = None,
) -> tuple[Letter, bool]:
    """Queue a letter unless its key is already queued; returns (letter, created)."""
    existing = letter_by_key(session, key)
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
        "copy_of_id": copy_of_id,
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


@dataclass(frozen=True)
class OutboxCount:
    """How many letters are in one state, channel and kind."""

    status: str
    channel: str
    kind: str
    letters: int


def outbox_counts(session: Session, status: LetterStatus | None = None) -> list[OutboxCount]:
    """Letters by state, channel and kind (only ``status`` when given)."""
    query = select(Letter.status, Letter.channel, Letter.kind, func.count(Letter.id))
    if status is not None:
        query = query.where(Letter.status == status.value)
    rows = session.execute(
        query.group_by(Letter.status, Letter.channel, Letter.kind).order_by(
            Letter.status, Letter.channel, Letter.kind
        )
    ).all()
    return [OutboxCount(str(a), str(b), str(c), int(n)) for a, b, c, n in rows]


def letters_in_outbox(session: Session, status: LetterStatus | None = None) -> list[Letter]:
    """Every letter (only those in ``status`` when given), oldest first."""
    query = select(Letter).order_by(Letter.id)
    if status is not None:
        query = query.where(Letter.status == status.value)
    return list(session.scalars(query))
