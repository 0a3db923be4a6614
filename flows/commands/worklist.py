"""``kvarboende worklist``, ``record`` and ``episodes list|close``: the advisor's daily verbs.

Everything a person records or reads about an episode is audit-logged with who (the
operating-system user or ``--by``) and when; the audit entries hold ids only.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from domain.formatting import STOCKHOLM, sv_amount
from domain.outcomes import (
    ACTIVITY_LABEL_SV,
    MANUAL_OUTCOMES,
    ActivityKind,
)
from domain.vocabulary import (
    APPOINTMENT_STATUS_LABEL_SV,
    OUTCOME_LABEL_SV,
    ROUTING_LABEL_SV,
    STATUS_LABEL_SV,
    TASK_KIND_LABEL_SV,
    TASK_STATUS_LABEL_SV,
)
from domain.worklist import Worklist, sv_postal_code
from flows.context import AppContext, day_or_today
from flows.stages.worklist import output_dir
from letters.worklist import (
    CHILDREN_LABEL_SV,
    SECTION_TITLE_SV,
    deadline_text,
    display_rows,
    write_csv,
    write_pdf,
    write_xlsx,
)
from models.audit import audit, current_actor
from models.db import as_utc, session_scope
from models.errors import KvarboendeError
from services import episodes, worklists

app = typer.Typer()
"""This module's verbs; ``flows.cli`` mounts it on the ``kvarboende`` command."""

DateOption = Annotated[
    str | None, typer.Option("--date", help="Date YYYY-MM-DD (default today, Stockholm).")
]
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who did it (default: the operating-system user)."),
]


class WorklistFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


@app.command("worklist")
def worklist_command(
    ctx: typer.Context,
    day: DateOption = None,
    advisor: Annotated[
        str | None, typer.Option("--advisor", help="Advisor id (default: the first advisor).")
    ] = None,
    caseworker: Annotated[
        str | None, typer.Option("--caseworker", help="Caseworker id: their routed episodes.")
    ] = None,
    fmt: Annotated[
        WorklistFormat,
        typer.Option("--format", help="table (terminal), or write a csv, xlsx or pdf file."),
    ] = WorklistFormat.TABLE,
    by: ByOption = None,
) -> None:
    """Show the daily worklist, most urgent first, or write it as CSV, XLSX or PDF."""
    context: AppContext = ctx.obj
    run_date = day_or_today(day)
    if advisor and caseworker:
        raise KvarboendeError("give either --advisor or --caseworker, not both")
    with session_scope(context.engine) as session:
        if caseworker is not None:
            worklist = worklists.caseworker_worklist(
                session, context.settings, run_date, caseworker
            )
        else:
            worklist = worklists.advisor_worklist(session, context.settings, run_date, advisor)
        audit(session, current_actor(by), f"read_worklist_{fmt}", "worklist", worklist.owner)
    if fmt == WorklistFormat.TABLE:
        _print_worklist(worklist)
        return
    path = output_dir(context.settings, run_date) / f"{worklist.file_stem}.{fmt}"
    if fmt == WorklistFormat.CSV:
        write_csv(worklist, path)
    elif fmt == WorklistFormat.XLSX:
        write_xlsx(worklist, path)
    else:
        write_pdf(worklist, context.settings, path)
    typer.echo(f"Worklist ({worklist.rows.height} rows) written to {path}")


def _print_worklist(worklist: Worklist) -> None:
    """Rich tables, one per section; name and address share a column to fit 80 columns."""
    console = Console()
    console.print(
        f"[bold]Arbetslista {worklist.run_date.isoformat()}[/bold] – {worklist.owner_name}"
    )
    for section, frame in worklist.sections():
        if frame.is_empty():
            console.print(f"[bold]{SECTION_TITLE_SV[section]}[/bold]: inget att göra")
            continue
        table = Table(
            title=f"{SECTION_TITLE_SV[section]} ({frame.height})",
            title_justify="left",
            title_style="bold",
            expand=True,
        )
        table.add_column("Ärende", no_wrap=True)
        table.add_column("Hushåll", ratio=2, overflow="fold")
        table.add_column("Betala\nsenast", no_wrap=True)
        table.add_column("Skuld", no_wrap=True, justify="right")
        table.add_column("Barn", no_wrap=True)
        table.add_column("Att göra", ratio=3, overflow="fold")
        for _, episode, name, address, deadline, debt, children, action in display_rows(frame):
            household = escape(name if address == "–" else f"{name}\n{address}")
            table.add_row(episode, household, deadline, debt, children, escape(action))
        console.print(table)


class RecordKind(StrEnum):
    ATTENDED = "attended"
    NO_SHOW = "no-show"
    CONTACTED = "contacted"
    HOME_VISIT = "home-visit"
    NOTE = "note"
    FINANCIAL_AID = "financial-aid"
    CASEWORKER_ACTED = "caseworker-acted"
    CHILDREN = "children"


_ACTIVITY_OF: dict[RecordKind, ActivityKind] = {
    RecordKind.ATTENDED: ActivityKind.ATTENDED,
    RecordKind.NO_SHOW: ActivityKind.NO_SHOW,
    RecordKind.CONTACTED: ActivityKind.CONTACTED,
    RecordKind.HOME_VISIT: ActivityKind.HOME_VISIT,
    RecordKind.NOTE: ActivityKind.NOTE,
    RecordKind.FINANCIAL_AID: ActivityKind.FINANCIAL_ASSISTANCE,
    RecordKind.CASEWORKER_ACTED: ActivityKind.CASEWORKER_ACTED,
}


@app.command("record")
def record_command(
    ctx: typer.Context,
    kind: Annotated[RecordKind, typer.Argument(help="What happened.")],
    episode_id: Annotated[int, typer.Argument(help="The episode (ärende) id.")],
    text: Annotated[str | None, typer.Option("--text", help="A short note.")] = None,
    count: Annotated[
        int | None,
        typer.Option("--count", help="record children: how many live there (0: none)."),
    ] = None,
    by: ByOption = None,
    day: DateOption = None,
) -> None:
    """Record a meeting attended or missed, a contact, a home visit, aid granted, a note,
    or how many children live in the household (``record children ID --count N``)."""
    context: AppContext = ctx.obj
    if kind == RecordKind.CHILDREN:
        if count is None:
            raise KvarboendeError("record children needs --count N (0: no children)")
        with session_scope(context.engine) as session:
            episodes.record_children(session, episode_id, count, by=current_actor(by))
        typer.echo(f"Recorded children for episode {episode_id}: {count}")
        return
    if count is not None:
        raise KvarboendeError("--count is only for record children")
    with session_scope(context.engine) as session:
        recorded = episodes.record_activity(
            session,
            episode_id,
            _ACTIVITY_OF[kind],
            by=current_actor(by),
            on_date=day_or_today(day),
            text=text,
        )
    typer.echo(f"Recorded {kind} for episode {episode_id} (activity {recorded.activity_id})")


episodes_app = typer.Typer(help="List and close episodes (ärenden).", no_args_is_help=True)
app.add_typer(episodes_app, name="episodes")


class ListFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


LIST_COLUMNS = [
    "id", "status", "routing", "opened_on", "deadline_date", "deadline_estimated", "debt_amount",
    "has_children",
    "is_recurrence", "outcome", "outcome_certainty", "outcome_date",
]  # fmt: skip


def episodes_frame(page: episodes.EpisodePage) -> pl.DataFrame:
    """The listed episodes without names or addresses, as a frame (table, CSV, JSON)."""
    data = {c: [getattr(item, c) for item in page.items] for c in LIST_COLUMNS}
    data["debt_amount"] = [None if v is None else float(v) for v in data["debt_amount"]]
    schema = {
        "id": pl.Int64, "status": pl.String, "routing": pl.String, "opened_on": pl.Date,
        "deadline_date": pl.Date, "deadline_estimated": pl.Boolean, "debt_amount": pl.Float64,
        "has_children": pl.Boolean,
        "is_recurrence": pl.Boolean, "outcome": pl.String, "outcome_certainty": pl.String,
        "outcome_date": pl.Date,
    }  # fmt: skip
    return pl.DataFrame(data, schema=schema)


@episodes_app.command("list")
def episodes_list(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="Only this status (repeatable), e.g. payment_order."),
    ] = None,
    fmt: Annotated[
        ListFormat, typer.Option("--format", help="table, csv or json.")
    ] = ListFormat.TABLE,
    caseworker: Annotated[
        str | None, typer.Option("--caseworker", help="Only episodes routed to this caseworker.")
    ] = None,
    by: ByOption = None,
) -> None:
    """List episodes with status, routing, deadline, debt and outcome (no names)."""
    context: AppContext = ctx.obj
    with session_scope(context.engine) as session:
        page = episodes.list_episodes(
            session, by=current_actor(by), statuses=status or (), caseworker_id=caseworker
        )
    frame = episodes_frame(page)
    if fmt == ListFormat.JSON:
        typer.echo(json.dumps(frame.to_dicts(), default=str, ensure_ascii=False, indent=1))
    elif fmt == ListFormat.CSV:
        typer.echo(frame.write_csv(separator=";", date_format="%Y-%m-%d"), nl=False)
    else:
        table = Table(title=f"Ärenden ({frame.height})", title_justify="left")
        for header in ("Ärende", "Status", "Hänvisning", "Öppnat", "Betala senast", "Skuld",
                       "Barn", "Återfall", "Utfall", "Säkerhet", "Utfallsdatum"):  # fmt: skip
            table.add_column(header)
        for row in frame.iter_rows(named=True):
            table.add_row(
                str(row["id"]),
                STATUS_LABEL_SV.get(row["status"], row["status"]),
                ROUTING_LABEL_SV.get(row["routing"] or "", "–"),
                _iso(row["opened_on"]),
                deadline_text(row["deadline_date"], row["deadline_estimated"]),
                sv_amount(row["debt_amount"]),
                CHILDREN_LABEL_SV[row["has_children"]],
                "ja" if row["is_recurrence"] else "nej",
                OUTCOME_LABEL_SV.get(row["outcome"], "–") if row["outcome"] else "–",
                {"confirmed": "bekräftat", "presumed": "antaget"}.get(
                    row["outcome_certainty"] or "", "–"
                ),
                _iso(row["outcome_date"]),
            )
        Console().print(table)


def _iso(value: date | None) -> str:
    return value.isoformat() if value else "–"


#: ``--outcome`` choices: ``settled`` (support decided by what is recorded) and every Outcome.
CloseOutcome = StrEnum("CloseOutcome", {value: value for value in MANUAL_OUTCOMES})  # type: ignore[misc]


@episodes_app.command("close")
def episodes_close(
    ctx: typer.Context,
    episode_id: Annotated[int, typer.Argument(help="The episode (ärende) id.")],
    outcome: Annotated[
        CloseOutcome,
        typer.Option(
            "--outcome",
            help="How it ended: settled (with or without support, as recorded), moved_out, "
            "withdrawn, evicted, unknown …",
        ),
    ],
    text: Annotated[str | None, typer.Option("--text", help="A short reason.")] = None,
    by: ByOption = None,
    day: DateOption = None,
) -> None:
    """Close an episode by hand with a confirmed outcome (settled, moved out, withdrawn, …)."""
    context: AppContext = ctx.obj
    with session_scope(context.engine) as session:
        closed = episodes.close_episode(
            session,
            episode_id,
            str(outcome),
            by=current_actor(by),
            on_date=day_or_today(day),
            text=text,
        )
    typer.echo(
        f"Episode {episode_id} closed ({closed.previous_status} → closed, "
        f"outcome {closed.outcome}): {closed.reason}"
    )


def eviction_text(moment: datetime) -> str:
    """``2026-12-14 09:00``, or only ``2026-12-14`` when the time is local 00:00.

    An eviction day reported without its time is stored at local midnight: printing
    ``00:00`` would invent a time nobody gave.
    """
    return _local(moment).removesuffix(" 00:00")


def _local(moment: datetime) -> str:
    """A stored timestamp as Stockholm wall-clock time (SQLite returns UTC without a zone)."""
    aware = as_utc(moment)
    return f"{aware.astimezone(STOCKHOLM):%Y-%m-%d %H:%M}"


def _print_table(console: Console, title: str, headers: tuple[str, ...], rows: list) -> None:
    if not rows:
        return
    table = Table(title=title, title_justify="left", title_style="bold", expand=True)
    for i, header in enumerate(headers):
        table.add_column(header, overflow="fold", ratio=3 if i == len(headers) - 1 else 1)
    for row in rows:
        table.add_row(*(escape(str(cell)) for cell in row))
    console.print(table)


def _children(episode: episodes.EpisodeHead) -> str:
    """``ja (2)``, ``nej`` or ``okänt`` (not in the register and nobody recorded it)."""
    if not episode.children_known:
        return CHILDREN_LABEL_SV[None]
    if episode.has_children:
        return f"{CHILDREN_LABEL_SV[True]} ({episode.children_count})"
    return CHILDREN_LABEL_SV[False]


def _status(value: str | None) -> str:
    return STATUS_LABEL_SV.get(value or "", value or "–")


@episodes_app.command("show")
def episodes_show(
    ctx: typer.Context,
    episode_id: Annotated[int, typer.Argument(help="The episode (ärende) id.")],
    by: ByOption = None,
) -> None:
    """Show one episode: its household, every status change, meeting, recording and task."""
    context: AppContext = ctx.obj
    with session_scope(context.engine) as session:
        detail = episodes.show_episode(session, episode_id, by=current_actor(by))
    e = detail.episode
    console = Console()
    apartment = f"lgh {e.apartment}" if e.apartment else None
    place = " ".join(str(part) for part in (sv_postal_code(e.postal_code), e.town) if part)
    parts = (e.street_address, apartment, place)
    address = ", ".join(str(part) for part in parts if part) or "–"
    console.print(f"[bold]Ärende {e.id}[/bold]: {escape(e.tenant_name or '–')}, {escape(address)}")
    routing = ROUTING_LABEL_SV.get(e.routing or "", "inte matchat")
    if e.caseworker_id:
        routing += f" ({e.caseworker_id})"
    console.print(
        f"Status {_status(e.status)}, hänvisning {routing}, öppnat {_iso(e.opened_on)}, "
        f"betala senast {deadline_text(e.deadline_date, e.deadline_estimated)}, "
        f"skuld {sv_amount(e.debt_amount)}, "
        f"barn {_children(e)}"
    )
    if e.eviction_at:
        console.print(f"Avhysning {eviction_text(e.eviction_at)}")
    if e.is_recurrence:
        console.print(f"Återkommande: tidigare ärende {e.previous_episode_id}")
    if e.outcome:
        certainty = {"confirmed": "bekräftat", "presumed": "antaget"}.get(
            e.outcome_certainty or "", "–"
        )
        console.print(
            f"Utfall: {OUTCOME_LABEL_SV.get(e.outcome, e.outcome)} ({certainty}), "
            f"{_iso(e.outcome_date)}, källa {e.outcome_source}"
        )
    elif e.follow_up_date:
        console.print(f"Följ upp senast {_iso(e.follow_up_date)}")
    _print_table(
        console,
        "Statusändringar",
        ("Tid", "Från", "Till", "Gäller från", "Skäl"),
        [
            (
                _local(t.at),
                _status(t.from_status),
                _status(t.to_status),
                _iso(t.effective_date),
                t.reason,
            )
            for t in detail.transitions
        ],  # fmt: skip
    )
    _print_table(
        console,
        "Möten",
        ("Tid", "Plats", "Status", "Före sista betalningsdag"),
        [
            (
                _local(a.starts_at),
                a.location,
                APPOINTMENT_STATUS_LABEL_SV.get(a.status, a.status),
                "ja" if a.before_deadline else "nej",
            )
            for a in detail.appointments
        ],  # fmt: skip
    )
    _print_table(
        console,
        "Registrerat",
        ("Datum", "Vad", "Av", "Anteckning"),
        [
            (_iso(a.on_date), ACTIVITY_LABEL_SV.get(a.kind, a.kind), a.by, a.text or "")
            for a in detail.activities
        ],
    )
    _print_table(
        console,
        "Uppgifter",
        ("Uppgift", "Omgång", "Senast", "Status"),
        [
            (
                TASK_KIND_LABEL_SV.get(t.kind, t.kind),
                t.round,
                _iso(t.due_date),
                TASK_STATUS_LABEL_SV.get(t.status, t.status),
            )
            for t in detail.tasks
        ],  # fmt: skip
    )


@episodes_app.command("no-sms")
def episodes_no_sms(
    ctx: typer.Context,
    episode_id: Annotated[int, typer.Argument(help="The episode (ärende) id.")],
    allow: Annotated[
        bool, typer.Option("--allow", help="Allow SMS again (undo an earlier no-sms).")
    ] = False,
    by: ByOption = None,
) -> None:
    """Mark the tenant as not wanting SMS: meeting reminders then go by email (audit-logged).

    The choice follows the person: their other episodes and later ones (same valid
    personnummer, or the same tenancy) get no SMS either, until SMS are allowed again.
    """
    from services.reminders import set_no_sms

    context: AppContext = ctx.obj
    with session_scope(context.engine) as session:
        choice = set_no_sms(session, episode_id, not allow, by=current_actor(by))
    what = "no SMS; reminders go by email" if choice.no_sms else "SMS allowed"
    typer.echo(f"Episode {episode_id}: {what}")


@episodes_app.command("email")
def episodes_email(
    ctx: typer.Context,
    episode_id: Annotated[int, typer.Argument(help="The episode (ärende) id.")],
    address: Annotated[
        str | None, typer.Argument(help="The address the tenant gave; leave out with --clear.")
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Forget it: letters use the landlord's address.")
    ] = False,
    by: ByOption = None,
) -> None:
    """Record an email address the tenant gave themselves (audit-logged, address not logged).

    Letters and reminders then go to it first, by email only: no post copy, which a
    letter to the landlord's address gets (letters.post_when_email_from_landlord).
    """
    from services.episodes import set_tenant_email

    if clear == bool(address):
        raise typer.BadParameter("give an ADDRESS or --clear (not both)")
    context: AppContext = ctx.obj
    with session_scope(context.engine) as session:
        done = set_tenant_email(
            session, episode_id, None if clear else address, by=current_actor(by)
        )
    what = "letters go by email to the tenant's own address" if done.address else "cleared"
    typer.echo(f"Episode {episode_id}: {what}")
