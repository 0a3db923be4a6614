"""``kvarboende appointments rebook|cancel`` and ``kvarboende outbox list|deliver``.

Output is ids and counts only: a terminal may be shared or logged, so no names,
addresses or personnummer are printed here.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from flows.cli import app
from flows.context import AppContext, day_or_today
from flows.stages.booking import cancel, rebook
from flows.stages.delivery import deliver_outbox
from models.audit import audit, current_actor
from models.db import session_scope
from models.domain import LetterStatus
from models.tables import Letter

appointments_app = typer.Typer(
    help="Move or cancel a tenant's appointment (a new letter is queued).",
    no_args_is_help=True,
)
outbox_app = typer.Typer(help="Letters and emails waiting to be sent, and their delivery.")
app.add_typer(appointments_app, name="appointments")
app.add_typer(outbox_app, name="outbox")

ByOption = Annotated[
    str | None, typer.Option("--by", help="Who does this (default: the logged-in user).")
]
DateOption = Annotated[
    str | None, typer.Option("--date", help="Run date YYYY-MM-DD (default: today in Stockholm).")
]


@appointments_app.command("rebook")
def rebook_command(
    ctx: typer.Context,
    episode_id: Annotated[int, typer.Argument(help="The episode (ärende) number.")],
    by: ByOption = None,
    run_date: DateOption = None,
) -> None:
    """Give the episode the next free time, free the old one and queue a new letter."""
    context: AppContext = ctx.obj
    counts = rebook(context.engine, context.settings, episode_id, day_or_today(run_date), by)
    late = "" if counts["before_deadline"] else " (after the payment deadline: phone the tenant)"
    typer.echo(
        f"Episode {episode_id}: new time booked{late}; {counts['letters']} letter queued. "
        "It goes out with the next delivery (kvarboende outbox deliver)."
    )


@appointments_app.command("cancel")
def cancel_command(
    ctx: typer.Context,
    episode_id: Annotated[int, typer.Argument(help="The episode (ärende) number.")],
    by: ByOption = None,
    run_date: DateOption = None,
) -> None:
    """Cancel the episode's booked time, free the slot and queue a cancellation letter."""
    context: AppContext = ctx.obj
    counts = cancel(context.engine, context.settings, episode_id, day_or_today(run_date), by)
    typer.echo(
        f"Episode {episode_id}: appointment cancelled; {counts['letters']} letter queued. "
        "The episode is not booked again unless you run: kvarboende appointments rebook "
        f"{episode_id}"
    )


@outbox_app.command("list")
def list_command(
    ctx: typer.Context,
    status: Annotated[
        LetterStatus | None, typer.Option("--status", help="Only letters in this state.")
    ] = None,
    show_ids: Annotated[
        bool, typer.Option("--ids", help="Also list letter ids, episode ids and errors.")
    ] = False,
    by: ByOption = None,
) -> None:
    """Counts of letters by state, channel and kind; with --ids, one row per letter."""
    context: AppContext = ctx.obj
    console = Console()
    with session_scope(context.engine) as session:
        audit(session, current_actor(by), "outbox.list", "letter", None, detail=status)
        query = select(Letter.status, Letter.channel, Letter.kind, func.count(Letter.id))
        if status is not None:
            query = query.where(Letter.status == status.value)
        rows = session.execute(
            query.group_by(Letter.status, Letter.channel, Letter.kind).order_by(
                Letter.status, Letter.channel, Letter.kind
            )
        ).all()
        table = Table("status", "channel", "kind", "letters", title="Outbox")
        for state, channel, kind, count in rows:
            table.add_row(state, channel, kind, str(count))
        console.print(table)
        if not show_ids:
            return
        letters = Table(
            "letter", "episode", "kind", "v", "status", "channel", "attempts", "flagged", "error"
        )
        query = select(Letter).order_by(Letter.id)
        if status is not None:
            query = query.where(Letter.status == status.value)
        for letter in session.scalars(query):
            letters.add_row(
                str(letter.id),
                str(letter.episode_id or ""),
                letter.kind,
                str(letter.version),
                letter.status,
                letter.channel,
                str(letter.attempts),
                "yes" if letter.flagged else "",
                letter.last_error or "",
            )
        console.print(letters)


@outbox_app.command("deliver")
def deliver_command(ctx: typer.Context, run_date: DateOption = None) -> None:
    """Send pending emails and write today's print batch (what the daily run does last)."""
    context: AppContext = ctx.obj
    counts = deliver_outbox(context.engine, context.settings, day_or_today(run_date))
    typer.echo(" ".join(f"{key}={value}" for key, value in counts.items()))
