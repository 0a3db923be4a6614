"""A housing company's pages: upload, receipts, downloads; never another company's files."""

from __future__ import annotations

import io

import openpyxl
from portal_helpers import sample_file
from sqlalchemy import select

from models.tables import AuditLog, NoticeFile


def _upload(client, csrf: str, *files: tuple[str, bytes]):
    return client.post(
        "/foretag/filer",
        data={"csrf_token": csrf},
        files=[("filer", (name, data, "text/csv")) for name, data in files],
    )


def test_company_uploads_a_file_and_sees_its_receipt(portal) -> None:
    client, csrf = portal.login("bolag-a")
    answer = _upload(client, csrf, ("uppsägningar nov.csv", sample_file()))
    assert answer.status_code == 303
    receipt_url = answer.headers["location"]
    page = client.get(receipt_url)
    assert page.status_code == 200
    text = page.text
    assert "Kvitto för uppsägningar nov.csv" in text
    assert "K-BAD" in text and "Personnummer och namn saknas" in text  # contract ref + reason
    assert "rad 2 i samma fil" in text  # the duplicate says which row it repeats
    assert "socialtjänst" not in text.lower() and "handläggare" not in text.lower()
    listing = client.get("/foretag").text
    assert "uppsägningar nov.csv" in listing

    with portal.engine.connect() as connection:
        stored = connection.execute(
            select(NoticeFile.rows_accepted, NoticeFile.rows_duplicate)
        ).one()
        actions = connection.execute(
            select(AuditLog.action, AuditLog.actor, AuditLog.address).where(
                AuditLog.action.in_(["upload", "view_receipt"])
            )
        ).all()
    assert tuple(stored) == (1, 1)
    assert {(a, actor) for a, actor, _ in actions} == {
        ("upload", "bolag-a"),
        ("view_receipt", "bolag-a"),
    }
    assert all(address for *_, address in actions)

    # The same content again: nothing new, the first receipt, and it says so.
    again = _upload(client, csrf, ("kopia.csv", sample_file()))
    assert again.headers["location"].endswith("?redan=1")
    assert "redan tagits emot" in client.get(again.headers["location"]).text


def test_receipt_downloads_as_csv_and_xlsx(portal) -> None:
    client, csrf = portal.login("bolag-a")
    url = _upload(client, csrf, ("a.csv", sample_file())).headers["location"]
    csv_text = client.get(f"{url}.csv").content.decode("utf-8-sig")
    assert "Rad;Kontraktsnummer;Status;Orsak;Upprepar" in csv_text
    assert "3;K-BAD;Avvisad;Personnummer och namn saknas;" in csv_text
    assert "4;K-1;Dubblett;" in csv_text and "rad 2 i samma fil" in csv_text
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(f"{url}.xlsx").content))
    values = [[c for c in row] for row in workbook.active.iter_rows(values_only=True)]
    assert ["Mottagna", 1] in [list(row[:2]) for row in values]
    assert [3, "K-BAD", "Avvisad", "Personnummer och namn saknas", ""] in [
        list(row) for row in values
    ]


def test_duplicate_of_an_earlier_file_names_that_file(portal) -> None:

    client, csrf = portal.login("bolag-a")
    first = sample_file()
    _upload(client, csrf, ("forsta.csv", first))
    header, same = first.decode().splitlines()[:2]
    later = f"{header}\n{same}\n".encode()  # the same notice, in a new file
    url = _upload(client, csrf, ("andra.csv", later)).headers["location"]
    assert "rad 2 i filen forsta.csv" in client.get(url).text


def test_a_company_cannot_see_another_companys_receipt(portal) -> None:
    client_a, csrf = portal.login("bolag-a")
    url = _upload(client_a, csrf, ("a.csv", sample_file())).headers["location"]
    client_b, _ = portal.login("bolag-b")
    for suffix in ("", ".csv", ".xlsx"):
        answer = client_b.get(url + suffix)
        assert answer.status_code == 404, suffix
        assert "K-BAD" not in answer.text
    assert "a.csv" not in client_b.get("/foretag").text
    assert client_b.get("/foretag/kvitton/99999").status_code == 404


def test_company_and_advisor_users_get_404_on_admin_pages(portal) -> None:
    for username in ("bolag-a", "radgivare"):
        client, csrf = portal.login(username)
        for path in ("/admin", "/admin/bolag", "/admin/logg", "/admin/logg.csv"):
            answer = client.get(path)
            assert answer.status_code == 404, (username, path)
            assert "Sidan finns inte" in answer.text
        created = client.post(
            "/admin/konton",
            data={"csrf_token": csrf, "username": "x1", "role": "admin", "password": "y" * 12},
        )
        assert created.status_code == 404
        # The role is checked before the CSRF token: a forged post learns nothing either.
        assert client.post("/admin/konton", data={"username": "x1"}).status_code == 404
    advisor, _ = portal.login("radgivare")
    assert advisor.get("/foretag").status_code == 404  # not a company: no company pages


def test_upload_limits_wrong_type_and_size(portal) -> None:
    portal.settings.web.max_upload_mb = 1
    client, csrf = portal.login("bolag-a")
    wrong = _upload(client, csrf, ("program.exe", b"MZ..."))
    assert wrong.status_code == 400
    assert "bara CSV-filer (.csv, .txt) och Excel-filer (.xlsx)" in wrong.text
    big = _upload(client, csrf, ("stor.csv", b"a" * (1024 * 1024 + 1)))
    assert big.status_code == 400 and "större än 1 MB" in big.text
    empty = _upload(client, csrf, ("tom.csv", b""))
    assert empty.status_code == 400
    sneaky = _upload(client, csrf, ("../../etc/passwd.csv", sample_file(5)))
    assert sneaky.status_code == 303
    assert not (portal.settings.paths.archive_dir.parent / "etc").exists()
    with portal.engine.connect() as connection:
        assert connection.scalar(select(NoticeFile.filename)) == "passwd.csv"
