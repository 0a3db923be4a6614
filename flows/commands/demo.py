"""``kvarboende demo`` and ``kvarboende demo-data``: a whole municipality, simulated.

The demo generates a synthetic case register and housing-company files, then runs
the daily pipeline on every working day of the simulated period exactly as the
scheduled job would (files appear in the inboxes on the day they are delivered),
with a local SMTP server that keeps every message as an ``.eml`` file. It ends by
printing where the letters, worklists, caseworker lists and statistics are.
"""

from __future__ import annotations

import random
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from connectors.demo_files import write_notice_files, write_register
from connectors.local_smtp import LocalSmtpServer
from domain.synthetic import DemoMunicipality, generate
from flows.context import AppContext
from models.config import Settings
from models.db import session_scope
from models.errors import KvarboendeError
from models.privacy import private_dir

app = typer.Typer()
"""This module's verbs; ``flows.cli`` mounts it on the ``kvarboende`` command."""

console = Console(soft_wrap=True)


def _generate(settings: Settings, seed: int | None) -> DemoMunicipality:
    demo = settings.demo
    companies = tuple(c.id for c in settings.companies) or ("vasbyhem", "hyresvard")
    return generate(
        seed if seed is not None else demo.seed, demo.start_date, demo.days, demo.households,
        companies, tuple(demo.quarterly_companies),
    )  # fmt: skip


@app.command("demo-data")
def demo_data(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the files into.")],
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (default from config).")
    ] = None,
) -> None:
    """Write a synthetic municipality: case register export and housing-company notice files."""
    settings: Settings = ctx.obj.settings
    municipality = _generate(settings, seed)
    cases, household = write_register(municipality, out / "register")
    deliveries = write_notice_files(municipality, out / "notices")
    files = sum(len(items) for items in deliveries.values())
    typer.echo(f"Case register: {cases} ({municipality.cases.height} cases), {household}")
    typer.echo(
        f"Notice files:  {out / 'notices'} ({files} files, {municipality.notices.height} notices, "
        f"one folder per delivery day and company)"
    )


def _working_days(start: date, days: int) -> list[date]:
    return [
        start + timedelta(days=offset)
        for offset in range(days)
        if (start + timedelta(days=offset)).weekday() < 5
    ]


#: In Upplands Väsby about one in five who got a letter came to the meeting.
ATTENDANCE_RATE = 0.2
#: The advisor phones each no-show once, on the task's due date; about a third answer.
PHONE_REACHED_RATE = 0.3


def simulate_advisor(engine: Engine, day: date, rng: random.Random) -> dict[str, int]:
    """What the advisor records at the end of a demo day: who came, who was reached by phone.

    Uses the same function as ``kvarboende record``; the real advisor types these.
    """
    from domain.outcomes import ActivityKind
    from flows.stages.outcomes import record_activity
    from services.demo import booked_on, calls_due

    with session_scope(engine) as session:
        todays = booked_on(session, day)
        calls = calls_due(session, day)
    counts = {"attended": 0, "no_show": 0, "contacted": 0}
    for episode_id in todays:
        kind = ActivityKind.ATTENDED if rng.random() < ATTENDANCE_RATE else ActivityKind.NO_SHOW
        record_activity(engine, episode_id, kind, by="demo-advisor", on_date=day)
        counts[str(kind)] += 1
    for episode_id in calls:
        if rng.random() < PHONE_REACHED_RATE:
            record_activity(
                engine, episode_id, ActivityKind.CONTACTED, by="demo-advisor", on_date=day
            )
            counts["contacted"] += 1
    return counts


def _start_demo_smtp(settings: Settings) -> LocalSmtpServer:
    """The demo's own SMTP server: the configured port, or any free one if that is taken."""
    try:
        server = LocalSmtpServer(settings.paths.mail_dir, settings.smtp.port, settings.smtp.host)
        return server.start()
    except OSError:
        server = LocalSmtpServer(settings.paths.mail_dir, 0, settings.smtp.host).start()
        console.print(
            f"Port {settings.smtp.port} is taken; the demo's SMTP server uses {server.port}."
        )
        settings.smtp.port = server.port
        return server


def _reset_demo_state(settings: Settings) -> None:
    """The demo starts from nothing; it refuses to touch anything but its own SQLite file."""
    url = settings.database.url
    if not url.startswith("sqlite:///"):
        raise KvarboendeError(
            "the demo runs only on the embedded SQLite database; it would overwrite data in "
            "the configured database (set KVARBOENDE_DATABASE_URL=sqlite:///data/demo.db)"
        )
    database = Path(url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    paths = settings.paths
    for folder in (
        paths.inbox_dir, paths.archive_dir, paths.rejected_dir, paths.letters_dir,
        paths.print_dir, paths.worklist_dir, paths.reports_dir, paths.mail_dir,
        paths.sms_dir, paths.register_dir, paths.data_dir / "demo-source",
    ):  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


@app.command()
def demo(
    ctx: typer.Context,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (default from config).")
    ] = None,
) -> None:
    """Generate a municipality and run the daily pipeline over the simulated weeks."""
    from flows.pipeline import run_daily
    from flows.stages.cases import import_register
    from flows.stages.setup import prepare_database
    from flows.stages.statistics import monthly_summary, refresh_stat_facts_for, write_report

    started = time.monotonic()
    context: AppContext = ctx.obj
    settings = context.settings
    _reset_demo_state(settings)
    engine = context.engine
    prepare_database(engine, settings)

    municipality = _generate(settings, seed)
    source = settings.paths.data_dir / "demo-source"
    cases_file, household_file = write_register(municipality, settings.paths.register_dir)
    deliveries = write_notice_files(municipality, source)
    days = _working_days(settings.demo.start_date, settings.demo.days)
    console.print(
        f"[bold]Kvarboende demo[/]: {settings.municipality.name}, "
        f"{municipality.cases.height} social-services cases, {municipality.notices.height} notices "
        f"from {len(settings.companies)} housing companies, {len(days)} working days "
        f"from {days[0]} to {days[-1]}."
    )
    import_register(engine, settings, cases_file, household_file, taken_on=days[0])

    last_run: dict[str, dict[str, int]] = {}
    rng = random.Random(settings.demo.seed if seed is None else seed)
    smtp = None
    if settings.smtp.start_local:
        smtp = _start_demo_smtp(settings)
    try:
        with Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total} days"), TimeElapsedColumn(),
            console=console, transient=False,
        ) as progress:  # fmt: skip
            job = progress.add_task("Daily runs", total=len(days))
            for day in days:
                progress.update(job, description=f"Daily run {day}")
                for company_id, path in deliveries.get(day, []):
                    inbox = settings.company(company_id).inbox
                    assert inbox is not None, "Settings resolves every company's inbox"
                    private_dir(inbox)
                    shutil.copy2(path, inbox / path.name)
                last_run = run_daily(engine, settings, day)
                simulate_advisor(engine, day, rng)
                progress.advance(job)
    finally:
        if smtp is not None:
            smtp.stop()

    months = sorted({day.strftime("%Y-%m") for day in days})
    refresh_stat_facts_for(engine, settings, months)
    full_month = months[0] if len(months) == 1 else months[-2]
    report_html = write_report(engine, settings, month=full_month, fmt="html")
    report_pdf = write_report(engine, settings, month=full_month, fmt="pdf")
    _print_outcome(context, days[-1], full_month, report_html, report_pdf, last_run)
    console.print(f"\nDone in {time.monotonic() - started:.0f} s.")
    summary = monthly_summary(engine, settings, full_month)
    console.print(f"\n[bold]Monthly statistics, {full_month}[/] (aggregate, small counts hidden)")
    for label, value in summary:
        console.print(f"  {label:<55} {value}")
    _print_portal(context)


def _print_portal(context: AppContext) -> None:
    """The portal's address and one demo login per role (demo passwords, demo data only)."""
    from flows.commands.upload import create_demo_logins

    logins = create_demo_logins(context)
    url = context.settings.web.public_url.rstrip("/")
    console.print(f"\n[bold]Web portal[/]: start it with `kvarboende web`, then open {url}/")
    for label, username, password in logins:
        console.print(f"  {label:<20} user {username:<22} password {password}")


def _print_reach(context: AppContext, last_day: date) -> None:
    """Issue 12's measures: lead time, deadline, eviction, late letters, nobody unreached."""
    from services.reach import measure_reach

    settings = context.settings
    with session_scope(context.engine) as session:
        m = measure_reach(session, settings, last_day)
    booking = settings.booking
    lead = f"{booking.min_lead_days_print} (print) / {booking.min_lead_days_email} (email)"
    console.print("\n[bold]Reaching the tenant in time[/] (appointment letters and their meetings)")
    console.print(
        f"  meeting >= {lead} working days after the letter  "
        f"{m.lead_kept}/{m.letters} ({m.share(m.lead_kept, m.letters)}); "
        f"shortened by the deadline {m.short_notice}"
    )
    console.print(
        f"  meeting before the last day to pay  {m.before_deadline}/{m.with_deadline} "
        f"({m.share(m.before_deadline, m.with_deadline)})"
    )
    console.print(
        f"  meeting before a booked eviction ({booking.eviction_margin_working_days} working "
        f"days' margin)  {m.before_eviction}/{m.with_eviction} "
        f"({m.share(m.before_eviction, m.with_eviction)}); on or after the eviction day "
        f"{m.on_or_after_eviction} (eviction notified after the letter: "
        f"{m.eviction_after_letter})"
    )
    console.print(
        f"  letters sent after their date  {m.sent_after_date} of {m.sent} sent "
        f"(appointments, cancellations, post copies); waiting past their date "
        f"{m.waiting_past_date}"
    )
    console.print(
        f"  deadlines passed unreached     {m.passed_unreached} of {m.deadlines_passed} "
        f"(no letter sent nor caseworker told before it; "
        f"apart: {m.opened_after_deadline} opened after their deadline, "
        f"{m.ended_before_deadline} settled or ended before it)"
    )


def _print_outcome(
    context: AppContext,
    last_day: date,
    month: str,
    report_html: Path,
    report_pdf: Path,
    last_run: dict[str, dict[str, int]],
) -> None:
    from services.demo import demo_counts

    settings, engine = context.settings, context.engine
    with session_scope(engine) as session:
        stored = demo_counts(session)
    notices, episodes, routing = stored.notices, stored.episodes, stored.routing
    letters, channels = stored.letters, stored.appointment_channels
    paths = settings.paths
    worklists = paths.worklist_dir / last_day.isoformat()
    console.print("\n[bold]What happened[/]")
    console.print(f"  notices stored                 {notices}")
    console.print(f"  episodes                       {episodes}")
    console.print(f"  routed to a caseworker         {routing.get('caseworker', 0)}")
    console.print(f"  sent to the housing advisor    {routing.get('advisor', 0)}")
    console.print(f"  matches waiting for review     {routing.get('review', 0)}")
    console.print(
        f"  appointment letters            {letters.get('appointment', 0)} "
        f"(email {channels.get('email', 0)}, print {channels.get('print', 0)})"
    )
    console.print(
        f"  of the emailed, also posted    {stored.post_copies_sent} (address from the landlord)"
    )
    console.print(f"  caseworker notices (email)     {letters.get('caseworker_notice', 0)}")
    sent = {
        c: sum(n for st, n in by.items() if st in ("sent", "delivered"))
        for c, by in stored.reminders.items()
    }
    failed = sum(by.get("failed", 0) for by in stored.reminders.values())
    console.print(
        f"  meeting reminders sent         {sum(sent.values())} "
        f"(SMS {sent.get('sms', 0)}, email {sent.get('email', 0)}), failed {failed}"
    )
    console.print(
        "  episodes per company           "
        + ", ".join(f"{k} {v}" for k, v in sorted(stored.episodes_per_company.items()))
    )
    console.print(f"  presumed settled (silence)     {stored.presumed_settled}")
    console.print(f"  presumed, later re-opened      {stored.presumed_reopened}")
    console.print(
        "  appointment letters/episode    "
        + ", ".join(f"{n}: {count}" for n, count in stored.letters_per_episode.items())
    )
    worklist = last_run.get("worklists", {})
    sections = {
        key: value
        for key, value in worklist.items()
        if key not in {"advisor_lists", "caseworker_lists", "caseworker_rows", "emails_queued"}
    }
    console.print(
        f"  advisor's worklist {last_day}  {sum(sections.values())} rows "
        f"({', '.join(f'{k} {v}' for k, v in sections.items())})"
    )
    console.print(
        f"  caseworkers' lists {last_day}  {worklist.get('caseworker_lists', 0)} lists, "
        f"{worklist.get('caseworker_rows', 0)} rows"
    )
    _print_reach(context, last_day)
    console.print("\n[bold]Where the outputs are[/]")
    console.print(f"  letters (PDF)                  {paths.letters_dir}")
    console.print(f"  print batches                  {paths.print_dir}")
    console.print(f"  emails as received (.eml)      {paths.mail_dir}")
    console.print(f"  SMS reminders as received      {paths.sms_dir}")
    console.print(f"  advisor's worklist {last_day}  {worklists}")
    console.print(f"  caseworkers' routed episodes   {worklists} (handlaggare-*.xlsx/pdf/csv)")
    console.print(f"  receipts to the companies      {paths.archive_dir}")
    console.print(f"  monthly report {month}        {report_html}")
    console.print(f"                                 {report_pdf}")
