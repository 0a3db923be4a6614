"""What every portal route shares: the app state, who is asking, roles, CSRF, rendering.

Authorisation is decided here, on the server, for every request: the session cookie is
looked up (only its SHA-256 is stored), the idle clock checked, and the role compared
with what the route allows. A wrong role answers 404, exactly like a page that does
not exist, so a URL typed by hand reveals nothing. Every POST carries the session's
CSRF token in a hidden field; without it the request is refused before it does anything.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.config import Settings
from models.db import session_scope
from services.users import ActiveSession, LoginPolicy, resolve_session, sso_login

SESSION_COOKIE = "kvarboende_session"
LOGIN_CSRF_COOKIE = "kvarboende_login"
LOGIN_PATH = "/logga-in"
TEMPLATES = Path(__file__).with_name("templates")
#: Where a login may send the person on: a path of this site, never longer than this.
_MAX_NEXT = 2000
STATIC = Path(__file__).with_name("static")


class LoginRequired(Exception):
    """No valid session: the browser is sent to the login page."""


class PageNotFound(Exception):
    """Answer 404: the page does not exist, or this person may not see it (the same)."""


class CsrfFailed(Exception):
    """A POST without the right CSRF token: refused with 403 before anything happens."""


class FormRefused(Exception):
    """The form could not be read within its limits (too many files or fields, a field
    too big); ``message`` says so in plain Swedish. Answered with 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def form_problem_sv(detail: str, max_files: int) -> str:
    """Starlette's English complaint about a multipart form, in plain Swedish."""
    if detail.startswith("Too many files"):
        if max_files == 1:
            return "Skicka en fil åt gången."
        return f"Du kan skicka högst {max_files} filer åt gången. Välj färre filer och försök igen."
    if detail.startswith("Too many fields"):
        return "Formuläret har för många fält. Ladda om sidan och försök igen."
    if "exceeded maximum size" in detail:
        return "Ett fält i formuläret är för stort. Ladda om sidan och försök igen."
    return "Formuläret kunde inte läsas. Ladda om sidan och försök igen."


async def read_form(request: Request, *, max_files: int, max_fields: int) -> FormData:
    """The request's form, parsed once within these limits; FormRefused (Swedish) otherwise.

    Starlette checks the limits while parsing and answers in English before any route
    runs, so its refusal is caught here and reworded.
    """
    try:
        return await request.form(max_files=max_files, max_fields=max_fields)
    except StarletteHTTPException as exc:
        raise FormRefused(form_problem_sv(str(exc.detail), max_files)) from None


@dataclass
class Portal:
    """The app's state: configuration, database engine and templates."""

    settings: Settings
    engine: Engine
    templates: Jinja2Templates

    @contextmanager
    def db(self) -> Iterator[Session]:
        """One transaction (commit on success, roll back on error)."""
        with session_scope(self.engine) as session:
            yield session

    @property
    def login_policy(self) -> LoginPolicy:
        web = self.settings.web
        return LoginPolicy(
            max_failures=web.login_max_failures,
            max_failures_per_address=web.login_max_failures_per_address,
            lock_minutes=web.login_lock_minutes,
        )


def portal(request: Request) -> Portal:
    return request.app.state.portal


def client_address(request: Request) -> str:
    """The client's address as the server sees it (uvicorn applies trusted proxy headers)."""
    return (request.client.host if request.client else "") or "-"


def sso_username(request: Request) -> str | None:
    """The user name the municipality's proxy vouches for, or None.

    The header is believed only when ``[web] sso_header`` is set and the request comes
    straight from an address in ``[web] trusted_proxies`` (the connection's own peer, not
    a forwarded address); from anywhere else anyone could send it, so it is ignored.
    """
    web = portal(request).settings.web
    peer = getattr(request.state, "peer", None) or (request.client.host if request.client else "")
    if not web.sso_header or peer not in web.trusted_proxies:
        return None
    name = request.headers.get(web.sso_header, "").strip().lower()
    return name or None


def safe_next(target: str | None) -> str:
    """The page to go to after logging in, or ``/`` when ``target`` is not a plain local path.

    ``next`` comes from a link anyone can write, so only a path on this site is
    followed: it starts with a single ``/`` (``//host`` and ``/\\host`` are other sites
    to a browser), has no scheme, host, backslash or control character, and is not the
    login or logout page itself.
    """
    if not target or len(target) > _MAX_NEXT or not target.startswith("/"):
        return "/"
    unprintable = any(ord(c) < 32 or ord(c) == 127 for c in target)
    if target.startswith("//") or "\\" in target or unprintable:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in (LOGIN_PATH, "/logga-ut"):
        return "/"
    return target


def login_url(request: Request) -> str:
    """The login page, remembering the page asked for so the person comes back to it.

    A link in an email arrives without the session cookie (it is SameSite=Strict), so
    without this the person would land on the start page after logging in. Only a GET
    is remembered: a form's POST cannot be repeated by a redirect.
    """
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or safe_next(target) == "/":
        return LOGIN_PATH
    return f"{LOGIN_PATH}?{urlencode({'next': target}, safe='/')}"


def current_session(request: Request) -> ActiveSession:
    """The logged-in person, or LoginRequired (checked again on every request).

    Behind a trusted single sign-on proxy the header decides who it is: a session of
    another person is not used, and a new session is opened for the header's account
    (its cookie is set on the response, see :class:`web.app.SessionCookie`).
    """
    cached = getattr(request.state, "active", None)
    if cached is not None:
        return cached
    token = request.cookies.get(SESSION_COOKIE, "")
    app = portal(request)
    vouched = sso_username(request)
    with app.db() as session:
        active = resolve_session(session, token, idle_minutes=app.settings.web.idle_timeout_minutes)
        if vouched is not None and (active is None or active.user.username != vouched):
            active = None
            opened = sso_login(session, vouched, address=client_address(request))
            if opened is not None:
                request.state.new_session_token = opened.session_token
                active = ActiveSession(opened.session_id, opened.user, opened.csrf_token)
    if active is None:
        raise LoginRequired
    request.state.active = active
    return active


def require_role(*roles: str) -> Callable[[Request], Awaitable[ActiveSession]]:
    """A dependency that lets only these roles through (anyone else: 404) and, for a
    state-changing request, only with the session's CSRF token (else 403).

    The role is checked first, so a person of another role learns nothing, not even
    that the form exists.
    """

    async def dependency(request: Request) -> ActiveSession:
        active = current_session(request)
        if active.user.role not in roles:
            raise PageNotFound
        await csrf_protect(request)
        return active

    return dependency


async def csrf_protect(request: Request) -> None:
    """Refuse a state-changing request whose form lacks the session's CSRF token."""
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    active = current_session(request)
    web = portal(request).settings.web
    form = await read_form(request, max_files=web.max_files_per_upload, max_fields=50)
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, active.csrf_token):
        raise CsrfFailed


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A page from a template, with the person and the CSRF token for its forms."""
    active: ActiveSession | None = getattr(request.state, "active", None)
    values: dict[str, Any] = {
        "user": active.user if active else None,
        "csrf_token": active.csrf_token if active else "",
        "municipality": portal(request).settings.municipality.name,
    }
    values.update(context or {})
    return portal(request).templates.TemplateResponse(
        request, template, values, status_code=status_code
    )


def set_cookie(response: Any, request: Request, name: str, value: str, max_age: int | None):
    """A cookie the scripts of the page cannot read, sent only to this site."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        secure=portal(request).settings.web.cookie_secure,
        samesite="strict",
        path="/",
    )
