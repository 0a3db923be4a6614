"""The advisor's pages on SQLite and PostgreSQL: worklist, episode, recordings, matches,
new times, search, letters, and who else is kept out (404)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from advisor_helpers import meeting_begins, new_episode
from portal_helpers import PASSWORD, csrf_of
from register_helpers import add_episode, write_register
from sqlalchemy import select, update

from flows.stages.cases import import_register
from flows.stages.matching import match_episodes
from models.db import session_scope
from models.tables import Activity, Appointment, AuditLog, Letter, Match
from services import users


def _audit(engine, action: str) -> list[AuditLog]:  # noqa: ANN001
    with session_scope(engine) as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action == action)).all()
        session.expunge_all()
        return list(rows)


def _letters(engine, episode_id: int) -> list[Letter]:  # noqa: ANN001
    with session_scope(engine) as session:
        rows = session.scalars(
            select(Letter)
            .where(Letter.episode_id == episode_id, Letter.kind != "post_copy")
            .order_by(Letter.id)
        ).all()
        session.expunge_all()
        return list(rows)


def test_worklist_shows_a_new_episode_with_contact_days_left_and_buttons(portal) -> None:
    episode_id, _ = new_episode(portal)
    client, _ = portal.login("radgivare")
    assert client.get("/").headers["location"] == "/radgivare"
    page = client.get("/radgivare")
    assert page.status_code == 200
    html = page.text
    titles = re.findall(r'<h2 id="[a-z_]+">([^<]+) <span class="count">', html)
    assert titles == [
        "Träffar att avgöra före sista dagen",
        "Avhysningar inom kort",
        "Möten i dag och nästa arbetsdag",
        "Uteblivna besök att följa upp",
        "Nya ärenden",
        "Träffar att bekräfta",
        "Brev som inte nått fram och sena möten",
        "Ärenden utan besked",
    ]
    new = html.split('id="new_episodes"')[1].split("</section>")[0]
    assert f'href="/radgivare/arenden/{episode_id}"' in new
    assert "Eva Berg" in new and "070-123 45 01" in new and "eva1@example.se" in new
    assert "dagar kvar att betala" in new
    assert "Kallelse till möte" in new
    assert "kvarboende " not in html  # no commands in the portal
    views = _audit(portal.engine, "view_worklist")
    assert len(views) == 2  # the login lands on the list, then the page asked for
    assert {(v.actor, v.entity_id, v.address) for v in views} == {
        ("radgivare", "advisor:radgivare1", "testclient")
    }


def test_worklist_of_another_day_and_a_bad_date(portal) -> None:
    client, _ = portal.login("radgivare")
    page = client.get("/radgivare?dag=2026-11-02")
    assert page.status_code == 200 and "Arbetslista måndag 2 november 2026" in page.text
    assert 'value="2026-11-02"' in page.text
    bad = client.get("/radgivare?dag=2-11")
    assert bad.status_code == 400 and "Datumet kunde inte läsas" in bad.text


def test_a_long_worklist_section_shows_fifty_rows_a_page(portal) -> None:
    from datetime import date

    from outcome_factories import episode

    with session_scope(portal.engine) as session:
        for n in range(55):  # no news past the follow-up date: 55 rows in one section
            episode(session, n, company_id=portal.company_a, opened_on=date(2026, 9, 1),
                    follow_up_date=date(2026, 11, n % 28 + 1))  # fmt: skip
    client, _ = portal.login("radgivare")

    def section(url: str) -> str:
        html = client.get(url).text
        return html.split('id="past_follow_up"')[1].split("</section>")[0]

    first = section("/radgivare?dag=2026-11-30")
    assert '<span class="count">55</span>' in first
    assert first.count("<tr>") == 1 + 50 and "Rad 1–50 av 55" in first
    assert "avsnitt=past_follow_up&amp;sida=2#past_follow_up" in first
    second = section("/radgivare?dag=2026-11-30&radgivare=radgivare1&avsnitt=past_follow_up&sida=2")
    assert second.count("<tr>") == 1 + 5 and "Rad 51–55 av 55" in second
    assert "sida=1#past_follow_up" in second and "Nästa sida" not in second
    shown = set(re.findall(r'href="/radgivare/arenden/(\d+)"', first + second))
    assert len(shown) == 55  # every row on one of the two pages, none twice
    assert section("/radgivare?dag=2026-11-30&avsnitt=past_follow_up&sida=9") == second
    assert section("/radgivare?dag=2026-11-30&avsnitt=evictions&sida=2") == first


def test_episode_page_shows_notices_deadline_letter_meeting_and_history(portal) -> None:
    episode_id, _ = new_episode(portal)
    client, _ = portal.login("radgivare")
    page = client.get(f"/radgivare/arenden/{episode_id}")
    assert page.status_code == 200
    html = page.text
    assert f"Ärende {episode_id}: Eva Berg" in html
    assert "Storgatan 1, lgh 1101, 194 30 Exempelby" in html
    assert "12 345,50 kr" in html and "Uppsägning" in html
    assert "Kallelse till möte" in html and "Öppna brevet" in html
    assert "Du kan registrera besöket när mötet har börjat." in html
    assert "Historik" in html
    (view,) = _audit(portal.engine, "read_episode")
    assert (view.actor, view.entity_id, view.address) == (
        "radgivare",
        str(episode_id),
        "testclient",
    )
    assert "kort varsel" not in html
    with session_scope(portal.engine) as session:
        session.execute(
            update(Appointment)
            .where(Appointment.episode_id == episode_id)
            .values(short_notice=True)
        )
    short = client.get(f"/radgivare/arenden/{episode_id}").text
    assert "kort varsel: brevet kan komma sent, ring och påminn" in short
    assert client.get("/radgivare/arenden/999999").status_code == 404


def test_the_letter_opens_as_pdf_only_from_its_own_episode(portal) -> None:
    first, _ = new_episode(portal, seed=1)
    second, _ = new_episode(portal, seed=2, name="Per Ek")
    (letter,) = _letters(portal.engine, first)
    client, _ = portal.login("radgivare")
    pdf = client.get(f"/radgivare/arenden/{first}/brev/{letter.id}")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert client.get(f"/radgivare/arenden/{second}/brev/{letter.id}").status_code == 404
    (opened,) = _audit(portal.engine, "view_letter")
    assert (opened.entity_id, opened.episode_id, opened.address) == (
        str(letter.id),
        first,
        "testclient",
    )


def test_attendance_before_the_meeting_is_refused_then_recorded_once(portal) -> None:
    episode_id, _ = new_episode(portal)
    client, csrf = portal.login("radgivare")
    url = f"/radgivare/arenden/{episode_id}/besok"
    early = client.post(url, data={"csrf_token": csrf, "utfall": "kom"})
    assert early.status_code == 409
    assert "Du kan registrera besöket när mötet har börjat." in early.text

    meeting_begins(portal.engine, episode_id)
    page = client.get(f"/radgivare/arenden/{episode_id}")
    assert "Hushållet kom" in page.text
    done = client.post(url, data={"csrf_token": csrf, "utfall": "kom"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/radgivare/arenden/{episode_id}?klart=kom"
    shown = client.get(done.headers["location"])
    assert "Besöket är registrerat: hushållet kom till mötet." in shown.text

    again = client.post(url, data={"csrf_token": csrf, "utfall": "kom"})
    assert again.status_code == 409
    assert "Mötet är redan registrerat (hushållet kom). Det registreras inte en gång till." in (
        again.text
    )
    with session_scope(portal.engine) as session:
        kinds = session.scalars(select(Activity.kind).where(Activity.episode_id == episode_id))
        assert list(kinds) == ["attended"]
        status = session.scalars(
            select(Appointment.status).where(Appointment.episode_id == episode_id)
        ).one()
        assert status == "attended"
    (entry,) = _audit(portal.engine, "record_attended")
    assert entry.address == "testclient"


@pytest.mark.parametrize(
    ("first", "second", "label"),
    [
        ("uteblev", "uteblev", "hushållet uteblev"),
        ("uteblev", "kom", "hushållet uteblev"),
        ("kom", "uteblev", "hushållet kom"),
    ],
)
def test_a_second_record_of_the_same_meeting_is_refused(
    portal,  # noqa: ANN001
    first: str,
    second: str,
    label: str,
) -> None:
    """The probe: kom, uteblev, kom stored three rows. Now the first word stands, the
    page shows what was recorded by whom instead of the buttons, and a stale form (a
    second tab, another advisor) is refused in Swedish."""
    episode_id, _ = new_episode(portal)
    meeting_begins(portal.engine, episode_id)
    client, csrf = portal.login("radgivare")
    url = f"/radgivare/arenden/{episode_id}/besok"
    assert client.post(url, data={"csrf_token": csrf, "utfall": first}).status_code == 303

    page = client.get(f"/radgivare/arenden/{episode_id}").text
    assert 'value="kom"' not in page and 'value="uteblev"' not in page
    assert f"Besöket är registrerat: {label} (" in page
    assert "av radgivare). Ett möte registreras en gång." in page

    again = client.post(url, data={"csrf_token": csrf, "utfall": second})
    assert again.status_code == 409
    assert f"Mötet är redan registrerat ({label}). Det registreras inte en gång till." in (
        again.text
    )
    with session_scope(portal.engine) as session:
        kinds = session.scalars(select(Activity.kind).where(Activity.episode_id == episode_id))
        status = session.scalars(
            select(Appointment.status).where(Appointment.episode_id == episode_id)
        ).one()
    expected = "attended" if first == "kom" else "no_show"
    assert (list(kinds), status) == ([expected], expected)


def test_contact_note_children_and_close(portal) -> None:
    episode_id, _ = new_episode(portal)
    client, csrf = portal.login("radgivare")
    base = f"/radgivare/arenden/{episode_id}"
    answer = client.post(f"{base}/aktivitet", data={"csrf_token": csrf, "typ": "contacted",
                         "text": "Nådde henne på mobilen"})  # fmt: skip
    assert answer.headers["location"] == f"{base}?klart=contacted"
    empty_note = client.post(f"{base}/aktivitet", data={"csrf_token": csrf, "typ": "note"})
    assert empty_note.status_code == 400 and "Skriv anteckningen." in empty_note.text
    assert client.post(f"{base}/barn", data={"csrf_token": csrf, "antal": "2"}).status_code == 303
    page = client.get(f"{base}?klart=barn").text
    assert "Antalet barn är registrerat." in page and "Nådde henne på mobilen" in page
    closed = client.post(f"{base}/avsluta", data={"csrf_token": csrf, "utfall": "settled"})
    assert closed.status_code == 303
    page = client.get(closed.headers["location"]).text
    assert "Ärendet är avslutat." in page and "reglerad med stöd" in page
    again = client.post(f"{base}/avsluta", data={"csrf_token": csrf, "utfall": "moved_out"})
    assert again.status_code == 409 and "kunde inte avslutas" in again.text
    for action in ("record_contacted", "record_children", "close_episode"):
        (entry,) = _audit(portal.engine, action)
        assert (entry.entity_id, entry.episode_id) == (str(episode_id), episode_id), action


def test_rebook_to_a_chosen_slot_and_a_taken_slot_is_refused(portal) -> None:
    first, _ = new_episode(portal, seed=1)
    second, _ = new_episode(portal, seed=2, name="Per Ek")
    client, csrf = portal.login("radgivare")
    form = client.get(f"/radgivare/arenden/{first}/ny-tid")
    assert form.status_code == 200
    offered = [int(x) for x in re.findall(r'name="tid" id="tid-(\d+)"', form.text)]
    with session_scope(portal.engine) as session:
        taken = session.scalars(
            select(Appointment.slot_id).where(Appointment.episode_id == second)
        ).one()
    assert offered and taken not in offered
    refused = client.post(f"/radgivare/arenden/{first}/ny-tid",
                          data={"csrf_token": csrf, "tid": str(taken)})  # fmt: skip
    assert refused.status_code == 409
    assert "Den tiden är inte ledig längre. Välj en annan tid i listan." in refused.text
    assert len(_letters(portal.engine, first)) == 1

    chosen = offered[2]
    done = client.post(f"/radgivare/arenden/{first}/ny-tid",
                       data={"csrf_token": csrf, "tid": str(chosen)})  # fmt: skip
    assert done.headers["location"] == f"/radgivare/arenden/{first}?klart=ny-tid"
    with session_scope(portal.engine) as session:
        booked = session.scalars(
            select(Appointment.slot_id).where(
                Appointment.episode_id == first, Appointment.status == "booked"
            )
        ).one()
    assert booked == chosen
    letters = _letters(portal.engine, first)
    assert [(x.kind, x.version) for x in letters][-1] == ("appointment", 2)
    assert _audit(portal.engine, "appointment.rebook")[0].address == "testclient"
    page = client.get(done.headers["location"]).text
    assert "Den nya tiden är bokad." in page and "ersatt av ett nyare brev" in page

    cancelled = client.post(f"/radgivare/arenden/{first}/avboka", data={"csrf_token": csrf})
    assert cancelled.headers["location"] == f"/radgivare/arenden/{first}?klart=avbokad"
    assert _letters(portal.engine, first)[-1].kind == "appointment_cancelled"
    (dropped,) = _audit(portal.engine, "appointment.cancel")
    assert dropped.episode_id == first


def test_a_match_is_confirmed_from_the_list(portal, tmp_path: Path) -> None:
    cases, household = write_register(tmp_path)
    import_register(portal.engine, portal.settings, cases, household)
    review = add_episode(
        portal.engine, "k4", None, "Omar Alizadeh", street_address="Björkvägen 3",
        apartment="1001", postal_code="12346",
    )  # fmt: skip
    match_episodes(portal.engine, portal.settings, add_episode.__globals__["RUN"])
    with session_scope(portal.engine) as session:
        match_id = session.scalars(select(Match.id).where(Match.episode_id == review)).one()
    client, csrf = portal.login("radgivare")
    listing = client.get("/radgivare/traffar")
    assert f'href="/radgivare/arenden/{review}#traff"' in listing.text
    done = client.post(f"/radgivare/traffar/{match_id}/bekrafta", data={"csrf_token": csrf})
    assert done.headers["location"] == "/radgivare/traffar?klart=bekraftad"
    assert "Träffen är bekräftad." in client.get(done.headers["location"]).text
    with session_scope(portal.engine) as session:
        match = session.get(Match, match_id)
        assert (match.decision, match.decided_by) == ("confirmed", "radgivare")
    (decided,) = _audit(portal.engine, "match.confirm")
    assert (decided.entity_id, decided.episode_id) == (str(match_id), review)
    again = client.post(f"/radgivare/traffar/{match_id}/avvisa", data={"csrf_token": csrf})
    assert again.status_code == 409 and "redan avgjord" in again.text


def test_search_by_personnummer_in_any_form_name_and_number(portal) -> None:
    episode_id, pnr = new_episode(portal)
    client, _ = portal.login("radgivare")
    for query in (pnr, f"{pnr[2:8]}-{pnr[8:]}", pnr[2:], "eva berg", str(episode_id)):
        page = client.get("/radgivare/sok", params={"q": query})
        assert page.status_code == 200
        assert "1 ärende hittades." in page.text, query
        assert f'href="/radgivare/arenden/{episode_id}"' in page.text
    none = client.get("/radgivare/sok", params={"q": "Ingen Alls"})
    assert "Inga ärenden hittades" in none.text
    assert all(e.address == "testclient" for e in _audit(portal.engine, "list_episodes"))


def test_company_user_and_caseworker_get_404_on_advisor_urls(portal) -> None:
    episode_id, _ = new_episode(portal)
    (letter,) = _letters(portal.engine, episode_id)
    with session_scope(portal.engine) as session:
        users.create_user(session, "handlaggare", PASSWORD, "caseworker", caseworker_id="hs1")
    urls = [
        "/radgivare",
        "/radgivare/sok?q=Eva",
        "/radgivare/traffar",
        f"/radgivare/arenden/{episode_id}",
        f"/radgivare/arenden/{episode_id}/ny-tid",
        f"/radgivare/arenden/{episode_id}/brev/{letter.id}",
    ]
    for username in ("bolag-a", "handlaggare", "admin"):
        client, csrf = portal.login(username)
        for url in urls:
            answer = client.get(url)
            assert answer.status_code == 404, (username, url)
            assert "Eva Berg" not in answer.text and "%PDF" not in answer.text
        posted = client.post(f"/radgivare/arenden/{episode_id}/barn",
                             data={"csrf_token": csrf, "antal": "1"})  # fmt: skip
        assert posted.status_code == 404
    assert not _audit(portal.engine, "view_letter")


def test_every_advisor_form_needs_the_csrf_token(portal) -> None:
    from web.routes import advisor

    episode_id, _ = new_episode(portal)
    client, _ = portal.login("radgivare")
    routes = [r.path for r in advisor.router.routes if "POST" in getattr(r, "methods", set())]
    assert len(routes) >= 7
    for path in routes:
        url = re.sub(r"\{episode_id:int\}", str(episode_id), path)
        url = re.sub(r"\{match_id:int\}", "1", url).replace("{choice}", "bekrafta")
        assert client.post(url, data={"utfall": "kom"}).status_code == 403, path
    _ = csrf_of(client.get("/radgivare").text)
