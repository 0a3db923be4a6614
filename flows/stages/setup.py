"""Database setup shared by ``kvarboende init``, the demo and the tests."""

from __future__ import annotations

from sqlalchemy import Engine

from models.config import Settings
from models.db import session_scope, upgrade
from services import setup


def sync_companies(engine: Engine, settings: Settings) -> int:
    """Insert or update the configured housing companies; returns how many there are."""
    with session_scope(engine) as session:
        return setup.sync_companies(session, settings)


def prepare_database(engine: Engine, settings: Settings) -> None:
    """Migrate to the latest schema and register the companies: what ``init`` does."""
    upgrade(engine)
    sync_companies(engine, settings)
