"""The statistics' reads and writes: the source columns, and the stored facts by month.

Only ids, dates, statuses and flags are selected from the episodes and their events:
no personal data leaves the database. The facts in ``stat_fact`` are replaced a month
at a time; the ``_refreshed`` and ``_frozen`` marker facts say which months were
computed and which must not be recomputed any more (see ``flows.stages.statistics``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from domain import statistics as st
from models.db import AnySelect, rows_frame
from models.tables import (
    Activity,
    Appointment,
    AppointmentSlot,
    Episode,
    HousingCompany,
    Letter,
    Notice,
    Reminder,
    StatFact,
)

_CHUNK = 1000


@dataclass(frozen=True)
class StatSources:
    """What :func:`domain.statistics.compute_facts` reads, one frame per source.

    Schemas: ``episodes`` :data:`domain.statistics.EPISODE_SCHEMA`, ``notices``
    ``NOTICE_SCHEMA``, ``companies`` ``COMPANY_SCHEMA``, ``appointments``
    ``APPOINTMENT_SCHEMA`` (with the slot's start), ``letters`` ``LETTER_SCHEMA``,
    ``activities`` ``ACTIVITY_SCHEMA``.
    """

    episodes: pl.DataFrame
    notices: pl.DataFrame
    companies: pl.DataFrame
    appointments: pl.DataFrame
    letters: pl.DataFrame
    activities: pl.DataFrame
    reminders: pl.DataFrame


def _frame(session: Session, statement: AnySelect, schema: Mapping[str, Any]) -> pl.DataFrame:
    """Rows of a select as a frame with the domain's schema (types fixed, order kept)."""
    return rows_frame(session.execute(statement).all(), schema)


def load_sources(session: Session) -> StatSources:
    """The columns the statistics need, as frames (ids, dates, flags: no personal data)."""
    return StatSources(
        episodes=_frame(
            session,
            select(
                Episode.id,
                Episode.opened_on,
                Episode.first_notice_date,
                Episode.routing,
                Episode.matched_at,
                Episode.has_children,
                Episode.is_recurrence,
                Episode.outcome,
                Episode.outcome_certainty,
                Episode.outcome_date,
                Episode.company_id,
                Episode.children_count,
                Episode.children_known,
                Episode.deadline_date,
            ),
            st.EPISODE_SCHEMA | st.EPISODE_EXTRA_SCHEMA,
        ),
        notices=_frame(
            session,
            select(
                Notice.episode_id,
                Notice.company_id,
                Notice.event_type,
                Notice.event_date,
                Notice.received_at,
            ),
            st.NOTICE_SCHEMA | st.NOTICE_EXTRA_SCHEMA,
        ),
        companies=_frame(
            session, select(HousingCompany.id, HousingCompany.landlord_type), st.COMPANY_SCHEMA
        ),
        appointments=_frame(
            session,
            select(
                Appointment.id,
                Appointment.episode_id,
                Appointment.status,
                Appointment.before_deadline,
                Appointment.booked_at,
                AppointmentSlot.starts_at,
            ).join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id),
            st.APPOINTMENT_SCHEMA,
        ),
        letters=_frame(
            session,
            select(
                Letter.episode_id,
                Letter.kind,
                Letter.channel,
                Letter.status,
                Letter.sent_at,
                Letter.created_on,
                Letter.appointment_id,
            ),
            st.LETTER_SCHEMA,
        ),
        activities=_frame(
            session,
            select(Activity.episode_id, Activity.kind, Activity.on_date),
            st.ACTIVITY_SCHEMA,
        ),
        reminders=_frame(
            session,
            select(Reminder.channel, Reminder.sent_at, Reminder.delivered_at, Reminder.failed_at),
            st.REMINDER_SCHEMA,
        ),
    )


def months_with(session: Session, metric: str, months: Sequence[str]) -> set[str]:
    """The months that have a marker fact (``_refreshed``, ``_frozen``)."""
    if not months:
        return set()
    return set(
        session.scalars(
            select(StatFact.month).where(StatFact.metric == metric, StatFact.month.in_(months))
        )
    )


def mark_frozen(session: Session, months: Iterable[str]) -> int:
    """Store the frozen marker of the months that do not have it yet; returns how many."""
    months = sorted(set(months))
    have = months_with(session, st.FROZEN_METRIC, months)
    rows = [
        {"month": m, "metric": st.FROZEN_METRIC, "dimension": "", "value": 1.0}
        for m in months
        if m not in have
    ]
    if rows:
        session.execute(insert(StatFact), rows)
    return len(rows)


def replace_facts(session: Session, months: Sequence[str], facts: pl.DataFrame) -> None:
    """Replace the months' facts (``FACT_SCHEMA``) by ``facts``; frozen markers stay."""
    session.execute(
        delete(StatFact).where(StatFact.month.in_(months), StatFact.metric != st.FROZEN_METRIC)
    )
    rows = facts.to_dicts()
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(StatFact), rows[start : start + _CHUNK])
