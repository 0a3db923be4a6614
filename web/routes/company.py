"""The housing company's pages: upload notice files, read and download their receipts.

Every query is filtered by the logged-in person's own company: another company's
receipt id answers 404, the same as an id that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from domain.vocabulary import Role
from models.audit import audit
from services import companies, receipts
from services.users import ActiveSession
from web.core import client_address, portal, render, require_role
from web.uploads import (
    UPLOAD_FAILED_SV,
    check_upload,
    log_upload_failure,
    receive_file,
    refusal_for_company,
    safe_filename,
)

router = APIRouter(prefix="/foretag")
UPLOAD_PATH = "/foretag/filer"
CompanyUser = Annotated[ActiveSession, Depends(require_role(Role.COMPANY))]


def _company_id(active: ActiveSession) -> str:
    assert active.user.company_id is not None  # create_user requires it for this role
    return active.user.company_id


def _files_page(
    request: Request, active: ActiveSession, errors: list[str] | None = None, status: int = 200
) -> Response:
    company_id = _company_id(active)
    with portal(request).db() as session:
        name = companies.company_name(session, company_id)
        files = receipts.list_receipts(session, company_id)
    new = {int(x) for x in request.query_params.get("nya", "").split(",") if x.isdigit()}
    return render(
        request,
        "company_files.html",
        {
            "title": "Filer och kvitton",
            "company_name": name,
            "files": files,
            "new_ids": new,
            "errors": errors or [],
            "max_mb": portal(request).settings.web.max_upload_mb,
            "max_files": portal(request).settings.web.max_files_per_upload,
        },
        status_code=status,
    )


def upload_refused_page(request: Request, message: str) -> Response | None:
    """The upload page with ``message``, when a company's upload form could not be read
    (too many files: :class:`web.core.FormRefused`); None for any other page or person."""
    active: ActiveSession | None = getattr(request.state, "active", None)
    if request.url.path != UPLOAD_PATH or active is None or active.user.role != Role.COMPANY:
        return None
    return _files_page(request, active, [message], 400)


@router.get("")
def files(request: Request, active: CompanyUser) -> Response:
    return _files_page(request, active)


@router.post("/filer")
async def upload(request: Request, active: CompanyUser) -> Response:
    """Ingest each chosen file; show its receipt (or the list, for several files)."""
    app = portal(request)
    form = await request.form()  # parsed once by with its limits
    chosen = [f for f in form.getlist("filer") if isinstance(f, UploadFile) and f.filename]
    if not chosen:
        return _files_page(request, active, ["Välj minst en fil att skicka."], 400)
    errors: list[str] = []
    received: list[int] = []
    already = False
    for upload_file in chosen:
        name = upload_file.filename or "upload.csv"
        try:
            check_upload(name, upload_file.size or 0, app.settings.web.max_upload_mb)
            data = await upload_file.read()
            result = await run_in_threadpool(
                receive_file,
                app,
                _company_id(active),
                name,
                data,
                actor=active.user.username,
                address=client_address(request),
                via="portal",
            )
        except Exception as exc:  # noqa: BLE001 - each file gets its own answer
            refusal = refusal_for_company(exc)
            if refusal is None:
                log_upload_failure(_company_id(active), "portal", exc)
                refusal = f"{safe_filename(name)}: {UPLOAD_FAILED_SV}"
            errors.append(refusal)
            continue
        received.append(result.file_id)
        already = already or result.receipt.already_received
    if errors:
        return _files_page(request, active, errors, 400)
    if len(received) == 1:
        suffix = "?redan=1" if already else ""
        return RedirectResponse(f"/foretag/kvitton/{received[0]}{suffix}", status_code=303)
    return RedirectResponse(f"/foretag?nya={','.join(map(str, received))}", status_code=303)


def _receipt(request: Request, active: ActiveSession, file_id: int, how: str):
    with portal(request).db() as session:
        detail = receipts.get_receipt(session, _company_id(active), file_id)
        audit(session, active.user.username, how, "notice_file", file_id,
              address=client_address(request))  # fmt: skip
    return detail


@router.get("/kvitton/{file_id:int}")
def receipt(request: Request, file_id: int, active: CompanyUser) -> Response:
    detail = _receipt(request, active, file_id, "view_receipt")
    return render(
        request,
        "receipt.html",
        {
            "title": f"Kvitto för {detail.summary.filename}",
            "detail": detail,
            "already": bool(request.query_params.get("redan")),
            "contact": receipts.contact_line(portal(request).settings),
        },
    )


@router.get("/kvitton/{file_id:int}.csv")
def receipt_csv(request: Request, file_id: int, active: CompanyUser) -> Response:
    detail = _receipt(request, active, file_id, "download_receipt")
    return Response(
        receipts.receipt_csv(detail, receipts.contact_line(portal(request).settings)),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{receipts.receipt_csv_name(file_id)}"'
        },
    )


@router.get("/kvitton/{file_id:int}.xlsx")
def receipt_xlsx(request: Request, file_id: int, active: CompanyUser) -> Response:
    detail = _receipt(request, active, file_id, "download_receipt")
    return Response(
        receipts.receipt_xlsx(detail, receipts.contact_line(portal(request).settings)),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": f'attachment; filename="kvitto-{file_id}.xlsx"'},
    )
