"""Matching new episodes against the latest case-register snapshot, and review decisions.

Every episode whose routing is still empty is matched once: a Match row keeps the
tier, score and reasons, and the episode is routed to the client's caseworker
(certain, probable above the threshold, or confirmed earlier), to review (possible:
the advisor confirms or rejects) or to the advisor (none: a letter is booked). An
advisor's decision for a tenant and case is reused on later episodes: the tenant is
known by the personnummer, or without one by the name and home.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
from sqlalchemy import Engine

from domain.matching import (
    children_after_match,
    children_per_case,
    match_notices,
    rematch_plan,
    routing_expr,
)
from domain.vocabulary import MatchDecision, MatchTier, Routing
from models.config import Settings
from models.db import session_scope
from services import matches


def children_updates(updates: pl.DataFrame) -> list[pl.DataFrame]:
    """Episode updates in two uniform batches: routed to a caseworker, and the rest.

    Routed to a caseworker, the children follow :func:`domain.matching.children_after_match`.
    Not matched, nothing is known from the register, so what was recorded (or "unknown")
    is left as it is.
    """
    base = ["id", "routing", "case_id", "caseworker_id", "snapshot_id", "matched_at"]
    routed = pl.col("routing") == Routing.CASEWORKER
    to_case = updates.filter(routed).select(
        *base,
        *children_after_match(
            pl.col("register_children"), pl.col("recorded_known"), pl.col("recorded_count")
        ),
    )
    return [to_case, updates.filter(~routed).select(base)]


def match_episodes(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Match every unrouted episode against the latest snapshot and route it, then match
    again the episodes still unmatched or in review that a new snapshot or a newly valid
    personnummer may change (:func:`rematch_episodes`). Counts only."""
    counts = match_new_episodes(engine, settings, run_date)
    counts.update(rematch_episodes(engine, settings, run_date))
    return counts


def match_new_episodes(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Match every unrouted episode against the latest snapshot and route it. Counts only."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        snapshot_id = matches.latest_snapshot_id(session)
        episodes = matches.unrouted_episodes(session)
        if episodes.is_empty():
            return {"episodes": 0, "certain": 0, "probable": 0, "possible": 0, "none": 0}
        if snapshot_id is None:
            # Without a register nobody can be told apart: leave them for the next run.
            return {"episodes": episodes.height, "waiting_for_register": episodes.height}
        cases, members = matches.load_register(session, snapshot_id)
        decisions = matches.load_decisions(session)

    result = match_notices(
        episodes,
        cases,
        members,
        run_date,
        threshold=settings.cases.probable_threshold,
        decisions=decisions,
    )
    children = children_per_case(members)
    result = (
        result.join(cases.select("case_id", "caseworker_id"), on="case_id", how="left")
        .join(children, on="case_id", how="left")
        .with_columns(pl.col("children_count").fill_null(0))
    )
    result = result.with_columns(routing_expr())
    routed = pl.col("routing") == Routing.CASEWORKER
    new_matches = result.select(
        pl.col("nid").alias("episode_id"),
        pl.lit(snapshot_id).alias("snapshot_id"),
        "case_id",
        "member_id",
        "case_ref",
        "tier",
        "score",
        "reasons",
        "decision",
        pl.when(pl.col("decision") == MatchDecision.CONFIRMED)
        .then(pl.lit("tidigare beslut"))
        .otherwise(None)
        .alias("decided_by"),
        pl.when(pl.col("decision") == MatchDecision.CONFIRMED)
        .then(pl.lit(now))
        .otherwise(None)
        .alias("decided_at"),
        pl.lit(now).alias("created_at"),
    )
    updates = result.select(
        pl.col("nid").alias("id"),
        "routing",
        pl.when(routed).then(pl.col("case_id")).otherwise(None).alias("case_id"),
        pl.when(routed).then(pl.col("caseworker_id")).otherwise(None).alias("caseworker_id"),
        pl.lit(snapshot_id).alias("snapshot_id"),
        pl.lit(now).alias("matched_at"),
        pl.when(routed).then(pl.col("children_count")).otherwise(0).alias("register_children"),
    )
    with session_scope(engine) as session:
        # Only episodes still unrouted: a concurrent run must not match twice.
        current = matches.still_unrouted(session, updates["id"].to_list())
        keep = current["id"].sort()
        updates = updates.join(current, on="id", how="inner").sort("id")
        new_matches = new_matches.filter(pl.col("episode_id").is_in(keep.implode()))
        matches.store_matches(session, new_matches)
        matches.update_episodes(session, children_updates(updates))
        matches.mark_matched_numbers(session, keep.to_list())
        audit_rows = result.filter(pl.col("nid").is_in(keep.implode())).select(
            pl.lit("matching").alias("actor"),
            pl.lit("match.route").alias("action"),
            pl.lit("episode").alias("entity"),
            pl.col("nid").cast(pl.String).alias("entity_id"),
            pl.concat_str(
                [pl.lit("snapshot="), pl.lit(str(snapshot_id)), pl.lit(" routing="), "routing"]
            ).alias("detail"),
            pl.lit(now).alias("at"),
        )
        matches.store_audit_rows(session, audit_rows)
    tiers = result.filter(pl.col("nid").is_in(keep.implode()))["tier"].value_counts()
    counts = {t.value: 0 for t in MatchTier}
    counts.update(dict(zip(tiers["tier"].to_list(), tiers["count"].to_list(), strict=True)))
    routing_counts = result.filter(pl.col("nid").is_in(keep.implode()))["routing"].value_counts()
    return {
        "episodes": updates.height,
        **{k: int(v) for k, v in counts.items()},
        **{
            f"routed_{k}": int(v)
            for k, v in zip(
                routing_counts["routing"].to_list(), routing_counts["count"].to_list(), strict=True
            )
        },
        "confirmed_earlier": int((result["decision"] == MatchDecision.CONFIRMED).sum()),
    }


def rematch_episodes(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Match again the open episodes still unmatched or in review whose facts changed.

    A new register snapshot arrived since they were matched, or a later notice brought a
    valid personnummer the first lacked. An episode in review without a meeting is
    routed by the new match like a first one (its old pending match superseded); one
    already with the advisor is not moved: a case found now waits for the advisor as a
    pending match (:func:`domain.matching.rematch_plan`). Counts only.
    """
    now = datetime.now(UTC)
    counts = {"rematched": 0, "rematch_moved": 0, "rematch_pending": 0}
    with session_scope(engine) as session:
        snapshot_id = matches.latest_snapshot_id(session)
        if snapshot_id is None:
            return {}  # nothing was ever matched
        candidates = matches.rematch_candidates(session, snapshot_id)
        if candidates.is_empty():
            return counts
        cases, members = matches.load_register(session, snapshot_id)
        decisions = matches.load_decisions(session)
    result = match_notices(
        candidates.drop("current_routing", "has_meeting"),
        cases,
        members,
        run_date,
        threshold=settings.cases.probable_threshold,
        decisions=decisions,
    )
    result = (
        result.join(candidates.select("nid", "current_routing", "has_meeting"), on="nid")
        .join(cases.select("case_id", "caseworker_id"), on="case_id", how="left")
        .join(children_per_case(members), on="case_id", how="left")
        .with_columns(pl.col("children_count").fill_null(0))
        .with_columns(routing_expr())
    )
    result = rematch_plan(result)
    with session_scope(engine) as session:
        current = matches.still_rematch(session, snapshot_id, result["nid"].to_list())
        result = result.join(current.rename({"id": "nid"}), on="nid", how="inner").filter(
            pl.col("still_routing") == pl.col("current_routing")
        )
        if result.is_empty():
            return counts
        stored = result.filter(pl.col("store_match"))
        matches.supersede_pending(session, stored["nid"].to_list(), now)
        matches.store_matches(
            session,
            stored.select(
                pl.col("nid").alias("episode_id"),
                pl.lit(snapshot_id).alias("snapshot_id"),
                "case_id",
                "member_id",
                "case_ref",
                "tier",
                "score",
                "reasons",
                "decision",
                pl.lit(None, dtype=pl.String).alias("decided_by"),
                pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("decided_at"),
                pl.lit(now).alias("created_at"),
            ),
        )
        routed = pl.col("routing") == Routing.CASEWORKER
        moved = pl.col("moved")
        updates = result.select(
            pl.col("nid").alias("id"),
            "routing",
            pl.when(routed & moved).then(pl.col("case_id")).otherwise(None).alias("case_id"),
            pl.when(routed & moved)
            .then(pl.col("caseworker_id"))
            .otherwise(None)
            .alias("caseworker_id"),
            pl.lit(snapshot_id).alias("snapshot_id"),
            pl.lit(now).alias("matched_at"),
            pl.when(routed).then(pl.col("children_count")).otherwise(0).alias("register_children"),
            "recorded_known",
            "recorded_count",
        )
        matches.update_episodes(session, children_updates(updates))
        matches.mark_matched_numbers(session, result["nid"].to_list())
        matches.store_audit_rows(
            session,
            result.select(
                pl.lit("matching").alias("actor"),
                pl.lit("match.rematch").alias("action"),
                pl.lit("episode").alias("entity"),
                pl.col("nid").cast(pl.String).alias("entity_id"),
                pl.concat_str(
                    [pl.lit(f"snapshot={snapshot_id} routing="), pl.col("routing")]
                ).alias("detail"),
                pl.lit(now).alias("at"),
            ),
        )
    counts["rematched"] = result.height
    counts["rematch_moved"] = int(result["moved"].sum())
    counts["rematch_pending"] = int((stored["decision"] == MatchDecision.PENDING).sum() - 0)
    return counts


def decide_match(engine: Engine, match_id: int, confirm: bool, by: str) -> None:
    """The advisor confirms or rejects a match (see :func:`services.matches.decide`)."""
    with session_scope(engine) as session:
        matches.decide(session, match_id, confirm=confirm, by=by)
