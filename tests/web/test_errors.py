"""Errors in plain Swedish: form limits, failures on our side, crashes, 404 and 405."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from portal_helpers import sample_file
from test_api import _auth, _tokens

from domain.notices import NoticeFormatError
from models.errors import KvarboendeError
from web.app import SERVER_ERROR_SV, create_app
from web.uploads import UPLOAD_FAILED_SV

OPERATOR_TEXT = "a concurrent ingest stored 19800517-1234; run the ingest again"


def _files(count: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("filer", (f"f{n}.csv", sample_file(n), "text/csv")) for n in range(count)]


def test_too_many_files_are_refused_in_swedish_on_the_upload_page(portal) -> None:
    client, csrf = portal.login("bolag-a")
    most = portal.settings.web.max_files_per_upload
    answer = client.post("/foretag/filer", data={"csrf_token": csrf}, files=_files(most + 1))
    assert answer.status_code == 400
    assert f"Du kan skicka högst {most} filer åt gången" in answer.text
    assert "Filer och kvitton" in answer.text  # the upload page, ready for another try
    assert "Too many" not in answer.text


def test_the_api_refuses_more_than_one_file_in_swedish(portal) -> None:
    token, _ = _tokens(portal)
    answer = portal.client().post(
        "/api/v1/notice-files",
        files=[("file", ("a.csv", sample_file(1), "text/csv"))] * 2,
        headers=_auth(token),
    )
    assert answer.status_code == 400
    assert answer.json() == {"detail": "Skicka en fil åt gången."}


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (KvarboendeError(OPERATOR_TEXT), UPLOAD_FAILED_SV),
        (OSError(OPERATOR_TEXT), UPLOAD_FAILED_SV),
        (NoticeFormatError("filen är tom"), "Filen kunde inte tas emot: filen är tom"),
    ],
)
def test_the_company_sees_only_refusals_meant_for_it(portal, monkeypatch, caplog, error, shown):
    def failing(*_args, **_kwargs):
        raise error

    monkeypatch.setattr("web.routes.company.receive_file", failing)
    monkeypatch.setattr("web.routes.api.receive_file", failing)
    client, csrf = portal.login("bolag-a")
    token, _ = _tokens(portal)
    with caplog.at_level(logging.ERROR, logger="web.uploads"):
        page = client.post("/foretag/filer", data={"csrf_token": csrf}, files=_files(1))
        api = portal.client().post(
            "/api/v1/notice-files?filename=a.csv", content=sample_file(), headers=_auth(token)
        )
    assert page.status_code == 400 and shown in page.text
    assert api.json()["detail"].endswith(shown)
    for text in (page.text, api.text):
        assert "run the ingest" not in text and "concurrent" not in text
    if shown == UPLOAD_FAILED_SV:  # ours: logged for the operator, personal data masked
        assert api.status_code == 500
        assert "run the ingest again" in caplog.text
        assert "19800517-1234" not in caplog.text and "<personnummer>" in caplog.text
    else:
        assert api.status_code == 422 and not caplog.records


def _crashing_client(portal) -> TestClient:
    app = create_app(portal.settings, portal.engine)

    @app.get("/krasch")
    @app.get("/api/v1/krasch")
    def crash() -> None:
        raise RuntimeError("boom")

    return TestClient(app, base_url="https://testserver", raise_server_exceptions=False)


def test_a_crash_gives_a_swedish_page_with_the_security_headers(portal) -> None:
    client = _crashing_client(portal)
    page = client.get("/krasch")
    assert page.status_code == 500
    assert "Något gick fel" in page.text and SERVER_ERROR_SV in page.text
    assert "Internal Server Error" not in page.text and "boom" not in page.text
    assert "<script" not in page.text and "style=" not in page.text
    api = client.get("/api/v1/krasch")
    assert api.status_code == 500 and api.json() == {"detail": SERVER_ERROR_SV}
    for answer in (page, api):
        headers = answer.headers
        assert headers["content-security-policy"].startswith("default-src 'self'")
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"


def test_404_and_405_are_in_swedish_on_pages_and_in_the_api(portal) -> None:
    client = portal.client()
    wrong_method = client.get("/foretag/filer")
    assert wrong_method.status_code == 405
    assert "Sidan kan inte användas på det sättet." in wrong_method.text
    assert "Method Not Allowed" not in wrong_method.text
    missing = client.get("/finns-inte")
    assert missing.status_code == 404 and "Sidan finns inte" in missing.text
    api_method = client.post("/api/v1/receipts/abc")
    assert api_method.status_code == 405
    assert api_method.json()["detail"] == "Sidan kan inte användas på det sättet."
    api_missing = client.get("/api/v1/finns-inte")
    assert api_missing.status_code == 404
    assert "Not Found" not in api_missing.text and "finns inte" in api_missing.json()["detail"]
