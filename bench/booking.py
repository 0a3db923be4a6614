"""Booking bench: do the letters reach the tenants in time? (issue 12)

    .venv/bin/python bench/booking.py [--households 1200] [--days 63] [--seed 42]
                                      [--postgres] [--no-rebook]

Runs the demo's municipality through the real daily pipeline (``flows.pipeline.run_daily``)
day by day on a scratch SQLite file (or a scratch PostgreSQL schema with ``--postgres``),
with the demo's advisor: a fifth come to their meeting, the rest are no-shows, and (unless
``--no-rebook``) the advisor gives every no-show a new time the next working day, and
every household with an eviction within two weeks and no meeting, after the morning's
job, with ``appointments rebook``; the outbox delivery sends those letters
the same day (the path where the issue saw meetings on the eviction day and a
month after it). Then it prints, from ``services.reach`` (the demo's summary uses the same):

    meetings >= min_lead_days after the letter   share of appointment letters
    meetings before the last day to pay          share of those with a deadline
    meetings before a booked eviction            by the margin; on/after the eviction day
    letters sent after their date                must be 0 (appointments, cancellations,
                                                 post copies)
    deadlines passed unreached                   no letter sent, no caseworker told before
                                                 it: must be 0 at the demo's capacity
    appointment letters by channel               and the emailed ones also posted
    meeting reminders sent                       by SMS and by email; failed

once with the configured rules and once with the rules before issue 12 (lead time =
what the post needs, no eviction margin), for comparison.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from connectors.demo_files import write_notice_files, write_register  # noqa: E402
from connectors.local_smtp import LocalSmtpServer  # noqa: E402
from domain.booking import LeadTimes  # noqa: E402
from domain.synthetic import generate  # noqa: E402
from models.config import Settings, load_settings  # noqa: E402
from models.db import make_engine, session_scope  # noqa: E402
from models.privacy import private_dir  # noqa: E402


def _settings(folder: Path, url: str) -> Settings:
    settings = load_settings(REPO / "config.toml")
    settings.database.url = url
    for name in type(settings.paths).model_fields:
        default = getattr(type(settings.paths)(), name)
        setattr(settings.paths, name, folder / default)
    for company in settings.companies:
        company.inbox = settings.paths.inbox_dir / company.id
    return settings


def _working_days(start: date, days: int) -> list[date]:
    every = (start + timedelta(days=offset) for offset in range(days))
    return [day for day in every if day.weekday() < 5]


def _to_rebook(engine: Engine, yesterday: date, day: date) -> list[int]:
    """Yesterday's no-shows, and episodes with an eviction within two weeks and no meeting."""
    from services.demo import evictions_without_meeting, no_shows_on

    with session_scope(engine) as session:
        missed = no_shows_on(session, yesterday)
        return sorted(set(missed) | set(evictions_without_meeting(session, day, 14)))


def run(args: argparse.Namespace, label: str, configure: Callable[[Settings], None]) -> None:
    from flows.commands.demo import simulate_advisor
    from flows.pipeline import run_daily
    from flows.stages.booking import BookingError, rebook
    from flows.stages.cases import import_register
    from flows.stages.delivery import deliver_outbox
    from flows.stages.setup import prepare_database
    from services.demo import demo_counts
    from services.reach import measure_reach

    folder = Path(tempfile.mkdtemp(prefix="kvarboende-bench-booking-"))
    schema = None
    if args.postgres:
        from sqlalchemy import create_engine, text

        schema = f"bench_booking_{int(time.time())}"
        admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{folder / 'bench.db'}"
    settings = _settings(folder, url)
    wanted = LeadTimes.of(settings.booking)  # measured against the configured rules
    configure(settings)
    engine = make_engine(url)
    prepare_database(engine, settings)
    started = time.monotonic()
    companies = tuple(c.id for c in settings.companies)
    start = settings.demo.start_date
    municipality = generate(args.seed, start, args.days, args.households, companies)
    cases, household = write_register(municipality, settings.paths.register_dir)
    deliveries = write_notice_files(municipality, folder / "source")
    days = _working_days(start, args.days)
    import_register(engine, settings, cases, household, taken_on=days[0])
    smtp = LocalSmtpServer(settings.paths.mail_dir, 0, settings.smtp.host).start()
    settings.smtp.port = smtp.port
    rng = random.Random(args.seed)
    rebooked = refused = closed = 0
    try:
        for index, day in enumerate(days):
            for company_id, path in deliveries.get(day, []):
                inbox = settings.company(company_id).inbox
                private_dir(inbox)
                shutil.copy2(path, inbox / path.name)
            run_daily(engine, settings, day)
            if index > 0 and not args.no_rebook:
                # After the morning's job the advisor phones yesterday's no-shows and
                # gives each a new time; the 15-minute delivery sends the letters today.
                for episode_id in _to_rebook(engine, days[index - 1], day):
                    try:
                        rebook(engine, settings, episode_id, day, by="bench-advisor")
                        rebooked += 1
                    except BookingError as exc:
                        if "no free" in str(exc):
                            refused += 1  # one line to the advisor; the worklist has it
                        else:
                            closed += 1  # ended, or the meeting was held: nothing to rebook
                deliver_outbox(engine, settings, day)
            simulate_advisor(engine, day, rng)
    finally:
        smtp.stop()
    with session_scope(engine) as session:
        m = measure_reach(session, settings, days[-1], wanted)
        counts = demo_counts(session)
    seconds = time.monotonic() - started
    b = wanted
    print(f"\n{label}  ({args.households} households, {len(days)} working days, {seconds:.0f} s)")
    print(
        f"  rebooked (no-shows, evictions) {rebooked} "
        f"(refused: no time before the eviction or in the horizon {refused}; "
        f"ended or meeting already held {closed})"
    )
    print(
        f"  meeting >= {b.print_days}/{b.email_days} working days after letter "
        f"{m.lead_kept}/{m.letters} ({m.share(m.lead_kept, m.letters)}); "
        f"short notice forced by the deadline {m.short_notice}"
    )
    print(
        f"  meeting before the last day to pay   {m.before_deadline}/{m.with_deadline} "
        f"({m.share(m.before_deadline, m.with_deadline)})"
    )
    print(
        f"  meeting by {b.eviction_margin} working days before eviction "
        f"{m.before_eviction}/{m.with_eviction} ({m.share(m.before_eviction, m.with_eviction)}); "
        f"on or after the eviction day {m.on_or_after_eviction}; "
        f"eviction notified after the letter {m.eviction_after_letter}"
    )
    print(
        f"  letters sent after their date  {m.sent_after_date} of {m.sent} "
        f"(appointments, cancellations, post copies; waiting past their date "
        f"{m.waiting_past_date})"
    )
    print(
        f"  deadlines passed unreached     {m.passed_unreached} of {m.deadlines_passed} "
        f"(no letter sent nor caseworker told before it; "
        f"opened after the deadline {m.opened_after_deadline}, "
        f"ended before it {m.ended_before_deadline})"
    )
    channels = counts.appointment_channels
    print(
        f"  appointment letters            {counts.letters.get('appointment', 0)} "
        f"(email {channels.get('email', 0)}, of those also posted {counts.post_copies_sent}; "
        f"print {channels.get('print', 0)})"
    )
    sent = {
        channel: sum(n for status, n in by.items() if status in ("sent", "delivered"))
        for channel, by in counts.reminders.items()
    }
    failed = sum(by.get("failed", 0) for by in counts.reminders.values())
    print(
        f"  meeting reminders sent         {sum(sent.values())} "
        f"(SMS {sent.get('sms', 0)}, email {sent.get('email', 0)}), failed {failed}"
    )
    engine.dispose()
    if schema is not None:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    if args.keep and schema is None:
        print(f"  kept: {url}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


def configured(settings: Settings) -> None:
    del settings


def before_issue_12(settings: Settings) -> None:
    """Lead time what the post needs (postal_days + 1), no margin before an eviction."""
    b = settings.booking
    b.min_lead_days_print = b.min_lead_days_email = b.postal_days + 1
    b.eviction_margin_working_days = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1200)
    parser.add_argument("--days", type=int, default=63)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--no-rebook", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file, print it")
    parser.add_argument("--only-configured", action="store_true")
    args = parser.parse_args()
    run(args, "Configured rules (config.toml)", configured)
    if args.only_configured:
        return
    run(args, "Lead time = the post's, no eviction margin (for comparison)", before_issue_12)


if __name__ == "__main__":
    main()
