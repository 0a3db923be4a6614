"""Logging in and out.

The login form is protected against cross-site posting with a double-submit token (a
random value in a strict cookie and in the form); a session's own CSRF token takes over
once logged in. Wrong passwords are counted per account and per address (services.users).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from services import users
from web.core import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfFailed,
    LoginRequired,
    client_address,
    csrf_protect,
    current_session,
    new_login_csrf,
    portal,
    render,
    safe_next,
    set_cookie,
)

router = APIRouter()


def _login_page(
    request: Request,
    error: str | None = None,
    status_code: int = 200,
    username: str = "",
    next_page: str = "/",
) -> Response:
    """The form; ``next_page`` (already checked) rides along in a hidden field."""
    token = new_login_csrf()
    notice = "Du är utloggad." if request.query_params.get("utloggad") else None
    response = render(
        request,
        "login.html",
        {
            "title": "Logga in",
            "login_csrf": token,
            "error": error,
            "notice": notice,
            "username": username[:60],
            "next_page": next_page,
        },
        status_code=status_code,
    )
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("/logga-in")
def login_form(request: Request) -> Response:
    return _login_page(request, next_page=safe_next(request.query_params.get("next")))


@router.post("/logga-in")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next_page: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    """Check the password; on success go to the page the person came for (if local)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        raise CsrfFailed
    app = portal(request)
    error: str | None = None
    with app.db() as session:
        try:
            logged_in = users.login(
                session,
                username,
                password,
                address=client_address(request),
                policy=app.login_policy,
            )
        except (users.LoginRefused, users.LoginLocked) as exc:
            error = str(exc)  # caught inside the transaction: the failed attempt is kept
    target = safe_next(next_page)
    if error is not None:
        return _login_page(request, error, status_code=401, username=username, next_page=target)
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, logged_in.session_token, max_age=None)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logga-ut")
async def logout(request: Request) -> Response:
    """End the session (needs its CSRF token, so no other site can log a person out)."""
    try:
        current_session(request)
    except LoginRequired:  # no valid session: nothing to end
        return RedirectResponse("/logga-in", status_code=303)
    await csrf_protect(request)
    with portal(request).db() as session:
        users.logout(
            session, request.cookies.get(SESSION_COOKIE, ""), address=client_address(request)
        )
    response = RedirectResponse("/logga-in?utloggad=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
