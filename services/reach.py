"""Did the letters reach the tenants in time? Loads what :mod:`domain.reach` measures.

Read-only; used by the demo's summary and ``bench/booking.py``. Counts only leave here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from domain.booking import LeadTimes
from domain.reach import EPISODES_SCHEMA, LETTERS_SCHEMA, ReachMeasures, reach_measures
from domain.vocabulary import LetterKind, LetterStatus, Routing
from models.config import Settings
from models.tables import (
    Appointment,
    AppointmentSlot,
    Episode,
    EpisodeTransition,
    Letter,
    Notice,
)
from services._common import stockholm_dates
from services.outbox import POST_COPY, TENANT_KINDS

#: Statuses that end an episode's need to be reached before its deadline.
_ENDED = ("settled", "withdrawn", "eviction_executed", "closed")


def _letters(session: Session) -> pl.DataFrame:
    known = (
        select(Notice.episode_id, func.min(Notice.event_date).label("on"))
        .where(Notice.eviction_at.is_not(None))
        .group_by(Notice.episode_id)
        .subquery()
    )
    copy = aliased(Letter)
    has_copy = exists().where(copy.copy_of_id == Letter.id, copy.kind == POST_COPY)
    rows = session.execute(
        select(
            Letter.id,
            Letter.episode_id,
            Letter.kind,
            Letter.channel,
            has_copy,
            Letter.status,
            Letter.created_on,
            Letter.sent_at,
            AppointmentSlot.starts_at,
            Appointment.short_notice,
            Episode.deadline_date,
            Episode.eviction_at,
            known.c.on,
        )
        .join(Appointment, Appointment.id == Letter.appointment_id)
        .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
        .join(Episode, Episode.id == Letter.episode_id)
        .outerjoin(known, known.c.episode_id == Letter.episode_id)
        .where(
            Letter.kind.in_([*TENANT_KINDS, POST_COPY]),
            Letter.status != LetterStatus.SUPERSEDED.value,
        )
        .order_by(Letter.id)
    ).all()
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in range(13)]
    return pl.DataFrame(
        {
            "letter_id": columns[0],
            "episode_id": columns[1],
            "kind": columns[2],
            "channel": columns[3],
            "post_copy": [bool(v) for v in columns[4]],
            "status": columns[5],
            "created_on": columns[6],
            "sent_on": stockholm_dates(list(columns[7])),
            "meeting_on": stockholm_dates(list(columns[8])),
            "short_notice": [bool(v) for v in columns[9]],
            "deadline_date": columns[10],
            "eviction_on": stockholm_dates(list(columns[11])),
            "eviction_known_on": columns[12],
        },
        schema=LETTERS_SCHEMA,
    )


def _episodes(session: Session) -> pl.DataFrame:
    ended = (
        select(EpisodeTransition.episode_id, func.min(EpisodeTransition.effective_date).label("on"))
        .where(EpisodeTransition.to_status.in_(_ENDED))
        .group_by(EpisodeTransition.episode_id)
        .subquery()
    )
    # Reaching the tenant is a letter that went out: sent or printed, not one that
    # failed, was replaced or still waits. A post copy of an appointment letter counts.
    original = aliased(Letter)
    first_sent = (
        select(Letter.episode_id, func.min(Letter.sent_at).label("at"))
        .outerjoin(original, original.id == Letter.copy_of_id)
        .where(
            Letter.status == LetterStatus.SENT.value,
            Letter.sent_at.is_not(None),
            or_(
                Letter.kind == LetterKind.APPOINTMENT.value,
                (Letter.kind == POST_COPY) & (original.kind == LetterKind.APPOINTMENT.value),
            ),
        )
        .group_by(Letter.episode_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Episode.id,
            Episode.opened_on,
            Episode.deadline_date,
            Episode.routing,
            Episode.caseworker_notified_on,
            ended.c.on,
            first_sent.c.at,
        )
        .outerjoin(ended, ended.c.episode_id == Episode.id)
        .outerjoin(first_sent, first_sent.c.episode_id == Episode.id)
        .where(Episode.deadline_date.is_not(None))
        .order_by(Episode.id)
    ).all()
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in range(7)]
    # The day the caseworker's email about the episode went out (the run's date).
    told = [
        day if routing == Routing.CASEWORKER else None
        for routing, day in zip(columns[3], columns[4], strict=True)
    ]
    return pl.DataFrame(
        {
            "episode_id": columns[0],
            "opened_on": columns[1],
            "deadline_date": columns[2],
            "caseworker_told_on": told,
            "ended_on": columns[5],
            "first_sent_on": stockholm_dates(list(columns[6])),
        },
        schema=EPISODES_SCHEMA,
    )


def measure_reach(
    session: Session, settings: Settings, as_of: date, rules: LeadTimes | None = None
) -> ReachMeasures:
    """The issue-12 measures of everything stored, as on ``as_of``; ``rules``: measure
    against other lead times than the configured ones (a bench comparing configurations)."""
    rules = rules or LeadTimes.of(settings.booking)
    return reach_measures(_letters(session), _episodes(session), as_of, rules)
