"""The configured housing companies in the database (``init``, the demo, the tests)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.config import Settings
from models.tables import HousingCompany


def sync_companies(session: Session, settings: Settings) -> int:
    """Insert or update the configured housing companies; returns how many there are."""
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
