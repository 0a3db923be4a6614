"""The daily worklists: build them from the database, have them written as CSV,
XLSX and PDF files (:mod:`letters.worklist`) and emailed.

:func:`build_worklist` is read-only (the terminal view of ``kvarboende worklist``);
:func:`write_worklists` is the daily stage: one set of files per advisor and per
caseworker with open routed episodes, a ``WorklistRun`` per owner and date, and one
email per advisor and date through the outbox with counts and where the list is,
never personal data. Rerunning it for the same date gives the same files and queues
nothing twice.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from domain.vocabulary import LetterKind, Routing
from domain.working_days import is_working_day
from domain.worklist import ADVISOR, CASEWORKER, SECTION_ORDER, Worklist
from flows.stages.outbox import enqueue
from letters.worklist import email_text, write_csv, write_pdf, write_xlsx
from models.audit import audit
from models.config import Settings
from models.db import session_scope
from models.errors import KvarboendeError
from services import worklists
from services.worklists import SYSTEM_ACTOR, earliest_since, load_inputs, worklist_for


def build_worklist(
    engine: Engine,
    settings: Settings,
    run_date: date,
    advisor_id: str | None = None,
    caseworker_id: str | None = None,
) -> Worklist:
    """One owner's worklist for ``run_date`` (default: the first advisor); reads only."""
    with session_scope(engine) as session:
        if caseworker_id is not None:
            if advisor_id:
                raise KvarboendeError("give either --advisor or --caseworker, not both")
            return worklists.caseworker_worklist(session, settings, run_date, caseworker_id)
        return worklists.advisor_worklist(session, settings, run_date, advisor_id)


def output_dir(settings: Settings, run_date: date) -> Path:
    """Where the worklists of a date go: ``<paths.worklist_dir>/<YYYY-MM-DD>/``."""
    return settings.paths.worklist_dir / run_date.isoformat()


def write_files(worklist: Worklist, settings: Settings) -> dict[str, Path]:
    """The CSV, XLSX and PDF of one worklist; returns their paths by format."""
    folder = output_dir(settings, worklist.run_date)
    stem = worklist.file_stem
    return {
        "csv": write_csv(worklist, folder / f"{stem}.csv"),
        "xlsx": write_xlsx(worklist, folder / f"{stem}.xlsx"),
        "pdf": write_pdf(worklist, settings, folder / f"{stem}.pdf"),
    }


# --- the daily stage -----------------------------------------------------------------------


def write_worklists(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Write every advisor's and caseworker's worklist for ``run_date``; counts only.

    The advisors' sections are summed into the returned counts (for the Prefect
    artifact); caseworker lists add ``caseworker_lists`` and ``caseworker_rows``.
    On a weekend or a Swedish public holiday nothing is written (``not_a_working_day``
    is 1): nobody reads that list, and its "new episodes" would then be missing from
    the next working day's list, which covers everything since the last one written.
    """
    totals: dict[str, int] = {s.value: 0 for s in SECTION_ORDER}
    totals.update(advisor_lists=0, caseworker_lists=0, caseworker_rows=0, emails_queued=0)
    if not is_working_day(run_date):
        return totals | {"not_a_working_day": 1}
    with session_scope(engine) as session:
        inputs = load_inputs(session, earliest_since(session, run_date), run_date, settings)
        owners: list[tuple[str, str, str, str]] = [
            (ADVISOR, a.id, a.name, a.email) for a in settings.advisors
        ]
        routed = (
            inputs.episodes.filter(
                (pl.col("routing") == Routing.CASEWORKER) & pl.col("caseworker_id").is_not_null()
            )
            .select("caseworker_id", "caseworker_name")
            .unique()
            .sort("caseworker_id")
        )
        owners += [(CASEWORKER, cid, name or cid, "") for cid, name in routed.iter_rows()]
        for kind, owner_id, name, email in owners:
            worklist = worklist_for(session, inputs, settings, run_date, kind, owner_id, name)
            write_files(worklist, settings)
            worklists.record_run(session, worklist)
            audit(session, SYSTEM_ACTOR, "write_worklist", "worklist", worklist.owner)
            if kind == CASEWORKER:
                totals["caseworker_lists"] += 1
                totals["caseworker_rows"] += worklist.rows.height
                continue
            totals["advisor_lists"] += 1
            for section, n in worklist.counts().items():
                totals[section] += n
            if email:
                subject, body = email_text(worklist, settings.web.link("/"))
                _, created = enqueue(
                    session,
                    key=f"worklist:{worklist.owner}:{run_date.isoformat()}",
                    kind=LetterKind.ADVISOR_WORKLIST.value,
                    channel="email",
                    created_on=run_date,
                    recipient=email,
                    subject=subject,
                    body=body,
                )
                totals["emails_queued"] += int(created)
    return totals
