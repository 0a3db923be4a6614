"""Matches between episodes and register cases: the list to review, confirm, reject.

The advisor decides a probable or possible match: confirmed, the episode goes to the
client's caseworker; rejected, to the advisor, who books a letter. Every decision and
every read of the list is audit-logged with who (ids only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.matching import UNKNOWN_CHILDREN, children_for, routing_for
from domain.vocabulary import MatchDecision, MatchTier
from models.audit import audit
from models.errors import KvarboendeError, NotAllowed, NotFound
from models.tables import Episode, HouseholdMember, Match, RegisterCase
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
    )
    return MatchDecided(
        match.id, episode.id, str(match.decision), str(episode.routing), episode.caseworker_id
    )
