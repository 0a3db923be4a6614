"""Fault bench: SMTP outages replayed end to end over simulated working days.

    .venv/bin/python bench/faults.py [--tenants 12] [--timeout 3]

Runs the real daily pipeline (``flows.pipeline.run_daily``: ingest, match, outcomes,
booking, letters, worklists, delivery) on a scratch PostgreSQL schema, day after day
with run dates, against real local SMTP peers that misbehave the way mail servers do:

* Mon: nothing listens on the SMTP port (connection refused);
* Tue: a server accepts the connection and never says a word (hangs), and a truncated
  XLSX file lies in a company's inbox;
* Wed: a greylisting server (451 to the first two attempts per recipient), with a
  delivery run 20 minutes after the daily run, as a 15-minute delivery schedule would;
* Thu: refused again; then the job does not run at all for three working days, so
  letters whose meeting came too close meanwhile must be rebooked, not sent;
* Wed to Fri: the server is back (aiosmtpd, accepts everything).

Every day a housing company delivers notices for new tenants (with email, without, and
with email but no postal address). At the end it prints what matters:

    letters lost                     tenant letters neither delivered, replaced by a
                                     delivered version, nor on the advisor's worklist
    letters sent after their meeting emails sent at/after the meeting; print batches
                                     arriving on/after the meeting day
    letters doubled                  a Message-ID received twice, a letter in two
                                     batches or by both channels, two versions delivered
                                     for the same appointment
    runs crashed by one file         daily runs that raised
    staff emails lost / doubled      worklist emails not received once (or not listed)

Measured 2026-12-04 on the 2-core machine: see the report of issue 17 (about 40 s).
"""

from __future__ import annotations

import argparse
import csv
import email
import email.policy
import io
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import Envelope  # noqa: E402
from sqlalchemy import Engine, create_engine, select, text  # noqa: E402

from connectors.local_smtp import _free_port  # noqa: E402
from domain.delivery import postal_arrival  # noqa: E402
from domain.formatting import STOCKHOLM  # noqa: E402
from domain.synthetic import make_personnummer  # noqa: E402
from flows.pipeline import run_daily  # noqa: E402
from flows.stages.cases import import_register  # noqa: E402
from flows.stages.delivery import deliver_outbox  # noqa: E402
from flows.stages.worklist import build_worklist  # noqa: E402
from models.config import Settings, load_settings  # noqa: E402
from models.db import as_utc, make_engine, session_scope, upgrade  # noqa: E402
from models.tables import Appointment, AppointmentSlot, Letter  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# (run date, SMTP behaviour, extra delivery run minutes after the daily run, broken file)
SCHEDULE: list[tuple[date, str, int | None, bool]] = [
    (date(2027, 2, 1), "refused", None, False),
    (date(2027, 2, 2), "hanging", None, True),
    (date(2027, 2, 3), "greylisting", 20, False),
    (date(2027, 2, 4), "refused", None, False),
    # Fri 5, Mon 8 and Tue 9 February: the job does not run at all (the host is down).
    (date(2027, 2, 10), "up", None, False),
    (date(2027, 2, 11), "up", None, False),
    (date(2027, 2, 12), "up", None, False),
]


@dataclass
class Peer:
    """The aiosmtpd handler: accepts, or greylists the first attempts per recipient."""

    greylist: bool = False
    received: list[tuple[str, str, datetime]] = field(default_factory=list)  # id, to, when
    tries: Counter[str] = field(default_factory=Counter)
    clock: datetime = datetime.now(UTC)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: object, session: object, envelope: Envelope
    ) -> str:
        recipient = envelope.rcpt_tos[0]
        with self.lock:
            self.tries[recipient] += 1
            if self.greylist and self.tries[recipient] <= 2:
                return "451 4.7.1 Greylisted, please try again later"
            message = email.message_from_bytes(
                envelope.original_content, policy=email.policy.default
            )
            self.received.append((message["Message-ID"], recipient, self.clock))
        return "250 OK"


class HangingServer:
    """Accepts TCP connections and never answers."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.socket.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.socket.close()
        for connection in self.held:
            connection.close()


def notice_rows(day: date, count: int, rng: random.Random, start: int) -> list[dict[str, str]]:
    """New tenants: a third without email, a sixth with email but no postal address."""
    rows = []
    for n in range(start, start + count):
        born = date(1960 + rng.randint(0, 40), rng.randint(1, 12), rng.randint(1, 28))
        kind = n % 6
        rows.append(
            {
                "personnummer": make_personnummer(rng, born),
                "tenant_name": f"Hyresgäst {n}",
                "street_address": "" if kind == 5 else f"Bänkgatan {n}",
                "apartment": f"{1000 + n}",
                "postal_code": "" if kind == 5 else "12345",
                "town": "" if kind == 5 else "Exempelby",
                "contract_ref": f"K-{n}",
                "event_type": "termination_notice",
                "event_date": day.isoformat(),
                "service_date": day.isoformat(),
                "debt_amount": f"{rng.randint(3, 40) * 1000}",
                "email": "" if kind in (0, 3) else f"hyresgast{n}@example.se",
            }
        )
    return rows


def write_notices(inbox: Path, day: date, rows: list[dict[str, str]]) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), delimiter=";")
    writer.writeheader()
    writer.writerows(rows)
    (inbox / f"vasbyhem_{day:%Y%m%d}.csv").write_text(buffer.getvalue(), encoding="utf-8")


def write_broken_xlsx(inbox: Path) -> None:
    """A real XLSX cut in half, as an interrupted upload leaves it."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    for i in range(200):
        sheet.write_row(i, 0, ["Personnummer", "Hyresgäst", "Händelse", f"rad {i}"])
    book.close()
    data = buffer.getvalue()
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "skuldlista.xlsx").write_bytes(data[: len(data) // 2])


def scratch_schema() -> tuple[str, str]:
    schema = f"faults_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return schema, f"{PG_URL}?options=-csearch_path%3D{schema}"


def drop_schema(schema: str) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def run_moment(day: date, minutes_after: int = 0) -> datetime:
    return datetime.combine(day, datetime.min.time(), STOCKHOLM).replace(
        hour=6, minute=30 + minutes_after
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=6, help="new tenants per run day")
    parser.add_argument("--timeout", type=float, default=3.0, help="smtp.timeout_seconds")
    parser.add_argument("--verbose", action="store_true", help="print every stage's counts")
    args = parser.parse_args()

    began = time.monotonic()
    schema, url = scratch_schema()
    folder = Path(tempfile.mkdtemp(prefix="kvarboende-faults-"))
    settings = load_settings(REPO / "config.toml")
    settings.database.url = url
    for name in type(settings.paths).model_fields:
        setattr(settings.paths, name, folder / getattr(type(settings.paths)(), name))
    for company in settings.companies:
        company.inbox = settings.paths.inbox_dir / company.id
    settings.smtp.start_local = False
    settings.smtp.timeout_seconds = args.timeout
    settings.smtp.backoff_seconds = 0.05
    settings.smtp.rate_per_second = 1000
    engine = make_engine(url)
    upgrade(engine)
    register = folder / "register"
    register.mkdir(parents=True)
    (register / "cases.csv").write_text(
        "case_id;personnummer;name;street_address;apartment;postal_code;unit;caseworker_id;"
        "caseworker_name;caseworker_email;language\n"
        "A-1;194507092384;Ingen Hyresgäst;Annan väg 1;;12345;Ekonomiskt bistånd;cw1;"
        "Karin Svensson;karin@exempelby.se;sv\n",
        encoding="utf-8",
    )
    import_register(engine, settings, register / "cases.csv", taken_on=SCHEDULE[0][0])

    peer = Peer()
    controller = Controller(peer, hostname="127.0.0.1", port=_free_port("127.0.0.1"))
    controller.start()
    hanging = HangingServer()
    refused_port = _free_port("127.0.0.1")
    rng = random.Random(17)
    crashed = 0
    sent_in: dict[int, tuple[date, datetime]] = {}
    log: list[str] = []
    try:
        tenant = 0
        for day, behaviour, extra_minutes, broken in SCHEDULE:
            write_notices(
                settings.companies[0].inbox,  # type: ignore[arg-type]
                day,
                notice_rows(day, args.tenants, rng, tenant),
            )
            tenant += args.tenants
            if broken:
                write_broken_xlsx(settings.companies[1].inbox)  # type: ignore[arg-type]
            peer.greylist = behaviour == "greylisting"
            settings.smtp.port = {
                "refused": refused_port,
                "hanging": hanging.port,
            }.get(behaviour, controller.port)
            peer.clock = run_moment(day)
            started = time.monotonic()
            try:
                counts = run_daily(engine, settings, day)
            except Exception as exc:  # noqa: BLE001 - counted, the bench goes on
                crashed += 1
                counts = {}
                log.append(f"{day} run crashed: {type(exc).__name__}")
            seconds = time.monotonic() - started
            if args.verbose:
                print(day, {k: v for k, v in counts.items() if k != "delivery"})
            delivery = counts.get("delivery", {})
            ingest = counts.get("ingest", {})
            note_runs = [delivery]
            sent_in.update(newly_sent(engine, sent_in, day, run_moment(day)))
            if extra_minutes:
                moment = run_moment(day, extra_minutes)
                peer.clock = moment
                note_runs.append(deliver_outbox(engine, settings, day, at=moment))
                sent_in.update(newly_sent(engine, sent_in, day, moment))
            log.append(
                f"{day} {behaviour:<11} {seconds:5.1f} s  files rejected "
                f"{ingest.get('files_rejected', 0)}  worklist delivery rows "
                f"{counts.get('worklists', {}).get('delivery_problems', 0)}  "
                + "  ".join(
                    f"{k}={sum(r.get(k, 0) for r in note_runs)}"
                    for k in (
                        "sent_email",
                        "deferred",
                        "moved_to_print",
                        "printed",
                        "rebooked",
                        "not_rebooked",
                    )
                )
            )
        print("\n".join(log))
        log = []
        sent_after_meeting, lost, doubled, staff_lost, staff_doubled = check(
            engine, settings, peer, sent_in, SCHEDULE[-1][0]
        )
    finally:
        controller.stop()
        hanging.close()
        engine.dispose()
        drop_schema(schema)
        shutil.rmtree(folder, ignore_errors=True)

    print("\n".join(log))
    print(f"letters lost                     {lost}")
    print(f"letters sent after their meeting {sent_after_meeting}")
    print(f"letters doubled                  {doubled}")
    print(f"runs crashed by one file         {crashed}")
    print(f"staff emails lost                {staff_lost}")
    print(f"staff emails doubled             {staff_doubled}")
    print(f"runtime                          {time.monotonic() - began:.1f} s")


def newly_sent(
    engine: Engine, known: dict[int, tuple[date, datetime]], day: date, moment: datetime
) -> dict[int, tuple[date, datetime]]:
    """Letters marked sent since the last look, with the run that sent them."""
    with session_scope(engine) as session:
        ids = session.scalars(select(Letter.id).where(Letter.status == "sent")).all()
    return {i: (day, moment) for i in ids if i not in known}


def check(
    engine: Engine,
    settings: Settings,
    peer: Peer,
    sent_in: dict[int, tuple[date, datetime]],
    last_day: date,
) -> tuple[int, ...]:
    postal_days = settings.booking.postal_days
    received = Counter(mid for mid, _, _ in peer.received)
    with session_scope(engine) as session:
        letters = session.execute(
            select(
                Letter.id,
                Letter.kind,
                Letter.status,
                Letter.channel,
                Letter.flagged,
                Letter.message_id,
                Letter.print_batch,
                Letter.appointment_id,
                Letter.episode_id,
                Letter.version,
                AppointmentSlot.starts_at,
            )
            .outerjoin(Appointment, Appointment.id == Letter.appointment_id)
            .outerjoin(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .order_by(Letter.id)
        ).all()
    worklist = build_worklist(engine, settings, last_day).rows
    listed = set(worklist.filter(worklist["section"] == "delivery_problems")["episode_id"])
    tenant = [x for x in letters if x.kind in ("appointment", "appointment_cancelled")]
    staff = [x for x in letters if x.kind not in ("appointment", "appointment_cancelled")]

    late = 0
    for x in tenant:
        if x.status != "sent":
            continue
        day, moment = sent_in[x.id]
        starts = as_utc(x.starts_at)
        if x.channel == "email" and moment >= starts:
            late += 1
        if (
            x.channel == "print"
            and postal_arrival(day, postal_days) >= starts.astimezone(STOCKHOLM).date()
        ):
            late += 1

    delivered = {x.episode_id for x in tenant if x.status == "sent"}
    lost = 0
    for x in tenant:
        if x.status == "sent":
            if x.channel == "email" and received[x.message_id] == 0:
                lost += 1  # marked sent, never arrived
            continue
        replaced = x.status == "superseded" and any(
            y.episode_id == x.episode_id and y.version > x.version for y in tenant
        )
        if not replaced and x.episode_id not in listed and x.episode_id not in delivered:
            lost += 1

    doubled = sum(n - 1 for n in received.values() if n > 1)
    per_appointment = Counter(x.appointment_id for x in tenant if x.status == "sent")
    doubled += sum(n - 1 for n in per_appointment.values() if n > 1)
    doubled += sum(1 for x in tenant if x.message_id and x.print_batch)

    staff_lost = sum(
        1
        for x in staff
        if (x.status == "sent" and received[x.message_id] == 0)
        or (x.status != "sent" and None not in listed)
    )
    staff_doubled = sum(received[x.message_id] - 1 for x in staff if received[x.message_id] > 1)
    print(
        f"tenant letters {len(tenant)}: sent by email "
        f"{sum(x.status == 'sent' and x.channel == 'email' for x in tenant)}, by post "
        f"{sum(x.status == 'sent' and x.channel == 'print' for x in tenant)}, replaced by a "
        f"new version {sum(x.status == 'superseded' for x in tenant)}; staff emails "
        f"{len(staff)}: sent {sum(x.status == 'sent' for x in staff)}, given up and on the "
        f"worklist {sum(x.status == 'failed' for x in staff)}"
    )
    return late, lost, doubled, staff_lost, staff_doubled


if __name__ == "__main__":
    main()
