"""Database setup shared by ``kvarboende init``, the demo and the tests."""

from __future__ import annotations

from sqlalchemy import Engine, select

from models.config import Settings
from models.db import session_scope, upgrade
from models.tables import HousingCompany


def sync_companies(engine: Engine, settings: Settings) -> int:
    """Insert or update the configured housing companies; returns how many there are."""
    with session_scope(engine) as session:
        existing = {c.id: c for c in session.scalars(select(HousingCompany))}
        for company in settings.companies:
            row = existing.get(company.id)
            if row is None:
                session.add(
                    HousingCompany(
                        id=company.id, name=company.name, landlord_type=company.landlord_type
                    )
                )
            else:
                row.name, row.landlord_type = company.name, company.landlord_type
    return len(settings.companies)


def prepare_database(engine: Engine, settings: Settings) -> None:
    """Migrate to the latest schema and register the companies: what ``init`` does."""
    upgrade(engine)
    sync_companies(engine, settings)
