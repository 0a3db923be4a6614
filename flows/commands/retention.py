"""``kvarboende retention``: the yearly deletion of personal data (gallring).

Not part of the daily flow: an operator runs it in January (see README, "Running in
production"). It prints counts only.
"""

from __future__ import annotations

from typing import Annotated

import typer

from flows.context import AppContext, day_or_today
from flows.stages.retention import apply_retention

app = typer.Typer()
"""This module's verbs; ``flows.cli`` mounts it on the ``kvarboende`` command."""

#: The order and wording of the printed counts; anything else follows alphabetically.
_LABELS: dict[str, str] = {
    "episodes_delete": "episodes due for deletion",
    "episodes_open": "episodes kept: open",
    "episodes_not_due": "episodes kept: not due yet",
    "episodes_research": "episodes kept: born on a research day",
    "episodes_linked": "episodes kept: person also on a kept episode",
    "stat_months_refreshed": "statistics months stored first",
    "stat_months_frozen": "statistics months already frozen",
    "episodes": "episodes deleted",
    "notices": "notices deleted",
    "transitions": "transitions deleted",
    "matches": "match decisions deleted",
    "appointments": "appointments deleted",
    "slot_places_freed": "appointment slot places freed",
    "letters": "letters deleted",
    "letter_pdfs": "letter PDFs deleted",
    "activities": "activities deleted",
    "tasks": "tasks deleted",
    "register_snapshots": "register snapshots deleted",
    "register_cases": "register cases deleted",
    "household_members": "household members deleted",
    "notice_files_due": "archived notice files due",
    "archive_files_deleted": "archived notice files deleted",
    "archive_files_redacted": "archived notice files kept, rewritten without deleted people",
    "archive_rows_removed": "rows removed from kept archived files",
    "archive_files_unreadable": "archived notice files unreadable (left as they are)",
    "print_batch_files": "print batch files deleted",
    "worklist_folders": "worklist folders deleted",
    "worklist_files": "worklist files deleted",
    "audit_entries": "audit log entries deleted",
}


def format_counts(counts: dict[str, int], dry_run: bool) -> list[str]:
    """One ``label  count`` line per count, in a fixed order."""
    keys = [k for k in _LABELS if k in counts] + sorted(k for k in counts if k not in _LABELS)
    width = max((len(_LABELS.get(k, k)) for k in keys), default=0)
    lines = []
    for key in keys:
        label = _LABELS.get(key, key)
        if dry_run:
            label = label.replace(" deleted", " to delete").replace(" freed", " to free")
        lines.append(f"  {label:<{width}}  {counts[key]:>8}")
    return lines


@app.command("retention")
def retention_command(
    ctx: typer.Context,
    day: Annotated[
        str | None,
        typer.Option("--date", help="Run as on this date, YYYY-MM-DD (default today)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Only count what would be deleted; change nothing."),
    ] = False,
) -> None:
    """Delete closed episodes' personal data whose retention period has run out (yearly).

    Statistics for the months concerned are stored first, so reports do not change.
    People born on the configured research days are kept ([retention] in config.toml).
    """
    context: AppContext = ctx.obj
    run_date = day_or_today(day)
    counts = apply_retention(context.engine, context.settings, run_date, dry_run=dry_run)
    title = "Retention dry run (nothing changed)" if dry_run else "Retention done"
    typer.echo(f"{title}, {run_date.isoformat()}:")
    for line in format_counts(counts, dry_run):
        typer.echo(line)
