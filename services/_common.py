"""Small helpers the service modules share: stored timestamps, the episode lookup."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
from sqlalchemy.orm import Session

from domain.formatting import STOCKHOLM
from models.errors import NotFound
from models.tables import Episode


def as_utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC); PostgreSQL returns aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def start_of_day(day: date) -> datetime:
    """Local midnight in Stockholm, as UTC (what the database compares with)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=STOCKHOLM).astimezone(UTC)


def local_date(moment: datetime) -> date:
    """The Stockholm calendar day of a stored timestamp."""
    return as_utc(moment).astimezone(STOCKHOLM).date()


def utc_series(values: list[datetime | None]) -> pl.Series:
    """Stored timestamps as a UTC datetime column (naive values are taken as UTC)."""
    return pl.Series(
        [None if v is None else as_utc(v) for v in values], dtype=pl.Datetime("us", "UTC")
    )


def stockholm_series(values: list[datetime | None]) -> pl.Series:
    """Stored timestamps as Stockholm wall-clock time."""
    return utc_series(values).dt.convert_time_zone("Europe/Stockholm")


def stockholm_dates(values: list[datetime | None]) -> pl.Series:
    """Calendar days in Stockholm of stored timestamps (naive values are taken as UTC)."""
    return stockholm_series(values).dt.date()


def get_episode(session: Session, episode_id: int, *, for_update: bool = False) -> Episode:
    """The episode, or NotFound in one line (the id only: no personal data)."""
    episode = session.get(Episode, episode_id, with_for_update=for_update or None)
    if episode is None:
        raise NotFound(f"episode {episode_id} not found")
    return episode
