"""Retention's reads and deletes: entry dates, batches of episodes, snapshots, archives.

``flows.stages.retention`` asks :mod:`domain.retention` which episodes are due, then
deletes them here one batch per transaction, with everything that refers to them.
Only ids, dates and counts leave these functions, except :func:`load_episodes` and
:func:`kept_people`, whose personal numbers stay in memory to tell people apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import (
    Column,
    ColumnElement,
    Exists,
    Select,
    bindparam,
    case,
    delete,
    exists,
    func,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import QueryableAttribute, Session

from domain import retention as rt
from domain.vocabulary import OPEN_STATUSES
from models.db import rowcount
from models.tables import (
    Activity,
    Appointment,
    AppointmentSlot,
    Base,
    CaseSnapshot,
    Episode,
    EpisodeTransition,
    HouseholdMember,
    Letter,
    Match,
    Notice,
    NoticeFile,
    RegisterCase,
    Task,
)

STOCKHOLM_TZ = "Europe/Stockholm"
_UTC = pl.Datetime("us", "UTC")

#: Tables retention deletes explicitly (in this order: referrers before referred).
_HANDLED = ("letter", "episode_transition", "match", "activity", "task", "appointment", "notice")


def _local_dates(values: Sequence[object]) -> pl.Series:
    """UTC timestamps (aware, or naive as SQLite returns them) as Stockholm dates."""
    return (
        pl.Series(values, dtype=_UTC).dt.convert_time_zone(STOCKHOLM_TZ).dt.date()
        if values
        else pl.Series([], dtype=pl.Date)
    )


def _span(
    session: Session,
    episode_id: QueryableAttribute[Any],
    column: QueryableAttribute[Any],
    join: tuple[Any, Any] | None = None,
) -> pl.DataFrame:
    """(episode_id, first, last) of one date or timestamp column, grouped in the database."""
    statement: Select[Any, Any, Any] = select(episode_id, func.min(column), func.max(column))
    if join is not None:
        statement = statement.join(*join)
    rows = session.execute(
        statement.where(episode_id.is_not(None), column.is_not(None)).group_by(episode_id)
    ).all()
    ids = [r[0] for r in rows]
    if column.type.python_type is date:
        first = pl.Series([r[1] for r in rows], dtype=pl.Date)
        last = pl.Series([r[2] for r in rows], dtype=pl.Date)
    else:
        first, last = _local_dates([r[1] for r in rows]), _local_dates([r[2] for r in rows])
    return pl.DataFrame(
        {"episode_id": pl.Series(ids, dtype=pl.Int64), "first": first, "last": last}
    )


def load_entries(session: Session) -> pl.DataFrame:
    """Every kind of entry an episode has, as (episode_id, first, last) dates.

    An entry is anything written about the episode: the notices (event date and the day
    received), the episode's own dates (opened, first notice, last event, matched,
    outcome), status transitions, activities, appointments (booked, changed, the
    meeting), letters (run day, sent), tasks (created, done) and match decisions.
    Planned dates (deadlines, due dates, eviction times) are not entries.
    """
    slot_join = (AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
    spans = [
        _span(session, Episode.id, Episode.opened_on),
        _span(session, Episode.id, Episode.first_notice_date),
        _span(session, Episode.id, Episode.last_event_date),
        _span(session, Episode.id, Episode.outcome_date),
        _span(session, Episode.id, Episode.matched_at),
        _span(session, Notice.episode_id, Notice.event_date),
        _span(session, Notice.episode_id, Notice.received_at),
        _span(session, EpisodeTransition.episode_id, EpisodeTransition.at),
        _span(session, EpisodeTransition.episode_id, EpisodeTransition.effective_date),
        _span(session, Activity.episode_id, Activity.on_date),
        _span(session, Activity.episode_id, Activity.at),
        _span(session, Appointment.episode_id, Appointment.booked_at),
        _span(session, Appointment.episode_id, Appointment.updated_at),
        _span(session, Appointment.episode_id, AppointmentSlot.starts_at, slot_join),
        _span(session, Letter.episode_id, Letter.created_on),
        _span(session, Letter.episode_id, Letter.sent_at),
        _span(session, Task.episode_id, Task.created_at),
        _span(session, Task.episode_id, Task.done_at),
        _span(session, Match.episode_id, Match.created_at),
        _span(session, Match.episode_id, Match.decided_at),
    ]
    return pl.concat(spans, how="vertical").cast(rt.ENTRY_SCHEMA)  # type: ignore[arg-type]


def load_episodes(session: Session) -> pl.DataFrame:
    """Id, status and the two personal numbers of every episode (kept in memory only)."""
    rows = session.execute(
        select(Episode.id, Episode.status, Episode.personnummer, Episode.co_tenant_personnummer)
    ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=rt.EPISODE_SCHEMA, orient="row")


def _extra_episode_references() -> list[Column[Any]]:
    """Foreign keys to ``episode.id`` in tables this stage does not know by name.

    Rows there are deleted with their episode, so a table added later cannot make
    retention fail or leave personal data behind.
    """
    columns: list[Column[Any]] = []
    for table in Base.metadata.sorted_tables:
        if table.name in _HANDLED or table.name == "episode":
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "episode":
                columns.append(fk.parent)
    return columns


def _count(session: Session, statement: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)


def _delete(
    session: Session, table: type[Base], condition: ColumnElement[bool], dry_run: bool
) -> int:
    """Delete the rows (or, dry run, count them)."""
    if dry_run:
        return _count(session, select(table.__table__).where(condition))
    return rowcount(session.execute(delete(table).where(condition)))


def _free_slots(session: Session, ids: list[int], dry_run: bool) -> int:
    """Give back the slot places the episodes' appointments hold (cancelled ones already did)."""
    held = session.execute(
        select(Appointment.slot_id, func.count())
        .where(Appointment.episode_id.in_(ids), Appointment.status != "cancelled")
        .group_by(Appointment.slot_id)
    ).all()
    if held and not dry_run:
        slots = AppointmentSlot.__table__
        session.execute(
            update(slots)
            .where(slots.c.id == bindparam("sid"))
            .values(
                booked=case(
                    (slots.c.booked > bindparam("n"), slots.c.booked - bindparam("n")), else_=0
                )
            ),
            [{"sid": slot_id, "n": int(n)} for slot_id, n in held],
        )
    return sum(int(n) for _, n in held)


def purge_batch(
    session: Session, ids: list[int], *, dry_run: bool = False
) -> tuple[Counter[str], list[Path]]:
    """Delete a batch of episodes and every row that refers to them, in the caller's transaction.

    Returns the counts and the letters' PDF paths (to delete once the transaction has
    committed).
    """
    counts: Counter[str] = Counter()
    appointment_ids = select(Appointment.id).where(Appointment.episode_id.in_(ids))
    notice_ids = select(Notice.id).where(Notice.episode_id.in_(ids))
    letter_match = or_(Letter.episode_id.in_(ids), Letter.appointment_id.in_(appointment_ids))
    pdfs = [Path(p) for p in session.scalars(select(Letter.pdf_path).where(letter_match)) if p]

    counts["slot_places_freed"] = _free_slots(session, ids, dry_run)
    counts["letters"] = _delete(session, Letter, letter_match, dry_run)
    counts["transitions"] = _delete(
        session, EpisodeTransition, EpisodeTransition.episode_id.in_(ids), dry_run
    )
    if not dry_run:
        # A transition of another episode never points at these notices; be sure anyway.
        session.execute(
            update(EpisodeTransition)
            .where(EpisodeTransition.notice_id.in_(notice_ids))
            .values(notice_id=None)
        )
    counts["matches"] = _delete(session, Match, Match.episode_id.in_(ids), dry_run)
    counts["activities"] = _delete(session, Activity, Activity.episode_id.in_(ids), dry_run)
    counts["tasks"] = _delete(session, Task, Task.episode_id.in_(ids), dry_run)
    counts["appointments"] = _delete(session, Appointment, Appointment.episode_id.in_(ids), dry_run)
    counts["notices"] = _delete(session, Notice, Notice.episode_id.in_(ids), dry_run)
    for column in _extra_episode_references():
        key = f"{column.table.name}_rows"
        if dry_run:
            counts[key] += _count(session, select(column.table).where(column.in_(ids)))
        else:
            counts[key] += int(
                rowcount(session.execute(delete(column.table).where(column.in_(ids))))
            )
    if not dry_run:
        # A later episode of the same tenancy may name one of these as its predecessor;
        # its is_recurrence flag stays, the link goes.
        session.execute(
            update(Episode)
            .where(Episode.previous_episode_id.in_(ids))
            .values(previous_episode_id=None)
        )
    counts["episodes"] = _delete(session, Episode, Episode.id.in_(ids), dry_run)
    if not dry_run:
        # A tenant's "no SMS" choice goes with the last episode that could find them.
        from services.reminders import forget_orphan_sms_choices

        counts["sms_choices"] = forget_orphan_sms_choices(session)
    return counts, pdfs


def _snapshot_references(session: Session, leaving: set[int]) -> set[int]:
    """Snapshots an episode or match refers to (directly, or through a case or member).

    References from the episodes in ``leaving`` (being deleted) do not count, so a dry
    run counts the snapshots the real run would delete.
    """
    case_snapshot = (
        select(RegisterCase.snapshot_id).where(RegisterCase.id == Episode.case_id).scalar_subquery()
    )
    episode_rows = session.execute(select(Episode.id, Episode.snapshot_id, case_snapshot)).all()
    match_rows = session.execute(
        select(
            Match.episode_id,
            Match.snapshot_id,
            select(RegisterCase.snapshot_id)
            .where(RegisterCase.id == Match.case_id)
            .scalar_subquery(),
            select(HouseholdMember.snapshot_id)
            .where(HouseholdMember.id == Match.member_id)
            .scalar_subquery(),
        )
    ).all()
    frames = [
        pl.DataFrame(
            [(r[0], v) for r in rows for v in r[1:]],
            schema={"episode_id": pl.Int64, "snapshot_id": pl.Int64},
            orient="row",
        )
        for rows in (episode_rows, match_rows)
    ]
    refs = pl.concat(frames, how="vertical").filter(
        pl.col("snapshot_id").is_not_null()
        & ~pl.col("episode_id").is_in(pl.Series(sorted(leaving), dtype=pl.Int64).implode())
    )
    return set(refs["snapshot_id"].unique().to_list())


def purge_snapshots(
    session: Session, *, dry_run: bool = False, leaving: Iterable[int] = ()
) -> Counter[str]:
    """Delete register snapshots older than the latest that no episode or match refers to."""
    counts: Counter[str] = Counter()
    # The latest import, as matching takes it.
    latest = session.scalar(select(CaseSnapshot.id).order_by(CaseSnapshot.id.desc()).limit(1))
    if latest is None:
        return counts
    referenced = _snapshot_references(session, set(leaving)) | {latest}
    old = sorted(set(session.scalars(select(CaseSnapshot.id))) - referenced)
    if not old:
        return counts
    counts["household_members"] = _delete(
        session, HouseholdMember, HouseholdMember.snapshot_id.in_(old), dry_run
    )
    counts["register_cases"] = _delete(
        session, RegisterCase, RegisterCase.snapshot_id.in_(old), dry_run
    )
    counts["register_snapshots"] = _delete(session, CaseSnapshot, CaseSnapshot.id.in_(old), dry_run)
    return counts


def _open_notice() -> Exists:
    """The file holds a notice of an open episode (so the file itself is kept)."""
    return exists().where(
        Notice.file_id == NoticeFile.id,
        Notice.episode_id == Episode.id,
        Episode.status.in_(sorted(str(s) for s in OPEN_STATUSES)),
    )


def kept_people(session: Session, leaving: Iterable[int] = ()) -> pl.Series:
    """Every personnummer (tenant or co-tenant) the database keeps, as 12 digits.

    Episodes in ``leaving`` (being deleted, for a dry run's counts) do not count.
    """
    gone = pl.Series(sorted(set(leaving)), dtype=pl.Int64).implode()
    frames = []
    for table in (Episode, Notice):
        owner = Episode.id if table is Episode else Notice.episode_id
        rows = session.execute(
            select(owner, table.personnummer, table.co_tenant_personnummer)
        ).all()
        frame = pl.DataFrame(
            [tuple(r) for r in rows],
            schema={"id": pl.Int64, "a": pl.String, "b": pl.String},
            orient="row",
        ).filter(pl.col("id").is_null() | ~pl.col("id").is_in(gone))
        frames += [frame["a"], frame["b"].alias("a")]
    return pl.concat(frames).drop_nulls().unique()


@dataclass(frozen=True)
class ArchivedFile:
    """An archived notice file: its ``notice_file`` id, company, path and day received."""

    id: int
    company_id: str
    path: Path
    received_on: date


def _archived_files(rows: Sequence[Any]) -> list[ArchivedFile]:
    received = _local_dates([r[3] for r in rows]).to_list()
    return [
        ArchivedFile(file_id, company_id, Path(name), day)
        for (file_id, company_id, name, _), day in zip(rows, received, strict=True)
    ]


def unneeded_archives(session: Session) -> list[ArchivedFile]:
    """Archived files still on disk none of whose notices belongs to an open episode."""
    rows = session.execute(
        select(
            NoticeFile.id, NoticeFile.company_id, NoticeFile.archive_path, NoticeFile.received_at
        ).where(
            NoticeFile.archive_path.is_not(None),
            NoticeFile.archive_deleted_on.is_(None),
            not_(_open_notice()),
        )
    ).all()
    return _archived_files(rows)


def archives_of_open_episodes(session: Session) -> list[ArchivedFile]:
    """Ingested archived files still on disk that hold a notice of an open episode."""
    rows = session.execute(
        select(
            NoticeFile.id, NoticeFile.company_id, NoticeFile.archive_path,
            NoticeFile.received_at,
        ).where(
            NoticeFile.archive_path.is_not(None),
            NoticeFile.archive_deleted_on.is_(None),
            NoticeFile.status == "ingested",
            _open_notice(),
        )
    ).all()  # fmt: skip
    return _archived_files(rows)


def mark_archives_deleted(session: Session, file_ids: list[int], run_date: date) -> None:
    """Record that these files' archived originals were deleted on ``run_date``."""
    session.execute(
        update(NoticeFile).where(NoticeFile.id.in_(file_ids)).values(archive_deleted_on=run_date)
    )


def set_archive_path(session: Session, file_id: int, path: Path) -> None:
    """Point the file's row at its rewritten (redacted) archive copy."""
    session.execute(
        update(NoticeFile).where(NoticeFile.id == file_id).values(archive_path=str(path))
    )
