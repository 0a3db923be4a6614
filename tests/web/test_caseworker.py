"""The caseworker's pages: only the episodes routed to them; another's episode is 404."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from staff_helpers import TENANTS, make_staff, personnummer

from models.db import session_scope
from models.tables import Activity, AuditLog


@pytest.fixture
def staff(portal):
    return make_staff(portal)


def test_caseworker_list_shows_only_their_episodes(portal, staff) -> None:
    client, _ = portal.login("handlaggare1")
    assert client.get("/").headers["location"] == "/handlaggare"
    page = client.get("/handlaggare")
    assert page.status_code == 200
    assert TENANTS[1][0] in page.text and f"/handlaggare/arenden/{staff.mine}" in page.text
    assert TENANTS[2][0] not in page.text and f"/arenden/{staff.theirs}" not in page.text
    assert "12\u00a0345,50\u00a0kr" in page.text
    with session_scope(portal.engine) as session:
        entries = session.scalars(select(AuditLog).where(AuditLog.action == "list_episodes")).all()
        assert entries  # the login's landing page and this one
        assert {(e.actor, e.address) for e in entries} == {("handlaggare1", "testclient")}


def test_caseworker_episode_page_says_what_the_notices_say(portal, staff) -> None:
    client, _ = portal.login("handlaggare1")
    page = client.get(f"/handlaggare/arenden/{staff.mine}")
    assert page.status_code == 200
    text = page.text
    assert f"Ärende {staff.mine}: {TENANTS[1][0]}" in text
    assert "Uppsägning" in text and "2026-11-02" in text and "2026-11-04" in text
    assert "Sista dag att betala" in text and "12\u00a0345,50\u00a0kr" in text
    assert personnummer(1) not in text  # the page does not need it
    with session_scope(portal.engine) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "read_episode")).one()
        assert (entry.actor, entry.entity_id, entry.address) == (
            "handlaggare1", str(staff.mine), "testclient",
        )  # fmt: skip


def test_another_caseworkers_episode_is_404_and_not_read(portal, staff) -> None:
    client, csrf = portal.login("handlaggare1")
    for url in (f"/handlaggare/arenden/{staff.theirs}", "/handlaggare/arenden/999999"):
        answer = client.get(url)
        assert answer.status_code == 404
        assert TENANTS[2][0] not in answer.text
        assert "Sidan finns inte" in answer.text
    refused = client.post(
        f"/handlaggare/arenden/{staff.theirs}/atgard",
        data={"csrf_token": csrf, "anteckning": "ska inte sparas"},
    )
    assert refused.status_code == 404
    with session_scope(portal.engine) as session:
        assert session.scalars(select(Activity)).all() == []
        reads = select(AuditLog).where(AuditLog.action == "read_episode")
        assert session.scalars(reads).all() == []


def test_caseworker_records_that_they_acted(portal, staff) -> None:
    client, csrf = portal.login("handlaggare1")
    answer = client.post(
        f"/handlaggare/arenden/{staff.mine}/atgard",
        data={"csrf_token": csrf, "anteckning": "Ringt, ansökan om bistånd på gång"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/handlaggare/arenden/{staff.mine}?sparat=1"
    page = client.get(answer.headers["location"])
    assert "Sparat: du har registrerat att du har agerat." in page.text
    assert "Handläggaren har agerat" in page.text and "ansökan om bistånd" in page.text
    with session_scope(portal.engine) as session:
        activity = session.scalars(select(Activity)).one()
        assert (activity.episode_id, activity.kind, activity.by) == (
            staff.mine, "caseworker_acted", "handlaggare1",
        )  # fmt: skip
        entry = session.scalars(
            select(AuditLog).where(AuditLog.action == "record_caseworker_acted")
        ).one()
        assert (entry.entity_id, entry.address) == (str(staff.mine), "testclient")
        assert "bistånd" not in (entry.detail or "")  # the note stays out of the audit log
    without_token = client.post(f"/handlaggare/arenden/{staff.mine}/atgard", data={})
    assert without_token.status_code == 403


def test_other_roles_get_404_on_caseworker_and_episode_urls(portal, staff) -> None:
    for username in ("chef", "bolag-a", "admin"):
        client, _ = portal.login(username)
        for url in ("/handlaggare", f"/handlaggare/arenden/{staff.mine}"):
            answer = client.get(url)
            assert answer.status_code == 404, (username, url)
            assert TENANTS[1][0] not in answer.text
