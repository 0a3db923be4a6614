"""The caseworker's pages: the episodes routed to them, one episode, and "I have acted".

A caseworker account is bound to one caseworker id (``PortalUser.caseworker_id``): the
list is filtered by it and an episode routed to anyone else answers 404, exactly like
one that does not exist (OSL 26:1). Every list, view and recording is audit-logged
with the client's address.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from domain.formatting import local_today
from domain.outcomes import ActivityKind
from domain.vocabulary import Role
from models.errors import NotAllowed
from services import episodes
from services.users import ActiveSession
from web import advisor_view
from web.core import portal, render, require_role

router = APIRouter(prefix="/handlaggare")
CaseworkerUser = Annotated[ActiveSession, Depends(require_role(Role.CASEWORKER))]

PAGE_SIZE = 50
NOTE_MAX = 2000


def _caseworker_id(active: ActiveSession) -> str:
    assert active.user.caseworker_id is not None  # create_user requires it for this role
    return active.user.caseworker_id


def days_left(deadline: date | None, today: date) -> int | None:
    """Days from today to the deadline (negative: passed); None without a deadline."""
    return None if deadline is None else (deadline - today).days


@router.get("")
def episode_list(
    request: Request, active: CaseworkerUser, sida: int = 1, alla: int = 0
) -> Response:
    """My open episodes in sections, most urgent first (eviction soon, last day to pay
    soon, new, acted, the rest) with days left; every episode, closed ones too, 50 a page
    with ``?alla=1``."""
    app = portal(request)
    today = local_today()
    if not alla:
        with app.db() as session:
            groups = episodes.caseworker_overview(
                session,
                _caseworker_id(active),
                today,
                by=active.user.username,
                horizon_days=app.settings.outcomes.eviction_horizon_days,
            )
        return render(
            request,
            "caseworker_list.html",
            {
                "title": "Mina ärenden",
                "groups": groups,
                "total": sum(len(g.rows) for g in groups),
                "all": False,
                "today": today,
                "days_text": lambda row: advisor_view.days_left(
                    today, row.deadline_date, row.eviction_at
                ),
                "sv_date": advisor_view.sv_short_date,
            },
        )
    page_number = max(1, min(sida, 100_000))
    with app.db() as session:
        page = episodes.list_episodes(
            session,
            by=active.user.username,
            caseworker_id=_caseworker_id(active),
            limit=PAGE_SIZE,
            offset=(page_number - 1) * PAGE_SIZE,
        )
    pages = max(1, -(-page.total // PAGE_SIZE))
    return render(
        request,
        "caseworker_list.html",
        {
            "title": "Mina ärenden",
            "page": page,
            "page_number": page_number,
            "pages": pages,
            "all": True,
            "today": today,
            "days_left": days_left,
        },
    )


def _episode_page(
    request: Request,
    active: ActiveSession,
    episode_id: int,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    with portal(request).db() as session:
        episodes.check_routed_to(session, episode_id, _caseworker_id(active))
        detail = episodes.show_episode(session, episode_id, by=active.user.username)
    today = local_today()
    return render(
        request,
        "caseworker_episode.html",
        {
            "title": f"Ärende {episode_id}",
            "detail": detail,
            "e": detail.episode,
            "left": days_left(detail.episode.deadline_date, today),
            "today": today,
            "error": error,
            "saved": bool(request.query_params.get("sparat")),
            "note_max": NOTE_MAX,
        },
        status_code=status_code,
    )


@router.get("/arenden/{episode_id:int}")
def episode_page(request: Request, episode_id: int, active: CaseworkerUser) -> Response:
    return _episode_page(request, active, episode_id)


@router.post("/arenden/{episode_id:int}/atgard")
def record_acted(
    request: Request,
    episode_id: int,
    active: CaseworkerUser,
    anteckning: Annotated[str, Form(max_length=NOTE_MAX)] = "",
) -> Response:
    """Record that the caseworker acted on the episode (an intervention), with a note."""
    note = anteckning.strip() or None
    try:
        with portal(request).db() as session:
            episodes.check_routed_to(session, episode_id, _caseworker_id(active))
            episodes.record_activity(
                session,
                episode_id,
                ActivityKind.CASEWORKER_ACTED,
                by=active.user.username,
                on_date=local_today(),
                text=note,
            )
    except NotAllowed:
        return _episode_page(
            request, active, episode_id, "Det gick inte att spara just nu. Försök igen.", 409
        )
    return RedirectResponse(f"/handlaggare/arenden/{episode_id}?sparat=1", status_code=303)
