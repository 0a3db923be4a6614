"""A synthetic municipality for the demo: a case register and housing companies' notices.

Everything is invented and reproducible from a seed. Personnummer carry valid Luhn
digits (some are samordningsnummer), some tenants are clients of social services,
some are the partner or another adult in a client's household, and every arrears
episode follows a realistic chain: termination notice → payment order → eviction
booked → executed, or settled somewhere along the way.

The result is plain data (polars frames); :mod:`connectors.demo_files` writes it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import polars as pl

from domain.identity import check_digit

FIRST_NAMES = (
    "Anna", "Eva", "Maria", "Karin", "Sara", "Lena", "Emma", "Sofia", "Ida", "Elin",
    "Lars", "Anders", "Johan", "Per", "Erik", "Karl", "Mikael", "Peter", "Ali", "Mohammed",
    "Fatima", "Amina", "Hassan", "Leila", "Yusuf", "Aino", "Mikko", "Zeynep", "Omar", "Nour",
)  # fmt: skip
LAST_NAMES = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg", "Lindqvist",
    "Häggström", "Öberg", "Åkesson", "Hussein", "Ahmed", "Mohamud", "Rezaei", "Virtanen",
    "Korhonen", "Yilmaz", "Berg", "Ström", "Sandberg", "Holm", "Forsberg", "Nyström",
)  # fmt: skip
STREETS = (
    "Drabantvägen", "Centralvägen", "Stationsgatan", "Björkvägen", "Ekebyvägen",
    "Runby Torg", "Vikingavägen", "Skolgatan", "Tingsvägen", "Bollstanäsvägen",
)  # fmt: skip
UNITS = ("Ekonomiskt bistånd", "Missbruk", "Barn och familj", "Socialpsykiatri")
CASEWORKERS = (
    ("hs1", "Helena Sjöberg", "Ekonomiskt bistånd"),
    ("mk2", "Martin Kallio", "Ekonomiskt bistånd"),
    ("lb3", "Linnea Berg", "Missbruk"),
    ("ra4", "Rana Alavi", "Barn och familj"),
    ("jn5", "Jonas Nord", "Socialpsykiatri"),
)


@dataclass
class Person:
    personnummer: str  # 12 digits
    first: str
    last: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass
class Tenancy:
    company_id: str
    contract_ref: str
    street_address: str
    apartment: str
    postal_code: str
    monthly_rent: int


@dataclass
class DemoMunicipality:
    """The generated register and notices, plus the truth used to check the demo."""

    cases: pl.DataFrame
    household: pl.DataFrame
    notices: pl.DataFrame  # canonical fields + company_id, delivered_on, row_note
    known_tenants: set[str] = field(default_factory=set)


def make_personnummer(rng: random.Random, born: date, coordination: bool = False) -> str:
    """A 12-digit number with a valid Luhn check digit (day + 60 for samordningsnummer)."""
    day = born.day + (60 if coordination else 0)
    serial = f"{rng.randint(0, 999):03d}"
    first9 = f"{born:%y}{born.month:02d}{day:02d}{serial}"
    return f"{born.year // 100}{first9}{check_digit(first9)}"


def _person(rng: random.Random, oldest: int, youngest: int, today: date) -> Person:
    born = today - timedelta(days=rng.randint(youngest * 365, oldest * 365))
    coordination = rng.random() < 0.04
    return Person(make_personnummer(rng, born, coordination), rng.choice(FIRST_NAMES), "")


def _working_day_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def generate(
    seed: int,
    start: date,
    days: int,
    households: int,
    company_ids: tuple[str, ...] = ("vasbyhem", "hyresvard"),
    quarterly: tuple[str, ...] = (),
) -> DemoMunicipality:
    """Generate the register (``households`` cases) and the notices of ``days`` days.

    Companies in ``quarterly`` deliver one file per calendar quarter, on the first
    working day after it: their chains may have begun up to a quarter before ``start``,
    and a notice reaches us up to three months after its date (domain.rhythm).
    """
    rng = random.Random(seed)
    today = start
    used: set[str] = set()

    def unique_person(oldest: int, youngest: int) -> Person:
        while True:
            person = _person(rng, oldest, youngest, today)
            if person.personnummer not in used:
                used.add(person.personnummer)
                person.last = rng.choice(LAST_NAMES)
                return person

    def tenancy(company_id: str, number: int) -> Tenancy:
        street = f"{rng.choice(STREETS)} {rng.randint(1, 60)}"
        return Tenancy(
            company_id=company_id,
            contract_ref=f"{company_id[:2].upper()}-{number:06d}",
            street_address=street,
            apartment=f"{rng.randint(10, 14)}{rng.randint(1, 9):02d}",
            postal_code=f"194 {rng.randint(30, 79)}",
            monthly_rent=rng.randrange(5200, 12800, 100),
        )

    # --- the case register: clients, their households, some children -------------------
    case_rows, member_rows = [], []
    client_homes: list[tuple[Person, list[Person], Tenancy]] = []
    for number in range(1, households + 1):
        client = unique_person(80, 20)
        worker_id, worker_name, unit = rng.choice(CASEWORKERS)
        home = tenancy(rng.choice(company_ids), 100000 + number)
        case_rows.append(
            {
                "case_id": f"C{number:05d}",
                "personnummer": client.personnummer,
                "name": client.name,
                "street_address": home.street_address,
                "apartment": home.apartment,
                "postal_code": home.postal_code,
                "unit": unit,
                "caseworker_id": worker_id,
                "caseworker_name": worker_name,
                "caseworker_email": f"{worker_id}@exempelby.se",
                "language": "en" if rng.random() < 0.08 else "sv",
            }
        )
        adults: list[Person] = []
        if rng.random() < 0.45:
            partner = unique_person(80, 20)
            partner.last = client.last if rng.random() < 0.6 else partner.last
            adults.append(partner)
            member_rows.append(_member(number, partner, "partner"))
        if rng.random() < 0.08:
            adult = unique_person(30, 18)
            adult.last = client.last
            adults.append(adult)
            member_rows.append(_member(number, adult, "adult"))
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3))):
            child = unique_person(17, 0)
            child.last = client.last
            member_rows.append(_member(number, child, "child"))
        client_homes.append((client, adults, home))

    # --- arrears episodes: some tenants are known (as client or household adult) -------
    end = start + timedelta(days=days)
    notice_rows: list[dict[str, object]] = []
    known: set[str] = set()
    n_episodes = max(20, households // 6)
    for number in range(1, n_episodes + 1):
        roll = rng.random()
        if roll < 0.12:
            client, adults, home = rng.choice(client_homes)
            tenant = client
        elif roll < 0.20 and any(adults for _, adults, _ in client_homes):
            client, adults, home = rng.choice([c for c in client_homes if c[1]])
            tenant = adults[0]
        else:
            tenant = unique_person(85, 19)
            home = tenancy(rng.choice(company_ids), number)
        if roll < 0.20:
            known.add(tenant.personnummer)
        notice_rows.extend(
            _episode_chain(rng, tenant, home, start, end, number, home.company_id in quarterly)
        )

    notices = pl.DataFrame(notice_rows, infer_schema_length=None).sort(
        ["delivered_on", "company_id", "contract_ref", "event_date"]
    )
    return DemoMunicipality(
        cases=pl.DataFrame(case_rows),
        household=pl.DataFrame(member_rows, infer_schema_length=None),
        notices=notices,
        known_tenants=known,
    )


def _member(case_number: int, person: Person, relation: str) -> dict[str, object]:
    born = date(int(person.personnummer[:4]), int(person.personnummer[4:6]), 1)
    day = int(person.personnummer[6:8])
    born = born.replace(day=day - 60 if day > 60 else day)
    return {
        "case_id": f"C{case_number:05d}",
        "personnummer": person.personnummer,
        "name": person.name,
        "relation": relation,
        "birth_date": born.isoformat(),
    }


def quarter_delivery(day: date) -> date:
    """The first working day after the calendar quarter of ``day`` (a quarterly file)."""
    month = (day.month - 1) // 3 * 3 + 4
    first = date(day.year + (month > 12), (month - 1) % 12 + 1, 1)
    first = _working_day_on_or_after(first)
    while (first.month, first.day) in ((1, 1), (1, 6)):  # New Year, Epiphany
        first = _working_day_on_or_after(first + timedelta(days=1))
    return first


def _episode_chain(
    rng: random.Random,
    tenant: Person,
    home: Tenancy,
    start: date,
    end: date,
    number: int,
    quarterly: bool = False,
) -> list[dict[str, object]]:
    """The notices of one arrears episode that fall inside the simulated period.

    A quarterly company's chain may begin a quarter before ``start``: its file of the
    first working day after the quarter carries it.
    """
    span = (end - start).days
    offset = rng.randint(0, span * 2 // 3) if rng.random() < 0.7 else rng.randint(0, span)
    if quarterly:
        offset = rng.randint(-92, span)
    noticed = _working_day_on_or_after(start + timedelta(days=offset))
    debt = home.monthly_rent * rng.choice((1, 1, 2, 2, 3)) + rng.randrange(0, 3000, 50)
    served = noticed + timedelta(days=rng.randint(2, 6))
    email = (
        f"{tenant.first.lower()}.{tenant.last.lower()}{number}@example.se"
        if rng.random() < 0.4
        else ""
    )
    base = {
        "personnummer": tenant.personnummer,
        "tenant_name": tenant.name,
        "co_tenant_name": "",
        "co_tenant_personnummer": "",
        "street_address": home.street_address,
        "apartment": home.apartment,
        "postal_code": home.postal_code,
        "town": "Exempelby",
        "contract_ref": home.contract_ref,
        "monthly_rent": home.monthly_rent,
        "email": email.translate(str.maketrans("åäö", "aao")),
        "phone": f"070-{rng.randint(1000000, 9999999)}" if rng.random() < 0.5 else "",
        "language": "en" if rng.random() < 0.06 else "",
        "company_id": home.company_id,
    }

    def event(kind: str, on: date, **extra: Any) -> dict[str, Any]:
        return {
            **base,
            "event_type": kind,
            "event_date": on,
            "service_date": served if kind == "termination_notice" else None,
            "debt_amount": extra.pop("debt", debt),
            "eviction_at": extra.pop("eviction_at", None),
            "delivered_on": quarter_delivery(on)
            if quarterly
            else _working_day_on_or_after(on + timedelta(days=1)),
        }

    chain = [event("termination_notice", noticed)]
    day = noticed
    if rng.random() < 0.55:  # settled within the three weeks, most often without help
        chain.append(event("settled", day + timedelta(days=rng.randint(6, 20)), debt=0))
    else:
        day += timedelta(days=rng.randint(15, 22))
        chain.append(event("payment_order", day, debt=debt + 450))
        if rng.random() < 0.45:
            chain.append(event("settled", day + timedelta(days=rng.randint(5, 15)), debt=0))
        else:
            day += timedelta(days=rng.randint(7, 12))
            chain.append(event("decision", day, debt=debt + 900))
            evict_on = _working_day_on_or_after(day + timedelta(days=rng.randint(12, 20)))
            evict_at = datetime.combine(evict_on, time(9 + rng.randint(0, 4), 0))
            day += timedelta(days=rng.randint(2, 5))
            chain.append(event("eviction_scheduled", day, debt=debt + 900, eviction_at=evict_at))
            if rng.random() < 0.5:
                chain.append(event("eviction_executed", evict_on, debt=debt + 900))
            else:
                chain.append(event("settled", evict_on - timedelta(days=2), debt=0))
    return [row for row in chain if start <= row["delivered_on"] < end]
