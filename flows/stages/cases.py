"""Importing the case register: one dated snapshot per distinct export.

Matching always uses the latest snapshot, and every episode keeps the snapshot it was
matched against, so a later import never rewrites an earlier decision. Children are
counted for their case (relation and birth date only: no name, no personnummer), and
everything else is stored as the case system exported it, normalised.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from connectors.case_register import (
    content_hash,
    read_cases_file,
    read_household_file,
    read_sql,
)
from domain.formatting import local_today
from domain.register import check_case_ids, empty_household, prepare_cases, prepare_household
from models.audit import audit, current_actor
from models.config import Settings
from models.db import session_scope
from models.tables import CaseSnapshot, Caseworker, HouseholdMember, RegisterCase

_CHUNK = 20_000


def _upsert_caseworkers(session, cases: pl.DataFrame) -> int:  # noqa: ANN001 - Session
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
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = builder(Caseworker)
    statement = statement.on_conflict_do_update(
        index_elements=[Caseworker.id],
        set_={
            "name": statement.excluded.name,
            "unit": statement.excluded.unit,
            "email": statement.excluded.email,
        },
    )
    session.execute(statement, workers.to_dicts())
    return workers.height


def _insert_chunks(session, table, rows: pl.DataFrame) -> None:  # noqa: ANN001
    for offset in range(0, rows.height, _CHUNK):
        session.execute(insert(table), rows.slice(offset, _CHUNK).to_dicts())


def import_register(
    engine: Engine,
    settings: Settings,
    cases_path: Path | None,
    household_path: Path | None = None,
    taken_on: date | None = None,
) -> dict[str, int]:
    """Import a register export (or the configured SQL source) as a new dated snapshot.

    Returns counts only. The same content as the latest snapshot creates nothing and
    returns ``unchanged = 1``.
    """
    taken_on = taken_on or local_today()
    if cases_path is None:
        cases, household = read_sql(settings.cases)
        source = "sql"
    else:
        cases = read_cases_file(Path(cases_path), settings.cases)
        household = (
            read_household_file(Path(household_path), settings.cases)
            if household_path is not None
            else None
        )
        source = Path(cases_path).name + (
            f" + {Path(household_path).name}" if household_path else ""
        )
    digest = content_hash(cases, household)
    with session_scope(engine) as session:
        latest = session.scalars(
            select(CaseSnapshot).order_by(CaseSnapshot.id.desc()).limit(1)
        ).first()
        if latest is not None and latest.content_hash == digest:
            return {
                "snapshot_id": latest.id,
                "unchanged": 1,
                "cases": latest.cases,
                "members": latest.members,
            }
    household = household if household is not None else empty_household()
    check_case_ids(cases)
    cases = prepare_cases(cases, taken_on)
    members = prepare_household(household, taken_on)
    known = cases.select("case_id")
    orphans = members.join(known, on="case_id", how="anti").height
    members = members.join(known, on="case_id", how="semi")

    with session_scope(engine) as session:
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
        _insert_chunks(
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
        id_frame = pl.DataFrame(
            {"case_id": [r[0] for r in ids], "db_case_id": [r[1] for r in ids]},
            schema={"case_id": pl.String, "db_case_id": pl.Int64},
        )
        _insert_chunks(
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
                (
                    ~members["valid"] & ~members["is_child"] & members["personnummer"].is_not_null()
                ).sum()
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
