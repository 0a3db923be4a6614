"""The advisor marks a tenant "no SMS" on the episode page (SQLite and PostgreSQL)."""

from __future__ import annotations

from advisor_helpers import new_episode
from sqlalchemy import select

from models.db import session_scope
from models.tables import AuditLog, Episode
from services.reminders import person_refuses_sms


def test_no_sms_form_on_the_episode_page(portal) -> None:  # noqa: ANN001
    episode_id, _ = new_episode(portal)
    client, csrf = portal.login("radgivare")
    base = f"/radgivare/arenden/{episode_id}"
    page = client.get(base).text
    assert "Påminnelse före mötet" in page and "Hushållet vill inte ha sms" in page
    answer = client.post(f"{base}/sms", data={"csrf_token": csrf, "sms": "nej"})
    assert answer.status_code == 303 and answer.headers["location"] == f"{base}?klart=inga-sms"
    page = client.get(answer.headers["location"]).text
    assert "Sparat: hushållet får inga sms." in page and "Tillåt sms igen" in page
    with session_scope(portal.engine) as session:
        assert person_refuses_sms(session, session.get(Episode, episode_id))  # type: ignore[arg-type]
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.entity_id == str(episode_id))
        ).all()
    assert "episode.no_sms" in actions
    assert client.post(f"{base}/sms", data={"csrf_token": csrf, "sms": "kanske"}).status_code in (
        400,
        422,
    )
    assert client.post(f"{base}/sms", data={"sms": "ja"}).status_code in (400, 403)  # no CSRF
    again = client.post(f"{base}/sms", data={"csrf_token": csrf, "sms": "ja"})
    assert again.headers["location"] == f"{base}?klart=sms"
    with session_scope(portal.engine) as session:
        assert not person_refuses_sms(session, session.get(Episode, episode_id))  # type: ignore[arg-type]


def test_email_the_tenant_gave_is_recorded_on_the_episode_page(portal) -> None:  # noqa: ANN001
    episode_id, _ = new_episode(portal)
    client, csrf = portal.login("radgivare")
    base = f"/radgivare/arenden/{episode_id}"
    assert "E-postadress som hushållet själv har lämnat" in client.get(base).text
    bad = client.post(f"{base}/epost", data={"csrf_token": csrf, "epost": "inte en adress"})
    assert bad.status_code == 400 and "går att skicka till" in bad.text
    done = client.post(f"{base}/epost", data={"csrf_token": csrf, "epost": "egen@example.se"})
    assert done.headers["location"] == f"{base}?klart=epost"
    assert "egen@example.se</a> (från hushållet)" in client.get(base).text
    with session_scope(portal.engine) as session:
        assert session.get(Episode, episode_id).tenant_email == "egen@example.se"  # type: ignore[union-attr]
        details = session.scalars(
            select(AuditLog.detail).where(AuditLog.action == "episode.tenant_email")
        ).all()
    assert details == ["set"]
    cleared = client.post(f"{base}/epost", data={"csrf_token": csrf, "epost": ""})
    assert cleared.headers["location"] == f"{base}?klart=epost-bort"
    with session_scope(portal.engine) as session:
        assert session.get(Episode, episode_id).tenant_email is None  # type: ignore[union-attr]
