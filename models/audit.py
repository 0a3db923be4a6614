"""The audit log: who read or changed what. Ids and actions only, never personal data."""

from __future__ import annotations

import getpass
import os
from contextvars import ContextVar

from sqlalchemy.orm import Session

from models.tables import AuditLog

#: The web client's address for this request: the portal sets it once per request, so
#: the services' own audit entries (a read, a recording) carry it without passing it on.
request_address: ContextVar[str | None] = ContextVar("request_address", default=None)


def current_actor(explicit: str | None = None) -> str:
    """The person acting: ``--by`` when given, else the operating-system user."""
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


def audit(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: object | None = None,
    detail: str | None = None,
    address: str | None = None,
    *,
    episode_id: int | None = None,
) -> None:
    """Add one audit entry in the caller's transaction (``address``: the web client's).

    ``episode_id``: the episode the entry concerns (its own, or its letter's, meeting's
    or match's), so that the administrator can filter on one episode and find them all.
    An entry about an episode itself concerns that episode without saying so twice.
    """
    if episode_id is None and entity == "episode" and isinstance(entity_id, int):
        episode_id = entity_id
    session.add(
        AuditLog(
            actor=actor,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            episode_id=episode_id,
            detail=detail,
            address=address if address is not None else request_address.get(),
        )
    )
