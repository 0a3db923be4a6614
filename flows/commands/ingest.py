"""``kvarboende ingest`` and ``kvarboende companies check``: notice files from the command line.

``ingest`` stores files exactly like the daily pipeline does (same stage function).
``companies check`` shows how a company's file would be read, storing nothing: what
an operator runs when a housing company sends a new format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from connectors.notice_files import read_notice_bytes
from domain.formatting import STOCKHOLM, local_now, sv_amount
from domain.notices import (
    FIELD_LABEL_SV,
    NoticeFormatError,
    event_word_meanings,
    ignored_columns_note,
    mapping_notes,
    parse_notices,
    require_columns,
)
from domain.vocabulary import EVENT_LABEL_SV, EventType
from flows.context import AppContext, parse_date
from models.errors import KvarboendeError
from services.ingest import ingest_file, parse_options

app = typer.Typer()
"""This module's verbs; ``flows.cli`` mounts it on the ``kvarboende`` command."""

companies_app = typer.Typer(help="Housing companies and their file formats.", no_args_is_help=True)
app.add_typer(companies_app, name="companies")

PREVIEW_COLUMNS = (
    "row_number", "event_type", "event_date", "contract_ref", "apartment", "debt_amount",
    "service_date", "eviction_at", "personnummer_valid",
)  # fmt: skip


def _shown(column: str, value: object) -> str:
    """A parsed value as the operator reads it: Swedish amounts, Stockholm times, ja/nej."""
    if value is None:
        return ""
    if column == "event_type":
        return f"{EVENT_LABEL_SV[EventType(str(value))]} ({value})"
    if column == "debt_amount":
        return sv_amount(value)  # type: ignore[arg-type]
    if column == "eviction_at":
        return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")  # type: ignore[attr-defined]
    if isinstance(value, bool):
        return "ja" if value else "nej"
    return str(value)


@app.command("ingest")
def ingest_command(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Notice files (CSV or XLSX).")],
    company: Annotated[str, typer.Option("--company", help="Housing company id from config.")],
    on: Annotated[
        str | None, typer.Option("--date", help="Received date (default today, Stockholm).")
    ] = None,
    archive: Annotated[
        bool,
        typer.Option(
            "--archive/--keep",
            help="Move each file to the archive with its receipt (default: leave it in place).",
        ),
    ] = False,
) -> None:
    """Ingest notice files for a housing company and print each file's receipt counts.

    Exit status 1 (after every receipt is printed): a file had no accepted row.

    That is: it was rejected as a whole, or it had rejected rows and none accepted.

    Exit status 0: every file had accepted rows, was already received (same content),
    or had nothing new (every row a notice stored before).

    Exit status 2: a usage, configuration or database error.
    """
    from flows.stages.setup import prepare_database

    context: AppContext = ctx.obj
    settings = context.settings
    settings.company(company)  # an unknown company is one clear line before anything else
    received_on = parse_date(on)
    for path in files:
        if not path.is_file():
            raise KvarboendeError(f"{path}: file not found")
    prepare_database(context.engine, settings)
    failed = 0
    for path in files:
        receipt = ingest_file(
            context.engine, settings, path, company, received_on=received_on, move=archive
        )
        if receipt.already_received:
            typer.echo(f"{path.name}: already received (same content), nothing changed")
        elif receipt.file_error:
            failed += 1
            typer.echo(f"{path.name}: whole file rejected: {receipt.file_error}")
        else:
            nothing_new = receipt.accepted == 0 and receipt.rejected == 0 and receipt.duplicates
            failed += int(receipt.accepted == 0 and not nothing_new)
            typer.echo(
                f"{path.name}: {receipt.rows_read} rows, {receipt.accepted} accepted, "
                f"{receipt.rejected} rejected, {receipt.duplicates} duplicates"
                + (": nothing new" if nothing_new else "")
            )
            for note in receipt.notes:
                typer.echo(f"  {note}")
            for rejection in receipt.rejections[:20]:
                typer.echo(f"  row {rejection.row_number}: {rejection.reason}")
            if len(receipt.rejections) > 20:
                typer.echo(f"  … and {len(receipt.rejections) - 20} more rejected rows")
    if failed:
        typer.echo(f"{failed} of {len(files)} file(s) had no accepted row", err=True)
        raise typer.Exit(code=1)


@companies_app.command("check")
def companies_check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A notice file (CSV or XLSX) from the company.")],
    company: Annotated[str, typer.Option("--company", help="Housing company id from config.")],
    rows: Annotated[int, typer.Option("--rows", help="How many parsed rows to show.")] = 5,
) -> None:
    """Show how a company's file would be read (encoding, separator, header, mapping, first
    rows, rejections) without storing anything. Personnummer and names are not shown."""
    context: AppContext = ctx.obj
    config = context.settings.company(company)
    if not file.is_file():
        raise KvarboendeError(f"{file}: file not found")
    console = Console()
    try:
        raw = read_notice_bytes(file.read_bytes(), sheet=config.sheet, columns=config.columns)
        options = parse_options(config, local_now().date(), context.settings.notices)
        parsed = parse_notices(raw.frame, options, raw.first_data_row, raw.ragged)
    except NoticeFormatError as exc:
        message = str(exc)
        raise KvarboendeError(
            message if message.startswith(file.name) else f"{file.name}: {message}"
        ) from None
    console.print(f"[bold]{file.name}[/bold] ({config.name}): {raw.describe()}")
    mapping = Table(title="Kolumner", show_lines=False)
    mapping.add_column("Fält")
    mapping.add_column("Kolumn i filen")
    for field_name in parsed.mapping.fields:
        mapping.add_row(
            f"{FIELD_LABEL_SV.get(field_name, field_name)} ({field_name})",
            parsed.mapping.shown(field_name),
        )
    for unused in parsed.mapping.unused:
        mapping.add_row("[dim](används inte)[/dim]", unused)
    console.print(mapping)
    ignored = ignored_columns_note(parsed.mapping)
    console.print(ignored or "Alla kolumner används.")
    for note in mapping_notes(parsed.mapping):
        console.print(f"[yellow]{note}[/yellow]")
    meanings = event_word_meanings(raw.frame, parsed.mapping, config.events)
    if meanings:
        words = Table(title="Händelseord i filen")
        words.add_column("Ord")
        words.add_column("Rader", justify="right")
        words.add_column("Betyder")
        for word, count, meaning in meanings:
            words.add_row(word, str(count), meaning)
        console.print(words)
    try:
        require_columns(parsed.mapping, list(raw.frame.columns), file.name)
    except NoticeFormatError as exc:
        raise KvarboendeError(str(exc)) from None
    console.print(
        f"Rader: {parsed.rows_read}, skulle tas emot: {parsed.accepted.height}, "
        f"skulle avvisas: {parsed.rejected.height}"
    )
    preview = parsed.accepted.head(rows).select(PREVIEW_COLUMNS).to_dicts()
    table = Table(title=f"De första {len(preview)} godkända raderna (utan personuppgifter)")
    table.add_column("Fält")
    for record in preview:
        table.add_column(f"Rad {record['row_number']}")
    for column in PREVIEW_COLUMNS[1:]:
        label = FIELD_LABEL_SV.get(column, "giltigt personnummer")
        table.add_row(label, *[_shown(column, record[column]) for record in preview])
    console.print(table)
    if parsed.rejected.height:
        rejected = Table(title="Avvisade rader")
        rejected.add_column("Rad", justify="right")
        rejected.add_column("Orsak")
        for number, reason in parsed.rejected.head(50).iter_rows():
            rejected.add_row(str(number), reason)
        console.print(rejected)
        if parsed.rejected.height > 50:
            console.print(f"… och {parsed.rejected.height - 50} till")
