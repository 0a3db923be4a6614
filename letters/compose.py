"""Assembling a tenant's letter and its email from the stored facts: one home.

The letter stage loads an episode, its appointment and slot and calls
:func:`letter_input`; :func:`compose_letters` renders the PDFs (``render.py``) and
words the emails around them (``emails.py``, Jinja2 templates in
``templates/email``). The sender, the advisor's contact block and the address block
are built here from the configuration and the episode, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.addresses import recipient_lines
from domain.formatting import sv_weekday_date
from letters.emails import render_email
from letters.render import (
    AdvisorContact,
    LetterInput,
    LetterTemplate,
    LetterTexts,
    Sender,
    letter_context,
    letter_language,
    render_letters,
)
from models.config import AdvisorConfig, Settings
from models.db import as_utc
from models.tables import Appointment, AppointmentSlot, Episode

#: Letters rendered by Typst in one go (and queued in one transaction by the stage).
BATCH = 100


@dataclass(frozen=True)
class ComposedLetter:
    """One tenant letter ready to queue: its PDF and the email around it."""

    pdf: bytes
    language: str
    subject: str
    body: str


def _advisor(settings: Settings, advisor_id: str) -> AdvisorConfig:
    for advisor in settings.advisors:
        if advisor.id == advisor_id:
            return advisor
    return settings.advisor()


def sender(settings: Settings) -> Sender:
    """The municipality's letterhead and return address."""
    m = settings.municipality
    return Sender(m.name, m.social_services, m.address, m.phone, m.website)


def advisor_contact(settings: Settings, advisor_id: str) -> AdvisorContact:
    """The advisor's block: who the tenant meets, where, and how to reach them."""
    advisor = _advisor(settings, advisor_id)
    return AdvisorContact(
        advisor.name, advisor.phone, advisor.email, advisor.location, advisor.address
    )


def letter_input(
    settings: Settings,
    episode: Episode,
    appointment: Appointment,
    slot: AppointmentSlot,
    template: LetterTemplate,
    version: int,
    run_date: date,
) -> LetterInput:
    """The facts of one appointment or cancellation letter."""
    return LetterInput(
        template=template,
        language=episode.language or "sv",
        reference=str(episode.id),
        letter_date=run_date,
        version=version,
        recipient_lines=recipient_lines(episode),
        sender=sender(settings),
        advisor=advisor_contact(settings, slot.advisor_id),
        starts_at=as_utc(slot.starts_at),
        ends_at=as_utc(slot.ends_at),
        deadline=episode.deadline_date,
        debt=episode.debt_amount,
        before_deadline=appointment.before_deadline,
        deadline_estimated=bool(episode.deadline_estimated),
        payment_days=settings.booking.payment_days,
        eviction_at=as_utc(episode.eviction_at) if episode.eviction_at else None,
        landlord=landlord_name(settings, episode.company_id),
        notice_received=episode.opened_on,
        postal_days=settings.booking.postal_days,
        texts=letter_texts(settings),
    )


def landlord_name(settings: Settings, company_id: str) -> str | None:
    """The landlord's name as configured, for "call your landlord"."""
    for company in settings.companies:
        if company.id == company_id:
            return company.name
    return None


def letter_texts(settings: Settings) -> LetterTexts:
    """The configured parts of every letter: phone hours, urgent number, help box."""
    return LetterTexts.from_config(settings.letters, settings.municipality.phone)


def email_context(settings: Settings, item: LetterInput) -> dict[str, Any]:
    """What the tenant email templates print: the letter's own formatted values.

    The email says what the letter says about the meeting, the debt and paying (the
    same phase rules), and nothing about the tenant beyond it.
    """
    context = letter_context(item)
    return {
        "version": item.version,
        "day": context["meeting"]["day"],
        "time": context["meeting"]["time"],
        "location": item.advisor.location,
        "address": item.advisor.address,
        "deadline": context["deadline"],
        "deadline_estimated": context["deadline_estimated"],
        "payment_period": context["payment_period"],
        "debt": context["debt"],
        "phase": context["phase"],
        "eviction": context["eviction"],
        "notice_late": context["notice_late"],
        "before_deadline": context["before_deadline"],
        "landlord": context["landlord"],
        "phone_hours": context["phone_hours"],
        "urgent_phone": context["urgent_phone"],
        "attach_pdf": settings.letters.email_attach_pdf,
        "advisor_name": item.advisor.name,
        "advisor_phone": item.advisor.phone,
        "advisor_email": item.advisor.email,
        "reference": item.reference,
        "unit": settings.municipality.social_services,
        "municipality": settings.municipality.name,
    }


def compose_letters(
    settings: Settings, letters: Sequence[tuple[LetterInput, str]]
) -> list[ComposedLetter]:
    """Render the letters (``(facts, kind)``) in one Typst batch and word their emails."""
    pdfs = render_letters([item for item, _ in letters], batch_size=BATCH)
    composed = []
    for (item, kind), pdf in zip(letters, pdfs, strict=True):
        language = letter_language(item.language)
        subject, body = render_email(kind, language, **email_context(settings, item))
        composed.append(ComposedLetter(pdf, language, subject, body))
    return composed


def caseworker_notice(settings: Settings, count: int, run_date: date) -> tuple[str, str]:
    """(subject, body) of the staff email about newly routed episodes: counts and the link
    to the caseworker's portal page, never a command or personal data."""
    return render_email(
        "caseworker_notice",
        "sv",
        count=count,
        run_date=sv_weekday_date(run_date),
        link=settings.web.link("/handlaggare"),
        unit=settings.municipality.social_services,
        municipality=settings.municipality.name,
    )
