"""Stage: deliver the outbox, by email or in the day's print batch, and never lose a letter.

Every letter moves ``pending → sending → sent``, or to ``failed`` with the reason and
the attempt count, or to ``superseded`` when a new version replaced it unsent. How a
crash, a second run or an outage is handled:

* A letter is claimed before it is sent: one short transaction sets it ``sending``
  with this run's claim token (``host:pid:uuid``). On PostgreSQL the candidate is
  selected ``FOR UPDATE SKIP LOCKED`` and the claim is a conditional update, so two
  runs never claim the same letter; SQLite serialises the claim the same way.
* The claim is committed before the SMTP conversation and the result after it, so a
  kill can leave at most the one in-flight letter ``sending``. A later run takes it
  over when its owner process is gone (same host) or its claim is older than
  ``smtp.claim_timeout_seconds`` (another host), and sends it again with the same
  Message-ID: the only duplicate possible.
* Temporary failures (4xx, dropped connections) are retried with doubling backoff up
  to ``smtp.max_attempts``; permanent ones (5xx, invalid address), and letters that run
  out of attempts, move a tenant letter to the print channel and flag it for the
  worklist.
* A server that cannot be reached (refused, no answer within ``smtp.timeout_seconds``,
  login refused) is tried once per run: the run counts one attempt for every letter
  due and stops emailing, so an outage costs at most one timeout per run.
* An email tenant letter not sent by the last day the post still arrives before the
  meeting goes into that day's print batch, flagged. A letter whose meeting is too close
  for its channel is never sent as it was: the episode is rebooked (a new letter
  version, by post when email had already failed) or, when no time can be booked, the
  letter fails flagged and the worklist says what to do.
* Staff emails have no paper form: temporary failures are retried across runs for at
  least ``smtp.staff_retry_hours`` with a growing pause, then they end ``failed`` and
  the first advisor's worklist shows them.
* A tenant letter never goes out on a later day than the date it carries (an email
  retried the next day, a letter queued on a Friday evening and sent on Monday, one
  moved to print): it is rendered again as a new version dated the run's day, for the
  same meeting when that still suits a letter dated today, else rebooked as above; the
  old one is superseded in the same transaction. A post copy to print after its
  letter was emailed is rendered again dated the run's day. Email retries within a day
  keep the same letter.
* Print letters are claimed into a named batch before the batch file is written and
  marked sent after it; a rerun finishes a half-done batch under the same name.
* A post copy (a letter emailed to the landlord's address, printed too) is printed once,
  in the batch of the day it was queued: it is dropped when the letter itself moves to
  print, is replaced, or the post would come too late; a letter whose copy is printed
  never goes to print itself (its email failing or coming too late changes nothing).

Time: a run for today uses the real clock; a run for another date (a catch-up, the
demo, the fault bench) acts as if it started at the daily schedule's time on that date,
and its clock advances while it runs. Claims always use the real clock.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine

from connectors.local_smtp import LocalSmtpServer
from connectors.print_batch import batch_exists, write_print_batch
from connectors.smtp import (
    TIMEOUT,
    Attachment,
    Invite,
    Outcome,
    OutgoingEmail,
    SmtpSender,
    SmtpUnavailable,
    build_message,
    html_body,
    message_id,
    sender_domain,
)
from domain.addresses import usable_email
from domain.delivery import MEETING_PASSED, letter_too_late, must_post_today, scheduled_time
from domain.formatting import STOCKHOLM
from domain.vocabulary import AppointmentStatus, Channel, LetterKind, LetterStatus
from models.config import ConfigError, Settings
from models.db import as_utc
from models.tables import AppointmentSlot, Letter
from services.delivery import Outbox, claim_is_stale, new_claim_token, real_now
from services.outbox import TENANT_KINDS

T = TypeVar("T")


class RunClock:
    """The run's "now": the real clock on today's run, else the run date's scheduled time.

    Deadlines (meeting too close, post in time, staff retries) and retry times follow
    the run date, so a catch-up run, the demo and the fault bench behave as on that day;
    the clock still advances while the run goes on, so backoff within a run works.
    ``at`` (the fault bench, tests) says which moment the run starts at.
    """

    def __init__(self, run_date: date, settings: Settings, at: datetime | None = None) -> None:
        real = real_now()
        if at is not None:
            self.start = as_utc(at)
        elif run_date == real.astimezone(STOCKHOLM).date():
            self.start = real
        else:
            daily_at = scheduled_time(settings.schedules.daily)
            self.start = datetime.combine(run_date, daily_at, tzinfo=STOCKHOLM).astimezone(UTC)
        self._began = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._began)


def _meeting_place(settings: Settings, slot: AppointmentSlot) -> str:
    """The full place of a meeting: the advisor's location and street address."""
    try:
        address = settings.advisor(slot.advisor_id).address
    except ConfigError:
        address = ""  # an advisor removed from the configuration: the location alone
    return ", ".join(part for part in (slot.location, address) if part)


def _outgoing(
    settings: Settings,
    letter: Letter,
    slot: AppointmentSlot | None,
    attachments: tuple[Attachment, ...] = (),
) -> OutgoingEmail:
    tenant = letter.kind in TENANT_KINDS
    attach = settings.letters.email_attach_pdf or not tenant
    pdf = Path(letter.pdf_path).read_bytes() if letter.pdf_path and attach else None
    invite = None
    if slot is not None and tenant:
        domain = sender_domain(settings.smtp.from_address)
        english = letter.language == "en"
        invite = Invite(
            uid=f"appointment-{letter.appointment_id}@{domain}",
            starts_at=as_utc(slot.starts_at),
            ends_at=as_utc(slot.ends_at),
            summary="Meeting with the housing advisor" if english else "Möte med boenderådgivaren",
            location=_meeting_place(settings, slot),
            description=letter.subject or "",
            sequence=letter.version,
            cancel=letter.kind == LetterKind.APPOINTMENT_CANCELLED,
        )
    if tenant:
        name = "letter.pdf" if letter.language == "en" else "brev.pdf"
    else:  # staff emails keep their report's own file name
        name = Path(letter.pdf_path).name if letter.pdf_path else "bilaga.pdf"
    return OutgoingEmail(
        key=letter.idempotency_key,
        to=letter.recipient or "",
        subject=letter.subject or "",
        body=letter.body or "",
        pdf=pdf,
        pdf_name=name,
        invite=invite,
        attachments=attachments,
        html=html_body(letter.body or "", letter.language) if tenant else None,
    )


async def _deliver_emails(outbox: Outbox, counts: dict[str, int]) -> None:
    settings = outbox.settings
    waited = 0.0
    wait_limit = settings.smtp.backoff_seconds * (2**settings.smtp.max_attempts)
    async with SmtpSender(settings.smtp) as sender:
        stale = outbox.stale_ids()
        while True:
            claimed = outbox.claim_email(stale)
            if claimed is None:
                stale = outbox.stale_ids()
                if stale:
                    continue
                wait = outbox.next_retry_in()
                if wait is None or waited + wait > wait_limit:
                    break
                await asyncio.sleep(wait + 0.01)
                waited += wait
                continue
            letter, slot = claimed
            if usable_email(letter.recipient) is None:
                counts[outbox.permanent(letter, "invalid email address")] += 1
                continue
            try:
                extra = outbox.attachments(letter)
                message = build_message(settings.smtp, _outgoing(settings, letter, slot, extra))
            except OSError:
                counts[outbox.permanent(letter, "letter PDF missing")] += 1
                continue
            try:
                outcome, reason = await sender.send(message)
            except SmtpUnavailable as exc:
                _server_unreachable(outbox, letter, str(exc), counts)
                break
            if outcome is Outcome.SENT:
                outbox.sent(letter, message["Message-ID"])
                counts["sent_email"] += 1
            elif outcome is Outcome.TEMPORARY and reason == TIMEOUT:
                _server_unreachable(outbox, letter, reason, counts)
                break
            elif outcome is Outcome.TEMPORARY:
                counts[outbox.temporary(letter, reason)] += 1
            else:
                counts[outbox.permanent(letter, reason)] += 1


def _server_unreachable(
    outbox: Outbox, letter: Letter, reason: str, counts: dict[str, int]
) -> None:
    """The server cannot be reached or does not answer: one attempt for every letter due.

    No further connection is tried in this run (each could cost a whole timeout); the
    letters wait for the next run, go to print, or give up as their attempts say.
    """
    handled = {letter.id}
    counts[outbox.temporary(letter, reason)] += 1
    counts["deferred"] += 1
    while (claimed := outbox.claim_email([], skip=handled)) is not None:
        other, _ = claimed
        handled.add(other.id)
        counts[outbox.temporary(other, reason)] += 1
        counts["deferred"] += 1


def _deliver_print(outbox: Outbox, run_date: date, counts: dict[str, int]) -> None:
    """Put every pending print letter into the day's batch; finish half-done batches first."""
    print_dir = outbox.settings.paths.print_dir
    for unfinished in outbox.unfinished_batches():
        _complete_batch(outbox, unfinished, counts, rewrite=not batch_exists(print_dir, unfinished))
    counts["copies_dropped"] += outbox.drop_needless_copies(run_date)
    counts["redated"] += outbox.redate_copies()
    name, missing = outbox.claim_print_batch(run_date)
    counts["failed"] += missing
    if name is not None:
        _complete_batch(outbox, name, counts, rewrite=True)


def _complete_batch(outbox: Outbox, name: str, counts: dict[str, int], rewrite: bool) -> None:
    items = outbox.batch_items(name)
    if not items:
        return
    if rewrite:
        write_print_batch(outbox.settings.paths.print_dir, name, items)
    outbox.batch_sent(items)
    counts["printed"] += len(items)
    counts["print_batches"] += 1


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


#: The audit log's actor for what delivery does by itself (rebooking a letter too late).
SYSTEM_ACTOR = "kvarboende"


def _replace_late_letters(outbox: Outbox, run_date: date, counts: dict[str, int]) -> None:
    """Never send a letter as it was when its meeting is too close for its channel.

    An appointment letter is rebooked: a new time, a new letter version (by post when
    its email had already failed), the old letter ``superseded``. When no time can be
    booked it fails flagged and the worklist asks the advisor to act. A letter whose
    appointment is no longer booked (cancelled, attended) is superseded; so is a
    cancellation whose meeting has passed.
    """
    settings = outbox.settings
    timeout = settings.smtp.claim_timeout_seconds
    for row in outbox.tenant_letters_in_queue():
        (letter_id, kind, channel, status, token, claimed_at, episode_id, version, attempts,
         last_error, appointment_status, starts_at) = row  # fmt: skip
        if status == LetterStatus.SENDING and (
            token == outbox.token or not claim_is_stale(token, claimed_at, timeout)
        ):
            continue  # in flight in a live run
        start = as_utc(starts_at)
        too_late = letter_too_late(
            channel,
            outbox.clock(),
            run_date,
            start,
            start.astimezone(STOCKHOLM).date(),
            settings.booking.postal_days,
            settings.smtp.email_min_notice_hours,
        )
        gone = kind == LetterKind.APPOINTMENT and appointment_status != AppointmentStatus.BOOKED
        if not (too_late or gone):
            continue
        if not outbox.claim(letter_id, status, token):
            continue  # another run took it
        if not gone and channel == Channel.EMAIL and outbox.copy_posted(letter_id):
            outbox.finish(
                letter_id,
                status=LetterStatus.SUPERSEDED,
                last_error=f"{MEETING_PASSED}; not emailed in time, its post copy carried it",
                next_attempt_at=None,
            )
            counts["superseded"] += 1
            continue
        if gone or kind != LetterKind.APPOINTMENT:
            outbox.finish(
                letter_id,
                status=LetterStatus.SUPERSEDED,
                last_error=f"{MEETING_PASSED}; appointment no longer booked"
                if gone
                else f"{MEETING_PASSED}; nothing to cancel any more",
                next_attempt_at=None,
            )
            counts["superseded"] += 1
            continue
        email_failed = channel == Channel.PRINT or attempts > 0
        _rebook_letter(outbox, run_date, letter_id, episode_id, version, email_failed, counts)


def _rebook_letter(
    outbox: Outbox,
    run_date: date,
    letter_id: int,
    episode_id: int,
    version: int,
    by_post: bool,
    counts: dict[str, int],
) -> None:
    from flows.stages.booking import BookingError, rebook

    try:
        rebook(
            outbox.engine, outbox.settings, episode_id, run_date, by=SYSTEM_ACTOR, by_post=by_post
        )
    except BookingError as exc:
        outbox.finish(
            letter_id,
            status=LetterStatus.FAILED,
            flagged=True,
            last_error=f"{MEETING_PASSED}; no new time booked: {exc}",
            next_attempt_at=None,
        )
        counts["not_rebooked"] += 1
        return
    outbox.finish(
        letter_id,
        status=LetterStatus.SUPERSEDED,
        last_error=f"{MEETING_PASSED}; rebooked, a new letter version replaces it",
        next_attempt_at=None,
    )
    counts["rebooked"] += 1
    if by_post:
        outbox.send_new_version_by_post(episode_id, version)


def _redate_stale_letters(outbox: Outbox, counts: dict[str, int]) -> None:
    """Never send a tenant letter on a later day than the date it carries.

    A letter not sent on its date (queued in the evening or at a weekend, an email
    retried on the next day, moved to print later) is rendered again as a new version
    dated the run's day, for the same meeting: what it says about paying (before, near
    or after the last day to pay) is then true when it goes out. The old one is
    superseded. Letters whose meeting is too close by now were rebooked before this.
    """
    timeout = outbox.settings.smtp.claim_timeout_seconds
    for letter_id, status, token, claimed_at in outbox.stale_dated():
        if status == LetterStatus.SENDING and (
            token == outbox.token or not claim_is_stale(token, claimed_at, timeout)
        ):
            continue  # in flight in a live run
        if not outbox.claim(letter_id, status, token):
            continue  # another run took it
        if outbox.redate(letter_id) is not None:
            counts["redated"] += 1


def _post_what_email_missed(outbox: Outbox, run_date: date, counts: dict[str, int]) -> None:
    """Email tenant letters still unsent on the last day the post arrives in time: print them."""
    postal_days = outbox.settings.booking.postal_days
    for row in outbox.tenant_letters_in_queue():
        letter_id, _, channel, status, *_rest, last_error, _, starts_at = row
        if channel != Channel.EMAIL or status != LetterStatus.PENDING:
            continue
        meeting_day = as_utc(starts_at).astimezone(STOCKHOLM).date()
        if not must_post_today(run_date, meeting_day, postal_days):
            continue
        counts["moved_to_print"] += outbox.post_instead(letter_id, last_error)


def deliver_outbox(
    engine: Engine, settings: Settings, run_date: date, at: datetime | None = None
) -> dict[str, int]:
    """Send pending email letters and write the day's print batch; returns counts only.

    Letters too late for their channel are rebooked first, and tenant letters dated
    before ``run_date`` rendered again dated ``run_date``; after emailing, letters the
    email missed go by post on the last day the post still arrives in time. ``at``: the
    moment the run acts at (the fault bench); see :class:`RunClock`.
    """
    counts = {
        key: 0
        for key in (
            "sent_email",
            "retry",
            "moved_to_print",
            "failed",
            "deferred",
            "printed",
            "print_batches",
            "rebooked",
            "not_rebooked",
            "superseded",
            "failed_post_copy_sent",
            "copies_dropped",
            "redated",
        )
    }
    outbox = Outbox(engine, settings, RunClock(run_date, settings, at), run_date)
    _replace_late_letters(outbox, run_date, counts)
    _redate_stale_letters(outbox, counts)
    local: LocalSmtpServer | None = None
    smtp = settings.smtp
    if outbox.pending_email():
        # A port probe only: a server that accepts and never answers passes it, and then
        # costs one timeout in _deliver_emails, once per run.
        if smtp.start_local and not _listening(smtp.host, smtp.port):
            local = LocalSmtpServer(
                mail_dir=settings.paths.mail_dir, port=smtp.port, host=smtp.host
            )
            local.start()
        try:
            _run(_deliver_emails(outbox, counts))
        finally:
            if local is not None:
                local.stop()
    _post_what_email_missed(outbox, run_date, counts)
    _replace_late_letters(outbox, run_date, counts)  # moved to print after the post's day
    _deliver_print(outbox, run_date, counts)
    return counts


__all__ = ["claim_is_stale", "deliver_outbox", "message_id", "new_claim_token"]
