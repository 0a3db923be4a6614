"""Changing one's own password, and the administrator's reset, on SQLite and PostgreSQL.

The current password is required; the new one is an argon2 hash; the person's other
sessions end and this one stays; a wrong current password is a failed login (the lock
applies); everything is audit-logged; the form needs the session's CSRF token.
"""

from __future__ import annotations

from portal_helpers import PASSWORD, csrf_of
from sqlalchemy import select

from models.tables import AuditLog, PortalUser

NEW = "ett nytt långt lösenord"


def _stored_hash(portal, username: str) -> str:
    with portal.engine.connect() as connection:
        return connection.scalar(
            select(PortalUser.password_hash).where(PortalUser.username == username)
        )


def _actions(portal, action: str) -> list[tuple[str, str | None, str | None]]:
    with portal.engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                select(AuditLog.actor, AuditLog.detail, AuditLog.address).where(
                    AuditLog.action == action
                )
            )
        ]


def _can_log_in(portal, username: str, password: str) -> bool:
    client = portal.client()
    page = client.get("/logga-in")
    answer = client.post(
        "/logga-in",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
    )
    return answer.status_code == 303


def test_every_role_changes_its_own_password_and_other_sessions_end(portal) -> None:
    for username in ("bolag-a", "radgivare", "admin"):
        elsewhere, _ = portal.login(username)  # another browser, still logged in
        here, csrf = portal.login(username)
        page = here.get("/konto")
        assert page.status_code == 200 and "Byt lösenord" in page.text
        before = _stored_hash(portal, username)
        answer = here.post(
            "/konto/losenord",
            data={"csrf_token": csrf, "current": PASSWORD, "new": NEW, "repeat": NEW},
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/konto?klart=1"
        assert "Du är utloggad på 1 andra ställe" in here.get(answer.headers["location"]).text
        assert here.get("/").status_code == 303  # this session stays
        assert here.get("/", follow_redirects=True).url.path != "/logga-in"
        # the other ended
        assert elsewhere.get("/konto").headers["location"] == "/logga-in?next=/konto"
        after = _stored_hash(portal, username)
        assert after != before and after.startswith("$argon2id$") and NEW not in after
        assert not _can_log_in(portal, username, PASSWORD)
        assert _can_log_in(portal, username, NEW)
    changed = _actions(portal, "change_own_password")
    assert [actor for actor, _, _ in changed] == ["bolag-a", "radgivare", "admin"]
    assert all(d == "other_sessions_ended=1" and a == "testclient" for _, d, a in changed)


def test_wrong_current_password_mismatch_and_short_are_refused(portal) -> None:
    client, csrf = portal.login("radgivare")
    cases = [
        ({"current": "fel-lösenord-1", "new": NEW, "repeat": NEW}, "nuvarande lösenordet stämmer"),
        ({"current": PASSWORD, "new": NEW, "repeat": NEW + "x"}, "är inte lika"),
        ({"current": PASSWORD, "new": "kort", "repeat": "kort"}, "minst 10 tecken"),
        ({"current": PASSWORD, "new": PASSWORD, "repeat": PASSWORD}, "skilja sig"),
    ]
    for data, words in cases:
        answer = client.post("/konto/losenord", data={"csrf_token": csrf, **data})
        assert answer.status_code == 400 and words in answer.text, words
    assert _can_log_in(portal, "radgivare", PASSWORD)
    assert [a for a, _, _ in _actions(portal, "change_own_password_refused")] == ["radgivare"]


def test_guessing_the_current_password_locks_like_a_login(portal) -> None:
    client, csrf = portal.login("radgivare")
    limit = portal.settings.web.login_max_failures
    for _ in range(limit):
        wrong = {"current": "gissning-123", "new": NEW, "repeat": NEW}
        assert client.post("/konto/losenord", data={"csrf_token": csrf, **wrong}).status_code == 400
    right = {"current": PASSWORD, "new": NEW, "repeat": NEW}
    answer = client.post("/konto/losenord", data={"csrf_token": csrf, **right})
    assert answer.status_code == 400 and "För många felaktiga" in answer.text
    assert not _can_log_in(portal, "radgivare", PASSWORD)  # the account is locked for now


def test_the_form_needs_the_csrf_token(portal) -> None:
    client, _ = portal.login("bolag-a")
    answer = client.post(
        "/konto/losenord",
        data={"csrf_token": "fel", "current": PASSWORD, "new": NEW, "repeat": NEW},
    )
    assert answer.status_code == 403
    assert _can_log_in(portal, "bolag-a", PASSWORD)
    assert portal.client().get("/konto").headers["location"] == "/logga-in?next=/konto"


def test_admin_resets_a_password_and_the_account_is_logged_out(portal) -> None:
    person, _ = portal.login("bolag-a")
    admin, csrf = portal.login("admin")
    with portal.engine.connect() as connection:
        ids = dict(connection.execute(select(PortalUser.username, PortalUser.id)).tuples().all())
    answer = admin.post(
        f"/admin/konton/{ids['bolag-a']}/losenord", data={"csrf_token": csrf, "password": NEW}
    )
    assert answer.headers["location"] == "/admin?klart=losenord"
    assert person.get("/foretag").headers["location"] == "/logga-in?next=/foretag"
    assert _can_log_in(portal, "bolag-a", NEW) and not _can_log_in(portal, "bolag-a", PASSWORD)
    assert _actions(portal, "reset_password") == [("admin", "sessions_ended=1", "testclient")]
    own = admin.post(f"/admin/konton/{ids['admin']}/losenord",
                     data={"csrf_token": csrf, "password": NEW})  # fmt: skip
    assert own.status_code == 400 and "Mitt konto" in own.text
    short = admin.post(f"/admin/konton/{ids['radgivare']}/losenord",
                       data={"csrf_token": csrf, "password": "kort"})  # fmt: skip
    assert short.status_code == 400 and "minst 10 tecken" in short.text
    other, other_csrf = portal.login("radgivare")
    refused = other.post(
        f"/admin/konton/{ids['bolag-a']}/losenord", data={"csrf_token": other_csrf, "password": NEW}
    )
    assert refused.status_code == 404
