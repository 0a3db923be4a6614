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
