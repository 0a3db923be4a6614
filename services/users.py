"""Portal accounts: roles and bindings, argon2 passwords, throttled login, server-side sessions.

A user has one role. A company user is bound to one housing company and a caseworker to
one caseworker id: every page filters by that binding, so the binding is the boundary
of what the person may see (OSL 26:1). Passwords are stored as argon2 hashes only. A
session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, so
a copy of the database cannot be used to log in. A session ends after
``[web] idle_timeout_minutes`` without a request. Repeated wrong passwords lock the
account, and the client address, for a while (``[web] login_*``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from domain.vocabulary import ROLE_LABEL_SV, Role
from models.audit import audit
from models.db import as_utc, rowcount
from models.errors import KvarboendeError, NotAllowed, NotFound
from models.tables import Caseworker, HousingCompany, LoginAttempt, PortalSession, PortalUser

ROLES = tuple(Role)
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,59}$")
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name takes as long as a
# wrong password and the answer does not tell which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

WRONG_LOGIN = "Fel användarnamn eller lösenord."


class LoginRefused(KvarboendeError):
    """Wrong user name or password (the message never says which)."""


class LoginLocked(KvarboendeError):
    """Too many wrong passwords lately: no more tries for a while."""


@dataclass(frozen=True)
class LoginPolicy:
    """How many wrong passwords lock an account or an address, and for how long."""

    max_failures: int = 5
    max_failures_per_address: int = 20
    lock_minutes: int = 15


@dataclass(frozen=True)
class UserView:
    """A portal account as pages and commands show it (never the password hash)."""

    id: int
    username: str
    display_name: str | None
    role: str
    company_id: str | None
    caseworker_id: str | None
    active: bool
    created_at: datetime
    last_login_at: datetime | None

    @property
    def role_label(self) -> str:
        return ROLE_LABEL_SV.get(self.role, self.role)

    @property
    def shown_name(self) -> str:
        return self.display_name or self.username


@dataclass(frozen=True)
class LoggedIn:
    """A new session: the cookie token (given to the browser only) and its CSRF token."""

    user: UserView
    session_token: str
    csrf_token: str
    session_id: int = 0


@dataclass(frozen=True)
class ActiveSession:
    """The user behind a valid session cookie, and the session's CSRF token."""

    session_id: int
    user: UserView
    csrf_token: str


def _now() -> datetime:
    return datetime.now(UTC)


def token_digest(token: str) -> str:
    """The SHA-256 of a secret token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """An argon2id hash of the password (with its own salt and parameters)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches the stored hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _view(user: PortalUser) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        company_id=user.company_id,
        caseworker_id=user.caseworker_id,
        active=user.active,
        created_at=as_utc(user.created_at),
        last_login_at=as_utc(user.last_login_at) if user.last_login_at else None,
    )


def check_password_rules(password: str) -> None:
    """Refuse a password that is too short, in one line."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise NotAllowed(f"Lösenordet måste ha minst {MIN_PASSWORD_LENGTH} tecken.")


def _binding(
    session: Session, role: str, company_id: str | None, caseworker_id: str | None
) -> tuple[str | None, str | None]:
    """The role's company and caseworker id, checked (empty text: none).

    The binding is the boundary of what the person sees, so a company user without a
    known company, or a binding on a role that does not use it, is refused rather than
    stored: a stray company id on an advisor would be a boundary nobody reads.
    """
    if role not in ROLES:
        raise NotAllowed(f"Okänd roll {role!r}: välj en av {', '.join(ROLES)}.")
    company_id = (company_id or "").strip() or None
    caseworker_id = (caseworker_id or "").strip() or None
    if role == Role.COMPANY:
        if company_id is None:
            raise NotAllowed("En hyresvärds konto måste höra till ett bostadsbolag.")
        if session.get(HousingCompany, company_id) is None:
            raise NotAllowed(f"Bostadsbolaget {company_id!r} finns inte.")
    elif company_id is not None:
        raise NotAllowed("Bara en hyresvärds konto kan höra till ett bostadsbolag.")
    if role == Role.CASEWORKER:
        if caseworker_id is None:
            raise NotAllowed("En socialsekreterares konto måste ha ett handläggar-id.")
    elif caseworker_id is not None:
        raise NotAllowed("Bara en socialsekreterares konto kan ha ett handläggar-id.")
    return company_id, caseworker_id


def _binding_detail(role: str, company_id: str | None, caseworker_id: str | None) -> str:
    """The audit detail of a role and its binding (ids only)."""
    return (
        f"role={role}"
        + (f" company={company_id}" if company_id else "")
        + (f" caseworker={caseworker_id}" if caseworker_id else "")
    )


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    company_id: str | None = None,
    caseworker_id: str | None = None,
    display_name: str | None = None,
    created_by: str | None = None,
    address: str | None = None,
) -> UserView:
    """A new active account; a company user needs a known company, a caseworker an id."""
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise NotAllowed(
            "Användarnamnet får bara ha små bokstäver a-z, siffror och . _ @ - (2-60 tecken)."
        )
    check_password_rules(password)
    company_id, caseworker_id = _binding(session, role, company_id, caseworker_id)
    taken = session.scalar(select(PortalUser.id).where(PortalUser.username == username))
    if taken is not None:
        raise NotAllowed(f"Användarnamnet {username!r} finns redan.")
    user = PortalUser(
        username=username,
        display_name=(display_name or "").strip() or None,
        password_hash=hash_password(password),
        role=role,
        company_id=company_id,
        caseworker_id=caseworker_id,
        active=True,
        created_by=created_by,
    )
    session.add(user)
    session.flush()
    audit(
        session,
        created_by or "system",
        "create_user",
        "portal_user",
        user.id,
        detail=_binding_detail(role, company_id, caseworker_id),
        address=address,
    )
    return _view(user)


def known_caseworker(session: Session, caseworker_id: str) -> bool:
    """True when the case register has named this caseworker (a hint for the admin)."""
    return session.get(Caseworker, caseworker_id) is not None


def list_users(session: Session) -> list[UserView]:
    """Every account, active ones first, by user name."""
    users = session.scalars(
        select(PortalUser).order_by(PortalUser.active.desc(), PortalUser.username)
    )
    return [_view(user) for user in users]


def get_user(session: Session, user_id: int) -> UserView:
    user = session.get(PortalUser, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return _view(user)


def deactivate_user(
    session: Session, user_id: int, *, by: str, address: str | None = None
) -> UserView:
    """The account can no longer log in; its open sessions end at once."""
    user = session.get(PortalUser, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if user.username == by:
        raise NotAllowed("Du kan inte stänga av ditt eget konto.")
    if user.active:
        _keep_an_administrator(session, user)
        user.active = False
        _end_sessions(session, user.id)
        audit(session, by, "deactivate_user", "portal_user", user.id, address=address)
    return _view(user)


LAST_ADMIN = "Det måste finnas minst en aktiv administratör. Ge någon annan rollen först."


def _keep_an_administrator(session: Session, user: PortalUser) -> None:
    """Refuse to take away the last active administrator (by role change or deactivation):
    nobody could then create accounts, reset passwords or read the audit log.

    The active administrators' rows are locked (PostgreSQL), so two administrators
    demoting each other at the same moment cannot both succeed.
    """
    if user.role != Role.ADMIN or not user.active:
        return
    admins = session.scalars(
        select(PortalUser.id)
        .where(PortalUser.role == Role.ADMIN, PortalUser.active.is_(True))
        .with_for_update()
    ).all()
    if [i for i in admins if i != user.id] == []:
        raise NotAllowed(LAST_ADMIN)


def change_role(
    session: Session,
    user_id: int,
    role: str,
    *,
    company_id: str | None = None,
    caseworker_id: str | None = None,
    by: str,
    address: str | None = None,
) -> int:
    """Give an account another role, company or caseworker id; returns how many of its
    sessions were ended.

    Every session of the account ends, so the next page the person opens is behind a
    new login with the new boundary, never an old page of the old one. Not for one's
    own account (an administrator does not demote themself by a slip), and never the
    last active administrator. Audit-logged with the old and the new binding.
    """
    user = session.get(PortalUser, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if user.username == by:
        raise NotAllowed("Du kan inte ändra rollen på ditt eget konto.")
    company_id, caseworker_id = _binding(session, role, company_id, caseworker_id)
    old = (user.role, user.company_id, user.caseworker_id)
    if old == (role, company_id, caseworker_id):
        raise NotAllowed("Inget ändrades: kontot har redan den rollen och kopplingen.")
    if role != Role.ADMIN:
        _keep_an_administrator(session, user)
    user.role, user.company_id, user.caseworker_id = role, company_id, caseworker_id
    ended = _end_sessions(session, user.id)
    new = _binding_detail(role, company_id, caseworker_id)
    audit(session, by, "change_role", "portal_user", user.id,
          detail=f"from {_binding_detail(*old)} to {new} sessions_ended={ended}",
          address=address)  # fmt: skip
    return ended


def reactivate_user(
    session: Session, user_id: int, *, by: str, address: str | None = None
) -> UserView:
    """A deactivated account may log in again, with the password it had (the administrator
    resets it when the person no longer knows it). Audit-logged with who."""
    user = session.get(PortalUser, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if user.active:
        raise NotAllowed("Kontot är redan aktivt.")
    user.active = True
    audit(session, by, "reactivate_user", "portal_user", user.id, address=address)
    return _view(user)


def _end_sessions(session: Session, user_id: int, *, keep: int | None = None) -> int:
    """End the user's open sessions (all but ``keep``); returns how many were ended."""
    query = update(PortalSession).where(
        PortalSession.user_id == user_id, PortalSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(PortalSession.id != keep)
    return rowcount(session.execute(query.values(ended_at=_now())))


WRONG_CURRENT_PASSWORD = "Det nuvarande lösenordet stämmer inte."


def change_own_password(
    session: Session,
    active: ActiveSession,
    current: str,
    new: str,
    *,
    address: str,
    policy: LoginPolicy = LoginPolicy(),
    now: datetime | None = None,
) -> int:
    """The logged-in person's new password, given the current one; returns how many of
    their other sessions (other browsers, other computers) were ended.

    This session stays. A wrong current password counts as a failed login (the same
    lock applies, so a session left open cannot be used to guess the password) and is
    audit-logged; like every refusal it is written to the caller's transaction before
    NotAllowed or LoginLocked is raised.
    """
    now = now or _now()
    user = session.get(PortalUser, active.user.id)
    if user is None or not user.active:
        raise NotFound(f"user {active.user.id} not found")
    address = address[:64]
    if _locked(session, user.username, address, policy, now) is not None:
        audit(session, user.username, "login_locked", "portal_user", user.id, address=address)
        raise LoginLocked(
            "För många felaktiga lösenord. Vänta "
            f"{policy.lock_minutes} minuter och försök igen, eller kontakta administratören."
        )
    if not verify_password(user.password_hash, current):
        session.add(LoginAttempt(username=user.username, address=address, at=now, success=False))
        audit(session, user.username, "change_own_password_refused", "portal_user", user.id,
              address=address)  # fmt: skip
        raise NotAllowed(WRONG_CURRENT_PASSWORD)
    check_password_rules(new)
    if new == current:
        raise NotAllowed("Det nya lösenordet måste skilja sig från det nuvarande.")
    user.password_hash = hash_password(new)
    ended = _end_sessions(session, user.id, keep=active.session_id)
    audit(session, user.username, "change_own_password", "portal_user", user.id,
          detail=f"other_sessions_ended={ended}", address=address)  # fmt: skip
    return ended


def reset_password(
    session: Session, user_id: int, password: str, *, by: str, address: str | None = None
) -> int:
    """The administrator gives an account a new password (the person forgot theirs); every
    session of the account ends. Returns how many sessions were ended. Not for one's own
    account: that goes through :func:`change_own_password`, with the current password."""
    check_password_rules(password)
    user = session.get(PortalUser, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if user.username == by:
        raise NotAllowed("Byt ditt eget lösenord under Mitt konto, med ditt nuvarande lösenord.")
    user.password_hash = hash_password(password)
    ended = _end_sessions(session, user.id)
    audit(session, by, "reset_password", "portal_user", user.id,
          detail=f"sessions_ended={ended}", address=address)  # fmt: skip
    return ended


def _recent_failures(
    session: Session, column: InstrumentedAttribute[str], value: str, since: datetime
) -> tuple[int, datetime | None]:
    """Failed attempts for a user name or address since ``since`` and the latest one's time.

    Only failures after the last success count: logging in right resets the account.
    """
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(column == value, LoginAttempt.success.is_(True))
    )
    if last_success is not None:
        since = max(since, as_utc(last_success))
    count, latest = session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            column == value, LoginAttempt.success.is_(False), LoginAttempt.at > since
        )
    ).one()
    return int(count), as_utc(latest) if latest else None


def _locked(
    session: Session, username: str, address: str, policy: LoginPolicy, now: datetime
) -> str | None:
    since = now - timedelta(minutes=policy.lock_minutes)
    failures, _ = _recent_failures(session, LoginAttempt.username, username, since)
    if failures >= policy.max_failures:
        return "account"
    failures, _ = _recent_failures(session, LoginAttempt.address, address, since)
    if failures >= policy.max_failures_per_address:
        return "address"
    return None


def login(
    session: Session,
    username: str,
    password: str,
    *,
    address: str,
    policy: LoginPolicy = LoginPolicy(),
    now: datetime | None = None,
) -> LoggedIn:
    """Check the password and open a session; every attempt is counted and audit-logged.

    A refused attempt is written to the caller's transaction before LoginRefused or
    LoginLocked is raised: catch them inside the transaction so the count is kept.
    """
    now = now or _now()
    username = username.strip().lower()[:60]
    address = address[:64]
    lock = _locked(session, username, address, policy, now)
    if lock is not None:
        audit(session, username or "-", "login_locked", "portal_user", detail=lock, address=address)
        raise LoginLocked(
            "För många felaktiga inloggningsförsök. Vänta "
            f"{policy.lock_minutes} minuter och försök igen, eller kontakta administratören."
        )
    user = session.scalar(select(PortalUser).where(PortalUser.username == username))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(username=username, address=address, at=now, success=ok))
    if not ok or user is None:
        audit(session, username or "-", "login_failed", "portal_user", address=address)
        raise LoginRefused(WRONG_LOGIN)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return _open_session(session, user, address, now, "login")


def _open_session(
    session: Session, user: PortalUser, address: str, now: datetime, action: str
) -> LoggedIn:
    user.last_login_at = now
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    record = PortalSession(
        token_sha256=token_digest(token),
        user_id=user.id,
        csrf_token=csrf,
        created_at=now,
        last_seen_at=now,
        address=address,
    )
    session.add(record)
    session.flush()
    audit(session, user.username, action, "portal_session", record.id, address=address)
    return LoggedIn(user=_view(user), session_token=token, csrf_token=csrf, session_id=record.id)


def sso_login(
    session: Session, username: str, *, address: str, now: datetime | None = None
) -> LoggedIn | None:
    """Open a session for a person the municipality's proxy has signed in (single sign-on).

    The caller has checked that the request came from a trusted proxy. Only an existing,
    active account is let in, by its user name; the role and bindings stay the portal's.
    None (and an audit entry) when there is no such account.
    """
    now = now or _now()
    username = username.strip().lower()[:60]
    address = address[:64]
    user = session.scalar(select(PortalUser).where(PortalUser.username == username))
    if user is None or not user.active:
        audit(session, username or "-", "login_sso_refused", "portal_user", address=address)
        return None
    return _open_session(session, user, address, now, "login_sso")


def resolve_session(
    session: Session, token: str, *, idle_minutes: int, now: datetime | None = None
) -> ActiveSession | None:
    """The active session behind a cookie token, its idle clock restarted; None when it is
    unknown, ended, idle too long or its user is deactivated (then it is ended for good)."""
    if not token:
        return None
    now = now or _now()
    found = session.execute(
        select(PortalSession, PortalUser)
        .join(PortalUser, PortalUser.id == PortalSession.user_id)
        .where(PortalSession.token_sha256 == token_digest(token))
    ).first()
    if found is None:
        return None
    record, user = found
    if record.ended_at is not None:
        return None
    if not user.active or now - as_utc(record.last_seen_at) > timedelta(minutes=idle_minutes):
        record.ended_at = now
        return None
    record.last_seen_at = now
    return ActiveSession(session_id=record.id, user=_view(user), csrf_token=record.csrf_token)


def logout(session: Session, token: str, *, address: str | None = None) -> None:
    """End the session behind the cookie token (nothing happens for an unknown token)."""
    record = session.scalar(
        select(PortalSession).where(PortalSession.token_sha256 == token_digest(token))
    )
    if record is None or record.ended_at is not None:
        return
    record.ended_at = _now()
    user = session.get(PortalUser, record.user_id)
    audit(
        session,
        user.username if user else "-",
        "logout",
        "portal_session",
        record.id,
        address=address,
    )
