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
from sqlalchemy import Engine, insert, select, update

from domain.matching import (
    children_after_match,
    children_per_case,
    match_notices,
    routing_expr,
)
from domain.vocabulary import MatchDecision, MatchTier, Routing
from models.config import Settings
from models.db import session_scope
from models.tables import (
    AuditLog,
    CaseSnapshot,
    Episode,
    HouseholdMember,
    Match,
    RegisterCase,
)
from services import matches

_CHUNK = 20_000


def _frame(rows: list, names: list[str], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A polars frame from SQLAlchemy rows, column by column (no per-row objects kept)."""
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    return pl.DataFrame(
        {name: list(values) for name, values in zip(names, columns, strict=True)},
        schema=schema,
    )


def load_register(session, snapshot_id: int) -> tuple[pl.DataFrame, pl.DataFrame]:  # noqa: ANN001
    """Cases and members of a snapshot as frames with database ids."""
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
    cases = _frame(
        case_rows,
        case_names,
        {n: (pl.Int64 if n == "case_id" else pl.String) for n in case_names},
    )
    member_names = ["member_id", "case_id", "personnummer", "name", "relation", "is_child"]
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
    members = _frame(
        member_rows,
        member_names,
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


def load_decisions(session) -> pl.DataFrame:  # noqa: ANN001
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
    return _frame(rows, names, dict.fromkeys(names, pl.String))


def latest_snapshot_id(session) -> int | None:  # noqa: ANN001
    return session.scalars(
        select(CaseSnapshot.id).order_by(CaseSnapshot.id.desc()).limit(1)
    ).first()


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
    """Match every unrouted episode against the latest snapshot and route it. Counts only."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        snapshot_id = latest_snapshot_id(session)
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
        if not rows:
            return {"episodes": 0, "certain": 0, "probable": 0, "possible": 0, "none": 0}
        if snapshot_id is None:
            # Without a register nobody can be told apart: leave them for the next run.
            return {"episodes": len(rows), "waiting_for_register": len(rows)}
        episodes = _frame(rows, names, {n: (pl.Int64 if n == "nid" else pl.String) for n in names})
        cases, members = load_register(session, snapshot_id)
        decisions = load_decisions(session)

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
    matches = result.select(
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
        still_open = session.execute(
            select(Episode.id, Episode.children_known, Episode.children_count).where(
                Episode.id.in_(updates["id"].to_list()), Episode.routing.is_(None)
            )
        ).all()
        current = _frame(
            still_open,
            ["id", "recorded_known", "recorded_count"],
            {"id": pl.Int64, "recorded_known": pl.Boolean, "recorded_count": pl.Int64},
        )
        keep = current["id"].sort()
        updates = updates.join(current, on="id", how="inner").sort("id")
        matches = matches.filter(pl.col("episode_id").is_in(keep.implode()))
        for offset in range(0, matches.height, _CHUNK):
            session.execute(insert(Match), matches.slice(offset, _CHUNK).to_dicts())
        for frame in children_updates(updates):
            for offset in range(0, frame.height, _CHUNK):
                session.execute(update(Episode), frame.slice(offset, _CHUNK).to_dicts())
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
        for offset in range(0, audit_rows.height, _CHUNK):
            session.execute(insert(AuditLog), audit_rows.slice(offset, _CHUNK).to_dicts())
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


def decide_match(engine: Engine, match_id: int, confirm: bool, by: str) -> None:
    """The advisor confirms or rejects a match (see :func:`services.matches.decide`)."""
    with session_scope(engine) as session:
        matches.decide(session, match_id, confirm=confirm, by=by)
