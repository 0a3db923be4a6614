"""Housing companies as the portal sees them: their accounts and their API tokens.

A company's systems upload with a bearer token. The administrator issues tokens in the
portal (or ``kvarboende companies token ID``); the token is shown once and only its
SHA-256 is stored, in ``api_token``, so neither the database nor ``config.toml`` holds
a usable secret. A digest in the company's ``upload_token_sha256`` in config.toml (the
older way) keeps working.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.audit import audit
from models.config import Settings
from models.db import as_utc
from models.errors import NotFound
from models.tables import ApiToken, HousingCompany, PortalUser
from services.users import token_digest


@dataclass(frozen=True)
class CompanyView:
    """A housing company with how many portal accounts and active tokens it has."""

    id: str
    name: str
    landlord_type: str
    users: int
    active_tokens: int
    config_token: bool


@dataclass(frozen=True)
class TokenView:
    """An issued token, without the secret."""

    id: int
    company_id: str
    label: str | None
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``token`` is shown to the administrator once and never stored."""

    id: int
    company_id: str
    token: str


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def new_token() -> tuple[str, str]:
    """A fresh random token and its digest: give the token to the company, keep the digest."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def list_companies(session: Session, settings: Settings) -> list[CompanyView]:
    """The registered companies, by name, with their account and token counts."""
    users = dict(
        session.execute(
            select(PortalUser.company_id, func.count())
            .where(PortalUser.company_id.is_not(None), PortalUser.active.is_(True))
            .group_by(PortalUser.company_id)
        )
        .tuples()
        .all()
    )
    tokens = dict(
        session.execute(
            select(ApiToken.company_id, func.count())
            .where(ApiToken.revoked_at.is_(None))
            .group_by(ApiToken.company_id)
        )
        .tuples()
        .all()
    )
    configured = {c.id: bool(c.upload_token_sha256) for c in settings.companies}
    return [
        CompanyView(
            id=company.id,
            name=company.name,
            landlord_type=company.landlord_type,
            users=users.get(company.id, 0),
            active_tokens=tokens.get(company.id, 0),
            config_token=configured.get(company.id, False),
        )
        for company in session.scalars(select(HousingCompany).order_by(HousingCompany.name))
    ]


def company_name(session: Session, company_id: str) -> str:
    """The company's name, or NotFound."""
    company = session.get(HousingCompany, company_id)
    if company is None:
        raise NotFound(f"company {company_id} not found")
    return company.name


def list_tokens(session: Session, company_id: str | None = None) -> list[TokenView]:
    """Issued tokens, newest first (all companies, or one)."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if company_id is not None:
        query = query.where(ApiToken.company_id == company_id)
    return [
        TokenView(
            id=t.id,
            company_id=t.company_id,
            label=t.label,
            created_at=_utc(t.created_at),  # type: ignore[arg-type]
            created_by=t.created_by,
            last_used_at=_utc(t.last_used_at),
            revoked_at=_utc(t.revoked_at),
        )
        for t in session.scalars(query)
    ]


def issue_token(
    session: Session,
    company_id: str,
    *,
    by: str,
    label: str | None = None,
    address: str | None = None,
) -> IssuedToken:
    """A new API token for the company (its earlier tokens keep working until revoked)."""
    if session.get(HousingCompany, company_id) is None:
        raise NotFound(f"company {company_id} not found")
    token, digest = new_token()
    row = ApiToken(
        company_id=company_id,
        token_sha256=digest,
        label=(label or "").strip()[:100] or None,
        created_by=by,
    )
    session.add(row)
    session.flush()
    audit(session, by, "issue_token", "api_token", row.id, detail=f"company={company_id}",
          address=address)  # fmt: skip
    return IssuedToken(id=row.id, company_id=company_id, token=token)


def revoke_token(session: Session, token_id: int, *, by: str, address: str | None = None) -> None:
    """The token stops working at once; the row stays for the audit trail."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"token {token_id} not found")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        audit(session, by, "revoke_token", "api_token", row.id, detail=f"company={row.company_id}",
              address=address)  # fmt: skip


def company_for_token(session: Session, settings: Settings, token: str) -> str | None:
    """The id of the company this bearer token belongs to, or None.

    Tokens issued in the portal are looked up by digest (and their last use noted);
    then the digests in config.toml are compared in constant time.
    """
    if not token:
        return None
    digest = token_digest(token)
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_sha256 == digest, ApiToken.revoked_at.is_(None))
    )
    if row is not None:
        row.last_used_at = datetime.now(UTC)
        return row.company_id
    found = None
    for company in settings.companies:
        expected = company.upload_token_sha256
        if expected and hmac.compare_digest(expected, digest):
            found = company.id
    return found
