"""``kvarboende appointments rebook|cancel`` and ``kvarboende outbox list|deliver``.

Output is ids and counts only: a terminal may be shared or logged, so no names,
addresses or personnummer are printed here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from domain.formatting import STOCKHOLM
from domain.vocabulary import LetterStatus
from flows.context import AppContext, day_or_today
from flows.stages.delivery import deliver_outbox
from models.audit import audit, current_actor
from models.db import session_scope
from models.errors import KvarboendeError
from services import appointments
from services.letters import appointment_letter_queue, cancellation_letter_queue
from services.outbox import letters_in_outbox, outbox_counts

app = typer.Typer()
"""This module's verbs; ``flows.cli`` mounts it on the ``kvarboende`` command."""

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


@appointments_app.command("slots")
def slots_command(
    ctx: typer.Context,
    episode_id: Annotated[int, typer.Argument(help="The episode (ärende) number.")],
    run_date: DateOption = None,
) -> None:
    """List the free times the episode could be moved to (slot id, time, advisor, place).

    The same rules as every booking: from the first day its letter can announce, never
    closer than booking.eviction_margin_working_days to a booked eviction; "short notice"
    marks times before booking.min_lead_days_* after a letter dated today."""
    context: AppContext = ctx.obj
    with session_scope(context.engine) as session:
        options = appointments.free_slots(
            session, context.settings, episode_id, day_or_today(run_date)
        )
    table = Table("slot", "time", "advisor", "location", "free", "before deadline", "short notice")
    for o in options:
        table.add_row(
            str(o.slot_id),
            f"{o.starts_at.astimezone(STOCKHOLM):%Y-%m-%d %H:%M}",
            o.advisor_id,
            o.location,
            str(o.free),
            "yes" if o.before_deadline else "no",
            "yes" if o.short_notice else "",
        )
    Console().print(table)
    if not options:
        typer.echo(f"Episode {episode_id}: no free time in the booking horizon.")


def _local_time(text: str | None) -> datetime | None:
    """``YYYY-MM-DD HH:MM`` in Stockholm time, or a one-line error."""
    if text is None:
        return None
    try:
        moment = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise KvarboendeError(f"--at {text!r}: use YYYY-MM-DD HH:MM") from None
    return moment.replace(tzinfo=STOCKHOLM)


@appointments_app.command("rebook")
def rebook_command(
    ctx: typer.Context,
    episode_id: Annotated[int, typer.Argument(help="The episode (ärende) number.")],
    slot: Annotated[
        int | None, typer.Option("--slot", help="This slot id (see: appointments slots).")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="The free time 'YYYY-MM-DD HH:MM' (Stockholm).")
    ] = None,
    by: ByOption = None,
    run_date: DateOption = None,
) -> None:
    """Give the episode the next free time (or the one chosen), free the old one and queue
    a new letter; prints the new time and place.

    --at books a time agreed with the tenant on the phone; it is refused with the reason
    when it is not free, outside the advisors' hours, too soon for the letter or too
    close to a booked eviction."""
    context: AppContext = ctx.obj
    day = day_or_today(run_date)
    with session_scope(context.engine) as session:
        done = appointments.rebook(
            session,
            context.settings,
            episode_id,
            day,
            by=current_actor(by),
            queue_letter=appointment_letter_queue(context.settings, day),
            slot_id=slot,
            starts_at=_local_time(at),
        )
    typer.echo(rebooked_text(context, episode_id, done))


def rebooked_text(context: AppContext, episode_id: int, done: appointments.Rebooked) -> str:
    """``Episode 7: new time Thursday 2026-11-05 10:30-11:15, Medborgarhuset (Anna) ...``"""
    advisors = {a.id: a for a in context.settings.advisors}
    start = done.starts_at.astimezone(STOCKHOLM)
    end = f"-{done.ends_at.astimezone(STOCKHOLM):%H:%M}" if done.ends_at else ""
    advisor = advisors.get(done.advisor_id)
    who = advisor.name if advisor else done.advisor_id
    street = f", {advisor.address}" if advisor and advisor.address else ""
    notes = []
    if not done.before_deadline:
        notes.append("after the last day to pay: phone the tenant")
    if done.short_notice:
        notes.append("short notice for the letter: phone the tenant")
    note = f" ({'; '.join(notes)})" if notes else ""
    return (
        f"Episode {episode_id}: new time {start:%A %Y-%m-%d %H:%M}{end}, "
        f"{done.location}{street} ({who}){note}; {done.letters} letter queued. "
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
    queue = cancellation_letter_queue(context.settings, day_or_today(run_date))
    with session_scope(context.engine) as session:
        done = appointments.cancel(session, episode_id, by=current_actor(by), queue_letter=queue)
    typer.echo(
        f"Episode {episode_id}: appointment cancelled; {done.letters} letter queued. "
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
        rows = outbox_counts(session, status)
        table = Table("status", "channel", "kind", "letters", title="Outbox")
        for row in rows:
            table.add_row(row.status, row.channel, row.kind, str(row.letters))
        console.print(table)
        if not show_ids:
            return
        letters = Table(
            "letter", "episode", "kind", "v", "status", "channel", "attempts", "flagged", "error"
        )
        for letter in letters_in_outbox(session, status):
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
    """Send pending emails, write today's print batch, then send the meeting reminders due
    (what the daily run does last, and the delivery deployment every 15 minutes)."""
    from flows.stages.reminders import send_reminders

    context: AppContext = ctx.obj
    day = day_or_today(run_date)
    counts = deliver_outbox(context.engine, context.settings, day)
    typer.echo(" ".join(f"{key}={value}" for key, value in counts.items()))
    reminders = send_reminders(context.engine, context.settings, day)
    typer.echo("reminders: " + " ".join(f"{key}={value}" for key, value in reminders.items()))
