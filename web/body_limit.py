"""Refuse an upload bigger than the portal takes before all of it has arrived.

Starlette spools a multipart file to disk before a route sees it, so checking the
size in the route (``UploadFile.size``) comes after the whole body was received. This
middleware sits in front of the upload routes: a declared ``Content-Length`` above the
cap is answered at once, and a body without one (chunked) is counted as it streams in
and cut off as soon as it passes the cap. Either way the answer is 413 in plain
Swedish: a page for the browser form, JSON for the API.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.config import Settings, WebConfig
from web.core import render

MB = 1024 * 1024
#: Room for the multipart framing (boundaries, part headers, the CSRF field) on top of
#: the files themselves; far less than one more file.
MULTIPART_SLACK = 64 * 1024
BROWSER_UPLOAD = "/foretag/filer"
API_UPLOADS = ("/api/v1/notice-files",)
API_UPLOAD_PREFIX = "/api/v1/files/"


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes the cap (caught below)."""


def body_cap(path: str, web: WebConfig) -> int | None:
    """The most bytes an upload route takes in one request; None for any other route.

    The browser form takes up to ``max_files_per_upload`` files, the API one.
    """
    one_file = web.max_upload_mb * MB
    if path == BROWSER_UPLOAD:
        return one_file * web.max_files_per_upload + MULTIPART_SLACK
    if path in API_UPLOADS or path.startswith(API_UPLOAD_PREFIX):
        return one_file + MULTIPART_SLACK
    return None


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when absent or not a number."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def too_large_response(scope: Scope, web: WebConfig) -> Response:
    """413 in plain Swedish: JSON for the API, the portal's error page for the browser."""
    if scope["path"].startswith("/api/"):
        return JSONResponse(
            {"detail": f"Filen är större än {web.max_upload_mb} MB."}, status_code=413
        )
    message = (
        f"Det du skickade är för stort. Varje fil får vara högst {web.max_upload_mb} MB, "
        f"och du kan skicka högst {web.max_files_per_upload} filer åt gången."
    )
    return render(
        Request(scope),
        "error.html",
        {"title": "Filerna är för stora", "message": message},
        status_code=413,
    )


class UploadLimit:
    """Pure ASGI (the body is never buffered here): caps the upload routes' bodies."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        web = self.settings.web
        cap = body_cap(scope["path"], web) if scope["type"] == "http" else None
        if cap is None or scope["method"] not in ("POST", "PUT"):
            await self.app(scope, receive, send)
            return
        length = declared_length(scope)
        if length is not None and length > cap:
            await too_large_response(scope, web)(scope, receive, send)
            return

        received = 0
        overflow = False
        started = False

        async def counting() -> Message:
            nonlocal received, overflow
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    overflow = True
                    raise BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if overflow and not started:
                return  # whatever the app answers to a cut-off body, the answer is 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting, guarded)
        except BodyTooLarge:
            if started:
                raise
        if overflow and not started:
            await too_large_response(scope, web)(scope, receive, send)
