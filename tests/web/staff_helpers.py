"""Portal test data for the staff pages: two caseworkers, each with one routed episode."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from notice_rows import notice
from portal_helpers import PASSWORD, Portal, csrf_of, notice_file
from sqlalchemy import select, update

from domain.synthetic import make_personnummer
from models.db import session_scope
from models.tables import Caseworker, Episode
from services import users

#: The tenants of the first caseworker's episode and of the second's.
TENANTS = {1: ("Eva Berg", "Storgatan 1"), 2: ("Olle Ström", "Lillgatan 9")}


def personnummer(seed: int) -> str:
    return make_personnummer(random.Random(seed), date(1980, 5, 17))


def staff_file(seed: int) -> bytes:
    """One termination notice (debt 12 345,50 kr) of the tenant ``TENANTS[seed]``."""
    name, street = TENANTS[seed]
    row = notice(
        personnummer=personnummer(seed), tenant_name=name, street_address=street,
        apartment="1101", postal_code="194 30", town="Exempelby", contract_ref=f"K-{seed}",
        event_type="termination_notice", event_date="2026-11-02", service_date="2026-11-04",
        debt_amount="12 345,50",
    )  # fmt: skip
    return notice_file([row])


@dataclass(frozen=True)
class Staff:
    mine: int  # the episode routed to handlaggare1 (caseworker hl1)
    theirs: int  # the episode routed to handlaggare2 (caseworker hl2)


def upload(portal: Portal, seed: int, username: str = "bolag-a") -> None:
    """A company user uploads ``staff_file(seed)`` in the portal."""
    client, csrf = portal.login(username)
    answer = client.post(
        "/foretag/filer",
        data={"csrf_token": csrf},
        files={"filer": (f"fil-{seed}.csv", staff_file(seed), "text/csv")},
    )
    assert answer.status_code == 303, answer.text


def make_staff(portal: Portal) -> Staff:
    """Two episodes (``staff_file`` 1 and 2), routed to two caseworkers with accounts,
    and a manager account ``chef``."""
    upload(portal, 1)
    upload(portal, 2)
    with session_scope(portal.engine) as session:
        session.add_all(
            [
                Caseworker(id="hl1", name="Handläggare Ett", unit="EKB", email="hl1@kommun.se"),
                Caseworker(id="hl2", name="Handläggare Två", unit="EKB", email="hl2@kommun.se"),
            ]
        )
        first, second = sorted(session.scalars(select(Episode.id)))
        for episode_id, worker in ((first, "hl1"), (second, "hl2")):
            session.execute(
                update(Episode)
                .where(Episode.id == episode_id)
                .values(routing="caseworker", caseworker_id=worker)
            )
        users.create_user(session, "handlaggare1", PASSWORD, "caseworker", caseworker_id="hl1")
        users.create_user(session, "handlaggare2", PASSWORD, "caseworker", caseworker_id="hl2")
        users.create_user(session, "chef", PASSWORD, "manager")
    return Staff(mine=first, theirs=second)


__all__ = ["PASSWORD", "TENANTS", "Staff", "csrf_of", "make_staff", "personnummer", "upload"]
