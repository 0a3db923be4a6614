"""Stage: write the letters that booking caused, and tell caseworkers about new episodes.

* Every booked appointment without a letter gets an appointment letter (kallelse):
  rendered to PDF under ``paths.letters_dir/<run date>/`` and queued in the outbox
  under ``appointment:{episode}:{appointment}:v{n}``, where ``n`` counts the episode's
  letters (a rebooking or cancellation makes the next version). The channel is email
  when the episode has a usable address, else print.
* Every caseworker with newly routed episodes gets ONE email per run date saying how
  many wait and where to look; no personal data. ``Episode.caseworker_notified_on``
  remembers who has been told.

The PDF is written before its outbox row is committed; a crash in between leaves a
file that the rerun overwrites with the same content, never a row without a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, and_, exists, func, select
from sqlalchemy.orm import Session

from domain.formatting import sv_weekday_date
from domain.vocabulary import (
    OPEN_STATUSES,
    AppointmentStatus,
    Channel,
    LetterKind,
    LetterStatus,
    Routing,
)
from flows.stages.outbox import enqueue
from letters.emails import render_email
from letters.render import (
    AdvisorContact,
    LetterInput,
    LetterTemplate,
    Sender,
    letter_context,
    letter_language,
    render_letters,
)
from models.config import AdvisorConfig, Settings
from models.db import session_scope
from models.privacy import private_dir
from models.tables import Appointment, AppointmentSlot, Caseworker, Episode, Letter

APPOINTMENT_CANCELLED = LetterKind.APPOINTMENT_CANCELLED.value
TENANT_KINDS = (LetterKind.APPOINTMENT.value, APPOINTMENT_CANCELLED)
CHUNK = 100

_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[A-Za-z]{2,}$")


def usable_email(address: str | None) -> str | None:
    """The address when it looks deliverable, else None (the letter then goes by post)."""
    if address is None:
        return None
    address = address.strip()
    return address if _EMAIL.match(address) else None


def _postal_line(postal_code: str | None, town: str | None) -> str:
    code = re.sub(r"\s", "", postal_code or "")
    if len(code) == 5 and code.isdigit():
        code = f"{code[:3]} {code[3:]}"
    return " ".join(part for part in (code, (town or "").strip()) if part)


def recipient_lines(episode: Episode) -> tuple[str, ...]:
    """The address block for the envelope window: names, street (and flat), postcode town."""
    street = (episode.street_address or "").strip()
    if episode.apartment and episode.apartment not in street:
        street = f"{street} lgh {episode.apartment}".strip()
    lines = (
        (episode.tenant_name or "").strip(),
        (episode.co_tenant_name or "").strip(),
        street,
        _postal_line(episode.postal_code, episode.town),
    )
    return tuple(line for line in lines if line)


def _advisor(settings: Settings, advisor_id: str) -> AdvisorConfig:
    for advisor in settings.advisors:
        if advisor.id == advisor_id:
            return advisor
    return settings.advisor()


def _sender(settings: Settings) -> Sender:
    m = settings.municipality
    return Sender(m.name, m.social_services, m.address, m.phone, m.website)


def _contact(advisor: AdvisorConfig) -> AdvisorContact:
    return AdvisorContact(
        advisor.name, advisor.phone, advisor.email, advisor.location, advisor.address
    )


def _next_version(session: Session, episode_id: int) -> int:
    count = session.scalar(
        select(func.count(Letter.id)).where(
            Letter.episode_id == episode_id, Letter.kind.in_(TENANT_KINDS)
        )
    )
    return int(count or 0) + 1


def _pdf_path(settings: Settings, run_date: date, key: str) -> Path:
    return settings.paths.letters_dir / run_date.isoformat() / (key.replace(":", "_") + ".pdf")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file of this process's own, so two runs never share one."""
    private_dir(path.parent)
    temporary = path.with_suffix(f".pdf.{os.getpid()}.part")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _email_context(settings: Settings, item: LetterInput) -> dict[str, object]:
    context = letter_context(item)
    return {
        "version": item.version,
        "day": context["meeting"]["day"],
        "time": context["meeting"]["time"],
        "location": item.advisor.location,
        "address": item.advisor.address,
        "deadline": context["deadline"],
        "deadline_estimated": context["deadline_estimated"],
        "advisor_name": item.advisor.name,
        "advisor_phone": item.advisor.phone,
        "advisor_email": item.advisor.email,
        "reference": item.reference,
        "unit": settings.municipality.social_services,
        "municipality": settings.municipality.name,
    }


def _queue(
    session: Session,
    settings: Settings,
    run_date: date,
    jobs: Sequence[tuple[Episode, Appointment, LetterInput, str]],
) -> int:
    """Render the letters in batches, write the PDFs and queue them; returns letters queued."""
    queued = 0
    for begin in range(0, len(jobs), CHUNK):
        chunk = jobs[begin : begin + CHUNK]
        pdfs = render_letters([item for _, _, item, _ in chunk], batch_size=CHUNK)
        for (episode, appointment, item, kind), pdf in zip(chunk, pdfs, strict=True):
            key = f"{kind}:{episode.id}:{appointment.id}:v{item.version}"
            path = _pdf_path(settings, run_date, key)
            _write_atomically(path, pdf)
            language = letter_language(item.language)
            email = usable_email(episode.email)
            subject, body = render_email(kind, language, **_email_context(settings, item))
            letter, created = enqueue(
                session,
                key=key,
                kind=kind,
                channel=Channel.EMAIL if email else Channel.PRINT,
                created_on=run_date,
                episode_id=episode.id,
                appointment_id=appointment.id,
                recipient=email,
                subject=subject,
                body=body,
                pdf_path=str(path),
                language=language,
                version=item.version,
            )
            if created and not email and not has_postal_address(episode):
                # Neither email nor a full postal address: nothing can be sent; the
                # worklist shows the failed letter so that the advisor phones instead.
                letter.status = LetterStatus.FAILED
                letter.flagged = True
                letter.last_error = "no email address and no complete postal address"
            queued += int(created)
    return queued


def has_postal_address(episode: Episode) -> bool:
    """A street and a postcode or town: enough for the post to find the household."""
    return bool((episode.street_address or "").strip()) and bool(
        _postal_line(episode.postal_code, episode.town)
    )


def _letter_input(
    settings: Settings,
    episode: Episode,
    appointment: Appointment,
    slot: AppointmentSlot,
    template: LetterTemplate,
    version: int,
    run_date: date,
) -> LetterInput:
    advisor = _advisor(settings, slot.advisor_id)
    return LetterInput(
        template=template,
        language=episode.language or "sv",
        reference=str(episode.id),
        letter_date=run_date,
        version=version,
        recipient_lines=recipient_lines(episode),
        sender=_sender(settings),
        advisor=_contact(advisor),
        starts_at=_aware(slot.starts_at),
        ends_at=_aware(slot.ends_at),
        deadline=episode.deadline_date,
        debt=episode.debt_amount,
        before_deadline=appointment.before_deadline,
        deadline_estimated=bool(episode.deadline_estimated),
        payment_days=settings.booking.payment_days,
    )


def _aware(moment):  # noqa: ANN001, ANN202 - datetime in, aware datetime out
    from datetime import UTC

    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def queue_appointment_letters(
    session: Session, settings: Settings, appointment_ids: Sequence[int], run_date: date
) -> int:
    """Render and queue the appointment letter of each given appointment; returns queued."""
    if not appointment_ids:
        return 0
    rows = session.execute(
        select(Episode, Appointment, AppointmentSlot)
        .join(Appointment, Appointment.episode_id == Episode.id)
        .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
        .where(Appointment.id.in_(appointment_ids))
        .order_by(Appointment.id)
    ).all()
    jobs = []
    versions: dict[int, int] = {}
    for episode, appointment, slot in rows:
        version = versions.get(episode.id) or _next_version(session, episode.id)
        versions[episode.id] = version + 1
        item = _letter_input(settings, episode, appointment, slot, "appointment", version, run_date)
        jobs.append((episode, appointment, item, LetterKind.APPOINTMENT.value))
    return _queue(session, settings, run_date, jobs)


def queue_cancellation_letter(
    session: Session, settings: Settings, appointment: Appointment, run_date: date
) -> int:
    """Render and queue the letter telling the tenant their time is cancelled."""
    episode = session.get(Episode, appointment.episode_id)
    slot = session.get(AppointmentSlot, appointment.slot_id)
    assert episode is not None and slot is not None
    version = _next_version(session, episode.id)
    item = _letter_input(settings, episode, appointment, slot, "cancellation", version, run_date)
    return _queue(
        session, settings, run_date, [(episode, appointment, item, APPOINTMENT_CANCELLED)]
    )


def notify_caseworkers(session: Session, settings: Settings, run_date: date) -> int:
    """One email per caseworker and run date about newly routed episodes; returns emails queued.

    When today's email is still pending its count is brought up to date; when it has
    already been sent, the newer episodes wait for the next run date's email.
    """
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
    queued = 0
    for caseworker_id, count in rows:
        caseworker = session.get(Caseworker, caseworker_id)
        if caseworker is None or not usable_email(caseworker.email):
            continue  # nobody to tell by email; the worklist still shows the episodes
        key = f"caseworker_notice:{caseworker_id}:{run_date.isoformat()}"
        existing = session.scalars(select(Letter).where(Letter.idempotency_key == key)).first()
        if existing is not None and existing.status != "pending":
            continue
        already = session.scalar(
            select(func.count(Episode.id)).where(
                Episode.caseworker_id == caseworker_id,
                Episode.routing == Routing.CASEWORKER,
                Episode.caseworker_notified_on == run_date,
            )
        )
        total = int(already or 0) + int(count)
        subject, body = render_email(
            "caseworker_notice",
            "sv",
            count=total,
            run_date=sv_weekday_date(run_date),
            link=settings.web.link("/handlaggare"),
            unit=settings.municipality.social_services,
            municipality=settings.municipality.name,
        )
        if existing is None:
            enqueue(
                session,
                key=key,
                kind=LetterKind.CASEWORKER_NOTICE,
                channel=Channel.EMAIL,
                created_on=run_date,
                recipient=usable_email(caseworker.email),
                subject=subject,
                body=body,
            )
            queued += 1
        else:
            existing.subject, existing.body = subject, body
        session.execute(
            Episode.__table__.update()
            .where(
                Episode.caseworker_id == caseworker_id,
                Episode.routing == Routing.CASEWORKER,
                Episode.caseworker_notified_on.is_(None),
            )
            .values(caseworker_notified_on=run_date)
        )
    return queued


def create_letters(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Queue a letter for every booked appointment that has none, and the caseworker emails."""
    counts = {"letters": 0, "email": 0, "print": 0, "caseworker_emails": 0}
    with session_scope(engine) as session:
        has_letter = exists().where(
            and_(
                Letter.appointment_id == Appointment.id,
                Letter.kind == LetterKind.APPOINTMENT.value,
            )
        )
        ids = list(
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
    for begin in range(0, len(ids), CHUNK):
        with session_scope(engine) as session:
            counts["letters"] += queue_appointment_letters(
                session, settings, ids[begin : begin + CHUNK], run_date
            )
    with session_scope(engine) as session:
        counts["caseworker_emails"] = notify_caseworkers(session, settings, run_date)
        for channel, number in session.execute(
            select(Letter.channel, func.count(Letter.id))
            .where(Letter.created_on == run_date, Letter.kind.in_(TENANT_KINDS))
            .group_by(Letter.channel)
        ):
            counts[channel] = int(number)
    return counts
