"""Uploads above the cap are refused before they have arrived, with 413 in Swedish."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from test_api import _auth, _tokens

from models.config import Settings
from models.tables import NoticeFile
from web.body_limit import MB, MULTIPART_SLACK, UploadLimit, body_cap


def _small_caps(portal) -> int:
    portal.settings.web.max_upload_mb = 1
    portal.settings.web.max_files_per_upload = 2
    return body_cap("/foretag/filer", portal.settings.web) or 0


def _stored_files(portal) -> int:
    with portal.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(NoticeFile)) or 0


def test_the_caps_follow_the_settings(settings: Settings) -> None:
    web = settings.web
    assert body_cap("/foretag/filer", web) == (
        web.max_upload_mb * MB * web.max_files_per_upload + MULTIPART_SLACK
    )
    assert body_cap("/api/v1/notice-files", web) == web.max_upload_mb * MB + MULTIPART_SLACK
    assert body_cap("/api/v1/files/a.csv", web) == web.max_upload_mb * MB + MULTIPART_SLACK
    assert body_cap("/foretag", web) is None and body_cap("/admin/konton", web) is None


def test_a_declared_oversized_body_is_refused_at_once(portal) -> None:
    cap = _small_caps(portal)
    client, csrf = portal.login("bolag-a")
    page = client.post(
        "/foretag/filer",
        content=b"x" * 10,
        headers={"content-length": str(cap + 1), "content-type": "multipart/form-data; b=x"},
    )
    assert page.status_code == 413
    assert "för stort" in page.text and "högst 1 MB" in page.text and "högst 2 filer" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    token, _ = _tokens(portal)
    api = portal.client().post(
        "/api/v1/notice-files?filename=a.csv",
        content=b"x" * 10,
        headers={**_auth(token), "content-length": str(MB + MULTIPART_SLACK + 1)},
    )
    assert api.status_code == 413 and api.json() == {"detail": "Filen är större än 1 MB."}
    assert _stored_files(portal) == 0


def test_a_chunked_form_above_the_cap_is_refused(portal) -> None:
    """Without a Content-Length the body is counted: 413, not a per-file refusal after
    Starlette spooled all of it."""
    cap = _small_caps(portal)
    client, csrf = portal.login("bolag-a")
    big = b"a;b\n" * ((cap // 4) + 1)

    def chunks():
        yield from (big[i : i + MB // 2] for i in range(0, len(big), MB // 2))

    boundary = "grans"
    body_start = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="filer"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()

    def body():
        yield body_start
        yield from chunks()
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = client.post(
        "/foretag/filer",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413 and "för stort" in answer.text
    assert _stored_files(portal) == 0


def test_the_middleware_stops_reading_once_past_the_cap(settings: Settings) -> None:
    """Fed chunk by chunk, the body is not read beyond the first chunk past the cap."""
    settings.web.max_upload_mb = 1
    settings.web.max_files_per_upload = 1
    cap = body_cap("/api/v1/notice-files", settings.web) or 0
    chunk = b"x" * (256 * 1024)
    total = 20
    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < total}

    async def send(message: dict) -> None:
        sent.append(message)

    async def reads_everything(scope, receive, send) -> None:
        while (await receive()).get("more_body"):
            pass
        raise AssertionError("the whole body reached the app")

    scope = {"type": "http", "method": "POST", "path": "/api/v1/notice-files", "headers": []}
    asyncio.run(UploadLimit(reads_everything, settings)(scope, receive, send))
    assert sent[0]["status"] == 413
    assert pulled == cap // len(chunk) + 1 < total
