"""The audit log through the application layer: write an entry, read it back filtered.

Every login, failed login, receipt view, upload and administrator change in the portal is
written here: who, when, what, which object, from which address. Entries hold ids and
actions only, never personal data; nothing in the application changes or deletes them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from domain.formatting import STOCKHOLM, safe_cell
from models.audit import audit
from models.db import as_utc, rowcount
from models.tables import AuditLog

DEFAULT_LIMIT = 500
#: Entries per page on the administrator's audit page.
PAGE_SIZE = 100

#: Plain Swedish for the actions the administrator filters on; other codes are shown as is.
ACTION_LABEL_SV = {
    "login": "Inloggning",
    "login_failed": "Misslyckad inloggning",
    "login_locked": "Inloggning spärrad",
    "logout": "Utloggning",
    "upload": "Fil skickad",
    "view_receipt": "Kvitto visat",
    "download_receipt": "Kvitto nedladdat",
    "create_user": "Konto skapat",
    "deactivate_user": "Konto avstängt",
    "set_password": "Lösenord bytt",
    "issue_token": "Nyckel skapad",
    "revoke_token": "Nyckel återkallad",
    "view_audit_log": "Granskningslogg visad",
    "export_audit_log": "Granskningslogg nedladdad",
    "ingest_file": "Fil inläst",
    "reject_file": "Fil avvisad",
    "read_episode": "Ärende visat",
    "list_episodes": "Ärenden listade",
    "close_episode": "Ärende avslutat",
    "record_children": "Barn registrerade",
    "write_worklist": "Arbetslista skapad",
    "view_worklist": "Arbetslista visad",
    "view_letter": "Brev öppnat",
    "login_sso": "Inloggning via kommunens inloggning",
    "login_sso_refused": "Inloggning via kommunens inloggning nekad",
    "record_caseworker_acted": "Handläggarens åtgärd registrerad",
    "view_caseworker_list": "Handläggarens ärenden visade",
    "view_report": "Statistikrapport visad",
    "download_report": "Statistikrapport nedladdad",
    "change_own_password": "Eget lösenord bytt",
    "change_own_password_refused": "Byte av eget lösenord nekat",
    "reset_password": "Lösenord återställt av administratör",
    "delete_old_audit_entries": "Gamla loggposter gallrade",
}


#: Plain Swedish for what an entry is about; other codes are shown as they are.
ENTITY_LABEL_SV = {
    "portal_user": "Konto",
    "portal_session": "Inloggning",
    "api_token": "Nyckel",
    "episode": "Ärende",
    "letter": "Brev",
    "worklist": "Arbetslista",
    "notice_file": "Fil",
    "audit_log": "Granskningslogg",
    "match": "Träff",
    "appointment": "Möte",
    "report": "Rapport",
    "retention": "Gallring",
}


def entity_label(entity: str) -> str:
    """What an entry is about in plain Swedish (the stored code when there is no label)."""
    return ENTITY_LABEL_SV.get(entity, entity)


def action_label(action: str) -> str:
    """The action in plain Swedish (the stored code when there is no label)."""
    return ACTION_LABEL_SV.get(action, action)


@dataclass(frozen=True)
class AuditEntry:
    """One stored entry, its time in UTC."""

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    episode_id: int | None
    detail: str | None
    address: str | None


@dataclass(frozen=True)
class AuditFilter:
    """What to look for; ``since``/``until`` are Stockholm calendar days, both included.

    ``episode_id`` finds every entry about the episode (its letters, meetings and match
    too), never a file or letter that merely shares the number.
    """

    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    episode_id: int | None = None
    since: date | None = None
    until: date | None = None


def record(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: object | None = None,
    *,
    detail: str | None = None,
    address: str | None = None,
    episode_id: int | None = None,
) -> None:
    """Add one entry in the caller's transaction (committed with the change it describes)."""
    audit(
        session, actor, action, entity, entity_id, detail=detail, address=address,
        episode_id=episode_id,
    )  # fmt: skip


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=STOCKHOLM).astimezone(UTC)


@dataclass(frozen=True)
class AuditPage:
    """One page of entries, newest first, and whether older entries follow."""

    entries: list[AuditEntry]
    number: int
    has_next: bool


def page(session: Session, filters: AuditFilter, number: int = 1) -> AuditPage:
    """Page ``number`` (1: the newest) of :data:`PAGE_SIZE` entries matching the filters.

    No total is counted (a count over years of entries costs more than the page): one
    entry more than a page is read to tell whether there is a next page.
    """
    number = max(1, number)
    found = search(session, filters, limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE)
    return AuditPage(found[:PAGE_SIZE], number, len(found) > PAGE_SIZE)


def delete_before(session: Session, first_kept: date, *, by: str, dry_run: bool = False) -> int:
    """Delete the entries from before the Stockholm day ``first_kept`` (the retention of
    the log itself, ``[retention] audit_log_years``); the count is written as a new
    entry. Dry run: only count. Nothing else in the application deletes entries."""
    cutoff = _day_start(first_kept)
    if dry_run:
        return int(
            session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.at < cutoff))
            or 0
        )
    deleted = rowcount(session.execute(delete(AuditLog).where(AuditLog.at < cutoff)))
    if deleted:
        audit(
            session,
            by,
            "delete_old_audit_entries",
            "audit_log",
            detail=f"deleted={deleted} before={first_kept.isoformat()}",
        )
    return deleted


def search(
    session: Session, filters: AuditFilter, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> list[AuditEntry]:
    """The newest entries that match every given filter, newest first."""
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit).offset(offset)
    if filters.actor:
        query = query.where(AuditLog.actor == filters.actor)
    if filters.action:
        query = query.where(AuditLog.action == filters.action)
    if filters.entity:
        query = query.where(AuditLog.entity == filters.entity)
    if filters.episode_id is not None:
        query = query.where(AuditLog.episode_id == filters.episode_id)
    if filters.since:
        query = query.where(AuditLog.at >= _day_start(filters.since))
    if filters.until:
        query = query.where(AuditLog.at < _day_start(filters.until + timedelta(days=1)))
    return [
        AuditEntry(
            id=row.id,
            at=as_utc(row.at),
            actor=row.actor,
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            episode_id=row.episode_id,
            detail=row.detail,
            address=row.address,
        )
        for row in session.scalars(query)
    ]


def entries_csv(entries: list[AuditEntry]) -> bytes:
    """The entries as a semicolon CSV (UTF-8 with BOM, as Excel opens it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(["tid", "vem", "händelse", "kod", "typ", "id", "ärende", "detaljer", "adress"])
    for entry in entries:
        writer.writerow(
            [
                entry.at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M:%S"),
                safe_cell(entry.actor),
                action_label(entry.action),
                entry.action,
                entry.entity,
                safe_cell(entry.entity_id or ""),
                "" if entry.episode_id is None else str(entry.episode_id),
                safe_cell(entry.detail or ""),
                entry.address or "",
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
