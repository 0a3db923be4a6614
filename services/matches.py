"""Matches between episodes and register cases: the list to review, confirm, reject.

The advisor decides a probable or possible match: confirmed, the episode goes to the
client's caseworker; rejected, to the advisor, who books a letter. Every decision and
every read of the list is audit-logged with who (ids only). The daily matching run
(``flows.stages.matching``) loads the unrouted episodes, the register and earlier
decisions here as frames, and stores its matches and routings here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from domain.matching import UNKNOWN_CHILDREN, children_for, routing_for
from domain.vocabulary import OPEN_STATUSES, AppointmentStatus, MatchDecision, MatchTier, Routing
from models.audit import audit
from models.db import CHUNK, chunks, insert_chunks, rowcount, rows_frame
from models.errors import KvarboendeError, NotAllowed, NotFound
from models.tables import (
    Appointment,
    AuditLog,
    CaseSnapshot,
    Episode,
    HouseholdMember,
    Match,
    RegisterCase,
)
from services.episodes import set_children


@dataclass(frozen=True)
class MatchItem:
    """One match with its tier, score, decision and the reasons in words."""

    id: int
    episode_id: int
    company_id: str
    tier: str
    score: float
    decision: str
    case_ref: str | None
    reasons: str


@dataclass(frozen=True)
class MatchDecided:
    """What a decision did: the episode's new routing and caseworker."""

    match_id: int
    episode_id: int
    decision: str
    routing: str
    caseworker_id: str | None


def list_matches(
    session: Session, *, by: str, pending: bool = False, limit: int = 200
) -> list[MatchItem]:
    """Matches by id: those waiting for a decision, or every match that found a case."""
    if limit < 1:
        raise KvarboendeError(f"--limit must be 1 or more, not {limit}")
    query = (
        select(
            Match.id,
            Match.episode_id,
            Episode.company_id,
            Match.tier,
            Match.score,
            Match.decision,
            Match.case_ref,
            Match.reasons,
        )
        .join(Episode, Episode.id == Match.episode_id)
        .order_by(Match.id)
        .limit(limit)
    )
    if pending:
        query = query.where(Match.decision == MatchDecision.PENDING)
    else:
        query = query.where(Match.tier != MatchTier.NONE)
    items = [
        MatchItem(
            r.id,
            r.episode_id,
            r.company_id,
            r.tier,
            float(r.score),
            r.decision,
            r.case_ref,
            r.reasons,
        )  # fmt: skip
        for r in session.execute(query)
    ]
    audit(session, by, "matches.list", "match", detail=f"rows={len(items)}")
    return items


def pending_matches(session: Session, *, by: str, limit: int = 200) -> list[MatchItem]:
    """The advisor's "matches to confirm"."""
    return list_matches(session, by=by, pending=True, limit=limit)


def confirm(session: Session, match_id: int, *, by: str) -> MatchDecided:
    """Confirm a match: the episode goes to the client's caseworker (audit-logged)."""
    return decide(session, match_id, confirm=True, by=by)


def reject(session: Session, match_id: int, *, by: str) -> MatchDecided:
    """Reject a match: the episode goes to the advisor, who books a letter (audit-logged)."""
    return decide(session, match_id, confirm=False, by=by)


def decide(session: Session, match_id: int, *, confirm: bool, by: str) -> MatchDecided:
    """The advisor confirms (→ caseworker) or rejects (→ advisor, so a letter is booked).

    A match is decided once; one without a case has nothing to decide.
    """
    now = datetime.now(UTC)
    match = session.get(Match, match_id, with_for_update=True)
    if match is None:
        raise NotFound(f"match {match_id} not found")
    if match.case_id is None:
        raise NotAllowed(f"match {match_id} has no case to confirm or reject")
    if match.decided_by is not None:
        raise NotAllowed(f"match {match_id} was already {match.decision} by {match.decided_by}")
    episode = session.get(Episode, match.episode_id)
    assert episode is not None  # a foreign key
    match.decision = MatchDecision.CONFIRMED if confirm else MatchDecision.REJECTED
    match.decided_by = by
    match.decided_at = now
    if confirm:
        case = session.get(RegisterCase, match.case_id)
        children = session.scalar(
            select(func.count())
            .select_from(HouseholdMember)
            .where(HouseholdMember.case_id == match.case_id, HouseholdMember.is_child)
        )
        episode.routing = routing_for(match.tier, match.decision)
        episode.case_id = match.case_id
        episode.caseworker_id = case.caseworker_id if case else None
        set_children(
            episode,
            children_for(int(children or 0), episode.children_known, episode.children_count),
        )
    else:
        if episode.case_id == match.case_id:
            # The children came from the case now rejected: they are unknown again.
            set_children(episode, UNKNOWN_CHILDREN)
        episode.routing = routing_for(match.tier, match.decision)
        episode.case_id = None
        episode.caseworker_id = None
    episode.snapshot_id = match.snapshot_id
    episode.matched_at = now
    audit(
        session,
        by,
        "match.confirm" if confirm else "match.reject",
        "match",
        match.id,
        detail=f"episode={episode.id}",
        episode_id=episode.id,
    )
    return MatchDecided(
        match.id, episode.id, str(match.decision), str(episode.routing), episode.caseworker_id
    )


# --- the daily matching run (flows.stages.matching) ---------------------------------------


def load_register(session: Session, snapshot_id: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cases and members of a snapshot as frames with database ids.

    Cases: ``case_id`` Int64, ``case_ref``, ``personnummer``, ``name``, ``street_address``,
    ``apartment``, ``postal_code``, ``caseworker_id`` String. Members: ``member_id``,
    ``case_id`` Int64, ``personnummer``, ``name``, ``relation`` String, ``is_child`` Boolean.
    """
    case_names = [
        "case_id", "case_ref", "personnummer", "name", "street_address", "apartment",
        "postal_code", "caseworker_id",
    ]  # fmt: skip
    case_rows = session.execute(
        select(
            RegisterCase.id,
            RegisterCase.case_ref,
            RegisterCase.personnummer,
            RegisterCase.name,
            RegisterCase.street_address,
            RegisterCase.apartment,
            RegisterCase.postal_code,
            RegisterCase.caseworker_id,
        ).where(RegisterCase.snapshot_id == snapshot_id)
    ).all()
    cases = rows_frame(
        case_rows,
        {n: (pl.Int64 if n == "case_id" else pl.String) for n in case_names},
    )
    member_rows = session.execute(
        select(
            HouseholdMember.id,
            HouseholdMember.case_id,
            HouseholdMember.personnummer,
            HouseholdMember.name,
            HouseholdMember.relation,
            HouseholdMember.is_child,
        ).where(HouseholdMember.snapshot_id == snapshot_id)
    ).all()
    members = rows_frame(
        member_rows,
        {
            "member_id": pl.Int64,
            "case_id": pl.Int64,
            "personnummer": pl.String,
            "name": pl.String,
            "relation": pl.String,
            "is_child": pl.Boolean,
        },
    )
    return cases, members


def load_decisions(session: Session) -> pl.DataFrame:
    """Earlier advisor decisions, oldest first, with what identifies the tenant.

    The personnummer, and the name and home as the fallback key when the tenant had no
    number (``domain.matching.decision_keys`` turns them into identity keys), so that a
    confirm or reject also holds for tenants without a number.
    """
    names = [
        "personnummer", "tenant_name", "street_address", "apartment", "postal_code",
        "case_ref", "decision",
    ]  # fmt: skip
    rows = session.execute(
        select(
            Episode.personnummer,
            Episode.tenant_name,
            Episode.street_address,
            Episode.apartment,
            Episode.postal_code,
            Match.case_ref,
            Match.decision,
        )
        .join(Episode, Episode.id == Match.episode_id)
        .where(
            Match.decision.in_([MatchDecision.CONFIRMED, MatchDecision.REJECTED]),
            Match.decided_by.is_not(None),
            Match.case_ref.is_not(None),
        )
        .order_by(Match.decided_at, Match.id)
    ).all()
    return rows_frame(rows, dict.fromkeys(names, pl.String))


def latest_snapshot_id(session: Session) -> int | None:
    """The newest case-register snapshot, or None before the first import."""
    return session.scalars(
        select(CaseSnapshot.id).order_by(CaseSnapshot.id.desc()).limit(1)
    ).first()


def unrouted_episodes(session: Session) -> pl.DataFrame:
    """Episodes whose routing is still empty, with what identifies the tenant and home.

    Schema: ``nid`` Int64 (the episode id), ``personnummer``, ``tenant_name``,
    ``co_tenant_personnummer``, ``co_tenant_name``, ``street_address``, ``apartment``,
    ``postal_code`` String (what :func:`domain.matching.match_notices` reads).
    """
    names = [
        "nid", "personnummer", "tenant_name", "co_tenant_personnummer", "co_tenant_name",
        "street_address", "apartment", "postal_code",
    ]  # fmt: skip
    rows = session.execute(
        select(
            Episode.id,
            Episode.personnummer,
            Episode.tenant_name,
            Episode.co_tenant_personnummer,
            Episode.co_tenant_name,
            Episode.street_address,
            Episode.apartment,
            Episode.postal_code,
        ).where(Episode.routing.is_(None))
    ).all()
    return rows_frame(rows, {n: (pl.Int64 if n == "nid" else pl.String) for n in names})


def still_unrouted(session: Session, episode_ids: list[int]) -> pl.DataFrame:
    """Of these episodes, those still unrouted, with the children recorded so far.

    A concurrent run may have routed some meanwhile: they must not be matched twice.
    Schema: ``id`` Int64, ``recorded_known`` Boolean, ``recorded_count`` Int64.
    """
    still_open = session.execute(
        select(Episode.id, Episode.children_known, Episode.children_count).where(
            Episode.id.in_(episode_ids), Episode.routing.is_(None)
        )
    ).all()
    return rows_frame(
        still_open,
        {"id": pl.Int64, "recorded_known": pl.Boolean, "recorded_count": pl.Int64},
    )


def store_matches(session: Session, matches: pl.DataFrame) -> None:
    """Insert Match rows (columns named as in ``match``), in chunks."""
    insert_chunks(session, Match, matches)


def update_episodes(session: Session, frames: list[pl.DataFrame]) -> None:
    """Bulk-update episodes by primary key, one uniform frame (same columns) at a time."""
    for frame in frames:
        for offset in range(0, frame.height, CHUNK):
            session.execute(update(Episode), frame.slice(offset, CHUNK).to_dicts())


def store_audit_rows(session: Session, rows: pl.DataFrame) -> None:
    """Insert audit entries (columns named as in ``audit_log``), in chunks."""
    insert_chunks(session, AuditLog, rows)


# --- matching again: a new snapshot, or a valid personnummer from a later notice ----------

_REMATCH_NAMES = [
    "nid", "personnummer", "tenant_name", "co_tenant_personnummer", "co_tenant_name",
    "street_address", "apartment", "postal_code", "current_routing", "has_meeting",
]  # fmt: skip


def _rematch_filter(snapshot_id: int) -> list[ColumnElement[bool]]:
    """Open episodes still unmatched or in review that the newest facts may change.

    In review (a pending match), or with the advisor because the register had nothing
    (no match with a case, no decision by a person); and matched against an older
    snapshot, or before a later notice brought a valid personnummer.
    """
    found_case = exists().where(Match.episode_id == Episode.id, Match.tier != MatchTier.NONE.value)
    decided = exists().where(
        Match.episode_id == Episode.id,
        Match.decided_by.is_not(None),
        Match.decision != MatchDecision.SUPERSEDED.value,
    )
    stale = or_(
        Episode.snapshot_id.is_(None),
        Episode.snapshot_id != snapshot_id,
        and_(Episode.personnummer_valid, ~Episode.matched_with_personnummer),
    )
    unmatched = and_(Episode.routing == Routing.ADVISOR, ~found_case, ~decided)
    return [
        Episode.status.in_([s.value for s in OPEN_STATUSES]),
        or_(Episode.routing == Routing.REVIEW, unmatched),
        stale,
    ]


def rematch_candidates(session: Session, snapshot_id: int) -> pl.DataFrame:
    """Episodes to match again (see :func:`_rematch_filter`), as :func:`unrouted_episodes`
    plus ``current_routing`` and ``has_meeting`` (an appointment booked or held)."""
    meeting = exists().where(
        Appointment.episode_id == Episode.id,
        Appointment.status.in_([AppointmentStatus.BOOKED.value, AppointmentStatus.ATTENDED.value]),
    )
    rows = session.execute(
        select(
            Episode.id,
            Episode.personnummer,
            Episode.tenant_name,
            Episode.co_tenant_personnummer,
            Episode.co_tenant_name,
            Episode.street_address,
            Episode.apartment,
            Episode.postal_code,
            Episode.routing,
            meeting,
        )
        .where(*_rematch_filter(snapshot_id))
        .order_by(Episode.id)
    ).all()
    schema: dict[str, pl.DataType] = {n: pl.String() for n in _REMATCH_NAMES}
    schema["nid"], schema["has_meeting"] = pl.Int64(), pl.Boolean()
    return rows_frame(rows, schema)


def still_rematch(session: Session, snapshot_id: int, episode_ids: list[int]) -> pl.DataFrame:
    """Of these, the episodes still to match again (a concurrent run may have done it),
    with their routing and the children recorded so far (as :func:`still_unrouted`)."""
    rows: list[Any] = []
    for chunk in chunks(episode_ids):
        rows.extend(
            session.execute(
                select(
                    Episode.id, Episode.routing, Episode.children_known, Episode.children_count
                ).where(Episode.id.in_(chunk), *_rematch_filter(snapshot_id))
            ).all()
        )
    return rows_frame(
        rows,
        {
            "id": pl.Int64,
            "still_routing": pl.String,
            "recorded_known": pl.Boolean,
            "recorded_count": pl.Int64,
        },
    )


def supersede_pending(session: Session, episode_ids: list[int], now: datetime) -> int:
    """Pending matches of these episodes are replaced by newer ones: nobody decides them."""
    done = 0
    for chunk in chunks(episode_ids):
        result = session.execute(
            update(Match)
            .where(Match.episode_id.in_(chunk), Match.decision == MatchDecision.PENDING.value)
            .values(decision=MatchDecision.SUPERSEDED.value, decided_by="matchning", decided_at=now)
        )
        done += rowcount(result)
    return done


def mark_matched_numbers(session: Session, episode_ids: list[int]) -> None:
    """Remember whether each episode's personnummer was valid when it was matched."""
    for chunk in chunks(episode_ids):
        session.execute(
            update(Episode)
            .where(Episode.id.in_(chunk))
            .values(matched_with_personnummer=Episode.personnummer_valid)
            .execution_options(synchronize_session=False)
        )
