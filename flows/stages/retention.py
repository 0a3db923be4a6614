"""Retention (gallring): delete closed episodes' personal data once the law says so.

The rule is :mod:`domain.retention`; this stage reads the dates it needs, and then:

1. stores the anonymous statistics of every month the deleted episodes touch
   (:func:`flows.stages.statistics.refresh_stat_facts_for`), so every report gives the
   same numbers afterwards, and freezes those months for good; months already frozen
   are left as they are;
2. deletes, one transaction per batch of episodes, the episodes and everything that
   refers to them: notices, transitions, matches, appointments (their slot places are
   freed), letters (and their PDFs under ``paths.letters_dir``), activities and tasks,
   with one audit entry of counts per batch;
3. deletes register snapshots older than the latest that nothing refers to any more;
4. deletes archived notice files that no longer hold anything needed (see
   :func:`purge_notice_archives`), rewrites the archived files it must keep (a tenant's
   episode is still open) without the rows of people no longer kept
   (:func:`redact_notice_archives`), and deletes print batches past the retention
   period and worklist files older than ``retention.worklist_days``.

Not part of the daily flow: an operator runs ``kvarboende retention`` in January.
Counts only are returned, logged and audited; never a personnummer or name.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import (
    Column,
    Engine,
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
from sqlalchemy.orm import Session

from connectors.notice_files import read_notice_bytes
from domain import retention as rt
from domain.notices import map_headers
from domain.vocabulary import OPEN_STATUSES
from models.audit import audit
from models.config import CompanyConfig, Settings
from models.db import session_scope
from models.errors import KvarboendeError
from models.privacy import write_private
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

log = logging.getLogger(__name__)

ACTOR = "retention"
BATCH_SIZE = 500
STOCKHOLM_TZ = "Europe/Stockholm"
_UTC = pl.Datetime("us", "UTC")
_PRINT_BATCH = re.compile(r"^(\d{4}-\d{2}-\d{2})-\d+\.(pdf|csv)$")
_DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: Tables this stage deletes explicitly (in this order: referrers before referred).
_HANDLED = ("letter", "episode_transition", "match", "activity", "task", "appointment", "notice")


class RetentionError(KvarboendeError):
    """Retention cannot run safely with this configuration or data."""


def rule_of(settings: Settings) -> rt.RetentionRule:
    """The configured rule, or a one-line RetentionError."""
    try:
        return rt.RetentionRule.of(
            settings.retention.years_after_last_entry, settings.retention.keep_birth_days
        )
    except ValueError as exc:
        raise RetentionError(f"retention: {exc}") from None


def check_statistics_freeze(settings: Settings) -> None:
    """Refuse when a later refresh could recompute (and lower) a month after deletion.

    The deleted episodes' months are at least 12 x years + 1 months old on the run
    date; the statistics freeze them only when ``freeze_after_months`` is at most
    12 x years.
    """
    limit = 12 * settings.retention.years_after_last_entry
    if settings.statistics.freeze_after_months > limit:
        raise RetentionError(
            f"statistics.freeze_after_months ({settings.statistics.freeze_after_months}) must "
            f"be at most {limit} (12 x retention.years_after_last_entry), or reports would "
            "change after retention"
        )


# ----------------------------------------------------------------------------- reading


def _local_dates(values: Sequence[object]) -> pl.Series:
    """UTC timestamps (aware, or naive as SQLite returns them) as Stockholm dates."""
    return (
        pl.Series(values, dtype=_UTC).dt.convert_time_zone(STOCKHOLM_TZ).dt.date()
        if values
        else pl.Series([], dtype=pl.Date)
    )


def _span(
    session: Session, episode_id: Column, column: Column, join: object = None
) -> pl.DataFrame:
    """(episode_id, first, last) of one date or timestamp column, grouped in the database."""
    statement: Select = select(episode_id, func.min(column), func.max(column))
    if join is not None:
        statement = statement.join(*join)  # type: ignore[misc]
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


def retention_decisions(engine: Engine, run_date: date, rule: rt.RetentionRule) -> pl.DataFrame:
    """The rule's decision for every episode on ``run_date`` (:func:`domain.retention.decide`)."""
    with session_scope(engine) as session:
        episodes = load_episodes(session)
        entries = load_entries(session)
    return rt.decide(episodes, entries, run_date, rule)


# ----------------------------------------------------------------------------- deleting


def _in_dir(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _unlink(paths: Iterable[Path], folder: Path) -> int:
    """Delete the files that lie under ``folder``; returns how many were removed."""
    removed = 0
    for path in paths:
        if _in_dir(path, folder) and path.is_file():
            path.unlink()
            removed += 1
    return removed


def _extra_episode_references() -> list[Column]:
    """Foreign keys to ``episode.id`` in tables this stage does not know by name.

    Rows there are deleted with their episode, so a table added later cannot make
    retention fail or leave personal data behind.
    """
    columns: list[Column] = []
    for table in Base.metadata.sorted_tables:
        if table.name in _HANDLED or table.name == "episode":
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "episode":
                columns.append(fk.parent)
    return columns


def _count(session: Session, statement: Select) -> int:
    return int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)


def _delete(session: Session, table: type[Base], condition: object, dry_run: bool) -> int:
    """Delete the rows (or, dry run, count them)."""
    if dry_run:
        return _count(session, select(table.__table__).where(condition))  # type: ignore[arg-type]
    return int(session.execute(delete(table).where(condition)).rowcount or 0)  # type: ignore[arg-type]


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
                session.execute(delete(column.table).where(column.in_(ids))).rowcount or 0
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


def purge_notice_archives(
    engine: Engine, settings: Settings, run_date: date, rule: rt.RetentionRule, *, dry_run: bool
) -> Counter[str]:
    """Delete archived notice files that hold nothing the database still needs.

    An archived file (in ``paths.archive_dir``, or ``paths.rejected_dir`` for files
    rejected whole) is the company's original and holds every row, also of tenants
    whose data retention has deleted. It is deleted when it was received long enough
    ago to be due itself and none of its notices belongs to an open episode: the
    notices still kept (for research, or for a person's later episode) are all in the
    database, so the original is not needed for them. The ``notice_file`` row stays,
    with its counts and ``archive_deleted_on`` set: it holds no personal data and its
    content hash keeps the same file from being ingested again.
    """
    counts: Counter[str] = Counter()
    open_notice = _open_notice()
    with session_scope(engine) as session:
        rows = session.execute(
            select(NoticeFile.id, NoticeFile.archive_path, NoticeFile.received_at).where(
                NoticeFile.archive_path.is_not(None),
                NoticeFile.archive_deleted_on.is_(None),
                not_(open_notice),
            )
        ).all()
    received = _local_dates([r[2] for r in rows]).to_list()
    due = [
        (file_id, Path(path))
        for (file_id, path, _), day in zip(rows, received, strict=True)
        if rt.past_retention(day, run_date, rule)
    ]
    folders = (settings.paths.archive_dir, settings.paths.rejected_dir)
    # A path outside the configured folders is never touched (nor marked).
    ours = [(i, path) for i, path in due if any(_in_dir(path, f) for f in folders)]
    counts["notice_files_due"] = len(ours)
    if dry_run or not ours:
        return counts
    for _, path in ours:
        counts["archive_files_deleted"] += int(path.is_file())
        path.unlink(missing_ok=True)
    with session_scope(engine) as session:
        for chunk in rt.batches([file_id for file_id, _ in ours], BATCH_SIZE):
            session.execute(
                update(NoticeFile)
                .where(NoticeFile.id.in_(chunk))
                .values(archive_deleted_on=run_date)
            )
    return counts


def _open_notice() -> object:
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
        owner = table.id if table is Episode else table.episode_id
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


def redacted_copy(
    data: bytes, company: CompanyConfig | None, received: date, kept: pl.Series
) -> tuple[bytes, int, int] | None:
    """The file as ``;`` CSV with only the rows of kept people; None when none must go.

    Returns (CSV bytes, rows removed, rows kept). Title rows above the header go too.
    """
    columns = company.columns if company else {}
    raw = read_notice_bytes(data, sheet=company.sheet if company else None, columns=columns)
    frame = raw.frame.with_columns(pl.all().cast(pl.String))
    keep = rt.rows_of_kept_people(frame, map_headers(list(frame.columns), columns), kept, received)
    filled = ~frame.select(pl.all_horizontal(pl.all().is_null()).alias("e"))["e"]
    removed = int((~keep & filled).sum())
    if removed == 0:
        return None
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(frame.columns)
    kept_rows = frame.filter(keep)
    for row in kept_rows.iter_rows():
        writer.writerow(["" if cell is None else cell for cell in row])
    return out.getvalue().encode("utf-8"), removed, kept_rows.height


def redact_notice_archives(
    engine: Engine,
    settings: Settings,
    run_date: date,
    rule: rt.RetentionRule,
    *,
    dry_run: bool,
    leaving: Iterable[int] = (),
) -> Counter[str]:
    """Rewrite kept archived files without the rows of people the database no longer keeps.

    :func:`purge_notice_archives` keeps a file that is due when one of its tenants'
    episodes is still open; the file also holds everyone else in it, among them people
    whose data retention has deleted. Such a file is rewritten (as ``;`` CSV, the
    original's columns) with the rows of people still kept only; an audit entry per
    file records the row counts (never a row). The ``notice_file`` row keeps the
    original's content hash, so the original is still recognised if sent again. A file
    that cannot be read is left as it is and counted (``archive_files_unreadable``).
    """
    counts: Counter[str] = Counter(archive_files_redacted=0, archive_rows_removed=0)
    with session_scope(engine) as session:
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
        if not rows:
            return counts
        kept = kept_people(session, leaving)
    companies = {c.id: c for c in settings.companies}
    received = _local_dates([r[3] for r in rows]).to_list()
    for (file_id, company_id, name, _), day in zip(rows, received, strict=True):
        path = Path(name)
        if not rt.past_retention(day, run_date, rule):
            continue
        if not (_in_dir(path, settings.paths.archive_dir) and path.is_file()):
            continue
        try:
            redacted = redacted_copy(path.read_bytes(), companies.get(company_id), day, kept)
        except BaseException as exc:  # noqa: BLE001 - Rust readers panic with BaseException
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            counts["archive_files_unreadable"] += 1
            log.warning("retention: archived notice file %s unreadable, left as it is", file_id)
            continue
        if redacted is None:
            continue
        data, removed, kept_rows = redacted
        counts["archive_files_redacted"] += 1
        counts["archive_rows_removed"] += removed
        if dry_run:
            continue
        target = path if path.suffix.lower() == ".csv" else path.with_suffix(".csv")
        write_private(target, data)
        with session_scope(engine) as session:
            if target != path:
                session.execute(
                    update(NoticeFile)
                    .where(NoticeFile.id == file_id)
                    .values(archive_path=str(target))
                )
            audit(
                session,
                ACTOR,
                "retention.redact",
                "notice_file",
                file_id,
                json.dumps({"rows_removed": removed, "rows_kept": kept_rows}),
            )
        if target != path:
            path.unlink(missing_ok=True)
    return counts


def purge_worklists(settings: Settings, run_date: date, *, dry_run: bool) -> Counter[str]:
    """Delete the worklist folders (``<worklist_dir>/<YYYY-MM-DD>/``) past ``worklist_days``.

    A worklist is a working copy with names and personnummer; the record is in the
    database. It goes after the configured days whatever became of its episodes.
    """
    counts: Counter[str] = Counter(worklist_folders=0, worklist_files=0)
    folder = settings.paths.worklist_dir
    if not folder.is_dir():
        return counts
    for child in sorted(folder.iterdir()):
        if child.is_symlink() or not child.is_dir() or not _DAY_FOLDER.match(child.name):
            continue
        try:
            day = date.fromisoformat(child.name)
        except ValueError:
            continue
        if not rt.worklist_expired(day, run_date, settings.retention.worklist_days):
            continue
        counts["worklist_folders"] += 1
        counts["worklist_files"] += sum(1 for p in child.rglob("*") if p.is_file())
        if not dry_run:
            shutil.rmtree(child)
    return counts


def purge_print_batches(
    settings: Settings,
    run_date: date,
    rule: rt.RetentionRule,
    *,
    dry_run: bool,
) -> int:
    """Delete print batches (merged PDF and manifest) past the retention period.

    A batch is a copy of letters handed to the print service on its date; the letters
    themselves (and their PDFs, for episodes still kept) are the record. A batch whose
    letters retention deleted is always this old: a letter's sending is an entry of
    its episode, and the batch is named by the day it was sent.
    """
    folder = settings.paths.print_dir
    if not folder.is_dir():
        return 0
    doomed: list[Path] = []
    for path in folder.iterdir():
        match = _PRINT_BATCH.match(path.name)
        if match is None:
            continue
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError:
            continue
        if rt.past_retention(day, run_date, rule):
            doomed.append(path)
    if dry_run:
        return len(doomed)
    return _unlink(doomed, folder)


# ----------------------------------------------------------------------------- the stage


def apply_retention(
    engine: Engine, settings: Settings, run_date: date, *, dry_run: bool = False
) -> dict[str, int]:
    """Delete what retention says is due on ``run_date``; returns counts (dry run: would-be).

    Statistics first, then the episodes in batches of ``BATCH_SIZE`` (one transaction
    each; a crash leaves whole batches done and a rerun finishes the rest), then
    snapshots, archived files and print batches.
    """
    from flows.stages.statistics import refresh_stat_facts_for

    rule = rule_of(settings)
    check_statistics_freeze(settings)
    decisions = retention_decisions(engine, run_date, rule)
    counts: Counter[str] = Counter(
        {f"episodes_{name}": n for name, n in rt.decision_counts(decisions).items()}
    )
    ids = decisions.filter(pl.col("decision") == rt.DELETE)["id"].sort().to_list()

    if ids and not dry_run:
        touched = rt.months_touched(decisions)
        # Frozen for good: after the deletion a recomputation (a report against the real
        # clock, which may be long before ``run_date``) would lower the numbers.
        stats = refresh_stat_facts_for(engine, settings, touched, today=run_date, freeze=touched)
        counts["stat_months_refreshed"] = stats["months_refreshed"]
        counts["stat_months_frozen"] = stats["months_frozen"]

    for chunk in rt.batches(ids, BATCH_SIZE):
        with session_scope(engine) as session:
            batch, pdfs = purge_batch(session, chunk, dry_run=dry_run)
            if not dry_run:
                audit(
                    session,
                    ACTOR,
                    "retention.delete",
                    "episode",
                    None,
                    json.dumps(dict(sorted(batch.items()))),
                )
        counts.update(batch)
        counts["letter_pdfs"] += len(pdfs) if dry_run else _unlink(pdfs, settings.paths.letters_dir)

    with session_scope(engine) as session:
        counts.update(purge_snapshots(session, dry_run=dry_run, leaving=ids if dry_run else ()))
    counts.update(purge_notice_archives(engine, settings, run_date, rule, dry_run=dry_run))
    counts.update(
        redact_notice_archives(
            engine, settings, run_date, rule, dry_run=dry_run, leaving=ids if dry_run else ()
        )
    )
    counts["print_batch_files"] = purge_print_batches(settings, run_date, rule, dry_run=dry_run)
    counts.update(purge_worklists(settings, run_date, dry_run=dry_run))

    result = {key: int(value) for key, value in sorted(counts.items())}
    if not dry_run:
        with session_scope(engine) as session:
            audit(
                session,
                ACTOR,
                "retention.run",
                "retention",
                run_date.isoformat(),
                json.dumps(result),
            )
    log.info("retention %s on %s: %s", "dry run" if dry_run else "done", run_date, result)
    return result
