"""Delivery against real aiosmtpd servers: what arrives, with which headers and attachments.

The scripted server below refuses recipients (5xx), defers messages (4xx), drops the
connection, or kills the sending process, and keeps exactly the messages it accepted.
"""

from __future__ import annotations

import email
import email.policy
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import polars as pl
import pytest
from aiosmtpd.controller import Controller
from booking_helpers import add_caseworker, add_episode
from pypdf import PdfReader
from sqlalchemy import select

from connectors.local_smtp import _free_port
from connectors.smtp import message_id
from domain.formatting import STOCKHOLM
from flows.stages.booking import book_appointments
from flows.stages.delivery import deliver_outbox
from flows.stages.letters import create_letters
from models.db import as_utc, session_scope
from models.tables import Episode, Letter

RUN = date(2026, 11, 2)
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Script:
    """How the server misbehaves; counters are over DATA commands received."""

    refuse_rcpt: set[str] = field(default_factory=set)  # 550 for these recipients
    defer_first: int = 0  # answer 451 to the first N messages
    drop_at: set[int] = field(default_factory=set)  # drop the connection at these DATA numbers
    on_data: Callable[[int], None] | None = None  # called after storing message N


@dataclass
class ScriptedHandler:
    script: Script
    messages: list[EmailMessage] = field(default_factory=list)
    data_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        if address in self.script.refuse_rcpt:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        with self.lock:
            self.data_count += 1
            number = self.data_count
        if number <= self.script.defer_first:
            return "451 4.3.0 Try again later"
        if number in self.script.drop_at:
            server.transport.close()
            return "421 closing"
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        if self.script.on_data is not None:
            self.script.on_data(len(self.messages))
        return "250 OK"


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], tuple[ScriptedHandler, int]]]:
    controllers: list[Controller] = []

    def start(script: Script) -> tuple[ScriptedHandler, int]:
        handler = ScriptedHandler(script)
        port = _free_port("127.0.0.1")
        controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
        controller.start()
        controllers.append(controller)
        return handler, port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def fast(settings):  # noqa: ANN001, ANN201
    settings.smtp.backoff_seconds = 0.05
    settings.smtp.max_attempts = 3
    settings.smtp.rate_per_second = 1000
    settings.smtp.timeout_seconds = 5
    # Delivery's rules, not booking's: meetings on the first day the post reaches (as the
    # timings below were written), for email and print alike.
    settings.booking.min_lead_days_print = settings.booking.min_lead_days_email = 3
    # Email delivery itself: no post copies (tests/flows/test_post_copy.py has those).
    settings.letters.post_when_email_from_landlord = False
    return settings


def _prepare(engine, settings, emails: list[str | None], **kwargs: object) -> list[int]:  # noqa: ANN001
    ids = [add_episode(engine, email=address, **kwargs) for address in emails]  # type: ignore[arg-type]
    book_appointments(engine, settings, RUN)
    create_letters(engine, settings, RUN)
    return ids


def _letters(engine) -> list[Letter]:  # noqa: ANN001
    with session_scope(engine) as session:
        rows = list(session.scalars(select(Letter).order_by(Letter.id)))
        session.expunge_all()
        return rows


def _attachments(message: EmailMessage) -> dict[str, EmailMessage]:
    return {part.get_content_type(): part for part in message.iter_attachments()}


def test_attaching_the_pdf_is_configurable(db_engine, fast, smtp_server) -> None:  # noqa: ANN001
    """letters.email_attach_pdf = false: the email carries the essentials and the calendar
    event, no PDF, and does not point at an attachment that is not there."""
    fast.smtp.port = smtp_server.port
    fast.letters.email_attach_pdf = False
    _prepare(db_engine, fast, ["a@example.se"])
    assert deliver_outbox(db_engine, fast, RUN)["sent_email"] == 1
    (message,) = smtp_server.messages
    assert set(_attachments(message)) == {"text/calendar"}
    plain = message.get_body(("plain",)).get_content()
    assert "PDF" not in plain and "12 345,50 kr" in plain
    assert "senast måndag 30 november 2026" in plain
    assert message.get_body(("html",)) is not None


def test_letters_arrive_with_pdf_invite_and_stable_message_id(db_engine, fast, smtp_server) -> None:  # noqa: ANN001
    fast.smtp.port = smtp_server.port
    _prepare(db_engine, fast, ["a@example.se", None])
    english = add_episode(db_engine, email="b@example.se", language="en")
    book_appointments(db_engine, fast, RUN)
    create_letters(db_engine, fast, RUN)

    counts = deliver_outbox(db_engine, fast, RUN)
    assert counts["sent_email"] == 2 and counts["printed"] == 1 and counts["print_batches"] == 1

    letters = {letter.recipient: letter for letter in _letters(db_engine)}
    arrived = {m["To"]: m for m in smtp_server.messages}
    assert sorted(arrived) == ["a@example.se", "b@example.se"]
    for address, message in arrived.items():
        letter = letters[address]
        assert letter.status == "sent" and letter.attempts == 1
        assert message["Message-ID"] == message_id(letter.idempotency_key, fast.smtp.from_address)
        assert letter.message_id == message["Message-ID"]
        parts = _attachments(message)
        assert set(parts) == {"application/pdf", "text/calendar"}
        calendar = parts["text/calendar"].get_content()
        assert "METHOD:PUBLISH" in calendar and f"appointment-{letter.appointment_id}@" in calendar
        assert "ORGANIZER" not in calendar and "ATTENDEE" not in calendar
        assert "LOCATION:Boenderådgivningen\\, Medborgarhuset\\, Storgatan 1\\, plan 2\\, Ex" in (
            calendar.replace("\r\n ", "")
        )
        html = message.get_body(("html",)).get_content()
        # The HTML part beside the text says what the letter says: meeting, debt, date.
        assert ("<strong>Tid:</strong>" in html) or ("<strong>Time:</strong>" in html)
        assert ("12 345,50 kr" in html) or ("SEK 12,345.50" in html)
        plain = message.get_body(("plain",)).get_content()
        assert ("12 345,50 kr" in plain) or ("SEK 12,345.50" in plain)
        pdf_text = PdfReader(io.BytesIO(parts["application/pdf"].get_content())).pages[0]
        text = pdf_text.extract_text()
        if address == "b@example.se":
            assert "You owe SEK 12,345.50" in " ".join(text.split())
            assert message["Subject"] == "You have a booked appointment with Exempelby kommun"
        else:
            assert "12 345,50 kr" in text and "måndag 30 november 2026" in text
            assert message["Subject"] == "Du har en bokad tid hos Exempelby kommun"
            assert "senast måndag 30 november 2026" in plain
    assert letters[None].channel == "print" and letters[None].print_batch == "2026-11-02-01"
    batch = fast.paths.print_dir / "2026-11-02-01.pdf"
    manifest = (fast.paths.print_dir / "2026-11-02-01.csv").read_text(encoding="utf-8")
    assert len(PdfReader(batch).pages) == 2
    assert manifest.splitlines()[1].startswith(f"1;{letters[None].id};appointment:")
    assert english in {letter.episode_id for letter in letters.values()}

    again = deliver_outbox(db_engine, fast, RUN)
    assert again["sent_email"] == 0 and again["printed"] == 0
    assert len(smtp_server.messages) == 2


def test_temporary_refusals_are_retried_until_delivered(db_engine, fast, scripted) -> None:  # noqa: ANN001
    handler, fast.smtp.port = scripted(Script(defer_first=2))
    _prepare(db_engine, fast, ["a@example.se"])
    counts = deliver_outbox(db_engine, fast, RUN)
    assert counts["retry"] == 2 and counts["sent_email"] == 1
    (letter,) = _letters(db_engine)
    assert letter.status == "sent" and letter.attempts == 3 and letter.last_error is None
    assert len(handler.messages) == 1


def test_permanent_refusal_moves_the_letter_to_print_and_flags_it(
    db_engine, fast, scripted
) -> None:  # noqa: ANN001
    handler, fast.smtp.port = scripted(Script(refuse_rcpt={"gone@example.se"}))
    _prepare(db_engine, fast, ["gone@example.se", "ok@example.se", "not-an-address"])
    counts = deliver_outbox(db_engine, fast, RUN)
    assert counts["sent_email"] == 1 and counts["moved_to_print"] == 1
    assert counts["printed"] == 2  # the refused one and the one without a usable address
    letters = {letter.recipient: letter for letter in _letters(db_engine)}
    refused = letters["gone@example.se"]
    assert refused.channel == "print" and refused.flagged and refused.status == "sent"
    assert "550" in (refused.last_error or "") and refused.print_batch == "2026-11-02-01"
    assert [m["To"] for m in handler.messages] == ["ok@example.se"]


def test_dropped_connection_is_reopened_and_nothing_is_lost(db_engine, fast, scripted) -> None:  # noqa: ANN001
    handler, fast.smtp.port = scripted(Script(drop_at={3}))
    _prepare(db_engine, fast, [f"t{n}@example.se" for n in range(5)])
    counts = deliver_outbox(db_engine, fast, RUN)
    assert counts["sent_email"] == 5 and counts["retry"] == 1
    expected = {message_id(x.idempotency_key, fast.smtp.from_address) for x in _letters(db_engine)}
    assert sorted(m["Message-ID"] for m in handler.messages) == sorted(expected)


def test_four_xx_exhausted_goes_to_print(db_engine, fast, scripted) -> None:  # noqa: ANN001
    handler, fast.smtp.port = scripted(Script(defer_first=99))
    _prepare(db_engine, fast, ["a@example.se"])
    counts = deliver_outbox(db_engine, fast, RUN)
    (letter,) = _letters(db_engine)
    assert counts["moved_to_print"] == 1 and counts["printed"] == 1
    assert letter.attempts == 3 and letter.flagged
    assert "gave up after 3 attempts" in (letter.last_error or "")
    assert handler.messages == []


def _fill_slots_before(engine, settings, first_free: date) -> None:  # noqa: ANN001
    """Materialise the advisor's slots and take every place before ``first_free``."""
    from sqlalchemy import update as sql_update

    from models.tables import AppointmentSlot
    from services._common import start_of_day as _start_of_day
    from services.appointments import materialise_slots

    with session_scope(engine) as session:
        materialise_slots(session, settings, RUN, RUN + timedelta(days=60))
        session.execute(
            sql_update(AppointmentSlot)
            .where(AppointmentSlot.starts_at < _start_of_day(first_free))
            .values(booked=AppointmentSlot.capacity)
        )


def test_refused_connection_counts_attempts_then_goes_to_print_flagged(db_engine, fast) -> None:  # noqa: ANN001
    fast.smtp.port = _free_port("127.0.0.1")  # nothing listens there: connection refused
    fast.smtp.max_attempts = 2
    _fill_slots_before(db_engine, fast, date(2026, 11, 12))  # the post has days to spare
    _prepare(db_engine, fast, ["a@example.se"])
    counts = deliver_outbox(db_engine, fast, RUN)
    (letter,) = _letters(db_engine)
    assert counts["deferred"] == 1 and counts["sent_email"] == 0 and counts["printed"] == 0
    assert letter.status == "pending" and letter.attempts == 1 and letter.channel == "email"
    assert "cannot connect" in (letter.last_error or "") and not letter.flagged

    # The next day the letter is dated again (a new version); its attempts still count.
    counts = deliver_outbox(db_engine, fast, date(2026, 11, 3))
    old, letter = _letters(db_engine)
    assert old.status == "superseded" and old.sent_at is None and counts["redated"] == 1
    assert counts["moved_to_print"] == 1 and counts["printed"] == 1
    assert letter.version == 2 and letter.created_on == date(2026, 11, 3)
    assert letter.channel == "print" and letter.flagged and letter.status == "sent"
    assert letter.attempts == 2 and "gave up after 2 attempts" in (letter.last_error or "")


def test_outage_moves_the_letter_to_print_on_the_last_day_the_post_is_in_time(
    db_engine, fast
) -> None:  # noqa: ANN001
    from flows.stages.worklist import build_worklist

    fast.smtp.port = _free_port("127.0.0.1")
    fast.smtp.max_attempts = 50  # only the postal deadline can move it
    _fill_slots_before(db_engine, fast, date(2026, 11, 12))
    (episode,) = _prepare(db_engine, fast, ["a@example.se"])
    (letter,) = _letters(db_engine)
    with session_scope(db_engine) as session:
        from models.tables import Appointment, AppointmentSlot

        starts = session.scalar(
            select(AppointmentSlot.starts_at)
            .join(Appointment, Appointment.slot_id == AppointmentSlot.id)
            .where(Appointment.id == letter.appointment_id)
        )
    assert starts.date() == date(2026, 11, 12)  # Thursday: posted Monday 9th arrives on the 11th
    for day in (RUN, date(2026, 11, 3), date(2026, 11, 6)):
        counts = deliver_outbox(db_engine, fast, day)
        assert counts["deferred"] == 1 and counts["printed"] == 0
    # Each day the unsent letter is dated again: a new version, its attempts still count.
    *old, letter = _letters(db_engine)
    assert [x.status for x in old] == ["superseded", "superseded"]
    assert letter.version == 3 and letter.created_on == date(2026, 11, 6)
    assert letter.attempts == 3 and letter.channel == "email" and letter.status == "pending"
    # The advisor sees the letter that should have gone out on 2 November.
    rows = build_worklist(db_engine, fast, date(2026, 11, 6)).rows
    problems = rows.filter(pl.col("section") == "delivery_problems")
    assert problems["episode_id"].to_list() == [episode]
    assert "inte gått iväg" in problems["action"][0]

    counts = deliver_outbox(db_engine, fast, date(2026, 11, 9))
    *_, letter = _letters(db_engine)
    assert counts["moved_to_print"] == 1 and counts["printed"] == 1
    assert letter.channel == "print" and letter.flagged and letter.status == "sent"
    assert letter.print_batch == "2026-11-09-01" and letter.attempts == 4
    assert letter.version == 4 and letter.created_on == date(2026, 11, 9)


class HangingServer:
    """A real TCP server that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.socket.close()
        for connection in self.connections:
            connection.close()


def test_hanging_server_costs_one_timeout_per_run_and_counts_attempts(db_engine, fast) -> None:  # noqa: ANN001
    server = HangingServer()
    try:
        fast.smtp.port = server.port
        fast.smtp.timeout_seconds = 1.5
        _fill_slots_before(db_engine, fast, date(2026, 11, 12))
        _prepare(db_engine, fast, ["a@example.se", "b@example.se", "c@example.se"])
        began = time.monotonic()
        counts = deliver_outbox(db_engine, fast, RUN)
        elapsed = time.monotonic() - began
    finally:
        server.close()
    assert elapsed < 2 * 1.5, f"the run took {elapsed:.1f} s"
    assert counts["deferred"] == 3 and counts["sent_email"] == 0
    letters = _letters(db_engine)
    assert [x.attempts for x in letters] == [1, 1, 1]
    assert {x.status for x in letters} == {"pending"}
    assert all("cannot connect" in (x.last_error or "") for x in letters)


def test_letter_whose_meeting_passed_is_rebooked_as_a_new_version(
    db_engine, fast, smtp_server
) -> None:  # noqa: ANN001
    from models.tables import Appointment

    (episode,) = _prepare(db_engine, fast, ["a@example.se"])  # meeting on 5 November
    fast.smtp.port = smtp_server.port  # the server is back only on the 6th
    counts = deliver_outbox(db_engine, fast, date(2026, 11, 6))
    assert counts["rebooked"] == 1 and counts["sent_email"] == 1
    old, new = _letters(db_engine)
    assert old.status == "superseded" and old.message_id is None
    assert new.version == 2 and new.status == "sent" and new.episode_id == episode
    (message,) = smtp_server.messages
    assert message["Message-ID"] == new.message_id
    with session_scope(db_engine) as session:
        statuses = dict(session.execute(select(Appointment.id, Appointment.status)).all())
    assert statuses[old.appointment_id] == "cancelled"
    assert statuses[new.appointment_id] == "booked"
    assert deliver_outbox(db_engine, fast, date(2026, 11, 6))["sent_email"] == 0


def test_letter_whose_meeting_passed_without_a_free_time_is_listed(
    db_engine, fast, smtp_server
) -> None:  # noqa: ANN001
    from sqlalchemy import update as sql_update

    from flows.stages.worklist import build_worklist
    from models.tables import AppointmentSlot

    (episode,) = _prepare(db_engine, fast, [None])  # by post, never printed in time
    with session_scope(db_engine) as session:
        session.execute(sql_update(AppointmentSlot).values(booked=AppointmentSlot.capacity))
    fast.booking.horizon_days = 7
    fast.smtp.port = smtp_server.port
    counts = deliver_outbox(db_engine, fast, date(2026, 11, 4))
    assert counts["not_rebooked"] == 1 and counts["printed"] == 0
    (letter,) = _letters(db_engine)
    assert letter.status == "failed" and letter.flagged and letter.print_batch is None
    rows = build_worklist(db_engine, fast, date(2026, 11, 4)).rows
    problems = rows.filter(pl.col("section") == "delivery_problems")
    assert problems["episode_id"].to_list() == [episode]
    assert problems["action"][0].startswith("Brevet hinner inte fram före mötet")


@dataclass
class Greylisting:
    """451 to every message until ``until`` (monotonic seconds), then 250."""

    until: float
    messages: list[EmailMessage] = field(default_factory=list)
    refused: int = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        if time.monotonic() < self.until:
            self.refused += 1
            return "451 4.7.1 Greylisted, please try again later"
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


def _staff_email(engine, created_on: date, key: str = "caseworker_notice:cw1:x") -> None:  # noqa: ANN001
    from services.outbox import enqueue

    with session_scope(engine) as session:
        enqueue(
            session,
            key=key,
            kind="caseworker_notice",
            channel="email",
            created_on=created_on,
            recipient="karin@exempelby.se",
            subject="3 nya ärenden",
            body="Se arbetslistan: kvarboende worklist --caseworker cw1\n",
        )


@pytest.fixture
def greylisting() -> Iterator[Callable[[float], tuple[Greylisting, int]]]:
    controllers: list[Controller] = []

    def start(seconds: float) -> tuple[Greylisting, int]:
        handler = Greylisting(until=time.monotonic() + seconds)
        port = _free_port("127.0.0.1")
        controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
        controller.start()
        controllers.append(controller)
        return handler, port

    yield start
    for controller in controllers:
        controller.stop()


def test_greylisted_staff_email_is_retried_on_a_later_run_and_sent_once(
    db_engine, fast, greylisting
) -> None:  # noqa: ANN001
    today = datetime.now(STOCKHOLM).date()  # today's run: the real clock
    handler, fast.smtp.port = greylisting(1.0)
    fast.smtp.staff_backoff_minutes = 0.02  # 1.2 s here; minutes in production
    _staff_email(db_engine, today)
    counts = deliver_outbox(db_engine, fast, today)
    (letter,) = _letters(db_engine)
    assert counts["retry"] == 1 and counts["sent_email"] == 0 and handler.messages == []
    assert letter.status == "pending" and letter.attempts == 1 and "451" in letter.last_error
    time.sleep(1.3)
    assert deliver_outbox(db_engine, fast, today)["sent_email"] == 1
    assert deliver_outbox(db_engine, fast, today)["sent_email"] == 0
    (letter,) = _letters(db_engine)
    assert letter.status == "sent" and letter.attempts == 2
    assert len(handler.messages) == 1 and handler.refused == 1


def test_staff_email_that_finally_fails_is_on_the_worklist(db_engine, fast, greylisting) -> None:  # noqa: ANN001
    from flows.stages.worklist import build_worklist

    handler, fast.smtp.port = greylisting(3600)
    _staff_email(db_engine, RUN, key="caseworker_notice:cw1:2026-11-02")
    assert deliver_outbox(db_engine, fast, RUN)["retry"] == 1  # 06:30 on the 2nd
    (letter,) = _letters(db_engine)
    assert letter.status == "pending"
    counts = deliver_outbox(db_engine, fast, date(2026, 11, 3))  # 24 hours later
    (letter,) = _letters(db_engine)
    assert counts["failed"] == 1 and letter.status == "failed" and letter.attempts == 2
    rows = build_worklist(db_engine, fast, date(2026, 11, 4)).rows
    problems = rows.filter(pl.col("section") == "delivery_problems")
    assert problems["episode_id"].to_list() == [None]
    action = problems["action"][0]
    assert "handläggare cw1" in action and "kunde inte skickas" in action
    assert "karin" not in action and handler.messages == []
    from flows.stages.worklist import output_dir, write_worklists

    write_worklists(db_engine, fast, date(2026, 11, 4))  # the files show it too (no episode)
    listed = (output_dir(fast, date(2026, 11, 4)) / "radgivare-radgivare1.csv").read_text(
        "utf-8-sig"
    )
    assert any(
        line.startswith("Brev som inte nått fram och sena möten;–;") for line in listed.splitlines()
    )


def test_caseworker_gets_one_email_per_day_without_personal_data(
    db_engine, fast, smtp_server
) -> None:  # noqa: ANN001
    fast.smtp.port = smtp_server.port
    add_caseworker(db_engine, "cw1", "karin@exempelby.se")
    add_caseworker(db_engine, "cw2", None)
    for _ in range(3):
        add_episode(db_engine, routing="caseworker", caseworker_id="cw1", name="Bertil Hemlig")
    add_episode(db_engine, routing="caseworker", caseworker_id="cw2")
    first = create_letters(db_engine, fast, RUN)
    assert first["caseworker_emails"] == 1
    add_episode(db_engine, routing="caseworker", caseworker_id="cw1", name="Bertil Hemlig")
    assert create_letters(db_engine, fast, RUN)["caseworker_emails"] == 0  # same day: updated
    deliver_outbox(db_engine, fast, RUN)
    (message,) = smtp_server.messages
    body = message.get_content()
    assert message["To"] == "karin@exempelby.se" and "4 nya ärenden" in message["Subject"]
    assert f"{fast.web.link('/handlaggare')}\n" in body  # the portal, not a command
    assert "kvarboende worklist" not in body and "cw1" not in body
    for secret in ("Bertil", "Hemlig", "198501012384", "Ringvägen", "12345"):
        assert secret not in body and secret not in message["Subject"]
    with session_scope(db_engine) as session:
        notified = session.scalars(select(Episode.caseworker_notified_on)).all()
    assert notified.count(RUN) == 4


def test_two_runs_at_once_never_send_the_same_letter(db_engine, fast, smtp_server) -> None:  # noqa: ANN001
    fast.smtp.port = smtp_server.port
    _prepare(db_engine, fast, [f"t{n}@example.se" for n in range(30)])
    results: list[dict[str, int]] = []
    threads = [
        threading.Thread(target=lambda: results.append(deliver_outbox(db_engine, fast, RUN)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert sum(r["sent_email"] for r in results) == 30


KILLER = """
import sys
from datetime import date
from tests_support_settings import settings_for
from flows.stages.delivery import deliver_outbox
settings = settings_for(sys.argv[1], sys.argv[2], int(sys.argv[3]))
from models.db import make_engine
deliver_outbox(make_engine(sys.argv[1]), settings, date(2026, 11, 2))
"""


def test_killed_sender_loses_nothing_and_duplicates_only_the_message_in_flight(
    db_url, db_engine, fast, scripted, tmp_path
) -> None:  # noqa: ANN001
    victim: dict[str, int] = {}

    def kill_after_third(count: int) -> None:
        if count == 3 and "pid" in victim:
            os.kill(victim["pid"], signal.SIGKILL)  # before the server answers 250

    handler, port = scripted(Script(on_data=kill_after_third))
    fast.smtp.port = port
    _prepare(db_engine, fast, [f"t{n}@example.se" for n in range(6)])
    support = tmp_path / "tests_support_settings.py"
    support.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from settings_helpers import build_settings\n"
        "from pathlib import Path\n"
        "def settings_for(url, tmp, port):\n"
        "    s = build_settings(Path(tmp), url)\n"
        "    s.smtp.port = port\n"
        "    s.smtp.rate_per_second = 1000\n"
        "    return s\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    process = subprocess.Popen(
        [sys.executable, "-c", KILLER, db_url, str(tmp_path), str(port)], env=env, cwd=REPO
    )
    victim["pid"] = process.pid
    assert process.wait(timeout=120) == -signal.SIGKILL

    in_flight = [x for x in _letters(db_engine) if x.status == "sending"]
    assert len(in_flight) == 1  # the one whose 250 never came back
    counts = deliver_outbox(db_engine, fast, RUN)
    letters = _letters(db_engine)
    assert all(x.status == "sent" for x in letters) and counts["sent_email"] == 4
    ids = [m["Message-ID"] for m in handler.messages]
    assert len(ids) == 7 and len(set(ids)) == 6  # six letters, one sent twice
    duplicate = {i for i in ids if ids.count(i) == 2}
    assert duplicate == {
        in_flight[0].message_id or message_id(in_flight[0].idempotency_key, fast.smtp.from_address)
    }


def test_local_server_keeps_earlier_runs_mail(db_engine, fast) -> None:  # noqa: ANN001

    fast.smtp.start_local = True  # deliver_outbox starts the demo's local server itself
    fast.smtp.port = _free_port("127.0.0.1")
    _prepare(db_engine, fast, ["a@example.se"])
    assert deliver_outbox(db_engine, fast, RUN)["sent_email"] == 1
    add_episode(db_engine, email="b@example.se")
    book_appointments(db_engine, fast, RUN)
    create_letters(db_engine, fast, RUN)
    assert deliver_outbox(db_engine, fast, RUN)["sent_email"] == 1
    files = sorted(p.name for p in fast.paths.mail_dir.glob("*.eml"))
    assert files == ["000001.eml", "000002.eml"]
    recipients = {
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["To"]
        for p in fast.paths.mail_dir.glob("*.eml")
    }
    assert recipients == {"a@example.se", "b@example.se"}


def test_staff_email_with_report_attachment_and_failure(db_engine, fast, scripted) -> None:  # noqa: ANN001
    from services.outbox import enqueue

    handler, fast.smtp.port = scripted(Script(refuse_rcpt={"gone@exempelby.se"}))
    report = fast.paths.reports_dir / "rapport-2026-10.pdf"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_bytes(PDF_SAMPLE)
    with session_scope(db_engine) as session:
        for key, recipient in (
            ("manager_report:2026-10:a", "chef@exempelby.se"),
            ("manager_report:2026-10:b", "gone@exempelby.se"),
        ):
            enqueue(
                session,
                key=key,
                kind="manager_report",
                channel="email",
                created_on=RUN,
                recipient=recipient,
                subject="Månadsrapport oktober 2026",
                body="Rapporten är bifogad.\n",
                pdf_path=str(report),
            )
    counts = deliver_outbox(db_engine, fast, RUN)
    assert counts["sent_email"] == 1 and counts["failed"] == 1 and counts["printed"] == 0
    (message,) = handler.messages
    parts = _attachments(message)
    assert set(parts) == {"application/pdf"}
    assert parts["application/pdf"].get_filename() == "rapport-2026-10.pdf"
    failed = [x for x in _letters(db_engine) if x.status == "failed"]
    assert len(failed) == 1 and failed[0].channel == "email" and "550" in failed[0].last_error


PDF_SAMPLE = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def test_no_recipient_or_content_in_log_records(db_engine, fast, caplog) -> None:  # noqa: ANN001
    import logging

    caplog.set_level(logging.DEBUG)
    fast.smtp.start_local = True
    fast.smtp.port = _free_port("127.0.0.1")
    _prepare(db_engine, fast, ["hemlig.person@example.se"], name="Hemlig Person")
    assert deliver_outbox(db_engine, fast, RUN)["sent_email"] == 1
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "hemlig.person" not in logged and "Hemlig" not in logged


def test_print_batch_interrupted_before_or_after_writing_is_finished_once(db_engine, fast) -> None:  # noqa: ANN001
    from sqlalchemy import update as sql_update

    _prepare(db_engine, fast, [None, None])
    # A run claimed both letters into batch 01 and died before writing it.
    with session_scope(db_engine) as session:
        session.execute(
            sql_update(Letter).values(
                status="sending", print_batch="2026-11-02-01", claim_token="x:1:dead"
            )
        )
    counts = deliver_outbox(db_engine, fast, RUN)
    assert counts["printed"] == 2 and counts["print_batches"] == 1
    batch = fast.paths.print_dir / "2026-11-02-01.pdf"
    assert len(PdfReader(batch).pages) == 4  # two one-page letters, each on its own sheet
    assert {x.status for x in _letters(db_engine)} == {"sent"}

    # Another died after writing batch 02 but before marking its letter sent.
    third = add_episode(db_engine)
    book_appointments(db_engine, fast, RUN)
    create_letters(db_engine, fast, RUN)
    with session_scope(db_engine) as session:
        session.execute(
            sql_update(Letter)
            .where(Letter.episode_id == third)
            .values(status="sending", print_batch="2026-11-02-02", claim_token="x:1:dead")
        )
    marker = fast.paths.print_dir / "2026-11-02-02.pdf"
    marker.write_bytes(batch.read_bytes())
    (fast.paths.print_dir / "2026-11-02-02.csv").write_text("as written\n", encoding="utf-8")
    counts = deliver_outbox(db_engine, fast, RUN)
    assert counts["printed"] == 1 and counts["print_batches"] == 1
    assert (fast.paths.print_dir / "2026-11-02-02.csv").read_text("utf-8") == "as written\n"
    assert {x.status for x in _letters(db_engine)} == {"sent"}
    assert sorted(p.name for p in fast.paths.print_dir.glob("*.pdf")) == [
        "2026-11-02-01.pdf",
        "2026-11-02-02.pdf",
    ]


def test_no_usable_address_at_all_is_flagged_not_printed(db_engine, fast, scripted) -> None:  # noqa: ANN001
    handler, fast.smtp.port = scripted(Script(refuse_rcpt={"gone@example.se"}))
    nowhere = add_episode(db_engine, street=None)
    bounced = add_episode(db_engine, street=None, email="gone@example.se")
    book_appointments(db_engine, fast, RUN)
    create_letters(db_engine, fast, RUN)
    counts = deliver_outbox(db_engine, fast, RUN)
    assert counts["printed"] == 0 and counts["failed"] == 1 and counts["moved_to_print"] == 0
    letters = {x.episode_id: x for x in _letters(db_engine)}
    assert letters[nowhere].status == "failed" and letters[nowhere].flagged
    assert "no complete postal address" in (letters[nowhere].last_error or "")
    assert letters[bounced].status == "failed" and letters[bounced].flagged
    assert letters[bounced].channel == "email" and handler.messages == []
    assert not fast.paths.print_dir.exists() or not list(fast.paths.print_dir.glob("*.pdf"))


def test_two_runs_at_once_print_each_letter_in_exactly_one_batch(db_engine, fast) -> None:  # noqa: ANN001
    import csv

    _prepare(db_engine, fast, [None] * 12)
    threads = [
        threading.Thread(target=lambda: deliver_outbox(db_engine, fast, RUN)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    letters = _letters(db_engine)
    assert {x.status for x in letters} == {"sent"}
    printed: list[int] = []
    for manifest in sorted(fast.paths.print_dir.glob("*.csv")):
        rows = list(csv.DictReader(manifest.open(encoding="utf-8"), delimiter=";"))
        printed += [int(row["letter_id"]) for row in rows]
        assert {x.print_batch for x in letters if x.id in {int(r["letter_id"]) for r in rows}} == {
            manifest.stem
        }
    assert sorted(printed) == sorted(x.id for x in letters)


def test_refused_email_with_two_days_lead_is_rebooked_by_post_with_the_post_lead(
    db_engine, fast, scripted
) -> None:  # noqa: ANN001
    """Email wants two working days; when it is refused the post cannot make that meeting:
    a new time that leaves the print lead time, a new version by post."""
    from models.tables import Appointment, AppointmentSlot

    fast.booking.min_lead_days_email, fast.booking.min_lead_days_print = 2, 5
    handler, fast.smtp.port = scripted(Script(refuse_rcpt={"gone@example.se"}))
    (episode,) = _prepare(db_engine, fast, ["gone@example.se"])
    counts = deliver_outbox(db_engine, fast, RUN)
    assert counts["rebooked"] == 1 and handler.messages == []
    with session_scope(db_engine) as session:
        rows = session.execute(
            select(Appointment.status, AppointmentSlot.starts_at)
            .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .where(Appointment.episode_id == episode)
            .order_by(Appointment.id)
        ).all()
    days = [as_utc(at).astimezone(STOCKHOLM).date() for _, at in rows]
    assert [status for status, _ in rows] == ["cancelled", "booked"]
    assert days == [date(2026, 11, 4), date(2026, 11, 9)]  # 2 by email, then 5 by post
    letters = _letters(db_engine)
    assert [(x.channel, x.status) for x in letters][-1] == ("print", "sent")


# ---------------------------------------------------------------------------
# Post copies of letters emailed to the landlord's address


def _printed_keys(settings) -> list[str]:  # noqa: ANN001
    keys = []
    for manifest in sorted(settings.paths.print_dir.glob("*.csv")):
        lines = manifest.read_text(encoding="utf-8").splitlines()[1:]
        keys += [line.split(";")[2] for line in lines]
    return keys


def test_letter_to_the_landlords_address_is_also_printed_once(db_engine, fast, scripted) -> None:  # noqa: ANN001
    from domain.statistics.facts import LETTER_SCHEMA, first_letters

    fast.letters.post_when_email_from_landlord = True
    handler, fast.smtp.port = scripted(Script())
    (episode_id,) = _prepare(db_engine, fast, ["asa@example.se"])
    assert create_letters(db_engine, fast, RUN)["letters"] == 0  # a rerun adds nothing
    letter, copy = _letters(db_engine)
    assert (letter.kind, letter.channel, letter.recipient) == (
        "appointment",
        "email",
        "asa@example.se",
    )
    assert (copy.kind, copy.channel, copy.copy_of_id) == ("post_copy", "print", letter.id)
    assert (
        copy.pdf_path == letter.pdf_path
        and copy.idempotency_key == letter.idempotency_key + ":post"
    )
    counts = deliver_outbox(db_engine, fast, RUN)
    assert counts["sent_email"] == 1 and counts["printed"] == 1
    again = deliver_outbox(db_engine, fast, RUN)
    assert again["printed"] == 0 and again["sent_email"] == 0
    assert _printed_keys(fast) == [copy.idempotency_key]
    assert len(handler.messages) == 1
    # The statistics count the tenant's letter once (a copy is no letter of its own).
    rows = [
        (x.episode_id, x.kind, x.channel, x.status, x.sent_at, x.created_on, x.appointment_id)
        for x in _letters(db_engine)
    ]
    first = first_letters(pl.DataFrame(rows, schema=LETTER_SCHEMA, orient="row"))
    assert first.select("episode_id", "channel").rows() == [(episode_id, "email")]


def test_email_refused_for_good_prints_the_letter_not_also_its_copy(
    db_engine, fast, scripted
) -> None:  # noqa: ANN001
    fast.letters.post_when_email_from_landlord = True
    handler, fast.smtp.port = scripted(Script(refuse_rcpt={"gone@example.se"}))
    _prepare(db_engine, fast, ["gone@example.se"])
    counts = deliver_outbox(db_engine, fast, RUN)
    assert (
        counts["moved_to_print"] == 1 and counts["printed"] == 1 and counts["copies_dropped"] == 1
    )
    letter, copy = _letters(db_engine)
    assert (letter.channel, letter.status, copy.status) == ("print", "sent", "superseded")
    assert _printed_keys(fast) == [letter.idempotency_key]


def test_email_failing_after_its_copy_was_printed_is_not_printed_again(
    db_engine, fast, scripted
) -> None:  # noqa: ANN001
    import socket

    fast.letters.post_when_email_from_landlord = True
    # A port bound and never listened on: refused for certain, and no other test's
    # server can take it while this one holds it (a merely "free" port could be).
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    fast.smtp.port = closed.getsockname()[1]  # nobody listens: the email waits
    _prepare(db_engine, fast, ["gone@example.se"])
    try:
        first = deliver_outbox(db_engine, fast, RUN)
    finally:
        closed.close()
    assert first["deferred"] == 1 and first["printed"] == 1  # the copy went to print
    handler, fast.smtp.port = scripted(Script(refuse_rcpt={"gone@example.se"}))
    later = deliver_outbox(db_engine, fast, RUN)
    assert later["printed"] == 0 and later["failed_post_copy_sent"] == 1
    letter, copy = _letters(db_engine)
    assert (letter.channel, letter.status, copy.status) == ("email", "failed", "sent")
    assert "post copy" in (letter.last_error or "") and not letter.flagged
    assert len(_printed_keys(fast)) == 1


def test_no_copy_for_the_tenants_own_address_or_when_configured_off(
    db_engine, fast, scripted, db_url, tmp_path
) -> None:  # noqa: ANN001
    from flows.cli import main
    from models.tables import AuditLog

    fast.letters.post_when_email_from_landlord = True
    handler, fast.smtp.port = scripted(Script())
    own = add_episode(db_engine, email="landlord-knew@example.se")
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    assert main(["--config", str(config), "episodes", "email", str(own), "bad address"]) != 0
    assert main(["--config", str(config), "episodes", "email", str(own), " Asa@Example.se "]) == 0
    book_appointments(db_engine, fast, RUN)
    create_letters(db_engine, fast, RUN)
    (letter,) = _letters(db_engine)
    assert (letter.channel, letter.recipient) == ("email", "Asa@Example.se")
    with session_scope(db_engine) as session:
        audit = session.execute(
            select(AuditLog.action, AuditLog.detail).where(AuditLog.entity_id == str(own))
        ).all()
    assert ("episode.tenant_email", "set") in audit  # the address itself is not logged
    fast.letters.post_when_email_from_landlord = False
    _prepare(db_engine, fast, ["other@example.se"])
    assert [x.kind for x in _letters(db_engine)] == ["appointment", "appointment"]
