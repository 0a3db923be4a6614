"""The housing companies' API: send a notice file with a bearer token, get its receipt.

``POST /api/v1/notice-files`` takes a multipart upload (field ``file``) or the raw
file as the body with ``?filename=``; ``PUT /api/v1/files/{name}`` (the older form)
takes the raw body. Both answer with the receipt as JSON. ``GET
/api/v1/receipts/{sha256}`` gives the receipt of an earlier file of the same company.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from domain.vocabulary import Receipt, RejectedRow
from services import companies, receipts
from web.core import client_address, portal, read_form
from web.uploads import (
    UPLOAD_FAILED_SV,
    UploadRefused,
    log_upload_failure,
    receive_file,
    refusal_for_company,
)

router = APIRouter(prefix="/api/v1")
_bearer = HTTPBearer(auto_error=False)


class DuplicateRow(BaseModel):
    """A row already received, and the row it repeats: the same facts as the CSV receipt."""

    row_number: int
    contract_ref: str | None = None
    reason: str
    repeats_row: int | None = None  # None: not known (files from before this was kept)
    repeats_filename: str | None = None  # None: the same file
    repeats: str = ""  # the same in words, as on the receipt: "rad 2 i samma fil"


class ApiReceipt(Receipt):
    """The receipt, with the id of its page in the portal and the duplicates row by row."""

    receipt_id: int
    duplicate_rows: list[DuplicateRow] = Field(default_factory=list)


def rejected_rows(detail: receipts.ReceiptDetail) -> list[RejectedRow]:
    """The rejected rows with their contract references, as the CSV receipt lists them."""
    return [
        RejectedRow(row_number=r.row_number, reason=r.reason, contract_ref=r.contract_ref)
        for r in detail.rows
        if r.kind == "rejected"
    ]


def duplicate_rows(detail: receipts.ReceiptDetail) -> list[DuplicateRow]:
    """The duplicates, each with the row (and file) it repeats."""
    return [
        DuplicateRow(
            row_number=r.row_number,
            contract_ref=r.contract_ref,
            reason=r.reason,
            repeats_row=r.repeats_row,
            repeats_filename=r.repeats_filename,
            repeats=r.repeats_sv,
        )
        for r in detail.rows
        if r.kind == "duplicate"
    ]


def company_of_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The company whose token this is; 401 in plain Swedish otherwise."""
    app = portal(request)
    company_id = None
    if credentials is not None:
        with app.db() as session:
            company_id = companies.company_for_token(session, app.settings, credentials.credentials)
    if company_id is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Ogiltig eller saknad nyckel (Authorization: Bearer ...).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return company_id


Company = Annotated[str, Depends(company_of_token)]


async def _read_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise HTTPException(413, f"Filen är större än {limit // (1024 * 1024)} MB.")
    return bytes(body)


async def _ingest(request: Request, company_id: str, name: str, data: bytes) -> ApiReceipt:
    app = portal(request)
    if not data:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Filen är tom.")
    try:
        received = await run_in_threadpool(
            receive_file, app, company_id, name, data,
            actor=f"api:{company_id}", address=client_address(request), via="api",
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the company gets Swedish, the log the error
        refusal = refusal_for_company(exc)
        if refusal is None:
            log_upload_failure(company_id, "api", exc)
            raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, UPLOAD_FAILED_SV) from None
        code = 400 if isinstance(exc, UploadRefused) else 422
        raise HTTPException(code, refusal) from None
    with app.db() as session:
        detail = receipts.get_receipt(session, company_id, received.file_id)
    return ApiReceipt(
        **received.receipt.model_dump(),
        receipt_id=received.file_id,
        duplicate_rows=duplicate_rows(detail),
    )


@router.post("/notice-files", response_model=ApiReceipt)
async def post_notice_file(request: Request, company_id: Company) -> ApiReceipt:
    """One notice file: multipart field ``file``, or the raw body with ``?filename=``."""
    limit = portal(request).settings.web.max_upload_mb * 1024 * 1024
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await read_form(request, max_files=1, max_fields=5)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "Fältet 'file' med en fil saknas.")
        if (upload.size or 0) > limit:
            raise HTTPException(413, f"Filen är större än {limit // (1024 * 1024)} MB.")
        return await _ingest(request, company_id, upload.filename, await upload.read())
    name = request.query_params.get("filename", "")
    if not name:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "Ange filens namn: ?filename=uppsagningar.csv"
        )
    return await _ingest(request, company_id, name, await _read_body(request, limit))


@router.put("/files/{filename}", response_model=ApiReceipt)
async def put_file(filename: str, request: Request, company_id: Company) -> ApiReceipt:
    """The older form: the raw file as the body, its name in the path."""
    limit = portal(request).settings.web.max_upload_mb * 1024 * 1024
    return await _ingest(request, company_id, filename, await _read_body(request, limit))


@router.get("/receipts/{content_hash}", response_model=ApiReceipt)
def get_receipt(content_hash: str, request: Request, company_id: Company) -> ApiReceipt:
    """The receipt of a file this company sent earlier (by the SHA-256 of its content)."""
    app = portal(request)
    with app.db() as session:
        detail = receipts.find_by_hash(session, company_id, content_hash)
    s = detail.summary
    return ApiReceipt(
        filename=s.filename,
        company_id=company_id,
        content_hash=s.content_hash,
        rows_read=s.rows_read,
        accepted=s.accepted,
        rejected=s.rejected,
        duplicates=s.duplicates,
        file_error=s.file_error,
        rejections=rejected_rows(detail),
        notes=detail.notes,
        received_at=s.received_at,
        contact=receipts.contact_line(app.settings),
        receipt_id=s.id,
        duplicate_rows=duplicate_rows(detail),
    )


@router.post("/sms-status/{secret}", include_in_schema=False)
async def sms_status(request: Request, secret: str) -> dict[str, str]:
    """The SMS gateway's delivery report (46elks ``whendelivered``: form ``id``, ``status``).

    The secret in the address is ``[sms] status_secret``; anything else answers 404. The
    answer is the same whether or not the id was known (the gateway retries otherwise).
    """
    import hmac
    from datetime import UTC, datetime

    from services.reminders import record_delivery_report

    app = portal(request)
    expected = app.settings.sms.status_secret.get_secret_value()
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Finns inte.")
    form = await read_form(request, max_files=0, max_fields=50)
    gateway_id, outcome = form.get("id"), form.get("status")
    if not isinstance(gateway_id, str) or outcome not in ("delivered", "failed", "sent"):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "id och status krävs.")
    if outcome == "sent":  # an intermediate state: nothing to record
        return {"status": "ok"}
    with app.db() as session:
        record_delivery_report(
            session, app.settings, gateway_id[:200], outcome == "delivered", datetime.now(UTC)
        )
    return {"status": "ok"}
