"""Each role against each object it must not reach: one case per role and forbidden URL.

The portal answers a wrong role with 404, exactly like a page that does not exist (see
``web.core.require_role``), before any CSRF check and before anything is read: so the
body holds no tenant's name or personnummer, nothing is written, and nothing is
audit-logged as read. The administrator manages accounts, companies, tokens and the
audit log; episodes, letters, receipts and the manager's report are not theirs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pytest
from advisor_helpers import new_episode
from portal_helpers import PASSWORD
from sqlalchemy import func, select, update

from models.db import session_scope
from models.tables import Activity, AuditLog, Caseworker, Episode, Letter, NoticeFile, PortalUser
from services import users

#: The two tenants of the fixture: the advisor's household and the caseworker's.
TENANT_NAMES = ("Eva Berg", "Per Ek")


@dataclass(frozen=True)
class World:
    """The objects the URLs point at (all real: a 404 is the boundary, not a bad id)."""

    advisor_episode: int
    letter: int
    caseworker_episode: int
    receipt: int


@pytest.fixture
def world(portal) -> World:  # noqa: ANN001
    """Two episodes uploaded by company A: one the advisor's (with its letter), one routed
    to caseworker hl1; accounts for every role."""
    advisor_episode, _ = new_episode(portal, seed=1, name=TENANT_NAMES[0])
    caseworker_episode, _ = new_episode(portal, seed=2, name=TENANT_NAMES[1])
    with session_scope(portal.engine) as session:
        session.add(Caseworker(id="hl1", name="Handläggare Ett", unit="EKB", email="hl1@kommun.se"))
        session.execute(
            update(Episode)
            .where(Episode.id == caseworker_episode)
            .values(routing="caseworker", caseworker_id="hl1")
        )
        users.create_user(session, "handlaggare1", PASSWORD, "caseworker", caseworker_id="hl1")
        users.create_user(session, "chef", PASSWORD, "manager")
        letter = session.scalar(
            select(func.min(Letter.id)).where(Letter.episode_id == advisor_episode)
        )
        receipt = session.scalar(
            select(func.max(NoticeFile.id)).where(NoticeFile.company_id == portal.company_a)
        )
    assert letter is not None and receipt is not None
    return World(advisor_episode, letter, caseworker_episode, receipt)


ADVISOR_EPISODE = "/radgivare/arenden/{advisor_episode}"
LETTER = "/radgivare/arenden/{advisor_episode}/brev/{letter}"
CASEWORKER_EPISODE = "/handlaggare/arenden/{caseworker_episode}"
RECEIPT = "/foretag/kvitton/{receipt}"
REPORT = "/chef/rapport.pdf?manad=2026-11"

#: Per account, (method, URL, form) that must answer 404; a form carries the account's
#: own valid CSRF token, so only the role can be what refuses it.
Forbidden = tuple[str, str, dict[str, str]]
FORBIDDEN: dict[str, list[Forbidden]] = {
    # company: another company's receipt, and every staff area
    "bolag-b": [
        ("GET", RECEIPT, {}),
        ("GET", RECEIPT + ".csv", {}),
        ("GET", ADVISOR_EPISODE, {}),
        ("GET", LETTER, {}),
        ("GET", CASEWORKER_EPISODE, {}),
        ("GET", "/chef", {}),
        ("GET", "/admin", {}),
    ],
    # advisor: the caseworker's pages, the manager's report, the administrator's pages
    "radgivare": [
        ("GET", "/handlaggare", {}),
        ("GET", CASEWORKER_EPISODE, {}),
        ("POST", CASEWORKER_EPISODE + "/atgard", {"anteckning": "Ringde"}),
        ("GET", "/chef", {}),
        ("GET", REPORT, {}),
        ("GET", RECEIPT, {}),
        ("GET", "/admin/logg", {}),
    ],
    # caseworker: the advisor's episodes and letters, the administrator's pages, receipts
    "handlaggare1": [
        ("GET", ADVISOR_EPISODE, {}),
        ("GET", LETTER, {}),
        ("GET", "/admin", {}),
        ("GET", "/admin/bolag", {}),
        ("GET", "/admin/logg", {}),
        ("GET", "/admin/logg.csv", {}),
        ("POST", "/admin/konton", {"username": "x1", "role": "admin"}),
        ("GET", RECEIPT, {}),
        ("GET", RECEIPT + ".xlsx", {}),
        ("GET", "/chef", {}),
    ],
    # manager: counts only, never an episode, a letter or a receipt
    "chef": [
        ("GET", "/radgivare", {}),
        ("GET", ADVISOR_EPISODE, {}),
        ("GET", LETTER, {}),
        ("POST", ADVISOR_EPISODE + "/besok", {"utfall": "kom"}),
        ("GET", CASEWORKER_EPISODE, {}),
        ("GET", RECEIPT, {}),
        ("GET", "/admin", {}),
    ],
    # administrator: accounts, companies, tokens and the log; no case contents
    "admin": [
        ("GET", "/chef", {}),
        ("GET", REPORT, {}),
        ("GET", RECEIPT, {}),
        ("GET", RECEIPT + ".csv", {}),
        ("GET", "/radgivare", {}),
        ("GET", ADVISOR_EPISODE, {}),
        ("GET", LETTER, {}),
        ("POST", ADVISOR_EPISODE + "/aktivitet", {"typ": "note", "text": "x"}),
        ("GET", "/handlaggare", {}),
        ("GET", CASEWORKER_EPISODE, {}),
    ],
}


@pytest.mark.parametrize("username", sorted(FORBIDDEN))
def test_a_role_gets_404_and_no_personal_data_on_each_forbidden_object(
    portal,  # noqa: ANN001
    world: World,
    username: str,
) -> None:
    """One case per role (the fixture is costly); every URL of the role is checked and a
    failure names it."""
    client, csrf = portal.login(username)
    for method, url, form in FORBIDDEN[username]:
        address = url.format(**asdict(world))
        with session_scope(portal.engine) as session:
            activities_before = session.scalar(select(func.count()).select_from(Activity))
            last_audit = session.scalar(select(func.max(AuditLog.id)))
        if method == "GET":
            answer = client.get(address)
        else:
            answer = client.post(address, data={"csrf_token": csrf, **form})
        where = (username, method, address)
        assert answer.status_code == 404, where
        assert "Sidan finns inte" in answer.text, where
        body = answer.text
        assert not [name for name in TENANT_NAMES if name in body], where
        assert "Storgatan" not in body and "12 345" not in body, where
        with session_scope(portal.engine) as session:
            # Nothing written, and nothing read on this person's behalf (no audit entry).
            activities = session.scalar(select(func.count()).select_from(Activity))
            created = session.scalar(select(func.count()).where(PortalUser.username == "x1"))
            logged = session.scalars(select(AuditLog.action).where(AuditLog.id > last_audit)).all()
        assert (activities, created, logged) == (activities_before, 0, []), where
