"""Every person's own account: change the password (the current one is asked for).

Open to every role. The new password is stored as an argon2 hash; the person's other
sessions (another browser, a forgotten computer) end, this one stays. A wrong current
password counts as a failed login, so the usual lock stops guessing from an open session.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from models.errors import KvarboendeError
from services import users
from services.users import ActiveSession
from web.core import client_address, portal, render, require_role

router = APIRouter(prefix="/konto")
Anyone = Annotated[ActiveSession, Depends(require_role(*users.ROLES))]


def _page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    done = request.query_params.get("klart")
    message = None
    if done is not None:
        others = int(done) if done.isdigit() else 0
        message = "Ditt lösenord är bytt." + (
            f" Du är utloggad på {others} andra {'ställe' if others == 1 else 'ställen'}."
            if others
            else ""
        )
    return render(
        request,
        "account.html",
        {
            "title": "Mitt konto",
            "error": error,
            "message": message,
            "min_password": users.MIN_PASSWORD_LENGTH,
        },
        status_code=status_code,
    )


@router.get("")
def account(request: Request, active: Anyone) -> Response:
    return _page(request)


@router.post("/losenord")
def change_password(
    request: Request,
    active: Anyone,
    current: Annotated[str, Form(max_length=1000)] = "",
    new: Annotated[str, Form(max_length=1000)] = "",
    repeat: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    if new != repeat:
        return _page(request, "Det nya lösenordet och upprepningen är inte lika.", 400)
    app = portal(request)
    error = None
    ended = 0
    with app.db() as session:
        try:
            ended = users.change_own_password(
                session, active, current, new,
                address=client_address(request), policy=app.login_policy,
            )  # fmt: skip
        except KvarboendeError as exc:
            error = str(exc)  # caught inside the transaction: the failed try is kept
    if error is not None:
        return _page(request, error, 400)
    return RedirectResponse(f"/konto?klart={ended}", status_code=303)
