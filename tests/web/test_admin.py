"""The administrator's pages: accounts (create, deactivate, reactivate, role), the audit log."""

from __future__ import annotations

from portal_helpers import PASSWORD, csrf_of
from sqlalchemy import select

from models.tables import AuditLog, PortalUser


def test_admin_creates_a_company_account_that_can_log_in(portal) -> None:
    admin, csrf = portal.login("admin")
    created = admin.post(
        "/admin/konton",
        data={
            "csrf_token": csrf,
            "username": "Ny.Bolag",
            "display_name": "Ny på bolaget",
            "role": "company",
            "company_id": portal.company_b,
            "password": "ett-bra-lösenord",
        },
    )
    assert created.headers["location"] == "/admin?klart=skapad"
    assert "ny.bolag" in admin.get("/admin").text
    client, _ = portal.login("ny.bolag", "ett-bra-lösenord")
    assert client.get("/foretag").status_code == 200
    with portal.engine.connect() as connection:
        stored = connection.scalar(
            select(PortalUser.password_hash).where(PortalUser.username == "ny.bolag")
        )
        entry = connection.execute(
            select(AuditLog.actor, AuditLog.address).where(AuditLog.action == "create_user")
        ).all()
    assert stored.startswith("$argon2id$")
    assert ("admin", "testclient") in entry


def test_admin_form_errors_are_plain_swedish(portal) -> None:
    admin, csrf = portal.login("admin")
    cases = [
        ({"username": "x2", "role": "company", "password": "kort"}, "minst 10 tecken"),
        (
            {"username": "x3", "role": "company", "password": "a" * 12},
            "måste höra till ett bostadsbolag",
        ),
        ({"username": "admin", "role": "manager", "password": "a" * 12}, "finns redan"),
        ({"username": "x4", "role": "caseworker", "password": "a" * 12}, "handläggar-id"),
    ]
    for data, words in cases:
        answer = admin.post("/admin/konton", data={"csrf_token": csrf, **data})
        assert answer.status_code == 400
        assert words in answer.text, words


def test_deactivated_account_is_logged_out_and_cannot_log_in(portal) -> None:
    company, _ = portal.login("bolag-a")
    admin, csrf = portal.login("admin")
    with portal.engine.connect() as connection:
        user_id = connection.scalar(select(PortalUser.id).where(PortalUser.username == "bolag-a"))
    answer = admin.post(f"/admin/konton/{user_id}/stang-av", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert company.get("/foretag").headers["location"] == "/logga-in?next=/foretag"
    page = portal.client().get("/logga-in")
    refused = portal.client().post(
        "/logga-in",
        data={"username": "bolag-a", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code in {401, 403}


def test_audit_log_filters_and_exports(portal) -> None:
    portal.login("bolag-a")
    admin, _ = portal.login("admin")
    page = admin.get("/admin/logg", params={"vem": "bolag-a", "handelse": "login"})
    assert page.status_code == 200
    assert "bolag-a" in page.text and "testclient" in page.text and "Inloggning" in page.text
    exported = admin.get("/admin/logg.csv", params={"vem": "bolag-a"}).content.decode("utf-8-sig")
    assert exported.splitlines()[0] == "tid;vem;händelse;kod;typ;id;ärende;detaljer;adress"
    assert "bolag-a;Inloggning;login;" in exported
    assert "admin;" not in exported.split("\n", 1)[1]


def test_audit_log_pages_keep_the_filter(portal) -> None:
    """100 entries a page, newest first; the page links keep the filters."""
    import re

    from models.db import session_scope

    with session_scope(portal.engine) as session:
        for n in range(230):
            session.add(
                AuditLog(
                    actor="granskad", action="read_episode", entity="episode", entity_id=str(n)
                )  # fmt: skip
            )
    admin, _ = portal.login("admin")

    def shown(page: str) -> list[str]:
        return re.findall(r"<td>granskad</td><td>[^<]*</td>\s*<td>Ärende</td><td>(\d+)</td>", page)

    first = admin.get("/admin/logg", params={"vem": "granskad"}).text
    assert shown(first) == [str(n) for n in range(229, 129, -1)]
    assert 'href="/admin/logg?vem=granskad&amp;sida=2"' in first and "Nyare poster" not in first
    third = admin.get("/admin/logg", params={"vem": "granskad", "sida": "3"}).text
    assert shown(third) == [str(n) for n in range(29, -1, -1)]
    assert "Äldre poster" not in third and "vem=granskad&amp;sida=2" in third
    assert "Poster 201–230" in third
    exported = admin.get("/admin/logg.csv", params={"vem": "granskad"}).text
    assert len(exported.strip().splitlines()) == 231  # the export is not paged


def test_the_episode_filter_finds_its_letters_meetings_and_recordings_only(portal) -> None:
    """Filtering on an episode number finds every entry about that episode, whatever the
    entity (the episode, its letter, its meeting), and none about a file or letter that
    merely has the same id number, nor about another episode; the export likewise."""
    import re

    from advisor_helpers import meeting_begins, new_episode

    from models.db import session_scope
    from models.tables import Letter

    target, _ = new_episode(portal, seed=1)
    other, _ = new_episode(portal, seed=2, name="Per Ek")
    with session_scope(portal.engine) as session:
        letter_of = dict(session.execute(select(Letter.episode_id, Letter.id)).tuples().all())
    client, csrf = portal.login("radgivare")
    base = f"/radgivare/arenden/{target}"
    assert client.get(base).status_code == 200
    assert client.get(f"{base}/brev/{letter_of[target]}").status_code == 200
    slots = re.findall(r'name="tid" id="tid-(\d+)"', client.get(f"{base}/ny-tid").text)
    moved = client.post(f"{base}/ny-tid", data={"csrf_token": csrf, "tid": slots[0]})
    assert moved.status_code == 303
    meeting_begins(portal.engine, target)
    recorded = client.post(f"{base}/besok", data={"csrf_token": csrf, "utfall": "kom"})
    assert recorded.status_code == 303
    assert client.get(f"/radgivare/arenden/{other}").status_code == 200
    assert client.get(f"/radgivare/arenden/{other}/brev/{letter_of[other]}").status_code == 200
    with session_scope(portal.engine) as session:
        rows = session.execute(select(AuditLog.action, AuditLog.entity, AuditLog.entity_id,
                                      AuditLog.episode_id)).tuples().all()  # fmt: skip
    # Entries about something else numbered like the target: a bare id filter found them.
    same_number = {(a, e) for a, e, i, ep in rows if i == str(target) and ep != target}
    assert ("upload", "notice_file") in same_number

    admin, _ = portal.login("admin")
    exported = admin.get("/admin/logg.csv", params={"arende": str(target)}).content
    lines = exported.decode("utf-8-sig").splitlines()
    assert lines[0] == "tid;vem;händelse;kod;typ;id;ärende;detaljer;adress"
    found = [line.split(";") for line in lines[1:]]
    assert {(row[3], row[4]) for row in found} == {
        ("read_episode", "episode"),
        ("view_letter", "letter"),
        ("appointment.rebook", "appointment"),
        ("appointment_attended", "appointment"),
        ("record_attended", "episode"),
    }
    assert {(row[1], row[6]) for row in found} == {("radgivare", str(target))}
    page = admin.get("/admin/logg", params={"arende": str(target)}).text
    assert f'name="arende" type="number" min="1" step="1" inputmode="numeric" value="{target}"' in (
        page
    )
    rows = [re.findall(r"<td>([^<]*)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>",
                                                                      page, re.S)]  # fmt: skip
    assert len(rows) == len(found) and {row[5] for row in rows} == {str(target)}
    assert "Brev öppnat" in {row[2] for row in rows}
    later = admin.get("/admin/logg.csv", params={"arende": str(target), "fran": "2999-01-01"})
    assert len(later.content.decode("utf-8-sig").splitlines()) == 1  # the other filters hold


def _user_id(portal, username: str) -> int:  # noqa: ANN001
    with portal.engine.connect() as connection:
        return connection.scalar(select(PortalUser.id).where(PortalUser.username == username))


def test_admin_changes_a_role_and_the_person_is_logged_out(portal) -> None:
    advisor, _ = portal.login("radgivare")
    admin, csrf = portal.login("admin")
    user_id = _user_id(portal, "radgivare")
    assert f'action="/admin/konton/{user_id}/roll"' in admin.get("/admin").text
    url = f"/admin/konton/{user_id}/roll"
    assert admin.post(url, data={"role": "manager"}).status_code == 403  # no CSRF token
    refused = admin.post(url, data={"csrf_token": csrf, "role": "company"})
    assert refused.status_code == 400
    assert "måste höra till ett bostadsbolag" in refused.text
    assert advisor.get("/radgivare").status_code == 200  # a refusal changes nothing

    done = admin.post(url, data={"csrf_token": csrf, "role": "company",
                                 "company_id": portal.company_b})  # fmt: skip
    assert done.headers["location"] == "/admin?klart=roll"
    assert "Kontot har fått den nya rollen." in admin.get(done.headers["location"]).text
    assert advisor.get("/radgivare").headers["location"] == "/logga-in?next=/radgivare"
    again, _ = portal.login("radgivare")
    assert again.get("/radgivare").status_code == 404
    assert again.get("/foretag").status_code == 200
    with portal.engine.connect() as connection:
        entry = connection.execute(
            select(AuditLog.actor, AuditLog.address, AuditLog.detail).where(
                AuditLog.action == "change_role"
            )
        ).one()
    assert entry == (
        "admin",
        "testclient",
        f"from role=advisor to role=company company={portal.company_b} sessions_ended=1",
    )


def test_admin_cannot_change_their_own_role(portal) -> None:
    admin, csrf = portal.login("admin")
    user_id = _user_id(portal, "admin")
    assert f'action="/admin/konton/{user_id}/roll"' not in admin.get("/admin").text
    answer = admin.post(f"/admin/konton/{user_id}/roll",
                        data={"csrf_token": csrf, "role": "manager"})  # fmt: skip
    assert answer.status_code == 400
    assert "Du kan inte ändra rollen på ditt eget konto." in answer.text
    assert admin.get("/admin").status_code == 200


def test_admin_reactivates_a_deactivated_account(portal) -> None:
    admin, csrf = portal.login("admin")
    user_id = _user_id(portal, "bolag-a")
    off = admin.post(f"/admin/konton/{user_id}/stang-av", data={"csrf_token": csrf})
    assert off.status_code == 303
    page = admin.get("/admin").text
    assert f'action="/admin/konton/{user_id}/aktivera"' in page
    url = f"/admin/konton/{user_id}/aktivera"
    assert admin.post(url, data={}).status_code == 403  # no CSRF token
    done = admin.post(url, data={"csrf_token": csrf})
    assert done.headers["location"] == "/admin?klart=aktiverat"
    assert f'action="/admin/konton/{user_id}/aktivera"' not in admin.get("/admin").text
    client, _ = portal.login("bolag-a")
    assert client.get("/foretag").status_code == 200
    twice = admin.post(url, data={"csrf_token": csrf})
    assert twice.status_code == 400 and "Kontot är redan aktivt." in twice.text
    with portal.engine.connect() as connection:
        actors = connection.scalars(
            select(AuditLog.actor).where(AuditLog.action == "reactivate_user")
        ).all()
    assert actors == ["admin"]
