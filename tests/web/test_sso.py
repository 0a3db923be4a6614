"""Single sign-on: the proxy's user header counts only from a configured proxy address."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from models.db import session_scope
from models.tables import AuditLog
from services import users
from web.app import create_app
from web.core import SESSION_COOKIE

PROXY, ELSEWHERE = "10.0.0.5", "10.0.0.9"
HEADER = "X-Remote-User"


def _client(portal, address: str) -> TestClient:
    portal.settings.web.sso_header = HEADER
    portal.settings.web.trusted_proxies = [PROXY]
    return TestClient(
        create_app(portal.settings, portal.engine),
        base_url="https://testserver",
        follow_redirects=False,
        client=(address, 123),
    )


def _actions(portal, action: str) -> list[tuple[str, str | None]]:
    with session_scope(portal.engine) as session:
        rows = session.execute(
            select(AuditLog.actor, AuditLog.address).where(AuditLog.action == action)
        ).all()
    return [tuple(r) for r in rows]


def test_the_header_from_the_trusted_proxy_signs_the_person_in(portal) -> None:
    client = _client(portal, PROXY)
    page = client.get("/foretag", headers={HEADER: "Bolag-A"})
    assert page.status_code == 200
    assert "Filer och kvitton" in page.text
    assert SESSION_COOKIE in page.headers["set-cookie"]
    assert "httponly" in page.headers["set-cookie"].lower()
    assert _actions(portal, "login_sso") == [("bolag-a", PROXY)]
    # The next request keeps the session: no second sign-in for every page.
    again = client.get("/foretag", headers={HEADER: "bolag-a"})
    assert again.status_code == 200 and "set-cookie" not in again.headers
    assert len(_actions(portal, "login_sso")) == 1
    # Forms work: the session's CSRF token is on the page (logging out needs it).
    assert 'name="csrf_token"' in again.text


def test_the_header_from_any_other_address_is_ignored(portal) -> None:
    client = _client(portal, ELSEWHERE)
    answer = client.get("/foretag", headers={HEADER: "bolag-a"})
    assert answer.status_code == 303 and answer.headers["location"] == "/logga-in?next=/foretag"
    assert "set-cookie" not in answer.headers
    assert _actions(portal, "login_sso") == []
    assert client.get("/admin", headers={HEADER: "admin"}).status_code == 303


def test_without_a_configured_header_nothing_is_trusted(portal) -> None:
    client = _client(portal, PROXY)
    portal.settings.web.sso_header = ""
    assert client.get("/foretag", headers={HEADER: "bolag-a"}).status_code == 303


def test_unknown_or_deactivated_accounts_are_not_let_in(portal) -> None:
    with session_scope(portal.engine) as session:
        user = next(u for u in users.list_users(session) if u.username == "bolag-b")
        users.deactivate_user(session, user.id, by="admin")
    client = _client(portal, PROXY)
    for name in ("ingen-sadan", "bolag-b"):
        answer = client.get("/foretag", headers={HEADER: name})
        assert answer.status_code == 303 and answer.headers["location"] == "/logga-in?next=/foretag"
    refused = {actor for actor, _ in _actions(portal, "login_sso_refused")}
    assert refused == {"ingen-sadan", "bolag-b"}


def test_the_proxy_decides_who_it_is_not_an_old_cookie(portal) -> None:
    client = _client(portal, PROXY)
    assert client.get("/", headers={HEADER: "bolag-a"}).headers["location"] == "/foretag"
    # Another person at the same browser, signed in at the proxy: the header wins.
    switched = client.get("/", headers={HEADER: "admin"})
    assert switched.headers["location"] == "/admin"
    assert client.get("/admin", headers={HEADER: "admin"}).status_code == 200
    assert client.get("/foretag", headers={HEADER: "admin"}).status_code == 404


def test_forwarded_address_is_logged_but_the_proxy_is_what_is_trusted(portal) -> None:
    """Behind the proxy the audit log shows the person's address; the header is still
    believed because the connection comes from the proxy, and a forged X-Forwarded-For
    naming the proxy from elsewhere does not make the header count."""
    client = _client(portal, PROXY)
    forwarded = {HEADER: "bolag-a", "X-Forwarded-For": "192.0.2.7"}
    assert client.get("/foretag", headers=forwarded).status_code == 200
    assert _actions(portal, "login_sso") == [("bolag-a", "192.0.2.7")]
    forged = _client(portal, ELSEWHERE)
    answer = forged.get("/foretag", headers={HEADER: "admin", "X-Forwarded-For": PROXY})
    assert answer.status_code == 303
    assert len(_actions(portal, "login_sso")) == 1
