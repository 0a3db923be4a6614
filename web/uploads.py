"""A housing company's uploaded file goes through the same ingest as the inbox.

The browser form and the API both end here. The file's name is only ever a label:
the bytes are written under a cleaned name in a fresh temporary folder, ingested by
:func:`services.ingest.ingest_file` (archived with its receipt, exactly like an
inbox delivery, with the same guards), and the temporary folder is removed.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from domain.formatting import local_now
from domain.notices import NoticeFormatError
from domain.vocabulary import Receipt
from models.audit import audit
from models.errors import KvarboendeError
from models.privacy import masked_exception
from services import receipts
from services.ingest import ingest_file
from services.receipts import queue_receipt_email
from web.core import Portal

log = logging.getLogger(__name__)

ALLOWED_SUFFIXES = (".csv", ".txt", ".xlsx")
#: What the company is told when the failure is ours, not their file's.
UPLOAD_FAILED_SV = (
    "Filen kunde inte tas emot just nu. Försök igen om en stund; "
    "händer det igen, kontakta kommunen."
)
_SAFE_NAME = re.compile(r"[^\w.\- åäöÅÄÖ]")


class UploadRefused(KvarboendeError):
    """The file cannot be taken (empty, too big, wrong type); worded for the company."""


@dataclass(frozen=True)
class Received:
    """A file that went through ingest: its receipt and where the receipt page is."""

    file_id: int
    receipt: Receipt


def safe_filename(name: str) -> str:
    """The file's own name without folders or odd characters (a label, never a path)."""
    cleaned = _SAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    return cleaned[:120] or "upload.csv"


def check_upload(name: str, size: int, max_mb: int) -> None:
    """Refuse an empty, too big or wrongly typed file, in one line of plain Swedish."""
    if size == 0:
        raise UploadRefused(f"{safe_filename(name)}: filen är tom.")
    if size > max_mb * 1024 * 1024:
        raise UploadRefused(f"{safe_filename(name)}: filen är större än {max_mb} MB.")
    if not safe_filename(name).lower().endswith(ALLOWED_SUFFIXES):
        raise UploadRefused(
            f"{safe_filename(name)}: bara CSV-filer (.csv, .txt) och Excel-filer (.xlsx) tas emot."
        )


def refusal_for_company(exc: Exception) -> str | None:
    """The text of an error meant for the company (about its own file, in Swedish), or None.

    Only these two kinds are written for the company; any other error (configuration,
    database, a concurrent ingest) is worded for the operator, in English, and may name
    commands or internals, so it is never shown to them.
    """
    if isinstance(exc, UploadRefused):
        return str(exc)
    if isinstance(exc, NoticeFormatError):
        return f"Filen kunde inte tas emot: {exc}"
    return None


def log_upload_failure(company_id: str, via: str, exc: Exception) -> None:
    """Log an upload that failed on our side, masked (the company sees UPLOAD_FAILED_SV)."""
    log.error(
        "upload (%s) for company %s failed: %s",
        via,
        company_id,
        masked_exception(exc),
        exc_info=not isinstance(exc, KvarboendeError),
    )


def receive_file(
    app: Portal, company_id: str, name: str, data: bytes, *, actor: str, address: str, via: str
) -> Received:
    """Ingest one uploaded file for the company and write who uploaded it to the audit log."""
    check_upload(name, len(data), app.settings.web.max_upload_mb)
    with tempfile.TemporaryDirectory(prefix="kvarboende-upload-") as folder:
        # A fixed name, never the company's: the name is only data (kept in the database
        # and the receipt); the archive name comes from the date and the content hash.
        path = Path(folder) / "upload"
        path.write_bytes(data)
        receipt = ingest_file(
            app.engine, app.settings, path, company_id, filename=safe_filename(name)
        )
    with app.db() as session:
        # Ingest always stores a row for the file, also for one received before.
        file_id = receipts.file_id_for_hash(session, company_id, receipt.content_hash)
        detail = f"via={via}" + (" already_received=yes" if receipt.already_received else "")
        audit(session, actor, "upload", "notice_file", file_id, detail=detail, address=address)
        queue_receipt_email(
            session, app.settings, company_id, receipt.content_hash, local_now().date()
        )
    return Received(file_id=file_id, receipt=receipt)
