"""Test data for booking, letters and delivery, created directly with the ORM."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from models.db import session_scope
from models.tables import Caseworker, Episode, HousingCompany

_counter = {"n": 0}


def ensure_company(engine: Engine, company_id: str = "vasbyhem") -> str:
    with session_scope(engine) as session:
        if session.get(HousingCompany, company_id) is None:
            session.add(
                HousingCompany(id=company_id, name="Exempelbyhem AB", landlord_type="municipal")
            )
    return company_id


def add_episode(
    engine: Engine,
    *,
    deadline: date | None = date(2026, 11, 30),
    children: bool = False,
    children_known: bool = True,
    routing: str | None = "advisor",
    status: str = "termination_notice",
    email: str | None = None,
    language: str | None = None,
    debt: Decimal | None = Decimal("12345.50"),
    caseworker_id: str | None = None,
    name: str = "Åsa Öberg",
    street: str | None = "Ringvägen 12",
) -> int:
    """One episode with a tenant, an address and a deadline; returns its id."""
    company = ensure_company(engine)
    _counter["n"] += 1
    number = _counter["n"]
    with session_scope(engine) as session:
        episode = Episode(
            company_id=company,
            tenancy_key=f"{company}:K{number}",
            contract_ref=f"K{number}",
            personnummer="198501012384",
            personnummer_valid=True,
            tenant_name=name,
            street_address=street,
            apartment="1102",
            postal_code="12345",
            town="Exempelby",
            email=email,
            language=language,
            status=status,
            opened_on=date(2026, 11, 2),
            first_notice_date=date(2026, 11, 2),
            service_date=deadline - timedelta(days=21) if deadline else None,
            deadline_date=deadline,
            debt_amount=debt,
            routing=routing,
            caseworker_id=caseworker_id,
            has_children=children,
            children_count=2 if children else 0,
            children_known=children_known,
        )
        session.add(episode)
        session.flush()
        return episode.id


def add_caseworker(engine: Engine, caseworker_id: str, email: str | None) -> None:
    with session_scope(engine) as session:
        session.add(
            Caseworker(
                id=caseworker_id, name="Karin Svensson", unit="Ekonomiskt bistånd", email=email
            )
        )
