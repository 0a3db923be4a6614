"""Retention (gallring): delete closed episodes' personal data once the law says so.

The rule is :mod:`domain.retention` and the queries :mod:`services.retention`; this stage
reads the dates it needs, and then:

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

Before all that, audit log entries older than ``retention.audit_log_years`` are deleted
(ids and actions only, but who read which episode when is itself sensitive), so that
the run's own entries are never among them.

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
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from connectors.notice_files import read_notice_bytes
from domain import retention as rt
from domain.notices import map_headers
from models.audit import audit
from models.config import CompanyConfig, Settings
from models.db import session_scope
from models.errors import KvarboendeError
from models.privacy import write_private
from services import audit as audit_log
from services import retention

log = logging.getLogger(__name__)

ACTOR = "retention"
BATCH_SIZE = 500
_PRINT_BATCH = re.compile(r"^(\d{4}-\d{2}-\d{2})-\d+\.(pdf|csv)$")
_DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


def retention_decisions(engine: Engine, run_date: date, rule: rt.RetentionRule) -> pl.DataFrame:
    """The rule's decision for every episode on ``run_date`` (:func:`domain.retention.decide`)."""
    with session_scope(engine) as session:
        episodes = retention.load_episodes(session)
        entries = retention.load_entries(session)
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
    with session_scope(engine) as session:
        files = retention.unneeded_archives(session)
    due = [(f.id, f.path) for f in files if rt.past_retention(f.received_on, run_date, rule)]
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
            retention.mark_archives_deleted(session, chunk, run_date)
    return counts


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
        files = retention.archives_of_open_episodes(session)
        if not files:
            return counts
        kept = retention.kept_people(session, leaving)
    companies = {c.id: c for c in settings.companies}
    for file in files:
        file_id, company_id, path, day = file.id, file.company_id, file.path, file.received_on
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
                retention.set_archive_path(session, file_id, target)
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
    # The audit log's own period first, so this run's entries are never among those deleted.
    first_kept = rt.audit_log_cutoff(run_date, settings.retention.audit_log_years)
    with session_scope(engine) as session:
        counts["audit_entries"] = audit_log.delete_before(
            session, first_kept, by=ACTOR, dry_run=dry_run
        )

    if ids and not dry_run:
        touched = rt.months_touched(decisions)
        # Frozen for good: after the deletion a recomputation (a report against the real
        # clock, which may be long before ``run_date``) would lower the numbers.
        stats = refresh_stat_facts_for(engine, settings, touched, today=run_date, freeze=touched)
        counts["stat_months_refreshed"] = stats["months_refreshed"]
        counts["stat_months_frozen"] = stats["months_frozen"]

    for chunk in rt.batches(ids, BATCH_SIZE):
        with session_scope(engine) as session:
            batch, pdfs = retention.purge_batch(session, chunk, dry_run=dry_run)
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
        snapshots = retention.purge_snapshots(
            session, dry_run=dry_run, leaving=ids if dry_run else ()
        )
        counts.update(snapshots)
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
