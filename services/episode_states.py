"""Stored episodes of the tenancies in a notice file, as the episode rules need them.

Read in Core rows (plain tuples are much cheaper than ORM objects for thousands of
episodes), with the day each reached its current status (the rule is
:func:`domain.episodes.status_reached_on`) and its first termination notice's date.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.episodes import (
    LATEST_FIELDS,
    EpisodeState,
    silence_reopen_until,
    status_reached_on,
)
from domain.outcomes import SOURCE_SILENCE
from domain.vocabulary import EventType
from models.db import chunks
from models.tables import Episode, EpisodeTransition, Notice


def load_states(
    session: Session, company_id: str, tenancy_keys: pl.Series, silence_days: int | None = None
) -> dict[str, list[EpisodeState]]:
    """Stored episodes of these tenancies, with the date their current status was reached.

    With ``silence_days`` (the company's silence window) an episode closed for silence
    knows until when a later notice re-opens it (:func:`silence_reopen_until`).
    """
    states: dict[str, list[EpisodeState]] = {}
    anything = session.execute(
        select(Episode.id).where(Episode.company_id == company_id).limit(1)
    ).first()
    if anything is None:
        return states
    keys = tenancy_keys.unique().to_list()
    table = Episode.__table__
    wanted = [
        table.c[name]
        for name in (
            "id", "tenancy_key", "status", "first_notice_date", "last_event_date",
            "outcome", "outcome_certainty", "outcome_date", "outcome_source",
            *LATEST_FIELDS, "personnummer",
            "personnummer_valid", "service_date", "deadline_date", "deadline_estimated",
            "reached_payment_order",
        )
    ]  # fmt: skip
    rows: list[Any] = []  # Core rows: plain tuples are much cheaper than ORM objects here
    for chunk in chunks(keys):
        rows.extend(session.execute(select(*wanted).where(table.c.tenancy_key.in_(chunk))))
    if not rows:
        return states
    ids = [row.id for row in rows]
    status_dates: dict[tuple[int, str], date] = {}
    for chunk_ids in chunks(ids):
        query = (
            select(
                EpisodeTransition.episode_id,
                EpisodeTransition.to_status,
                func.max(EpisodeTransition.effective_date),
            )
            .where(EpisodeTransition.episode_id.in_(chunk_ids))
            .group_by(EpisodeTransition.episode_id, EpisodeTransition.to_status)
        )
        for episode_id, status, when in session.execute(query):
            if when is not None:
                status_dates[(episode_id, status)] = when
    terminations = termination_dates(session, ids)
    for row in rows:
        last = row.last_event_date or row.first_notice_date
        status_date = status_reached_on(
            row.status,
            last,
            row.outcome_date,
            row.outcome_source,
            status_dates.get((row.id, row.status)),
        )
        values = {name: getattr(row, name) for name in LATEST_FIELDS}
        values.update(
            personnummer=row.personnummer,
            personnummer_valid=row.personnummer_valid,
            service_date=row.service_date,
            deadline_date=row.deadline_date,
            deadline_estimated=bool(row.deadline_estimated),
            termination_date=terminations.get(row.id),
            reached_payment_order=row.reached_payment_order,
            outcome=row.outcome,
            outcome_certainty=row.outcome_certainty,
            _seen=True,
        )
        if values.get("debt_amount") is not None:
            values["debt_amount"] = float(values["debt_amount"])
        if values.get("monthly_rent") is not None:
            values["monthly_rent"] = float(values["monthly_rent"])
        states.setdefault(row.tenancy_key, []).append(
            EpisodeState(
                tenancy_key=row.tenancy_key,
                status=row.status,
                first_notice_date=row.first_notice_date,
                last_event_date=last,
                status_date=status_date,
                values=values,
                id=row.id,
                reopen_until=(
                    silence_reopen_until(row.outcome_date, silence_days)
                    if silence_days is not None
                    and row.status == "closed"
                    and row.outcome_source == SOURCE_SILENCE
                    else None
                ),
            )
        )
    return states


def termination_dates(session: Session, episode_ids: list[int]) -> dict[int, date]:
    """The first termination notice's date per stored episode (the deadline's estimate base)."""
    dates: dict[int, date] = {}
    for chunk_ids in chunks(episode_ids):
        query = (
            select(Notice.episode_id, func.min(Notice.event_date))
            .where(
                Notice.episode_id.in_(chunk_ids),
                Notice.event_type == EventType.TERMINATION_NOTICE.value,
            )
            .group_by(Notice.episode_id)
        )
        dates.update(
            {episode_id: when for episode_id, when in session.execute(query) if episode_id}
        )
    return dates


# ---------------------------------------------------------------------------
