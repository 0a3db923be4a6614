"""Advisor test helpers: a new episode the real way (a company uploads, the daily stages
run), and the moment its meeting begins."""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from notice_rows import notice, notice_csv
from portal_helpers import csrf_of
from register_helpers import write_register
from sqlalchemy import func, select, update

from domain.formatting import local_today
from domain.synthetic import make_personnummer
from flows.stages.booking import book_appointments
from flows.stages.cases import import_register
from flows.stages.letters import create_letters
from flows.stages.matching import match_episodes
from models.db import session_scope
from models.tables import Appointment, AppointmentSlot, CaseSnapshot, Episode

#: The columns of the company's upload (a company sends only the columns it has).
COLUMNS = (
    "personnummer", "tenant_name", "street_address", "apartment", "postal_code", "town",
    "contract_ref", "event_type", "event_date", "service_date", "debt_amount", "phone", "email",
)  # fmt: skip


def notice_row(seed: int, name: str = "Eva Berg") -> tuple[dict[str, str], str]:
    """A termination notice served yesterday; returns (row, personnummer)."""
    today = local_today()
    pnr = make_personnummer(random.Random(seed), datetime(1980, 5, 17).date())
    row = notice(
        personnummer=pnr,
        tenant_name=name,
        street_address=f"Storgatan {seed}",
        apartment="1101",
        postal_code="194 30",
        town="Exempelby",
        contract_ref=f"K-{seed}",
        event_type="termination_notice",
        event_date=today - timedelta(days=3),
        service_date=today - timedelta(days=1),
        debt_amount="12 345,50",
        phone=f"070-123 45 {seed:02d}",
        email=f"eva{seed}@example.se",
    )
    return row, pnr


def new_episode(portal, seed: int = 1, name: str = "Eva Berg") -> tuple[int, str]:  # noqa: ANN001
    """Company A uploads one notice in the portal; today's match, booking and letter stages
    run. Returns the new episode's id and the tenant's personnummer."""
    row, pnr = notice_row(seed, name)
    client, _ = portal.login("bolag-a")
    page = client.get("/foretag")
    answer = client.post(
        "/foretag/filer",
        data={"csrf_token": csrf_of(page.text)},
        files={
            "filer": (
                f"uppsagningar-{seed}.csv",
                notice_csv([row], columns=COLUMNS).encode(),
                "text/csv",
            )
        },
    )
    assert answer.status_code == 303, answer.text
    today = local_today()
    with session_scope(portal.engine) as session:
        has_register = session.scalar(select(func.count()).select_from(CaseSnapshot))
    if not has_register:  # matching waits for a register; a stranger is routed to the advisor
        folder = Path(tempfile.mkdtemp(prefix="register-"))
        cases, household = write_register(folder)
        import_register(portal.engine, portal.settings, cases, household, taken_on=today)
    for stage in (match_episodes, book_appointments, create_letters):
        stage(portal.engine, portal.settings, today)
    with session_scope(portal.engine) as session:
        episode_id = session.scalar(select(func.max(Episode.id)))
    assert episode_id is not None
    return episode_id, pnr


def meeting_begins(engine, episode_id: int, minutes_ago: int = 5) -> None:  # noqa: ANN001
    """The booked meeting's time has come: its slot now started a few minutes ago."""
    start = datetime.now(UTC) - timedelta(minutes=minutes_ago)  # stored as UTC
    with session_scope(engine) as session:
        slot_id = session.scalars(
            select(Appointment.slot_id).where(
                Appointment.episode_id == episode_id, Appointment.status == "booked"
            )
        ).one()
        session.execute(
            update(AppointmentSlot)
            .where(AppointmentSlot.id == slot_id)
            .values(starts_at=start, ends_at=start + timedelta(minutes=45))
        )
