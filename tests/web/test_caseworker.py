"""The caseworker's pages: only the episodes routed to them; another's episode is 404."""

from __future__ import annotations

from datetime import date

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
        entries = session.scalars(
            select(AuditLog).where(AuditLog.action == "view_caseworker_list")
        ).all()
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


def test_caseworker_list_is_grouped_by_urgency_with_days_left(portal, staff) -> None:
    """Sections like the advisor's worklist: eviction soon, last day to pay soon, new,
    acted on, the rest; days left on each row; another caseworker's episodes never."""
    import re
    from datetime import UTC, datetime, time, timedelta

    from outcome_factories import episode

    from domain.formatting import STOCKHOLM, local_today

    today = local_today()
    noon = datetime.combine(today + timedelta(days=5), time(12), STOCKHOLM).astimezone(UTC)
    mine = {"routing": "caseworker", "caseworker_id": "hl1", "company_id": portal.company_a}
    old = today - timedelta(days=40)
    with session_scope(portal.engine) as session:
        ids = {
            "evict": episode(session, 101, **mine, tenant_name="Vräkt Snart", opened_on=old,
                             status="eviction_scheduled", eviction_at=noon,
                             deadline_date=old, has_children=True).id,
            "deadline": episode(session, 102, **mine, tenant_name="Betala Snart", opened_on=old,
                                deadline_date=today + timedelta(days=3)).id,
            "acted": episode(session, 103, **mine, tenant_name="Redan Ringd", opened_on=old,
                             last_event_date=old, deadline_date=today + timedelta(days=2)).id,
            "other": episode(session, 104, **mine, tenant_name="Lugnt Läge", opened_on=old,
                             deadline_date=today + timedelta(days=30)).id,
            "new": episode(session, 107, **mine, tenant_name="Ny Hos Dig",
                           opened_on=today - timedelta(days=1), deadline_date=None).id,
            "closed": episode(session, 105, **mine, tenant_name="Avslutad Sak", opened_on=old,
                              status="closed").id,
            "theirs": episode(session, 106, routing="caseworker", caseworker_id="hl2",
                              company_id=portal.company_a, tenant_name="Annans Ärende").id,
        }  # fmt: skip
        session.add(Activity(episode_id=ids["acted"], kind="caseworker_acted", on_date=today,
                             by="handlaggare1"))  # fmt: skip
    client, _ = portal.login("handlaggare1")
    text = client.get("/handlaggare").text
    titles = re.findall(r'<h2 id="(\w+)">', text)
    assert titles == ["eviction", "deadline", "new", "acted", "other"]

    def section(name: str) -> str:
        start = text.index(f'<h2 id="{name}">')
        end = text.find("<h2 ", start + 1)
        return text[start : end if end > 0 else len(text)]

    assert "Vräkt Snart" in section("eviction") and "5 dagar till avhysningen" in section(
        "eviction"
    )
    assert "Betala Snart" in section("deadline") and "3 dagar kvar att betala" in section(
        "deadline"
    )
    assert "Ny Hos Dig" in section("new")
    assert "Redan Ringd" in section("acted") and "Du agerade" in section("acted")
    assert "Lugnt Läge" in section("other") and "30 dagar kvar att betala" in section("other")
    assert "Avslutad Sak" not in text and "Annans Ärende" not in text
    assert TENANTS[2][0] not in text
    everything = client.get("/handlaggare", params={"alla": "1"}).text
    assert "Avslutad Sak" in everything and "Annans Ärende" not in everything


def test_an_eviction_day_without_a_time_is_shown_without_one(portal, staff) -> None:
    """A company that gives only the day: stored at local midnight, never shown as 00:00."""
    from datetime import UTC, datetime, time

    from outcome_factories import episode

    from domain.formatting import STOCKHOLM

    midnight = datetime.combine(date(2027, 1, 18), time(0), STOCKHOLM).astimezone(UTC)
    with session_scope(portal.engine) as session:
        evicted = episode(session, 108, routing="caseworker", caseworker_id="hl1",
                          company_id=portal.company_a, status="eviction_scheduled",
                          eviction_at=midnight).id  # fmt: skip
    caseworker, _ = portal.login("handlaggare1")
    advisor, _ = portal.login("radgivare")
    for page in (
        caseworker.get(f"/handlaggare/arenden/{evicted}").text,
        advisor.get(f"/radgivare/arenden/{evicted}").text,
    ):
        assert "måndag 18 januari 2027" in page
        assert "00:00" not in page and "00.00" not in page
