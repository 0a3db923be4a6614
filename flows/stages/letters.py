"""Stage: write the letters that booking caused, and tell caseworkers about new episodes.

Every booked appointment without a letter gets an appointment letter (and, emailed to
the landlord's address, its post copy), and every
caseworker with newly routed episodes one email per run date; both are rendered and
queued by :mod:`services.letters`, in chunks of one transaction each.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from letters.compose import BATCH
from models.config import Settings
from models.db import chunks, session_scope
from services import letters as stored
from services.letters import notify_caseworkers, queue_appointment_letters


def create_letters(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Queue a letter for every booked appointment that has none, and the caseworker emails."""
    counts = {"letters": 0, "email": 0, "print": 0, "post_copies": 0, "caseworker_emails": 0}
    with session_scope(engine) as session:
        ids = stored.appointments_without_letter(session)
    for chunk in chunks(ids, BATCH):
        with session_scope(engine) as session:
            counts["letters"] += queue_appointment_letters(session, settings, chunk, run_date)
    with session_scope(engine) as session:
        counts["caseworker_emails"] = notify_caseworkers(session, settings, run_date)
        counts.update(stored.tenant_letters_by_channel(session, run_date))
        counts["post_copies"] = stored.post_copies_on(session, run_date)
    return counts
