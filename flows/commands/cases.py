"""CLI verbs for the case register and matching: import, review decisions, match-files.

``cases import`` and ``matches`` work on the database; ``match-files`` matches a
notice file against a register export without touching the database (the same
matching code as the daily pipeline), for evaluation and for checking a new export.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from connectors.case_register import read_cases_file, read_household_file, read_table
from domain.formatting import local_today
from domain.matching import NOTICE_COLUMNS, TIER_RANK, match_notices
from domain.register import (
    check_case_ids,
    empty_household,
    missing_useful_line,
    prepare_cases,
    prepare_household,
)
from flows.context import AppContext, parse_date
from flows.stages.cases import import_register
from models.audit import current_actor
from models.db import session_scope
from models.errors import KvarboendeError
from models.privacy import private_dir
from services import matches

app = typer.Typer()
"""This module's verbs; ``flows.cli`` mounts it on the ``kvarboende`` command."""

cases_app = typer.Typer(help="The social-services case register.", no_args_is_help=True)
matches_app = typer.Typer(help="Matches between episodes and register cases.", no_args_is_help=True)
app.add_typer(cases_app, name="cases")
app.add_typer(matches_app, name="matches")


@cases_app.command("import")
def cases_import(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(help="Cases export (CSV or XLSX). Omit to read the configured SQL source."),
    ] = None,
    household: Annotated[
        Path | None, typer.Option("--household", help="Household-members export.")
    ] = None,
    taken_on: Annotated[
        str | None, typer.Option("--taken-on", help="Date of the export (default today).")
    ] = None,
) -> None:
    """Import a case-register export as a new dated snapshot (unchanged content: nothing new)."""
    context: AppContext = ctx.obj
    counts = import_register(
        context.engine,
        context.settings,
        file,
        household,
        taken_on=parse_date(taken_on, "--taken-on"),
    )
    if counts["unchanged"]:
        typer.echo(f"Register unchanged since snapshot {counts['snapshot_id']}: nothing imported.")
        return
    typer.echo(
        f"Snapshot {counts['snapshot_id']}: {counts['cases']} cases, {counts['members']} "
        f"household members ({counts['children']} children), {counts['caseworkers']} "
        f"caseworkers, {counts['invalid_personnummer']} missing or invalid personnummer, "
        f"{counts['orphan_members']} members without a case skipped, "
        f"{counts['relations_guessed']} unknown relation words guessed from the birth date."
    )
    line = missing_useful_line(counts, counts["cases"])
    if line:
        typer.echo(line)


@matches_app.command("list")
def matches_list(
    ctx: typer.Context,
    pending: Annotated[
        bool, typer.Option("--pending", help="Only matches waiting for a decision.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows.")] = 200,
) -> None:
    """List matches with tier, score and reasons (the advisor's 'matches to confirm')."""
    context: AppContext = ctx.obj
    with session_scope(context.engine) as session:
        rows = matches.list_matches(session, by=current_actor(), pending=pending, limit=limit)
    title = "Matchningar att bekräfta" if pending else "Matchningar"
    typer.echo(f"{title}: {len(rows)}")
    for row in rows:
        # One line of ids and tier, then the reasons: readable in any terminal width.
        typer.echo(
            f"#{row.id}  episod {row.episode_id}  {row.company_id}  {row.tier} "
            f"{row.score:.2f}  {row.decision}  akt {row.case_ref or '-'}"
        )
        typer.echo(f"    {row.reasons}")
    if not rows:
        typer.echo("No matches." if not pending else "No matches waiting for a decision.")


def _decide(ctx: typer.Context, match_id: int, confirm: bool, by: str | None) -> None:
    context: AppContext = ctx.obj
    actor = current_actor(by)
    with session_scope(context.engine) as session:
        matches.decide(session, match_id, confirm=confirm, by=actor)
    verdict = (
        "confirmed: routed to the caseworker" if confirm else "rejected: routed to the advisor"
    )
    typer.echo(f"Match {match_id} {verdict} (by {actor}).")


@matches_app.command("confirm")
def matches_confirm(
    ctx: typer.Context,
    match_id: Annotated[int, typer.Argument(help="The match id from 'matches list'.")],
    by: Annotated[str | None, typer.Option("--by", help="Who decides (default: OS user).")] = None,
) -> None:
    """Confirm a match: the episode goes to the client's caseworker (audit-logged)."""
    _decide(ctx, match_id, True, by)


@matches_app.command("reject")
def matches_reject(
    ctx: typer.Context,
    match_id: Annotated[int, typer.Argument(help="The match id from 'matches list'.")],
    by: Annotated[str | None, typer.Option("--by", help="Who decides (default: OS user).")] = None,
) -> None:
    """Reject a match: the episode goes to the advisor, who books a letter (audit-logged)."""
    _decide(ctx, match_id, False, by)


def read_notice_identities(
    path: Path, columns: dict[str, str] | None = None, sheet: str | None = None
) -> pl.DataFrame:
    """Every data row of a notice file with its canonical fields and ``nid`` = 1-based row.

    Without a company (``columns`` None) the file must use the canonical header names.
    With a company, the ingest's reader and header recognition are used (Swedish
    headers, the company's column mapping). Every row is kept, also those the ingest
    would reject: match-files reports all of them.
    """
    if not path.exists():
        raise KvarboendeError(f"{path}: file not found")
    if columns is None:
        frame = read_table(path)
        known = [c for c in NOTICE_COLUMNS if c in frame.columns]
        if "personnummer" not in known and "tenant_name" not in known:
            raise KvarboendeError(
                f"{path.name}: no personnummer or tenant_name column (canonical notice format "
                "expected; use --company ID for a company's own format)"
            )
        frame = frame.select(known)
    else:
        from connectors.notice_files import read_notice_file
        from domain.notices import canonical_frame, map_headers

        raw = read_notice_file(path, sheet=sheet, columns=columns)
        mapping = map_headers([str(c) for c in raw.frame.columns], columns)
        frame = canonical_frame(raw.frame, mapping)
    frame = frame.with_columns(
        pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in frame.columns
    )
    return frame.with_row_index("nid", offset=1).with_columns(pl.col("nid").cast(pl.Int64))


def match_files(
    notices: pl.DataFrame,
    cases: pl.DataFrame,
    household: pl.DataFrame | None,
    today: date,
    threshold: float,
) -> pl.DataFrame:
    """notice_row, case_id, tier, score, reasons for every notice row (no database)."""
    check_case_ids(cases)
    cases = (
        prepare_cases(cases, today)
        .with_row_index("case_key")
        .with_columns(pl.col("case_key").cast(pl.Int64))
    )
    members = prepare_household(
        household if household is not None else empty_household(), today
    ).with_row_index("member_id")
    members = members.join(
        cases.select(pl.col("case_id").alias("case_ref"), "case_key"),
        left_on="case_id",
        right_on="case_ref",
        how="inner",
    ).select(
        pl.col("member_id").cast(pl.Int64),
        pl.col("case_key").alias("case_id"),
        "personnummer",
        "name",
        "relation",
        "is_child",
    )
    register = cases.select(
        pl.col("case_key").alias("case_id"),
        pl.col("case_id").alias("case_ref"),
        "personnummer",
        "name",
        "street_address",
        "apartment",
        "postal_code",
    )
    result = match_notices(notices, register, members, today, threshold)
    return result.select(
        pl.col("nid").alias("notice_row"),
        pl.col("case_ref").fill_null("").alias("case_id"),
        "tier",
        pl.col("score").round(3),
        "reasons",
    ).sort("notice_row")


@app.command("match-files")
def match_files_command(
    ctx: typer.Context,
    notices: Annotated[Path, typer.Option("--notices", help="Notice file (CSV or XLSX).")],
    cases: Annotated[Path, typer.Option("--cases", help="Case-register export.")],
    out: Annotated[Path, typer.Option("--out", help="Result CSV (one row per notice row).")],
    household: Annotated[
        Path | None, typer.Option("--household", help="Household-members export.")
    ] = None,
    company: Annotated[
        str | None,
        typer.Option("--company", help="Read the notice file with this company's mapping."),
    ] = None,
    on: Annotated[
        str | None, typer.Option("--date", help="Reference date for 10-digit numbers.")
    ] = None,
) -> None:
    """Match a notice file against a register export without touching the database."""
    context: AppContext = ctx.obj
    settings = context.settings
    columns: dict[str, str] | None = None
    sheet = None
    if company is not None:
        company_config = settings.company(company)
        columns, sheet = dict(company_config.columns), company_config.sheet
    today = parse_date(on, "--date") or local_today()
    notice_frame = read_notice_identities(notices, columns, sheet)
    case_frame = read_cases_file(cases, settings.cases)
    household_frame = read_household_file(household, settings.cases) if household else None
    result = match_files(
        notice_frame, case_frame, household_frame, today, settings.cases.probable_threshold
    )
    private_dir(out.parent)
    result.write_csv(out, separator=";")
    tiers = dict(result["tier"].value_counts().iter_rows())
    summary = ", ".join(f"{tier} {tiers.get(tier, 0)}" for tier in TIER_RANK)
    typer.echo(f"{result.height} notice rows matched ({summary}): {out}")
