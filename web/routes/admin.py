"""The administrator's pages: accounts and roles, company API tokens, the audit log.

Only the admin role gets through (anyone else: 404). Every change is audit-logged with
the administrator's name and address; the audit log itself can be read and exported
here but never changed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from domain.vocabulary import ROLE_LABEL_SV, Role
from models.errors import NotAllowed
from services import audit as audit_log
from services import companies, users
from services.users import ActiveSession
from web.core import client_address, portal, render, require_role

router = APIRouter(prefix="/admin")
Admin = Annotated[ActiveSession, Depends(require_role(Role.ADMIN))]

MESSAGES = {
    "skapad": "Kontot är skapat.",
    "avstangd": "Kontot är avstängt. Personen är utloggad och kan inte logga in igen.",
    "aterkallad": "Nyckeln är återkallad och fungerar inte längre.",
    "roll": "Kontot har fått den nya rollen. Personen är utloggad och ser det nya när hen "
    "loggar in igen.",
    "aktiverat": "Kontot är aktivt igen. Personen kan logga in med sitt lösenord.",
    "losenord": "Kontot har fått ett nytt lösenord och är utloggat överallt. Ge lösenordet till "
    "personen på ett säkert sätt och be hen byta det under Mitt konto.",
}


def _users_page(
    request: Request, form: dict[str, str] | None = None, error: str | None = None
) -> Response:
    app = portal(request)
    with app.db() as session:
        accounts = users.list_users(session)
        company_list = companies.list_companies(session, app.settings)
    return render(
        request,
        "admin_users.html",
        {
            "title": "Konton",
            "accounts": accounts,
            "companies": company_list,
            "roles": ROLE_LABEL_SV,
            "form": form or {},
            "error": error,
            "message": MESSAGES.get(request.query_params.get("klart", "")),
            "min_password": users.MIN_PASSWORD_LENGTH,
        },
        status_code=400 if error else 200,
    )


@router.get("")
def accounts(request: Request, active: Admin) -> Response:
    return _users_page(request)


@router.post("/konton")
def create_account(
    request: Request,
    active: Admin,
    username: Annotated[str, Form(max_length=200)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    company_id: Annotated[str, Form(max_length=40)] = "",
    caseworker_id: Annotated[str, Form(max_length=40)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    form = {
        "username": username,
        "display_name": display_name,
        "role": role,
        "company_id": company_id,
        "caseworker_id": caseworker_id,
    }
    error = None
    with portal(request).db() as session:
        try:
            users.create_user(
                session,
                username,
                password,
                role,
                company_id=company_id or None,
                caseworker_id=caseworker_id or None,
                display_name=display_name,
                created_by=active.user.username,
                address=client_address(request),
            )
        except NotAllowed as exc:
            error = str(exc)  # refused before anything was written
    if error:
        return _users_page(request, form, error)
    return RedirectResponse("/admin?klart=skapad", status_code=303)


@router.post("/konton/{user_id:int}/stang-av")
def deactivate(request: Request, user_id: int, active: Admin) -> Response:
    error = None
    with portal(request).db() as session:
        try:
            users.deactivate_user(
                session, user_id, by=active.user.username, address=client_address(request)
            )
        except NotAllowed as exc:
            error = str(exc)
    if error:
        return _users_page(request, error=error)
    return RedirectResponse("/admin?klart=avstangd", status_code=303)


@router.post("/konton/{user_id:int}/roll")
def change_role(
    request: Request,
    user_id: int,
    active: Admin,
    role: Annotated[str, Form(max_length=20)] = "",
    company_id: Annotated[str, Form(max_length=40)] = "",
    caseworker_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Another role (or company, or caseworker id) for an account; its sessions end."""
    error = None
    with portal(request).db() as session:
        try:
            users.change_role(
                session, user_id, role, company_id=company_id, caseworker_id=caseworker_id,
                by=active.user.username, address=client_address(request),
            )  # fmt: skip
        except NotAllowed as exc:
            error = str(exc)  # refused before anything was written
    if error:
        return _users_page(request, error=error)
    return RedirectResponse("/admin?klart=roll", status_code=303)


@router.post("/konton/{user_id:int}/aktivera")
def reactivate(request: Request, user_id: int, active: Admin) -> Response:
    """A deactivated account may log in again."""
    error = None
    with portal(request).db() as session:
        try:
            users.reactivate_user(
                session, user_id, by=active.user.username, address=client_address(request)
            )
        except NotAllowed as exc:
            error = str(exc)
    if error:
        return _users_page(request, error=error)
    return RedirectResponse("/admin?klart=aktiverat", status_code=303)


@router.post("/konton/{user_id:int}/losenord")
def reset_password(
    request: Request,
    user_id: int,
    active: Admin,
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """A new password for someone who forgot theirs; all of that account's sessions end."""
    error = None
    with portal(request).db() as session:
        try:
            users.reset_password(
                session, user_id, password, by=active.user.username,
                address=client_address(request),
            )  # fmt: skip
        except NotAllowed as exc:
            error = str(exc)
    if error:
        return _users_page(request, error=error)
    return RedirectResponse("/admin?klart=losenord", status_code=303)


def _companies_page(request: Request, issued: companies.IssuedToken | None = None) -> Response:
    app = portal(request)
    with app.db() as session:
        company_list = companies.list_companies(session, app.settings)
        tokens = companies.list_tokens(session)
    names = {c.id: c.name for c in company_list}
    return render(
        request,
        "admin_companies.html",
        {
            "title": "Bostadsbolag och nycklar",
            "companies": company_list,
            "tokens": tokens,
            "names": names,
            "issued": issued,
            "public_url": app.settings.web.public_url.rstrip("/"),
            "message": MESSAGES.get(request.query_params.get("klart", "")),
        },
    )


@router.get("/bolag")
def company_list(request: Request, active: Admin) -> Response:
    return _companies_page(request)


@router.post("/bolag/{company_id}/nycklar")
def issue_token(
    request: Request,
    company_id: str,
    active: Admin,
    label: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """A new token, shown on this answer only (never in a URL, never stored)."""
    with portal(request).db() as session:
        issued = companies.issue_token(
            session, company_id, by=active.user.username, label=label,
            address=client_address(request),
        )  # fmt: skip
    return _companies_page(request, issued)


@router.post("/nycklar/{token_id:int}/aterkalla")
def revoke_token(request: Request, token_id: int, active: Admin) -> Response:
    with portal(request).db() as session:
        companies.revoke_token(
            session, token_id, by=active.user.username, address=client_address(request)
        )
    return RedirectResponse("/admin/bolag?klart=aterkallad", status_code=303)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


#: The largest episode number a filter looks for (PostgreSQL's integer).
_MAX_EPISODE = 2**31 - 1


def _episode_number(text: str | None) -> int | None:
    """The episode number typed in the filter; anything else is no filter (the form's
    field takes digits only, and no episode number is beyond PostgreSQL's integer)."""
    cleaned = (text or "").strip()
    if not cleaned.isdigit() or int(cleaned) > _MAX_EPISODE:
        return None
    return int(cleaned)


def _audit_filter(request: Request) -> audit_log.AuditFilter:
    params = request.query_params
    return audit_log.AuditFilter(
        actor=(params.get("vem") or "").strip() or None,
        action=(params.get("handelse") or "").strip() or None,
        episode_id=_episode_number(params.get("arende")),
        since=_day(params.get("fran")),
        until=_day(params.get("till")),
    )


@router.get("/logg")
def audit_page(request: Request, active: Admin) -> Response:
    filters = _audit_filter(request)
    number_text = request.query_params.get("sida", "1")
    number = min(int(number_text), 100_000) if number_text.isdigit() else 1
    with portal(request).db() as session:
        found = audit_log.page(session, filters, number)
        audit_log.record(session, active.user.username, "view_audit_log", "audit_log",
                         address=client_address(request))  # fmt: skip
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "sida"])
    return render(
        request,
        "admin_audit.html",
        {
            "title": "Granskningslogg",
            "entries": found.entries,
            "page": found,
            "page_size": audit_log.PAGE_SIZE,
            "filters": filters,
            "query": query,
            "actions": audit_log.ACTION_LABEL_SV,
            "years": portal(request).settings.retention.audit_log_years,
        },
    )


@router.get("/logg.csv")
def audit_csv(request: Request, active: Admin) -> Response:
    filters = _audit_filter(request)
    with portal(request).db() as session:
        entries = audit_log.search(session, filters, limit=100_000)
        audit_log.record(session, active.user.username, "export_audit_log", "audit_log",
                         address=client_address(request))  # fmt: skip
    return Response(
        audit_log.entries_csv(entries),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="granskningslogg.csv"'},
    )
