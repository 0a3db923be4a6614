"""The administrator changes an account's role and binding, and reactivates accounts.

A role change ends the account's sessions (the next page is behind a new login, with the
new boundary); the last active administrator is never taken away; every change is
audit-logged with ids only.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from flows.stages.setup import prepare_database
from models.config import Settings
from models.db import session_scope
from models.errors import NotAllowed
from models.tables import AuditLog, PortalUser
from services import users

PASSWORD = "ett-långt-lösenord"


@pytest.fixture
def ids(db_engine: Engine, settings: Settings) -> dict[str, int]:
    prepare_database(db_engine, settings)
    with session_scope(db_engine) as s:
        return {
            "admin": users.create_user(s, "admin", PASSWORD, "admin").id,
            "hl": users.create_user(s, "hl", PASSWORD, "caseworker", caseworker_id="hl1").id,
        }


def _token(engine: Engine, username: str) -> str:
    with session_scope(engine) as s:
        return users.login(s, username, PASSWORD, address="test").session_token


def _resolves(engine: Engine, token: str) -> users.ActiveSession | None:
    with session_scope(engine) as s:
        return users.resolve_session(s, token, idle_minutes=30)


def test_a_role_change_rebinds_ends_the_sessions_and_is_audited(db_engine, ids) -> None:  # noqa: ANN001
    token = _token(db_engine, "hl")
    assert _resolves(db_engine, token) is not None
    with session_scope(db_engine) as s:
        ended = users.change_role(s, ids["hl"], "manager", by="admin", address="1.2.3.4")
    assert ended == 1
    assert _resolves(db_engine, token) is None
    with session_scope(db_engine) as s:
        user = users.get_user(s, ids["hl"])
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "change_role")).one()
    assert (user.role, user.caseworker_id, user.active) == ("manager", None, True)
    assert (entry.actor, entry.entity_id, entry.address) == ("admin", str(ids["hl"]), "1.2.3.4")
    assert entry.detail == "from role=caseworker caseworker=hl1 to role=manager sessions_ended=1"
    again = _resolves(db_engine, _token(db_engine, "hl"))
    assert again is not None and again.user.role == "manager"


def test_a_new_caseworker_id_alone_is_a_change_too(db_engine, ids) -> None:  # noqa: ANN001
    with session_scope(db_engine) as s:
        users.change_role(s, ids["hl"], "caseworker", caseworker_id=" hl2 ", by="admin")
        assert users.get_user(s, ids["hl"]).caseworker_id == "hl2"


@pytest.mark.parametrize(
    ("role", "binding", "words"),
    [
        ("company", {}, "måste höra till ett bostadsbolag"),
        ("company", {"company_id": "finns-inte"}, "finns inte"),
        ("manager", {"caseworker_id": "hl1"}, "Bara en socialsekreterares konto"),
        ("caseworker", {"caseworker_id": "hl1"}, "Inget ändrades"),
        ("owner", {}, "Okänd roll"),
    ],
)
def test_a_role_change_that_does_not_fit_is_refused_and_changes_nothing(
    db_engine,  # noqa: ANN001
    ids,  # noqa: ANN001
    role: str,
    binding: dict[str, str],
    words: str,
) -> None:
    token = _token(db_engine, "hl")
    with session_scope(db_engine) as s, pytest.raises(NotAllowed, match=words):
        users.change_role(s, ids["hl"], role, by="admin", **binding)
    with session_scope(db_engine) as s:
        stored = s.get(PortalUser, ids["hl"])
        assert stored is not None
        assert (stored.role, stored.caseworker_id) == ("caseworker", "hl1")
    assert _resolves(db_engine, token) is not None


def test_the_last_active_administrator_stays(db_engine, ids) -> None:  # noqa: ANN001
    with session_scope(db_engine) as s, pytest.raises(NotAllowed, match="ditt eget konto"):
        users.change_role(s, ids["admin"], "manager", by="admin")
    # Only the terminal (or a second administrator) could try; the rule holds there too.
    with session_scope(db_engine) as s, pytest.raises(NotAllowed, match="minst en aktiv admin"):
        users.change_role(s, ids["admin"], "manager", by="operator")
    with session_scope(db_engine) as s, pytest.raises(NotAllowed, match="minst en aktiv admin"):
        users.deactivate_user(s, ids["admin"], by="operator")
    with session_scope(db_engine) as s:
        second = users.create_user(s, "admin2", PASSWORD, "admin").id
    with session_scope(db_engine) as s:
        users.change_role(s, ids["admin"], "manager", by="admin2")
    with session_scope(db_engine) as s, pytest.raises(NotAllowed, match="minst en aktiv admin"):
        users.change_role(s, second, "advisor", by="operator")
    with session_scope(db_engine) as s:
        roles = dict(s.execute(select(PortalUser.username, PortalUser.role)).all())
    assert (roles["admin"], roles["admin2"]) == ("manager", "admin")


def test_a_deactivated_administrator_does_not_count(db_engine, ids) -> None:  # noqa: ANN001
    with session_scope(db_engine) as s:
        second = users.create_user(s, "admin2", PASSWORD, "admin").id
        users.deactivate_user(s, second, by="admin")
    with session_scope(db_engine) as s, pytest.raises(NotAllowed, match="minst en aktiv admin"):
        users.deactivate_user(s, ids["admin"], by="admin2")


def test_a_deactivated_account_is_reactivated_once_and_audited(db_engine, ids) -> None:  # noqa: ANN001
    with session_scope(db_engine) as s:
        users.deactivate_user(s, ids["hl"], by="admin")
    with session_scope(db_engine) as s, pytest.raises(users.LoginRefused):
        users.login(s, "hl", PASSWORD, address="test")
    with session_scope(db_engine) as s:
        assert users.reactivate_user(s, ids["hl"], by="admin", address="1.2.3.4").active
    assert _resolves(db_engine, _token(db_engine, "hl")) is not None
    with session_scope(db_engine) as s, pytest.raises(NotAllowed, match="redan aktivt"):
        users.reactivate_user(s, ids["hl"], by="admin")
    with session_scope(db_engine) as s:
        entries = s.execute(
            select(AuditLog.actor, AuditLog.entity_id, AuditLog.address).where(
                AuditLog.action == "reactivate_user"
            )
        ).all()
    assert [tuple(e) for e in entries] == [("admin", str(ids["hl"]), "1.2.3.4")]
