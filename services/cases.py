"""Storing a case register snapshot: cases, household members and caseworkers.

One dated snapshot per distinct export; every episode keeps the snapshot it was
matched against, so a later import never rewrites an earlier decision.
"""

from __future__ import annotations

from datetime import date

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import audit, current_actor
from models.db import insert_chunks, rows_frame, upsert
from models.tables import CaseSnapshot, Caseworker, HouseholdMember, RegisterCase


def latest_snapshot(session: Session) -> CaseSnapshot | None:
    """The newest register snapshot, if any (matching always uses it)."""
    return session.scalars(select(CaseSnapshot).order_by(CaseSnapshot.id.desc()).limit(1)).first()


def _upsert_caseworkers(session: Session, cases: pl.DataFrame) -> int:
    """Caseworkers as the register names them now: new ones added, known ones updated."""
    workers = (
        cases.filter(pl.col("caseworker_id").is_not_null())
        .unique("caseworker_id", keep="first", maintain_order=True)
        .select(
            pl.col("caseworker_id").alias("id"),
            pl.coalesce("caseworker_name", "caseworker_id").alias("name"),
            pl.col("unit").fill_null("").alias("unit"),
            pl.col("caseworker_email").alias("email"),
        )
    )
    if workers.height == 0:
        return 0
    statement = upsert(session, Caseworker, [Caseworker.id], ["name", "unit", "email"])
    session.execute(statement, workers.to_dicts())
    return workers.height


def store_snapshot(
    session: Session,
    taken_on: date,
    source: str,
    digest: str,
    cases: pl.DataFrame,
    members: pl.DataFrame,
    orphans: int,
) -> dict[str, int]:
    """Store prepared cases and household members as a new snapshot; returns counts only."""
    snapshot = CaseSnapshot(
        taken_on=taken_on,
        source=source[:300],
        content_hash=digest,
        cases=cases.height,
        members=members.height,
    )
    session.add(snapshot)
    session.flush()
    caseworkers = _upsert_caseworkers(session, cases)
    insert_chunks(
        session,
        RegisterCase,
        cases.select(
            pl.lit(snapshot.id).alias("snapshot_id"),
            pl.col("case_id").alias("case_ref"),
            "personnummer",
            "name",
            "street_address",
            "apartment",
            "postal_code",
            "unit",
            "caseworker_id",
            "language",
        ),
    )
    ids = session.execute(
        select(RegisterCase.case_ref, RegisterCase.id).where(
            RegisterCase.snapshot_id == snapshot.id
        )
    ).all()
    id_frame = rows_frame(ids, {"case_id": pl.String, "db_case_id": pl.Int64})
    insert_chunks(
        session,
        HouseholdMember,
        members.join(id_frame, on="case_id", how="inner").select(
            pl.lit(snapshot.id).alias("snapshot_id"),
            pl.col("db_case_id").alias("case_id"),
            "personnummer",
            "name",
            "relation",
            "birth_date",
            "is_child",
        ),
    )
    counts = {
        "snapshot_id": snapshot.id,
        "unchanged": 0,
        "cases": cases.height,
        "members": members.height,
        "children": int(members["is_child"].sum()),
        "caseworkers": caseworkers,
        "invalid_personnummer": int((~cases["valid"]).sum())
        + int(
            (~members["valid"] & ~members["is_child"] & members["personnummer"].is_not_null()).sum()
        ),
        "orphan_members": orphans,
        "relations_guessed": int(members["relation_guessed"].sum()),
    }
    audit(
        session,
        current_actor(),
        "register.import",
        "case_snapshot",
        snapshot.id,
        detail=f"cases={counts['cases']} members={counts['members']}",
    )
    return counts
