"""Login, logout, throttling, idle timeout, CSRF and security headers of the portal."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from portal_helpers import PASSWORD, csrf_of, sample_file
from sqlalchemy import select, update

from models.tables import AuditLog, LoginAttempt, PortalSession


def _try(client, username: str, password: str):
    page = client.get("/logga-in")
    return client.post(
        "/logga-in",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
    )


def _next_field(page: str) -> str | None:
    found = re.search(r'name="next" value="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else None


def _login_via(client, login_location: str, username: str, next_page: str | None = None):
    """Log in on the page the redirect pointed at, posting its hidden ``next`` (or one given)."""
    page = client.get(login_location)
    data = {"username": username, "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    sent = next_page if next_page is not None else _next_field(page.text)
    if sent is not None:
        data["next"] = sent
    return client.post("/logga-in", data=data)


def test_login_sets_a_strict_cookie_and_logout_ends_the_session(portal) -> None:
    client = portal.client()
    assert client.get("/foretag").headers["location"] == "/logga-in?next=/foretag"
    answer = _try(client, "bolag-a", PASSWORD)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "kvarboende_session=" in cookie
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    token = client.cookies.get("kvarboende_session")
    with portal.engine.connect() as connection:
        stored = connection.scalars(select(PortalSession.token_sha256)).all()
    assert token not in stored and len(stored) == 1  # only the digest is kept

    files = client.get("/foretag")
    assert files.status_code == 200 and "Filer och kvitton" in files.text
    out = client.post("/logga-ut", data={"csrf_token": csrf_of(files.text)})
    assert out.status_code == 303
    client.cookies.set("kvarboende_session", token, domain="testserver")
    assert client.get("/foretag").status_code == 303  # the old cookie no longer works
    with portal.engine.connect() as connection:
        actions = connection.scalars(select(AuditLog.action)).all()
    assert {"login", "logout"} <= set(actions)


def test_wrong_password_is_refused_in_plain_swedish_and_logged(portal) -> None:
    client = portal.client()
    answer = _try(client, "bolag-a", "fel")
    assert answer.status_code == 401
    assert "Fel användarnamn eller lösenord." in answer.text
    unknown = _try(client, "finns-inte", "fel")
    assert "Fel användarnamn eller lösenord." in unknown.text  # the same words: no hint
    with portal.engine.connect() as connection:
        failed = connection.execute(
            select(AuditLog.actor, AuditLog.address).where(AuditLog.action == "login_failed")
        ).all()
    assert [actor for actor, _ in failed] == ["bolag-a", "finns-inte"]
    assert all(address for _, address in failed)


def test_five_wrong_passwords_lock_the_account_for_a_while(portal) -> None:
    client = portal.client()
    for _ in range(5):
        assert _try(client, "bolag-a", "fel-lösenord").status_code == 401
    locked = _try(client, "bolag-a", PASSWORD)  # even the right password now
    assert locked.status_code == 401
    assert "För många felaktiga inloggningsförsök" in locked.text
    assert _try(client, "bolag-b", PASSWORD).status_code == 303  # other accounts still work

    # When the lock time has passed, the right password works again.
    with portal.engine.begin() as connection:
        connection.execute(
            update(LoginAttempt).values(at=datetime.now(UTC) - timedelta(minutes=16))
        )
    assert _try(portal.client(), "bolag-a", PASSWORD).status_code == 303


def test_many_wrong_passwords_from_one_address_lock_that_address(portal) -> None:
    portal.settings.web.login_max_failures_per_address = 3
    client = portal.client()
    for name in ("a1", "a2", "a3"):
        _try(client, name, "fel-lösenord")
    locked = _try(client, "bolag-a", PASSWORD)
    assert "För många felaktiga inloggningsförsök" in locked.text


def test_an_idle_session_expires(portal) -> None:
    client, _ = portal.login("bolag-a")
    assert client.get("/foretag").status_code == 200
    idle = portal.settings.web.idle_timeout_minutes
    with portal.engine.begin() as connection:
        connection.execute(
            update(PortalSession).values(
                last_seen_at=datetime.now(UTC) - timedelta(minutes=idle + 1)
            )
        )
    assert client.get("/foretag").headers["location"] == "/logga-in?next=/foretag"
    with portal.engine.connect() as connection:
        assert connection.scalar(select(PortalSession.ended_at)) is not None


def test_posts_without_the_csrf_token_are_refused(portal) -> None:
    client, csrf = portal.login("admin")
    for path, data in [
        ("/admin/konton", {"username": "ny", "role": "manager", "password": "x" * 12}),
        ("/logga-ut", {}),
    ]:
        answer = client.post(path, data=data)
        assert answer.status_code == 403, path
        assert "Formuläret" in answer.text
        wrong = client.post(path, data={**data, "csrf_token": csrf + "x"})
        assert wrong.status_code == 403
    company, _ = portal.login("bolag-a")
    upload = company.post("/foretag/filer", files=[("filer", ("a.csv", b"x", "text/csv"))])
    assert upload.status_code == 403
    # The login form has its own token (double submit): a forged post is refused too.
    forged = portal.client().post(
        "/logga-in", data={"username": "admin", "password": PASSWORD, "csrf_token": "x"}
    )
    assert forged.status_code == 403


def test_security_headers_and_no_api_docs(portal) -> None:
    client = portal.client()
    for path in ("/logga-in", "/finns-inte", "/static/portal.css", "/api/v1/receipts/x"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == (
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
        ), path
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
    assert client.get("/logga-in").headers["cache-control"] == "no-store"
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404
    page = client.get("/logga-in").text
    assert "<script>" not in page and "style=" not in page


def test_every_state_changing_page_needs_the_csrf_token(portal) -> None:
    """Each POST route of the company and admin pages refuses a form without the token."""
    import re

    from web.routes import admin, company

    routes = [
        route.path
        for route in [*admin.router.routes, *company.router.routes]
        if "POST" in getattr(route, "methods", set())
    ]
    assert len(routes) >= 5
    admin, _ = portal.login("admin")
    company, _ = portal.login("bolag-a")
    for path in routes:
        url = re.sub(r"\{[a-z_]+:int\}", "1", path).replace("{company_id}", portal.company_a)
        client = admin if path.startswith("/admin") else company
        assert client.post(url, data={"label": "x"}).status_code == 403, path


def test_a_link_followed_while_logged_out_opens_its_page_after_login(portal) -> None:
    """A receipt link from an email arrives without the (strict) cookie: log in, land there."""
    sender, csrf = portal.login("bolag-a")
    receipt = sender.post(
        "/foretag/filer",
        data={"csrf_token": csrf},
        files=[("filer", ("a.csv", sample_file(), "text/csv"))],
    ).headers["location"]
    link = f"{receipt}?redan=1"
    client = portal.client()
    redirect = client.get(link)
    assert redirect.status_code == 303
    assert redirect.headers["location"].startswith("/logga-in?next=")
    page = client.get(redirect.headers["location"]).text
    assert _next_field(page) == link
    assert "Gå vidare till sidan" in page  # someone logged in in another window goes on
    answer = _login_via(client, redirect.headers["location"], "bolag-a")
    assert answer.status_code == 303 and answer.headers["location"] == link
    assert "redan tagits emot" in client.get(link).text
    # A wrong password keeps the page to go to for the next attempt.
    other = portal.client()
    wrong = other.get(redirect.headers["location"])
    refused = other.post(
        "/logga-in",
        data={"username": "bolag-a", "password": "fel", "csrf_token": csrf_of(wrong.text),
              "next": link},
    )  # fmt: skip
    assert refused.status_code == 401 and _next_field(refused.text) == link


def test_a_form_post_while_logged_out_is_not_remembered(portal) -> None:
    answer = portal.client().post("/foretag/filer", data={"csrf_token": "x"})
    assert answer.status_code == 303 and answer.headers["location"] == "/logga-in"


def test_the_page_after_login_still_checks_the_role(portal) -> None:
    client = portal.client()
    answer = _login_via(client, "/logga-in?next=/radgivare", "bolag-a")
    assert answer.headers["location"] == "/radgivare"
    assert client.get("/radgivare").status_code == 404


def test_next_pointing_elsewhere_goes_to_the_start_page(portal) -> None:
    for target in (
        "//evil.example",
        "https://evil.example",
        "/\\evil",
        "/\\/evil.example",
        "http:/evil.example",
        "/\tevil",
        "evil.example",
        "/logga-ut",
    ):
        client = portal.client()
        page = client.get("/logga-in", params={"next": target}).text
        assert _next_field(page) is None, target
        answer = _login_via(client, "/logga-in", "bolag-a", next_page=target)
        assert answer.status_code == 303 and answer.headers["location"] == "/", target
