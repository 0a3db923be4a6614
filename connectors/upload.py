"""The housing companies' upload endpoint: send a notice file over HTTPS, get its receipt.

Each company authenticates with its own bearer token; only the token's SHA-256 is
kept in ``config.toml`` (``upload_token_sha256``), so the configuration never holds a
usable secret. An uploaded file is ingested at once through the same function as the
inbox (:func:`flows.stages.ingest.ingest_file`) and the answer is its receipt: rows
read, accepted, rejected with row number and reason, duplicates. Nothing in the
answer says whether a tenant is known to the social services. Run it behind the
municipality's TLS-terminating proxy: ``kvarboende upload-server``.
"""

import hashlib
import hmac
import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool

from domain.vocabulary import Receipt
from models.config import CompanyConfig, Settings
from models.privacy import protect_process
from models.tables import NoticeFile

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_SAFE_NAME = re.compile(r"[^\w.\- åäöÅÄÖ]")
_bearer = HTTPBearer(auto_error=False)


def token_digest(token: str) -> str:
    """The SHA-256 of a token, as stored in config.toml."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh random token and its digest: give the token to the company, keep the digest."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def company_for_token(settings: Settings, token: str) -> CompanyConfig | None:
    """The company whose configured digest matches the token (constant-time comparison)."""
    digest = token_digest(token)
    found = None
    for company in settings.companies:
        expected = company.upload_token_sha256
        if expected and hmac.compare_digest(expected, digest):
            found = company
    return found


def safe_filename(name: str) -> str:
    """The file's own name without folders or odd characters: what the database and the
    receipt keep. It is never a path: the upload is stored under a fixed name and
    archived under one made from the date and content hash."""
    cleaned = _SAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    return cleaned[:120] or "upload.csv"


def find_receipt(engine: Engine, company_id: str, content_hash: str) -> Receipt | None:
    """The receipt of an earlier file of this company, rebuilt from the database."""
    from services.notices import stored_receipt

    with engine.connect() as connection:
        file = connection.execute(
            select(NoticeFile).where(
                NoticeFile.company_id == company_id, NoticeFile.content_hash == content_hash
            )
        ).first()
    if file is None:
        return None
    return stored_receipt(engine, file, file.filename, already_received=False)


def create_app(settings: Settings, engine_factory: Callable[[], Engine]) -> FastAPI:
    """The upload API for the configured companies (an entry point: private, masked logs)."""
    from flows.stages.ingest import ingest_file

    protect_process()
    app = FastAPI(
        title="Kvarboende: inlämning av aviseringar",
        description="Hyresvärdar lämnar filer om hyresskulder; svaret är ett kvitto.",
        # The API description would tell anyone who asks, without a token, what the
        # server accepts; the companies get the endpoint from the municipality instead.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    engine = engine_factory()

    def authenticated(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> CompanyConfig:
        company = company_for_token(settings, credentials.credentials) if credentials else None
        if company is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "Ogiltig eller saknad nyckel (Authorization: Bearer ...).",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return company

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.put("/api/v1/files/{filename}", response_model=Receipt)
    async def upload(
        filename: str, request: Request, company: Annotated[CompanyConfig, Depends(authenticated)]
    ) -> Receipt:
        """Ingest one notice file (the request body, as exported) and answer with its receipt."""
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_UPLOAD_BYTES:
                raise HTTPException(
                    413,
                    f"Filen är större än {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
                )
        if not body:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "Filen är tom.")
        with tempfile.TemporaryDirectory(prefix="kvarboende-upload-") as folder:
            path = Path(folder) / "upload"
            path.write_bytes(bytes(body))
            return await run_in_threadpool(
                ingest_file, engine, settings, path, company.id, filename=safe_filename(filename)
            )

    @app.get("/api/v1/receipts/{content_hash}", response_model=Receipt)
    def receipt(
        content_hash: str, company: Annotated[CompanyConfig, Depends(authenticated)]
    ) -> Receipt:
        """The receipt of a file this company sent earlier (by the SHA-256 of its content)."""
        found = find_receipt(engine, company.id, content_hash.lower())
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "Ingen fil med det innehållet.")
        return found

    return app
