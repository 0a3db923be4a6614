"""The housing companies' upload endpoint: token per company, the receipt as the answer."""

from __future__ import annotations

import hashlib
import random
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from connectors.upload import create_app, new_token
from domain.synthetic import make_personnummer
from flows.stages.setup import prepare_database
from models.tables import Notice, NoticeFile

HEADER = (
    "personnummer;tenant_name;street_address;apartment;postal_code;town;contract_ref;"
    "event_type;event_date;service_date;debt_amount\n"
)


def _file(rows: list[str]) -> bytes:
    return (HEADER + "".join(f"{row}\n" for row in rows)).encode("utf-8")


@pytest.fixture
def api(db_engine, settings):
    token, digest = new_token()
    other_token, other_digest = new_token()
    settings.companies[0].upload_token_sha256 = digest
    settings.companies[1].upload_token_sha256 = other_digest
    prepare_database(db_engine, settings)
    client = TestClient(create_app(settings, lambda: db_engine))
    return client, token, other_token


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_upload_needs_the_company_token(api) -> None:
    client, _, _ = api
    assert client.put("/api/v1/files/a.csv", content=b"x").status_code == 401
    wrong = client.put("/api/v1/files/a.csv", content=b"x", headers=_auth("nope"))
    assert wrong.status_code == 401
    assert "nyckel" in wrong.json()["detail"]


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"])
def test_no_api_description_without_a_token(api, path: str) -> None:
    """Nothing but /healthz answers without a company's token: no schema, no docs pages."""
    client, token, _ = api
    assert client.get(path).status_code == 404
    assert client.get(path, headers=_auth(token)).status_code == 404
    assert client.get("/healthz").status_code == 200


def test_upload_answers_with_the_receipt_and_ingests_once(api, db_engine, settings) -> None:
    client, token, other_token = api
    pnr = make_personnummer(random.Random(1), date(1980, 5, 17))
    content = _file(
        [
            f"{pnr};Eva Berg;Storgatan 1;1101;194 30;Exempelby;K-1;termination_notice;"
            "2026-11-02;2026-11-04;12 345,50",
            f"{pnr};Eva Berg;Storgatan 1;1101;194 30;Exempelby;K-1;payment_order;"
            "2026-11-20;;13 000",
            ";;;;;;K-2;termination_notice;2026-11-02;;100",  # no personnummer, no name
        ]
    )
    first = client.put("/api/v1/files/uppsagningar.csv", content=content, headers=_auth(token))
    assert first.status_code == 200, first.text
    receipt = first.json()
    assert (receipt["rows_read"], receipt["accepted"], receipt["rejected"]) == (3, 2, 1)
    assert receipt["rejections"][0]["row_number"] == 4  # the line in the file, header = 1
    assert not {"match", "tier", "case_id", "known", "caseworker"} & set(receipt)
    assert "socialtjänst" not in first.text.lower()

    again = client.put("/api/v1/files/kopia.csv", content=content, headers=_auth(token))
    assert again.json()["already_received"] is True
    with db_engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Notice)) == 2
        assert connection.scalar(select(func.count()).select_from(NoticeFile)) == 1
    assert list(settings.paths.archive_dir.rglob("*uppsagningar.csv"))

    digest = hashlib.sha256(content).hexdigest()
    stored = client.get(f"/api/v1/receipts/{digest}", headers=_auth(token))
    assert stored.status_code == 200
    assert (stored.json()["accepted"], stored.json()["rejected"]) == (2, 1)
    # Another company cannot read this company's receipts.
    assert client.get(f"/api/v1/receipts/{digest}", headers=_auth(other_token)).status_code == 404


def test_empty_upload_is_refused(api) -> None:
    client, token, _ = api
    response = client.put("/api/v1/files/tom.csv", content=b"", headers=_auth(token))
    assert response.status_code == 400
    assert response.json()["detail"] == "Filen är tom."


def test_file_names_cannot_escape_the_archive(api, settings) -> None:
    client, token, _ = api
    pnr = make_personnummer(random.Random(2), date(1975, 1, 3))
    content = _file(
        [f"{pnr};Per Holm;Torget 2;1201;194 31;Exempelby;K-9;termination_notice;2026-11-02;;500"]
    )
    response = client.put(
        "/api/v1/files/..%2F..%2Fetc%2Fpasswd", content=content, headers=_auth(token)
    )
    assert response.status_code in {200, 404}
    assert not (settings.paths.archive_dir.parent / "etc").exists()
