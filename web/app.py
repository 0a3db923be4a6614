"""The web portal: one FastAPI app with server-rendered pages per role and the upload API.

Run it with ``kvarboende web`` behind the municipality's HTTPS proxy. Pages work
without JavaScript; every response carries strict security headers (no inline
scripts or styles, no framing, no referrer). There is no /docs or /openapi.json.
"""

from __future__ import annotations

import logging
from datetime import datetime
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.formatting import STOCKHOLM, sv_amount, sv_weekday_when
from domain.outcomes import ACTIVITY_LABEL_SV
from domain.vocabulary import EVENT_LABEL_SV, OUTCOME_LABEL_SV, STATUS_LABEL_SV
from models.audit import request_address
from models.config import Settings
from models.db import as_utc, make_engine
from models.errors import NotFound
from models.privacy import protect_process
from services.audit import action_label, entity_label
from web.body_limit import UploadLimit
from web.core import (
    SESSION_COOKIE,
    STATIC,
    TEMPLATES,
    CsrfFailed,
    FormRefused,
    LoginRequired,
    PageNotFound,
    Portal,
    login_url,
    render,
)

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}


#: A crash, in plain Swedish (the page and the API say the same).
SERVER_ERROR_SV = (
    "Något gick fel hos oss. Försök igen om en stund; händer det igen, kontakta kommunen."
)
#: Starlette's English reason phrases, for the codes a person may meet, in plain Swedish.
STATUS_SV = {
    404: "Sidan finns inte, eller så har du inte behörighet att se den.",
    405: "Sidan kan inte användas på det sättet.",
}
_FALLBACK_PAGE = (
    '<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Något gick fel'
    "</title></head><body><h1>Något gick fel</h1><p>{message}</p>"
    '<p><a href="/">Till startsidan</a></p></body></html>'
)


def with_security_headers(response: Response) -> Response:
    """The headers SecurityHeaders adds, set on a response that never passes it.

    A crash is answered by Starlette's outermost layer, outside every middleware.
    """
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["cache-control"] = "no-store"
    return response


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def detail_sv(exc: StarletteHTTPException) -> str:
    """The error's own text when it is ours; Swedish instead of Starlette's default phrase."""
    detail = exc.detail if isinstance(exc.detail, str) else ""
    default = _phrase(exc.status_code)
    if detail and detail != default:
        return detail
    return STATUS_SV.get(exc.status_code, "Något gick fel.")


class SecurityHeaders:
    """Adds the security headers to every response; pages are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])]
                names = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in names:
                        headers.append((name.encode(), value.encode()))
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class RequestContext:
    """Per request: who is really asking, for the audit log, and a single sign-on
    session's cookie when :func:`web.core.current_session` opened one.

    With ``[web] trusted_proxies`` the portal reads ``X-Forwarded-For`` itself, only from
    those addresses (``kvarboende web`` then turns uvicorn's own reading off), and keeps
    the proxy's address as ``request.state.peer``: the single sign-on header is believed
    only from there.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = (client[0] if client else "") or "-"
        state = scope.setdefault("state", {})
        state["peer"] = peer
        if peer in self.settings.web.trusted_proxies:
            forwarded = dict(scope.get("headers", [])).get(b"x-forwarded-for", b"")
            last = forwarded.decode("latin-1").split(",")[-1].strip()
            if last:
                scope["client"] = (last, 0)
        token = request_address.set(scope["client"][0] if scope.get("client") else "-")
        cookie_secure = self.settings.web.cookie_secure

        async def with_cookie(message: Message) -> None:
            new_token = state.get("new_session_token")
            if message["type"] == "http.response.start" and new_token:
                cookie = Response()
                cookie.set_cookie(
                    SESSION_COOKIE, new_token, httponly=True, secure=cookie_secure,
                    samesite="strict", path="/",
                )  # fmt: skip
                message["headers"] = [
                    *message.get("headers", []),
                    *[(k, v) for k, v in cookie.raw_headers if k == b"set-cookie"],
                ]
            await send(message)

        try:
            await self.app(scope, receive, with_cookie)
        finally:
            request_address.reset(token)


def local_time(moment: datetime) -> str:
    """A stored UTC time as Stockholm wall-clock time, to the minute."""
    return as_utc(moment).astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


#: Plain Swedish for the codes the pages show, and amounts as ``12 345 kr``.
PAGE_FILTERS = {
    "kr": lambda value: sv_amount(value, nbsp=True),
    "eviction_when": lambda moment: sv_weekday_when(as_utc(moment)),
    "status_sv": lambda code: str(STATUS_LABEL_SV.get(code, code)).capitalize(),
    "outcome_sv": lambda code: OUTCOME_LABEL_SV.get(code, code),
    "event_sv": lambda code: EVENT_LABEL_SV.get(code, code),
    "activity_sv": lambda code: str(ACTIVITY_LABEL_SV.get(code, code)).capitalize(),
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The portal for this installation (``engine`` defaults to ``[database] url``).

    An entry point: the process becomes private and its logs masked (:mod:`models.privacy`).
    """
    from web.routes import (
        account,
        admin,
        advisor,
        api,
        auth,
        caseworker,
        company,
        home,
        manager,
    )

    protect_process()

    app = FastAPI(
        title="Kvarboende",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.filters["local"] = local_time
    templates.env.filters["action_sv"] = action_label
    templates.env.filters["entity_sv"] = entity_label
    templates.env.filters.update(PAGE_FILTERS)
    app.state.portal = Portal(
        settings=settings,
        engine=engine if engine is not None else make_engine(settings.database.url),
        templates=templates,
    )
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for module in (auth, home, account, company, advisor, caseworker, manager, admin, api):
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "Logga in först."}, status_code=401)
        return RedirectResponse(login_url(request), status_code=303)

    @app.exception_handler(PageNotFound)
    @app.exception_handler(NotFound)
    async def _not_found(request: Request, _exc: Exception) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "Finns inte."}, status_code=404)
        return render(request, "error.html", {"title": "Sidan finns inte", "message":
                      "Sidan finns inte, eller så har du inte behörighet att se den."},
                      status_code=404)  # fmt: skip

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, _exc: CsrfFailed) -> Response:
        return render(request, "error.html", {"title": "Formuläret kunde inte skickas",
                      "message": "Formuläret var för gammalt eller kom inte från portalen. "
                      "Gå tillbaka, ladda om sidan och försök igen."}, status_code=403)  # fmt: skip

    @app.exception_handler(FormRefused)
    async def _form_refused(request: Request, exc: FormRefused) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.message}, status_code=400)
        page = company.upload_refused_page(request, exc.message)
        if page is not None:
            return page
        return render(request, "error.html", {"title": "Formuläret kunde inte skickas",
                      "message": exc.message}, status_code=400)  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": detail_sv(exc)}, status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))  # fmt: skip
        if exc.status_code == 404:
            return await _not_found(request, exc)
        message = STATUS_SV[405] if exc.status_code == 405 else detail_sv(exc)
        return render(request, "error.html", {"title": "Det gick inte", "message": message},
                      status_code=exc.status_code)  # fmt: skip

    @app.exception_handler(Exception)
    async def _crash(request: Request, _exc: Exception) -> Response:
        """Any other error: a Swedish page with the security headers (Starlette then
        re-raises the error, so the server logs it, masked by :mod:`models.privacy`)."""
        if _wants_json(request):
            return with_security_headers(JSONResponse({"detail": SERVER_ERROR_SV}, 500))
        try:
            page: Response = render(request, "error.html", {"title": "Något gick fel",
                                    "message": SERVER_ERROR_SV}, status_code=500)  # fmt: skip
        except Exception:  # noqa: BLE001 - the page itself failed: a plain one, still Swedish
            page = HTMLResponse(_FALLBACK_PAGE.format(message=SERVER_ERROR_SV), 500)
        return with_security_headers(page)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, _exc: RequestValidationError) -> Response:
        message = "Uppgifterna i formuläret saknas eller är felaktiga."
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=400)
        return render(request, "error.html", {"title": "Det gick inte", "message": message},
                      status_code=400)  # fmt: skip

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(UploadLimit, settings=settings)  # inside: its 413 gets the headers
    app.add_middleware(RequestContext, settings=settings)
    app.add_middleware(SecurityHeaders)
    return app
