"""Stage: write the letters that booking caused, and tell caseworkers about new episodes.

* Every booked appointment without a letter gets an appointment letter (kallelse):
  rendered to PDF under ``paths.letters_dir/<run date>/`` and queued in the outbox
  under ``appointment:{episode}:{appointment}:v{n}``, where ``n`` counts the episode's
  letters (a rebooking or cancellation makes the next version). The channel is email
  when the episode has a usable address (one the tenant gave the advisor first, then the
  landlord's), else print. A letter emailed to the landlord's address also gets a post
  copy (``letters.post_when_email_from_landlord``): the same PDF, queued for print under
  ``<key>:post``; delivery drops it when the letter itself goes by post or is replaced.
* Every caseworker with newly routed episodes gets ONE email per run date saying how
  many wait and where to look; no personal data. ``Episode.caseworker_notified_on``
  remembers who has been told.

The PDF is written before its outbox row is committed; a crash in between leaves a
file that the rerun overwrites with the same content, never a row without a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from domain.addresses import has_postal_address, tenant_email, usable_email
from domain.vocabulary import Channel, LetterKind
from letters.compose import BATCH, caseworker_notice, compose_letters, letter_input
from letters.render import LetterInput
from models.config import Settings
from models.db import chunks, session_scope
from models.privacy import write_private
from models.tables import Appointment, Episode
from services import letters as stored
from services.outbox import POST_COPY, enqueue, letter_by_key

APPOINTMENT_CANCELLED = LetterKind.APPOINTMENT_CANCELLED.value


def _pdf_path(settings: Settings, run_date: date, key: str) -> Path:
    return settings.paths.letters_dir / run_date.isoformat() / (key.replace(":", "_") + ".pdf")


def _queue(
    session: Session,
    settings: Settings,
    run_date: date,
    jobs: Sequence[tuple[Episode, Appointment, LetterInput, str]],
) -> int:
    """Render the letters in batches, write the PDFs and queue them; returns letters queued."""
    queued = 0
    for chunk in chunks(jobs, BATCH):
        composed = compose_letters(settings, [(item, kind) for _, _, item, kind in chunk])
        for (episode, appointment, item, kind), done in zip(chunk, composed, strict=True):
            key = f"{kind}:{episode.id}:{appointment.id}:v{item.version}"
            path = _pdf_path(settings, run_date, key)
            write_private(path, done.pdf)
            email, from_landlord = tenant_email(episode.email, episode.tenant_email)
            letter, created = enqueue(
                session,
                key=key,
                kind=kind,
                channel=Channel.EMAIL if email else Channel.PRINT,
                created_on=run_date,
                episode_id=episode.id,
                appointment_id=appointment.id,
                recipient=email,
                subject=done.subject,
                body=done.body,
                pdf_path=str(path),
                language=done.language,
                version=item.version,
            )
            if created:
                stored.supersede_older(session, episode.id, item.version)
            if created and not email and not has_postal_address(episode):
                stored.mark_unsendable(letter)
            if (
                email
                and from_landlord
                and settings.letters.post_when_email_from_landlord
                and has_postal_address(episode)
            ):
                # The same letter on paper too; its own key, so a rerun adds none.
                enqueue(
                    session,
                    key=f"{key}:post",
                    kind=POST_COPY,
                    channel=Channel.PRINT,
                    created_on=run_date,
                    episode_id=episode.id,
                    appointment_id=appointment.id,
                    subject=done.subject,
                    pdf_path=str(path),
                    language=done.language,
                    version=item.version,
                    copy_of_id=letter.id,
                )
            queued += int(created)
    return queued


def queue_appointment_letters(
    session: Session, settings: Settings, appointment_ids: Sequence[int], run_date: date
) -> int:
    """Render and queue the appointment letter of each given appointment; returns queued."""
    if not appointment_ids:
        return 0
    jobs = []
    versions: dict[int, int] = {}
    for episode, appointment, slot in stored.appointments_with_slots(session, appointment_ids):
        version = versions.get(episode.id) or stored.next_version(session, episode.id)
        versions[episode.id] = version + 1
        item = letter_input(settings, episode, appointment, slot, "appointment", version, run_date)
        jobs.append((episode, appointment, item, LetterKind.APPOINTMENT.value))
    return _queue(session, settings, run_date, jobs)


def queue_cancellation_letter(
    session: Session, settings: Settings, appointment: Appointment, run_date: date
) -> int:
    """Render and queue the letter telling the tenant their time is cancelled.

    The letter names the time the tenant was last told of: when a rebooked time is
    cancelled before its letter went out, that is the earlier letter's time.
    """
    episode, slot = stored.appointment_with_slot(session, appointment)
    slot = stored.last_told_slot(session, episode.id, run_date) or slot
    version = stored.next_version(session, episode.id)
    item = letter_input(settings, episode, appointment, slot, "cancellation", version, run_date)
    return _queue(
        session, settings, run_date, [(episode, appointment, item, APPOINTMENT_CANCELLED)]
    )


def notify_caseworkers(session: Session, settings: Settings, run_date: date) -> int:
    """One email per caseworker and run date about newly routed episodes; returns emails queued.

    When today's email is still pending its count is brought up to date; when it has
    already been sent, the newer episodes wait for the next run date's email.
    """
    queued = 0
    for caseworker_id, count in stored.caseworkers_to_notify(session):
        caseworker = stored.caseworker(session, caseworker_id)
        address = usable_email(caseworker.email) if caseworker is not None else None
        if address is None:
            continue  # nobody to tell by email; the worklist still shows the episodes
        key = f"caseworker_notice:{caseworker_id}:{run_date.isoformat()}"
        existing = letter_by_key(session, key)
        if existing is not None and existing.status != "pending":
            continue
        total = stored.notified_on(session, caseworker_id, run_date) + count
        subject, body = caseworker_notice(settings, total, run_date)
        if existing is None:
            enqueue(
                session,
                key=key,
                kind=LetterKind.CASEWORKER_NOTICE,
                channel=Channel.EMAIL,
                created_on=run_date,
                recipient=address,
                subject=subject,
                body=body,
            )
            queued += 1
        else:
            existing.subject, existing.body = subject, body
        stored.mark_notified(session, caseworker_id, run_date)
    return queued


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
