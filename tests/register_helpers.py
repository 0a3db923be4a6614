"""Test helpers for the case register and matching: numbers, a tiny register, episodes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from domain.identity import check_digit
from models.db import session_scope
from models.tables import Episode, HousingCompany

RUN = date(2026, 11, 2)


def pnr(prefix11: str) -> str:
    """A valid 12-digit personnummer from its first 11 digits."""
    return prefix11 + check_digit(prefix11[2:])


CASES_HEADER = (
    "case_id;personnummer;name;street_address;apartment;postal_code;unit;caseworker_id;"
    "caseworker_name;caseworker_email;language"
)


def write_register(folder: Path) -> tuple[Path, Path]:
    cases = folder / "cases.csv"
    cases.write_text(
        "\n".join(
            [
                CASES_HEADER,
                f"C1;{pnr('19800101123')};Anna Häggström;Storgatan 12;1102;12345;"
                "Ekonomiskt bistånd;hs1;Helena Sjöberg;helena@exempelby.se;sv",
                f"C2;{pnr('19900303789')[2:8]}-{pnr('19900303789')[8:]};Omar Ali;Björkvägen 3;"
                "1001;12346;Missbruk;lb3;Linnea Berg;linnea@exempelby.se;sv",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    household = folder / "household.csv"
    household.write_text(
        "\n".join(
            [
                "case_id;personnummer;name;relation;birth_date",
                f"C1;{pnr('19850202456')};Lars Berg;partner;1985-02-02",
                f"C1;{pnr('20150505123')};Kalle Berg;child;2015-05-05",
                "C1;;;barn;2019-01-01",
                f"C2;{pnr('20050101234')};Sara Ali;adult;",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return cases, household


def add_episode(engine, key: str, personnummer: str | None, name: str, **fields) -> int:
    with session_scope(engine) as session:
        if session.get(HousingCompany, "bo") is None:
            session.add(HousingCompany(id="bo", name="Bo AB", landlord_type="municipal"))
            session.flush()
        episode = Episode(
            company_id="bo",
            tenancy_key=key,
            personnummer=personnummer,
            tenant_name=name,
            status="termination_notice",
            opened_on=RUN,
            first_notice_date=RUN,
            **fields,
        )
        session.add(episode)
        session.flush()
        return episode.id
