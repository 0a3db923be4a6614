"""The companies' API: a token per company, the receipt as the answer, admin-issued tokens."""

from __future__ import annotations

import hashlib
import random
from datetime import date

from notice_rows import notice
from portal_helpers import csrf_of, notice_file, sample_file
from sqlalchemy import func, select

from domain.synthetic import make_personnummer
from models.db import session_scope
from models.tables import ApiToken, AuditLog, Notice, NoticeFile
from services.companies import issue_token, new_token


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _tokens(portal) -> tuple[str, str]:
    with session_scope(portal.engine) as session:
        a = issue_token(session, portal.company_a, by="test").token
        b = issue_token(session, portal.company_b, by="test").token
    return a, b


def test_upload_needs_the_company_token(portal) -> None:
    client = portal.client()
    assert client.put("/api/v1/files/a.csv", content=b"x").status_code == 401
    wrong = client.post("/api/v1/notice-files?filename=a.csv", content=b"x", headers=_auth("nope"))
    assert wrong.status_code == 401
    assert "nyckel" in wrong.json()["detail"]
    # A session cookie is not a token: the API answers only to bearer tokens.
    browser, _ = portal.login("bolag-a")
    assert browser.post("/api/v1/notice-files?filename=a.csv", content=b"x").status_code == 401


def test_post_notice_file_multipart_and_raw_answer_with_the_receipt(portal) -> None:
    client = portal.client()
    token, other = _tokens(portal)
    answer = client.post(
        "/api/v1/notice-files",
        files={"file": ("uppsagningar.csv", sample_file(), "text/csv")},
        headers=_auth(token),
    )
    assert answer.status_code == 200, answer.text
    receipt = answer.json()
    assert (receipt["rows_read"], receipt["accepted"], receipt["rejected"]) == (3, 1, 1)
    assert receipt["duplicates"] == 1
    assert receipt["rejections"][0]["row_number"] == 3  # the line in the file, header = 1
    assert not {"match", "tier", "case_id", "known", "caseworker"} & set(receipt)
    assert "socialtjänst" not in answer.text.lower()

    raw = client.post(
        "/api/v1/notice-files?filename=kopia.csv", content=sample_file(), headers=_auth(token)
    )
    assert raw.json()["already_received"] is True
    assert raw.json()["receipt_id"] == receipt["receipt_id"]
    with portal.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Notice)) == 1
        assert connection.scalar(select(func.count()).select_from(NoticeFile)) == 1
        uploads = connection.scalars(
            select(AuditLog.actor).where(AuditLog.action == "upload")
        ).all()
        used = connection.scalar(select(func.count()).where(ApiToken.last_used_at.is_not(None)))
    assert uploads == [f"api:{portal.company_a}"] * 2
    assert used == 1
    assert list(portal.settings.paths.archive_dir.rglob("*uppsagningar.csv"))

    digest = hashlib.sha256(sample_file()).hexdigest()
    stored = client.get(f"/api/v1/receipts/{digest}", headers=_auth(token))
    assert stored.status_code == 200
    assert (stored.json()["accepted"], stored.json()["rejected"]) == (1, 1)
    # Another company cannot read this company's receipts.
    assert client.get(f"/api/v1/receipts/{digest}", headers=_auth(other)).status_code == 404


def test_the_older_put_and_a_config_token_keep_working(portal) -> None:
    token, digest = new_token()
    portal.settings.companies[0].upload_token_sha256 = digest
    client = portal.client()
    pnr = make_personnummer(random.Random(2), date(1975, 1, 3))
    content = notice_file([
        notice(
            personnummer=pnr, tenant_name="Per Holm", street_address="Torget 2",
            apartment="1201", postal_code="194 31", town="Exempelby", contract_ref="K-9",
            event_type="termination_notice", event_date="2026-11-02", debt_amount="500",
        )
    ])  # fmt: skip
    answer = client.put("/api/v1/files/export.csv", content=content, headers=_auth(token))
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1


def test_empty_wrong_type_and_path_names_are_refused(portal) -> None:
    client = portal.client()
    token, _ = _tokens(portal)
    empty = client.put("/api/v1/files/tom.csv", content=b"", headers=_auth(token))
    assert (empty.status_code, empty.json()["detail"]) == (400, "Filen är tom.")
    wrong = client.put("/api/v1/files/a.exe", content=b"MZ", headers=_auth(token))
    assert wrong.status_code == 400
    escape = client.put(
        "/api/v1/files/..%2F..%2Fetc%2Fpasswd.csv", content=sample_file(3), headers=_auth(token)
    )
    assert escape.status_code in {200, 404}
    assert not (portal.settings.paths.archive_dir.parent / "etc").exists()
    no_name = client.post("/api/v1/notice-files", content=sample_file(), headers=_auth(token))
    assert no_name.status_code == 400 and "filename" in no_name.json()["detail"]


def test_admin_issues_a_token_shown_once_and_revokes_it(portal) -> None:
    admin, csrf = portal.login("admin")
    page = admin.post(
        f"/admin/bolag/{portal.company_a}/nycklar", data={"csrf_token": csrf, "label": "ekonomi"}
    )
    assert page.status_code == 200
    token = page.text.split('id="token" class="token" value="')[1].split('"')[0]
    assert len(token) > 30
    assert token not in admin.get("/admin/bolag").text  # shown once only
    client = portal.client()
    ok = client.post(
        "/api/v1/notice-files?filename=a.csv", content=sample_file(), headers=_auth(token)
    )
    assert ok.status_code == 200
    with portal.engine.connect() as connection:
        token_id = connection.scalar(select(ApiToken.id))
        assert (
            connection.scalar(select(ApiToken.token_sha256))
            == hashlib.sha256(token.encode()).hexdigest()
        )
    listing = admin.get("/admin/bolag")
    revoked = admin.post(
        f"/admin/nycklar/{token_id}/aterkalla", data={"csrf_token": csrf_of(listing.text)}
    )
    assert revoked.status_code == 303
    again = client.post(
        "/api/v1/notice-files?filename=b.csv", content=sample_file(7), headers=_auth(token)
    )
    assert again.status_code == 401
    with portal.engine.connect() as connection:
        actions = set(connection.scalars(select(AuditLog.action)))
    assert {"issue_token", "revoke_token"} <= actions


def test_the_stored_receipt_carries_what_the_csv_receipt_does(portal) -> None:
    """Rejected rows keep their contract reference; each duplicate names the row it repeats."""
    client = portal.client()
    token, _ = _tokens(portal)
    first = sample_file()
    posted = client.post(
        "/api/v1/notice-files?filename=forsta.csv", content=first, headers=_auth(token)
    ).json()
    digest = hashlib.sha256(first).hexdigest()
    stored = client.get(f"/api/v1/receipts/{digest}", headers=_auth(token)).json()
    assert stored["rejections"] == [
        {"row_number": 3, "reason": "Personnummer och namn saknas", "contract_ref": "K-BAD"}
    ]
    duplicate = {
        "row_number": 4,
        "contract_ref": "K-1",
        "reason": stored["duplicate_rows"][0]["reason"],
        "repeats_row": 2,
        "repeats_filename": None,
        "repeats": "rad 2 i samma fil",
    }
    assert stored["duplicate_rows"] == [duplicate]
    assert posted["duplicate_rows"] == [duplicate]  # the upload's answer says the same
    assert stored["contact"] and stored["received_at"]
    assert not {"match", "tier", "case_id", "known", "caseworker"} & set(stored)

    header, same = first.decode().splitlines()[:2]
    later = f"{header}\n{same}\n".encode()  # the same notice, in a new file
    client.post("/api/v1/notice-files?filename=senare.csv", content=later, headers=_auth(token))
    again = client.get(
        f"/api/v1/receipts/{hashlib.sha256(later).hexdigest()}", headers=_auth(token)
    ).json()
    assert [(d["repeats_row"], d["repeats_filename"]) for d in again["duplicate_rows"]] == [
        (2, "forsta.csv")
    ]
    assert again["duplicate_rows"][0]["repeats"] == "rad 2 i filen forsta.csv"
