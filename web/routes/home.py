"""The start page: each role is sent to its own pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from domain.vocabulary import Role
from services.users import ActiveSession
from web.core import current_session, render

router = APIRouter()

HOME_OF_ROLE: dict[str, str] = {
    Role.COMPANY: "/foretag",
    Role.ADMIN: "/admin",
    Role.ADVISOR: "/radgivare",
    Role.CASEWORKER: "/handlaggare",
    Role.MANAGER: "/chef",
}


@router.get("/")
def home(request: Request, active: Annotated[ActiveSession, Depends(current_session)]) -> Response:
    target = HOME_OF_ROLE.get(active.user.role)
    if target is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "home.html", {"title": "Start"})
