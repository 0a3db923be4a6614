"""Ingest stage: every complete file in every company's inbox, one file at a time.

Each file goes through services.ingest.ingest_file (read, validate, store in one
transaction, file away with its receipt); the stage adds what only an unattended run
needs: one file's failure does not stop the others and becomes an alert, and each
file's receipt is emailed to the company.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from connectors import inbox
from domain.vocabulary import Receipt
from models.config import Settings
from models.db import session_scope
from services.ingest import content_hash, ingest_file
from services.operations import raise_alert
from services.receipts import queue_receipt_email

log = logging.getLogger(__name__)

__all__ = ["ingest_inbox"]


def _queue_receipt_email(
    engine: Engine, settings: Settings, receipt: Receipt, run_date: date
) -> int:
    """Queue the receipt email of an inbox file (once per file, see services.receipts)."""
    with session_scope(engine) as session:
        return int(
            queue_receipt_email(
                session, settings, receipt.company_id, receipt.content_hash, run_date
            )
        )


def _alert_unreadable(engine: Engine, company_id: str, path: Path, error: str) -> None:
    """One alert per file content that could not be ingested (it stays in the inbox)."""
    try:
        digest = content_hash(path.read_bytes())
    except OSError:
        digest = "unreadable-" + hashlib.sha256(path.name.encode()).hexdigest()[:16]
    detail = (
        f"Bolag {company_id}: en fil (sha256 {digest[:12]}) kunde inte läsas in ({error}); "
        "den ligger kvar i inkorgen och prövas igen vid varje körning"
    )
    try:
        with session_scope(engine) as session:
            raise_alert(session, f"inbox_file:{company_id}:{digest}", "inbox_file", detail)
    except Exception as exc:  # noqa: BLE001 - the warning above is already logged
        log.warning(
            "alert for a file of company %s not stored (%s)", company_id, type(exc).__name__
        )


def ingest_inbox(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Ingest every complete file in every company's inbox; returns counts only.

    One file's unexpected failure (a permission error, a concurrent ingest, a reader's
    panic that got this far) is logged
    with the company id and file name only, counted in ``files_failed`` and leaves the
    file in the inbox for the next run; the other files and companies go on.
    """
    totals = {
        "files": 0, "files_rejected": 0, "files_failed": 0, "already_received": 0,
        "skipped_incomplete": 0, "rows": 0, "accepted": 0, "rejected": 0, "duplicates": 0,
        "taken_by_other_run": 0, "receipt_emails": 0, "receipt_emails_failed": 0,
    }  # fmt: skip
    for company in settings.companies:
        folder = company.inbox
        if folder is None or not folder.is_dir():
            continue
        candidates = [p for p in sorted(folder.iterdir()) if p.is_file()]
        ready = inbox.complete_files(folder, company.min_age_seconds)
        totals["skipped_incomplete"] += sum(
            1 for p in candidates if p not in ready and not inbox.is_in_progress(p)
        )
        for path in ready:
            try:
                receipt = ingest_file(engine, settings, path, company.id, received_on=run_date)
            except FileNotFoundError:
                if path.exists():
                    raise
                # Another run (or `kvarboende ingest`) took the file from the inbox after
                # we listed it: that run ingests it; nothing is wrong and nothing is lost.
                log.info("a file for company %s was taken by another run", company.id)
                totals["taken_by_other_run"] += 1
                continue
            except BaseException as exc:  # one file must not stop the others, not even a panic
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                # The message may quote file content: only ids and the error's type here.
                log.warning(
                    "ingest of %s for company %s failed (%s); it stays in the inbox",
                    path.name,
                    company.id,
                    type(exc).__name__,
                )
                totals["files_failed"] += 1
                _alert_unreadable(engine, company.id, path, type(exc).__name__)
                continue
            totals["files"] += 1
            try:
                totals["receipt_emails"] += _queue_receipt_email(
                    engine, settings, receipt, run_date
                )
            except Exception as exc:  # noqa: BLE001 - the file is in; its receipt is in the portal
                log.warning(
                    "receipt email for file %s of company %s not queued (%s); the receipt is "
                    "in the portal",
                    receipt.content_hash[:12],
                    company.id,
                    type(exc).__name__,
                )
                totals["receipt_emails_failed"] += 1
            totals["already_received"] += int(receipt.already_received)
            totals["files_rejected"] += int(
                receipt.file_error is not None and not receipt.already_received
            )
            if not receipt.already_received:
                totals["rows"] += receipt.rows_read
                totals["accepted"] += receipt.accepted
                totals["rejected"] += receipt.rejected
                totals["duplicates"] += receipt.duplicates
    return totals
