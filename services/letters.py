"""The tenant's letters and the caseworkers' notices: rendered, written and queued.

Every door that causes a letter comes here: the letter stage (new bookings), a rebook
or a cancellation from the command line or the portal (through
:func:`appointment_letter_queue` and :func:`cancellation_letter_queue`, which
:mod:`services.appointments` calls inside its transaction).

* An appointment letter (kallelse) is rendered to PDF under
  ``paths.letters_dir/<run date>/`` and queued in the outbox under
  ``appointment:{episode}:{appointment}:v{n}``, where ``n`` counts the episode's letters
  (a rebooking or cancellation makes the next version, which supersedes older ones not
  yet sent). The channel is email when the episode has a usable address (one the tenant
  gave the advisor first, then the landlord's), else print. A letter emailed to the
  landlord's address also gets a post copy (``letters.post_when_email_from_landlord``):
  the same PDF, queued for print under ``<key>:post``; delivery drops it when the letter
  itself goes by post or is replaced.
* Every caseworker with newly routed episodes gets ONE email per run date saying how
  many wait and where to look; no personal data.

The PDF is written before its outbox row is committed; a crash in between leaves a
file that the rerun overwrites with the same content, never a row without a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from domain.addresses import gets_post_copy, has_postal_address, tenant_email, usable_email
from domain.vocabulary import (
    OPEN_STATUSES,
    AppointmentStatus,
    Channel,
    LetterKind,
    LetterStatus,
    Routing,
)
from letters.compose import BATCH, caseworker_notice, compose_letters, letter_input
from letters.render import LetterInput, LetterTemplate
from models.config import Settings
from models.db import chunks, rowcount
from models.privacy import write_private
from models.tables import Appointment, AppointmentSlot, Caseworker, Episode, Letter
from services._common import start_of_day
from services.appointments import QueueLetter
from services.outbox import POST_COPY, TENANT_KINDS, enqueue, letter_by_key


def next_version(session: Session, episode_id: int) -> int:
    """The version the episode's next tenant letter gets (a rebooking makes the next one)."""
    count = session.scalar(
        select(func.count(Letter.id)).where(
            Letter.episode_id == episode_id, Letter.kind.in_(TENANT_KINDS)
        )
    )
    return int(count or 0) + 1


def supersede_older(session: Session, episode_id: int, version: int) -> int:
    """A newer tenant letter replaces every older one of the episode not yet on its way.

    Older versions still ``pending`` (not claimed by a delivery run, not in a print
    batch) become ``superseded`` and are never sent or printed: after a rebooking and a
    cancellation on the same day the tenant gets only the newest letter. Their post
    copies too. Returns how many letters (copies not counted).
    """
    session.execute(
        update(Letter)
        .where(
            Letter.episode_id == episode_id,
            Letter.kind == POST_COPY,
            Letter.version < version,
            Letter.status == LetterStatus.PENDING,
            Letter.print_batch.is_(None),
        )
        .values(
            status=LetterStatus.SUPERSEDED,
            last_error=f"replaced by version {version} before it was printed",
        )
        .execution_options(synchronize_session=False)
    )
    result = session.execute(
        update(Letter)
        .where(
            Letter.episode_id == episode_id,
            Letter.kind.in_(TENANT_KINDS),
            Letter.version < version,
            Letter.status == LetterStatus.PENDING,
            Letter.print_batch.is_(None),
        )
        .values(
            status=LetterStatus.SUPERSEDED,
            next_attempt_at=None,
            last_error=f"replaced by version {version} before it was sent",
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def last_told_slot(session: Session, episode_id: int, day: date) -> AppointmentSlot | None:
    """The slot of the newest appointment letter that went out (or is on its way) to the
    tenant, when that appointment is cancelled and still ahead on ``day``: the time the
    tenant knows of, whatever was booked and cancelled unseen since."""
    return session.scalars(
        select(AppointmentSlot)
        .join(Appointment, Appointment.slot_id == AppointmentSlot.id)
        .join(Letter, Letter.appointment_id == Appointment.id)
        .where(
            Letter.episode_id == episode_id,
            Letter.kind == LetterKind.APPOINTMENT.value,
            Letter.status.in_([LetterStatus.SENT, LetterStatus.SENDING]),
            Appointment.status == AppointmentStatus.CANCELLED,
            AppointmentSlot.starts_at >= start_of_day(day),
        )
        .order_by(Letter.version.desc())
        .limit(1)
    ).first()


def appointments_without_letter(session: Session) -> list[int]:
    """Booked appointments of open episodes that have no appointment letter yet."""
    has_letter = exists().where(
        and_(
            Letter.appointment_id == Appointment.id,
            Letter.kind == LetterKind.APPOINTMENT.value,
        )
    )
    return list(
        session.scalars(
            select(Appointment.id)
            .join(Episode, Episode.id == Appointment.episode_id)
            .where(
                Appointment.status == AppointmentStatus.BOOKED,
                Episode.status.in_([s.value for s in OPEN_STATUSES]),
                ~has_letter,
            )
            .order_by(Appointment.id)
        )
    )


def appointments_with_slots(
    session: Session, appointment_ids: Sequence[int]
) -> list[tuple[Episode, Appointment, AppointmentSlot]]:
    """Each given appointment with its episode and slot, in appointment order."""
    rows = session.execute(
        select(Episode, Appointment, AppointmentSlot)
        .join(Appointment, Appointment.episode_id == Episode.id)
        .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
        .where(Appointment.id.in_(appointment_ids))
        .order_by(Appointment.id)
    ).all()
    return [(episode, appointment, slot) for episode, appointment, slot in rows]


def appointment_with_slot(
    session: Session, appointment: Appointment
) -> tuple[Episode, AppointmentSlot]:
    """The episode and slot of an appointment (both exist: foreign keys)."""
    episode = session.get(Episode, appointment.episode_id)
    slot = session.get(AppointmentSlot, appointment.slot_id)
    assert episode is not None and slot is not None
    return episode, slot


def mark_unsendable(letter: Letter) -> None:
    """Neither email nor a full postal address: nothing can be sent; the worklist shows
    the failed letter so that the advisor phones instead."""
    letter.status = LetterStatus.FAILED
    letter.flagged = True
    letter.last_error = "no email address and no complete postal address"


def caseworkers_to_notify(session: Session) -> list[tuple[str, int]]:
    """(caseworker id, newly routed episodes not yet told about) per caseworker."""
    rows = session.execute(
        select(Episode.caseworker_id, func.count(Episode.id))
        .where(
            Episode.routing == Routing.CASEWORKER,
            Episode.caseworker_id.is_not(None),
            Episode.caseworker_notified_on.is_(None),
        )
        .group_by(Episode.caseworker_id)
        .order_by(Episode.caseworker_id)
    ).all()
    return [(str(caseworker_id), int(count)) for caseworker_id, count in rows]


def caseworker(session: Session, caseworker_id: str) -> Caseworker | None:
    """The caseworker as the register last named them."""
    return session.get(Caseworker, caseworker_id)


def notified_on(session: Session, caseworker_id: str, day: date) -> int:
    """How many of the caseworker's routed episodes were already counted in ``day``'s email."""
    already = session.scalar(
        select(func.count(Episode.id)).where(
            Episode.caseworker_id == caseworker_id,
            Episode.routing == Routing.CASEWORKER,
            Episode.caseworker_notified_on == day,
        )
    )
    return int(already or 0)


def mark_notified(session: Session, caseworker_id: str, day: date) -> None:
    """The caseworker's newly routed episodes are in ``day``'s email."""
    session.execute(
        Episode.__table__.update()
        .where(
            Episode.caseworker_id == caseworker_id,
            Episode.routing == Routing.CASEWORKER,
            Episode.caseworker_notified_on.is_(None),
        )
        .values(caseworker_notified_on=day)
    )


def post_copies_on(session: Session, day: date) -> int:
    """Post copies of emailed letters queued on ``day``."""
    return int(
        session.scalar(
            select(func.count(Letter.id)).where(Letter.created_on == day, Letter.kind == POST_COPY)
        )
        or 0
    )


def tenant_letters_by_channel(session: Session, day: date) -> dict[str, int]:
    """Tenant letters created on ``day`` per channel (email, print)."""
    return {
        str(channel): int(number)
        for channel, number in session.execute(
            select(Letter.channel, func.count(Letter.id))
            .where(Letter.created_on == day, Letter.kind.in_(TENANT_KINDS))
            .group_by(Letter.channel)
        )
    }


# ---------------------------------------------------------------------------
# Rendering and queueing

APPOINTMENT_CANCELLED = LetterKind.APPOINTMENT_CANCELLED.value


def _pdf_path(settings: Settings, run_date: date, key: str) -> Path:
    return settings.paths.letters_dir / run_date.isoformat() / (key.replace(":", "_") + ".pdf")


def queue_letters(
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
            email = tenant_email(episode.email, episode.tenant_email)[0]
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
                supersede_older(session, episode.id, item.version)
            if created and not email and not has_postal_address(episode):
                mark_unsendable(letter)
            if gets_post_copy(episode, settings.letters.post_when_email_from_landlord):
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
    for episode, appointment, slot in appointments_with_slots(session, appointment_ids):
        version = versions.get(episode.id) or next_version(session, episode.id)
        versions[episode.id] = version + 1
        item = letter_input(settings, episode, appointment, slot, "appointment", version, run_date)
        jobs.append((episode, appointment, item, LetterKind.APPOINTMENT.value))
    return queue_letters(session, settings, run_date, jobs)


def queue_cancellation_letter(
    session: Session, settings: Settings, appointment: Appointment, run_date: date
) -> int:
    """Render and queue the letter telling the tenant their time is cancelled.

    The letter names the time the tenant was last told of: when a rebooked time is
    cancelled before its letter went out, that is the earlier letter's time.
    """
    episode, slot = appointment_with_slot(session, appointment)
    slot = last_told_slot(session, episode.id, run_date) or slot
    version = next_version(session, episode.id)
    item = letter_input(settings, episode, appointment, slot, "cancellation", version, run_date)
    return queue_letters(
        session, settings, run_date, [(episode, appointment, item, APPOINTMENT_CANCELLED)]
    )


def notify_caseworkers(session: Session, settings: Settings, run_date: date) -> int:
    """One email per caseworker and run date about newly routed episodes; returns emails queued.

    When today's email is still pending its count is brought up to date; when it has
    already been sent, the newer episodes wait for the next run date's email.
    """
    queued = 0
    for caseworker_id, count in caseworkers_to_notify(session):
        person = caseworker(session, caseworker_id)
        address = usable_email(person.email) if person is not None else None
        if address is None:
            continue  # nobody to tell by email; the worklist still shows the episodes
        key = f"caseworker_notice:{caseworker_id}:{run_date.isoformat()}"
        existing = letter_by_key(session, key)
        if existing is not None and existing.status != "pending":
            continue
        total = notified_on(session, caseworker_id, run_date) + count
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
        mark_notified(session, caseworker_id, run_date)
    return queued


def appointment_letter_queue(settings: Settings, run_date: date) -> QueueLetter:
    """Queues the tenant's letter with a new time (for :func:`services.appointments.rebook`)."""

    def queue(session: Session, appointment: Appointment) -> int:
        return queue_appointment_letters(session, settings, [appointment.id], run_date)

    return queue


def cancellation_letter_queue(settings: Settings, run_date: date) -> QueueLetter:
    """Queues the tenant's cancellation letter (for :func:`services.appointments.cancel`)."""

    def queue(session: Session, appointment: Appointment) -> int:
        return queue_cancellation_letter(session, settings, appointment, run_date)

    return queue


# ---------------------------------------------------------------------------
# Letters not sent on their date: dated again

#: ``Letter.last_error`` of a letter replaced because it was not sent on its date.
REDATED = "not sent on its date"


def _newest_tenant_letter(session: Session, episode_id: int) -> Letter:
    """The episode's newest tenant letter (the one just queued)."""
    return session.scalars(
        select(Letter)
        .where(Letter.episode_id == episode_id, Letter.kind.in_(TENANT_KINDS))
        .order_by(Letter.version.desc())
        .limit(1)
    ).one()


def _keep_delivery_state(old: Letter, new: Letter) -> None:
    """The new version goes on where the old one stopped: a letter moved to print stays
    by post, and its email attempts still count towards giving up."""
    if old.channel == Channel.PRINT and new.status == LetterStatus.PENDING:
        new.channel = Channel.PRINT
    new.attempts = old.attempts
    new.last_error = old.last_error
    new.flagged = bool(new.flagged or old.flagged)
    if new.channel == Channel.EMAIL:
        new.next_attempt_at = old.next_attempt_at


def _drop_copy_already_posted(session: Session, old: Letter, new: Letter) -> None:
    """When the old version's post copy already went by post, the tenant has the letter
    on paper: the new version is emailed only, its copy is not printed a second time."""
    posted = session.scalar(
        select(func.count(Letter.id)).where(
            Letter.copy_of_id == old.id,
            Letter.kind == POST_COPY,
            Letter.status.in_([LetterStatus.SENDING, LetterStatus.SENT]),
        )
    )
    if not posted:
        return
    session.execute(
        update(Letter)
        .where(
            Letter.copy_of_id == new.id,
            Letter.kind == POST_COPY,
            Letter.status == LetterStatus.PENDING,
        )
        .values(
            status=LetterStatus.SUPERSEDED,
            last_error="the earlier version's post copy already went by post",
        )
        .execution_options(synchronize_session=False)
    )


def redate_letter(session: Session, settings: Settings, old: Letter, run_date: date) -> Letter:
    """Render a tenant letter dated before ``run_date`` again, as a new version dated then.

    What a letter says about paying depends on its date (``domain.letter_situation``):
    sent later than its date it could name a last day to pay that has passed. The new
    version is rendered for the same appointment (a cancellation for the same time) and
    keeps the old one's channel and attempts; the caller supersedes the old one in the
    same transaction, so a rerun never makes two new versions.
    """
    appointment = session.get(Appointment, old.appointment_id)
    assert appointment is not None and old.episode_id is not None
    if old.kind == APPOINTMENT_CANCELLED:
        queue_cancellation_letter(session, settings, appointment, run_date)
    else:
        queue_appointment_letters(session, settings, [appointment.id], run_date)
    new = _newest_tenant_letter(session, old.episode_id)
    _keep_delivery_state(old, new)
    _drop_copy_already_posted(session, old, new)
    return new


def redate_copy(session: Session, settings: Settings, copy: Letter, run_date: date) -> Letter:
    """A post copy of a letter already emailed, printed on a later day: rendered again
    dated ``run_date`` (the same version), so that the paper says what is true when it
    goes out. Its own key per day, so a rerun queues none twice; the caller supersedes
    the old copy in the same transaction."""
    original = session.get(Letter, copy.copy_of_id)
    appointment = session.get(Appointment, copy.appointment_id)
    assert original is not None and appointment is not None
    episode, slot = appointment_with_slot(session, appointment)
    template: LetterTemplate = "appointment"
    if original.kind == APPOINTMENT_CANCELLED:
        template = "cancellation"
        slot = last_told_slot(session, episode.id, run_date) or slot
    item = letter_input(settings, episode, appointment, slot, template, original.version, run_date)
    (done,) = compose_letters(settings, [(item, original.kind)])
    key = f"{original.idempotency_key}:post:{run_date.isoformat()}"
    path = _pdf_path(settings, run_date, key)
    write_private(path, done.pdf)
    letter, _ = enqueue(
        session,
        key=key,
        kind=POST_COPY,
        channel=Channel.PRINT,
        created_on=run_date,
        episode_id=episode.id,
        appointment_id=appointment.id,
        subject=done.subject,
        pdf_path=str(path),
        language=done.language,
        version=original.version,
        copy_of_id=original.id,
    )
    return letter
