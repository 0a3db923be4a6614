"""Storing a notice file: its row, notices, episodes, transitions and rejections.

All rows of a file, the episodes they open or move and the status transitions are
written in ONE transaction (:func:`store_file`): a crash in the middle leaves nothing,
and a rerun completes it. A notice is stored once per natural key (company, contract
reference, event type, event date, personnummer); a repeat is a duplicate.

Bulk work is polars; rows reach the database through :func:`models.db.bulk_insert`
(COPY on PostgreSQL), with ids reserved up front so that notices, episodes and
transitions can reference each other without a round trip per row.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.orm import Session

from domain.episodes import (
    LATEST_FIELDS,
    OUTCOME_FIELDS,
    EpisodePolicy,
    EpisodeState,
    apply_to_existing,
    plan_new_tenancies,
    with_keys,
)
from domain.notices import ParsedNotices
from domain.vocabulary import Receipt, RejectedRow
from models.audit import audit
from models.config import CompanyConfig
from models.db import (
    UTC_DATETIME,
    bulk_insert,
    chunks,
    existing_values,
    is_postgres,
    lock_table_for_writes,
    reserve_ids,
    session_scope,
)
from models.tables import (
    Episode,
    EpisodeTransition,
    HousingCompany,
    Notice,
    NoticeFile,
    RowRejection,
)
from services.episode_states import load_states

log = logging.getLogger(__name__)

ACTOR = "ingest"
DUPLICATE_REASON = "Dubblett: händelsen finns redan (samma kontrakt, händelse, datum, personnummer)"

NOTICE_COLUMNS = (
    "event_type", "event_date", "contract_ref", "personnummer", "personnummer_valid",
    "tenant_name", "co_tenant_name", "co_tenant_personnummer", "street_address", "apartment",
    "postal_code", "town", "debt_amount", "monthly_rent", "service_date", "eviction_at",
    "email", "phone", "language",
)  # fmt: skip


def ensure_company(session: Session, company: CompanyConfig) -> None:
    """The company row the file belongs to (ingest works before ``init`` synced it)."""
    if session.get(HousingCompany, company.id) is None:
        session.add(
            HousingCompany(id=company.id, name=company.name, landlord_type=company.landlord_type)
        )
        session.flush()


def existing_keys(connection: Connection, company_id: str, keys: pl.Series) -> pl.Series:
    """The natural keys among these that are already stored (only this company's can be)."""
    anything = connection.execute(
        select(Notice.id).where(Notice.company_id == company_id).limit(1)
    ).first()
    if anything is None:
        return pl.Series([], dtype=pl.String)
    found = existing_values(connection, Notice.__table__.c.natural_key, keys.unique().to_list())
    return pl.Series(sorted(found), dtype=pl.String)


class _Clock:
    """Progress of a big file in the log: phase names and seconds, never row content."""

    def __init__(self) -> None:
        """Start timing."""
        self.start = time.perf_counter()

    def lap(self, phase: str) -> None:
        """Log how long the phase since the last lap took."""
        now = time.perf_counter()
        log.info("ingest: %s after %.1f s", phase, now - self.start)
        self.start = now


def find_file(session: Session, company_id: str, digest: str) -> NoticeFile | None:
    """An earlier file of this company with the same content, if any."""
    return session.scalars(
        select(NoticeFile).where(
            NoticeFile.company_id == company_id, NoticeFile.content_hash == digest
        )
    ).first()


class StoredMeanwhile(Exception):
    """Another ingest stored this content while we read it (the retry found it ingested)."""


def store_file(
    engine: Engine,
    policy: EpisodePolicy,
    company: CompanyConfig,
    filename: str,
    digest: str,
    encoding: str,
    parsed: ParsedNotices,
    received_on: date,
    retry_of: int | None = None,
    *,
    archive_path: str | None = None,
    notes: list[str] | None = None,
) -> tuple[dict[str, int], list[int], int]:
    """The file's one transaction: file row, notices, episodes, transitions, rejections.

    ``retry_of`` is the id of this content's earlier row that was rejected as a whole:
    that row becomes the ingested file (the unique key is company + content hash).
    ``archive_path`` is where the file already lies; ``notes`` the receipt's remarks,
    stored as ``note`` rows so that a receipt fetched later still has them.
    """
    with session_scope(engine) as session:
        ensure_company(session, company)
        earlier = ""
        if retry_of is None:
            notice_file = NoticeFile(
                company_id=company.id,
                filename=filename[:300],
                content_hash=digest,
                status="ingested",
                encoding=encoding,
                archive_path=archive_path,
            )
            session.add(notice_file)
        else:
            found = session.get(NoticeFile, retry_of, with_for_update=True)
            if found is None or found.status != "rejected":
                raise StoredMeanwhile
            notice_file = found
            notice_file.filename = filename[:300]
            notice_file.status = "ingested"
            notice_file.encoding = encoding
            notice_file.file_error = None
            notice_file.archive_path = archive_path
            notice_file.received_at = datetime.now(UTC)
            earlier = " previously_rejected=yes"
        session.flush()  # takes SQLite's write lock before keys are checked and ids reserved
        counts, duplicate_rows = store_rows(
            session, policy, company, notice_file, parsed, received_on
        )
        session.add_all(
            RowRejection(file_id=notice_file.id, row_number=0, reason=note, kind="note")
            for note in notes or ()
        )
        notice_file.rows_read = parsed.rows_read
        notice_file.rows_accepted = counts["accepted"]
        notice_file.rows_rejected = parsed.rejected.height
        notice_file.rows_duplicate = counts["duplicates"]
        audit(
            session,
            ACTOR,
            "ingest_file",
            "notice_file",
            notice_file.id,
            detail=f"accepted={counts['accepted']} rejected={parsed.rejected.height} "
            f"duplicates={counts['duplicates']} episodes_new={counts['episodes_new']} "
            f"episodes_reopened={counts['episodes_reopened']}" + earlier,
        )
        return counts, duplicate_rows, notice_file.id


def record_rejection(
    engine: Engine,
    company: CompanyConfig,
    receipt: Receipt,
    error: str,
    retry_of: int | None,
    archive_path: Path | None,
) -> tuple[int, Path | None]:
    """Remember a file rejected as a whole (by its hash), with why and where it lies.

    Content rejected before (``retry_of``) keeps its one row, with the new reason.
    Returns the file id and where the earlier rejected copy lay, if anywhere.
    """
    with session_scope(engine) as session:
        ensure_company(session, company)
        row = session.get(NoticeFile, retry_of) if retry_of is not None else None
        if row is None or row.status != "rejected":
            row = NoticeFile(
                company_id=company.id,
                filename=receipt.filename[:300],
                content_hash=receipt.content_hash,
                status="rejected",
                file_error=error,
            )
            session.add(row)
            detail = None
        else:
            row.filename = receipt.filename[:300]
            row.file_error = error
            row.received_at = datetime.now(UTC)
            detail = "read again after an earlier rejection"
        earlier = row.archive_path
        if archive_path is not None:
            row.archive_path = str(archive_path)
        session.flush()
        audit(session, ACTOR, "reject_file", "notice_file", row.id, detail=detail)
        return row.id, Path(earlier) if earlier else None


def record_archive_path(engine: Engine, file_id: int, path: Path) -> None:
    """Where a stored file lies now (its archiving had failed when it was ingested)."""
    with session_scope(engine) as session:
        stored = session.get(NoticeFile, file_id)
        if stored is not None:
            stored.archive_path = str(path)


def stored_receipt(
    engine: Engine, previous: NoticeFile, filename: str, *, already_received: bool = True
) -> Receipt:
    """The stored receipt of an earlier file with the same content: counts and reasons."""
    with session_scope(engine) as session:
        rejections = session.execute(
            select(RowRejection.row_number, RowRejection.reason)
            .where(RowRejection.file_id == previous.id, RowRejection.kind == "rejected")
            .order_by(RowRejection.row_number)
        ).all()
        notes = session.scalars(
            select(RowRejection.reason)
            .where(RowRejection.file_id == previous.id, RowRejection.kind == "note")
            .order_by(RowRejection.id)
        ).all()
    return Receipt(
        filename=filename,
        company_id=previous.company_id,
        content_hash=previous.content_hash,
        rows_read=previous.rows_read,
        accepted=previous.rows_accepted,
        rejected=previous.rows_rejected,
        duplicates=previous.rows_duplicate,
        already_received=already_received,
        file_error=previous.file_error,
        rejections=[RejectedRow(row_number=n, reason=r) for n, r in rejections],
        notes=list(notes),
    )


def store_rows(
    session: Session,
    policy: EpisodePolicy,
    company: CompanyConfig,
    notice_file: NoticeFile,
    parsed: ParsedNotices,
    received_on: date,
) -> tuple[dict[str, int], list[int]]:
    """Write notices, episodes, transitions and rejections for one file (caller's transaction)."""
    connection = session.connection()
    # Ingests take turns, so the duplicate check below sees every notice committed
    # before this file's rows are written.
    lock_table_for_writes(connection, "notice")
    clock = _Clock()
    notices = with_keys(parsed.accepted, company.id)
    clock.lap("keys")
    first_in_file = notices.select(pl.col("natural_key").is_first_distinct()).to_series()
    stored = existing_keys(connection, company.id, notices["natural_key"])
    is_new = first_in_file & ~notices["natural_key"].is_in(stored)
    duplicates = notices.filter(~is_new)
    if duplicates.height:
        notices = notices.filter(is_new)
    duplicate_rows = duplicates["row_number"].to_list()
    clock.lap("duplicate check")

    # Id order decides how fast a big file goes in (the file's order stays in row_number).
    # SQLite: natural-key order, so the unique index grows at its end. PostgreSQL: tenancy
    # order, so the foreign-key checks of notices and transitions (which lock the rows
    # they point at) walk episodes and notices in order instead of all over the table.
    if is_postgres(connection):
        notices = notices.sort(["tenancy_key", "event_date", "row_number"])
    else:
        notices = notices.sort("natural_key")
    ids = reserve_ids(connection, "notice", notices.height)
    notices = notices.with_columns(notice_id=pl.Series(ids, dtype=pl.Int64))

    states = load_states(session, company.id, notices["tenancy_key"])
    if states:
        known = notices["tenancy_key"].is_in(pl.Series(list(states), dtype=pl.String))
        fresh, existing = notices.filter(~known), notices.filter(known)
    else:
        fresh, existing = notices, notices.clear()
    clock.lap("stored episodes")

    plan = plan_new_tenancies(fresh, policy, received_on)
    clock.lap("episode plan")
    existing_plan = apply_to_existing(
        states, existing.to_dicts(), policy, received_on, plan.episodes.height
    )
    new_states = [e for e in existing_plan.episodes if e.id is None]
    episode_ids = reserve_ids(connection, "episode", plan.episodes.height + len(new_states))
    id_of_seg = pl.Series("episode_id", episode_ids, dtype=pl.Int64)

    now = datetime.now(UTC)
    episodes = _episode_frame(plan.episodes, new_states, id_of_seg, company.id, now)
    bulk_insert(connection, Episode.__table__, episodes)
    clock.lap("episodes written")

    updated = update_episodes(connection, existing_plan.episodes, now)
    reopened = clear_outcomes(connection, existing_plan.episodes)

    assignment = _seg_to_id(plan.assignment, "seg_index", "episode_id", id_of_seg).select(
        "notice_id", "episode_id"
    )
    extra = pl.DataFrame(
        {
            "notice_id": list(existing_plan.assignment),
            "episode_id": [
                _episode_id(state, id_of_seg) for state in existing_plan.assignment.values()
            ],
        },
        schema={"notice_id": pl.Int64, "episode_id": pl.Int64},
    )
    assignment = pl.concat([assignment, extra])
    notice_rows = notices.join(assignment, on="notice_id", how="left").select(
        pl.col("notice_id").alias("id"),
        pl.col("natural_key"),
        pl.lit(notice_file.id, dtype=pl.Int64).alias("file_id"),
        pl.col("row_number"),
        pl.lit(company.id).alias("company_id"),
        pl.col("episode_id"),
        *NOTICE_COLUMNS,
        pl.lit(now, dtype=UTC_DATETIME).alias("received_at"),
    )
    bulk_insert(connection, Notice.__table__, notice_rows)
    clock.lap("notices written")

    transitions = transition_frame(plan.transitions, existing_plan.transitions, id_of_seg, now)
    bulk_insert(connection, EpisodeTransition.__table__, transitions)
    clock.lap("transitions written")

    rejections = pl.concat(
        [
            parsed.rejected.join(parsed.rejected_refs, on="row_number", how="left").select(
                pl.col("row_number"),
                pl.col("reason"),
                pl.lit("rejected").alias("kind"),
                pl.col("contract_ref"),
                pl.lit(None, dtype=pl.Int64).alias("repeats_file_id"),
                pl.lit(None, dtype=pl.Int64).alias("repeats_row"),
            ),
            _duplicate_rejections(connection, duplicates, notices, notice_file.id),
        ]
    ).with_columns(file_id=pl.lit(notice_file.id, dtype=pl.Int64))
    bulk_insert(connection, RowRejection.__table__, rejections)
    counts = {
        "accepted": notices.height,
        "duplicates": duplicates.height,
        "episodes_new": episodes.height,
        "episodes_updated": updated,
        "episodes_reopened": reopened,
        "transitions": transitions.height,
    }
    return counts, duplicate_rows



def _duplicate_rejections(
    connection: Connection, duplicates: pl.DataFrame, stored_now: pl.DataFrame, file_id: int
) -> pl.DataFrame:
    """Duplicate rows with the file and row each one repeats, for the company's receipt.

    A duplicate repeats either a notice stored from an earlier file or the first row
    with the same natural key in this file (``stored_now``: the rows being stored).
    """
    frame = duplicates.select("row_number", "natural_key", pl.col("contract_ref").str.slice(0, 100))
    in_file = stored_now.select(
        "natural_key",
        pl.lit(file_id, dtype=pl.Int64).alias("repeats_file_id"),
        pl.col("row_number").alias("repeats_row"),
    )
    in_this_file = set(in_file["natural_key"].to_list()) if frame.height else set()
    keys = [k for k in frame["natural_key"].unique().to_list() if k not in in_this_file]
    earlier: list[tuple[str, int, int]] = []
    for part in chunks(keys):
        earlier.extend(
            connection.execute(
                select(Notice.natural_key, Notice.file_id, Notice.row_number).where(
                    Notice.natural_key.in_(part)
                )
            ).tuples()
        )
    stored = pl.DataFrame(
        earlier,
        schema={"natural_key": pl.String, "repeats_file_id": pl.Int64, "repeats_row": pl.Int64},
        orient="row",
    )
    originals = pl.concat([in_file.cast({"repeats_row": pl.Int64}), stored])
    return frame.join(originals, on="natural_key", how="left").select(
        pl.col("row_number"),
        pl.lit(DUPLICATE_REASON).alias("reason"),
        pl.lit("duplicate").alias("kind"),
        pl.col("contract_ref"),
        pl.col("repeats_file_id"),
        pl.col("repeats_row"),
    )

def _seg_to_id(frame: pl.DataFrame, source: str, target: str, ids: pl.Series) -> pl.DataFrame:
    """Replace planned segment numbers by the reserved episode ids (a join, order kept)."""
    mapping = pl.DataFrame({source: pl.Series(range(len(ids)), dtype=pl.Int64), target: ids})
    return frame.with_columns(pl.col(source).cast(pl.Int64)).join(
        mapping, on=source, how="left", maintain_order="left"
    )


def _episode_id(state: EpisodeState, id_of_seg: pl.Series) -> int:
    """The database id of a stored or newly planned episode."""
    return state.id if state.id is not None else int(id_of_seg[state.seg_index])


EPISODE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "company_id": pl.String(),
    "tenancy_key": pl.String(),
    "contract_ref": pl.String(),
    "personnummer": pl.String(),
    "personnummer_valid": pl.Boolean(),
    "tenant_name": pl.String(),
    "co_tenant_name": pl.String(),
    "co_tenant_personnummer": pl.String(),
    "street_address": pl.String(),
    "apartment": pl.String(),
    "postal_code": pl.String(),
    "town": pl.String(),
    "email": pl.String(),
    "phone": pl.String(),
    "language": pl.String(),
    "status": pl.String(),
    "opened_on": pl.Date(),
    "first_notice_date": pl.Date(),
    "service_date": pl.Date(),
    "deadline_date": pl.Date(),
    "deadline_estimated": pl.Boolean(),
    "debt_amount": pl.Float64(),
    "monthly_rent": pl.Float64(),
    "eviction_at": UTC_DATETIME,
    "reached_payment_order": pl.Boolean(),
    "previous_episode_id": pl.Int64(),
    "is_recurrence": pl.Boolean(),
    "last_event_date": pl.Date(),
    "has_children": pl.Boolean(),
    "children_count": pl.Int32(),
    "created_at": UTC_DATETIME,
    "updated_at": UTC_DATETIME,
}


def _episode_frame(
    planned: pl.DataFrame,
    new_states: list[EpisodeState],
    id_of_seg: pl.Series,
    company_id: str,
    now: datetime,
) -> pl.DataFrame:
    """New episodes (vectorised plan and Python-path recurrences) as insertable rows."""
    frame = _seg_to_id(planned, "seg_index", "id", id_of_seg)
    frame = _seg_to_id(frame, "prev_seg_index", "previous_episode_id", id_of_seg)
    records = []
    for state in new_states:
        values = {k: v for k, v in state.values.items() if not k.startswith("_")}
        previous = state.prev_id
        if previous is None and state.prev_seg_index is not None:
            previous = int(id_of_seg[state.prev_seg_index])
        records.append(
            {
                **{k: values.get(k) for k in EPISODE_SCHEMA if k in values},
                "id": int(id_of_seg[state.seg_index]),
                "tenancy_key": state.tenancy_key,
                "status": state.status,
                "opened_on": values.get("opened_on"),
                "first_notice_date": state.first_notice_date,
                "last_event_date": state.last_event_date,
                "previous_episode_id": previous,
                "is_recurrence": state.is_recurrence,
                "personnummer_valid": bool(values.get("personnummer_valid")),
                "reached_payment_order": bool(values.get("reached_payment_order")),
                "deadline_estimated": bool(values.get("deadline_estimated")),
            }
        )
    constant = {
        "company_id": pl.lit(company_id),
        "has_children": pl.lit(False),
        "children_count": pl.lit(0, dtype=pl.Int32),
        "created_at": pl.lit(now, dtype=UTC_DATETIME),
        "updated_at": pl.lit(now, dtype=UTC_DATETIME),
    }
    parts = [
        frame.with_columns(**constant).select(
            [
                pl.col(c).cast(t)
                if c in frame.columns or c in constant
                else pl.lit(None, t).alias(c)
                for c, t in EPISODE_SCHEMA.items()
            ]
        )
    ]
    if records:
        extra = pl.DataFrame(
            [{k: r.get(k) for k in EPISODE_SCHEMA} for r in records],
            schema=EPISODE_SCHEMA,
        ).with_columns(**constant)
        parts.append(extra.select(list(EPISODE_SCHEMA)))
    return pl.concat(parts).sort("id")


UPDATED_FIELDS = (
    "status", "first_notice_date", "last_event_date", *LATEST_FIELDS, "personnummer",
    "personnummer_valid", "service_date", "deadline_date", "deadline_estimated",
    "reached_payment_order", "updated_at",
)  # fmt: skip


def update_episodes(connection: Connection, states: list[EpisodeState], now: datetime) -> int:
    """Write stored episodes' new state (status, dates, latest contact fields) in one
    executemany: per-object ORM updates cost a query each for thousands of episodes."""
    stored = [state for state in states if state.id is not None]
    if not stored:
        return 0
    table = Episode.__table__
    records = []
    for state in stored:
        values = state.values
        record = {name: values.get(name) for name in UPDATED_FIELDS}
        record.update(
            b_id=state.id,
            status=state.status,
            first_notice_date=state.first_notice_date,
            last_event_date=state.last_event_date,
            personnummer_valid=bool(values.get("personnummer_valid")),
            reached_payment_order=bool(values.get("reached_payment_order")),
            deadline_estimated=bool(values.get("deadline_estimated")),
            updated_at=now,
        )
        records.append(record)
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(name) for name in UPDATED_FIELDS})
    )
    connection.execute(statement, records)
    return len(records)


def clear_outcomes(connection: Connection, states: list[EpisodeState]) -> int:
    """Clear the stored outcome of closed episodes a later event re-opened; returns how many.

    Only these rows: every other episode keeps its outcome untouched. The outcome rules
    then treat them like any open episode (a later settlement closes them again).
    """
    ids = [state.id for state in states if state.reopened and state.id is not None]
    if not ids:
        return 0
    table = Episode.__table__
    for chunk in chunks(ids):
        connection.execute(
            update(table).where(table.c.id.in_(chunk)).values(dict.fromkeys(OUTCOME_FIELDS))
        )
    return len(ids)


def transition_frame(
    planned: pl.DataFrame, extra: list[dict[str, Any]], id_of_seg: pl.Series, now: datetime
) -> pl.DataFrame:
    """Transitions of both episode paths as one insertable frame."""
    schema = {
        "episode_id": pl.Int64,
        "notice_id": pl.Int64,
        "from_status": pl.String,
        "to_status": pl.String,
        "effective_date": pl.Date,
        "reason": pl.String,
    }
    frame = (
        _seg_to_id(planned, "seg_index", "episode_id", id_of_seg).select(list(schema)).cast(schema)  # type: ignore[arg-type]
    )
    if extra:
        rows = [
            {
                "episode_id": _episode_id(t["episode"], id_of_seg),
                **{
                    k: t[k]
                    for k in ("notice_id", "from_status", "to_status", "effective_date", "reason")
                },
            }
            for t in extra
        ]
        frame = pl.concat([frame, pl.DataFrame(rows, schema=schema)])
    return frame.with_columns(at=pl.lit(now, dtype=UTC_DATETIME))
