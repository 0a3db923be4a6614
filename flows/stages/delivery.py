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
* Print letters are claimed into a named batch before the batch file is written and
  marked sent after it; a rerun finishes a half-done batch under the same name.

Time: a run for today uses the real clock; a run for another date (a catch-up, the
demo, the fault bench) acts as if it started at the daily schedule's time on that date,
and its clock advances while it runs. Claims always use the real clock.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Collection, Coroutine
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, and_, false, func, or_, select, text, true, update

from connectors.local_smtp import LocalSmtpServer
from connectors.print_batch import PrintItem, batch_exists, write_print_batch
from connectors.smtp import (
    TIMEOUT,
    Invite,
    Outcome,
    OutgoingEmail,
    SmtpSender,
    SmtpUnavailable,
    build_message,
    message_id,
    sender_domain,
    valid_address,
)
from domain.delivery import (
    MEETING_PASSED,
    NOT_IN_TIME,
    letter_too_late,
    must_post_today,
    scheduled_time,
    staff_gives_up,
    staff_retry_delay,
)
from domain.formatting import STOCKHOLM
from domain.vocabulary import AppointmentStatus, Channel, LetterKind, LetterStatus
from models.config import Settings
from models.db import session_scope
from models.tables import Appointment, AppointmentSlot, Episode, Letter

TENANT_KINDS = frozenset({LetterKind.APPOINTMENT.value, LetterKind.APPOINTMENT_CANCELLED.value})
T = TypeVar("T")
#: pg_advisory_xact_lock key that serialises the naming of print batches ("kvpr").
PRINT_LOCK = 0x6B767072


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class RunClock:
    """The run's "now": the real clock on today's run, else the run date's scheduled time.

    Deadlines (meeting too close, post in time, staff retries) and retry times follow
    the run date, so a catch-up run, the demo and the fault bench behave as on that day;
    the clock still advances while the run goes on, so backoff within a run works.
    ``at`` (the fault bench, tests) says which moment the run starts at.
    """

    def __init__(self, run_date: date, settings: Settings, at: datetime | None = None) -> None:
        real = _now()
        if at is not None:
            self.start = _aware(at) or real
        elif run_date == real.astimezone(STOCKHOLM).date():
            self.start = real
        else:
            at = scheduled_time(settings.schedules.daily)
            self.start = datetime.combine(run_date, at, tzinfo=STOCKHOLM).astimezone(UTC)
        self._began = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._began)


def new_claim_token() -> str:
    """``host:pid:random``: lets a later run on the same host see that the owner died."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_is_stale(token: str | None, claimed_at: datetime | None, timeout: float) -> bool:
    """A claim whose owner process has died (same host) or that is older than the timeout."""
    if token is None or claimed_at is None:
        return True
    if _now() - (_aware(claimed_at) or _now()) > timedelta(seconds=timeout):
        return True
    host, _, rest = token.partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        return pid != os.getpid() and not _pid_alive(pid)
    return False


class _Outbox:
    """The delivery run's access to the letter table: claims and results, one commit each."""

    def __init__(self, engine: Engine, settings: Settings, clock: RunClock) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.token = new_claim_token()
        self.postgres = engine.dialect.name == "postgresql"

    def stale_ids(self, channel: str = Channel.EMAIL) -> list[int]:
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(Letter.id, Letter.claim_token, Letter.claimed_at).where(
                    Letter.status == LetterStatus.SENDING,
                    Letter.channel == channel,
                    Letter.print_batch.is_(None),
                )
            ).all()
        timeout = self.settings.smtp.claim_timeout_seconds
        return [
            letter_id
            for letter_id, token, claimed_at in rows
            if token != self.token and claim_is_stale(token, claimed_at, timeout)
        ]

    def claim_email(
        self, stale: list[int], skip: Collection[int] = ()
    ) -> tuple[Letter, AppointmentSlot | None] | None:
        """Claim the next due email letter (or a stale one) with what is needed to send it.

        Returns None when nothing is due. The claim and the read share one short
        transaction, committed before anything is sent. ``skip``: letters already
        handled in this pass.
        """
        while True:
            with session_scope(self.engine) as session:
                now = self.clock()
                due = or_(Letter.next_attempt_at.is_(None), Letter.next_attempt_at <= now)
                taken_over = (
                    and_(
                        Letter.id.in_(stale),
                        Letter.status == LetterStatus.SENDING,
                        or_(Letter.claim_token.is_(None), Letter.claim_token != self.token),
                    )
                    if stale
                    else false()
                )
                query = (
                    select(Letter.id, Letter.status, Letter.claim_token)
                    .where(
                        Letter.channel == Channel.EMAIL,
                        or_(and_(Letter.status == LetterStatus.PENDING, due), taken_over),
                        Letter.id.not_in(list(skip)) if skip else true(),
                    )
                    .order_by(Letter.id)
                    .limit(1)
                )
                if self.postgres:
                    query = query.with_for_update(skip_locked=True)
                row = session.execute(query).first()
                if row is None:
                    return None
                letter_id, status, old_token = row
                guard = (
                    Letter.status == LetterStatus.PENDING
                    if status == LetterStatus.PENDING
                    else and_(
                        Letter.status == LetterStatus.SENDING,
                        Letter.claim_token.is_(None)
                        if old_token is None
                        else Letter.claim_token == old_token,
                    )
                )
                result = session.execute(
                    update(Letter)
                    .where(Letter.id == letter_id, guard)
                    .values(status=LetterStatus.SENDING, claim_token=self.token, claimed_at=_now())
                )
                if result.rowcount != 1:
                    continue  # another run claimed it between our select and our update
                letter = session.get(Letter, letter_id, populate_existing=True)
                assert letter is not None
                slot = None
                if letter.appointment_id is not None:
                    slot = session.scalars(
                        select(AppointmentSlot)
                        .join(Appointment, Appointment.slot_id == AppointmentSlot.id)
                        .where(Appointment.id == letter.appointment_id)
                    ).first()
                session.expunge_all()
                return letter, slot

    def next_retry_in(self) -> float | None:
        """Seconds until the earliest pending email letter may be retried, if any is waiting."""
        with session_scope(self.engine) as session:
            earliest = session.scalar(
                select(func.min(Letter.next_attempt_at)).where(
                    Letter.status == LetterStatus.PENDING,
                    Letter.channel == Channel.EMAIL,
                    Letter.next_attempt_at.is_not(None),
                )
            )
        if earliest is None:
            return None
        now = self.clock()
        return max(0.0, ((_aware(earliest) or now) - now).total_seconds())

    def _finish(self, letter_id: int, **values: Any) -> bool:
        with session_scope(self.engine) as session:
            result = session.execute(
                update(Letter)
                .where(Letter.id == letter_id, Letter.claim_token == self.token)
                .values(claim_token=None, claimed_at=None, **values)
            )
            return result.rowcount == 1

    def sent(self, letter: Letter, msg_id: str) -> None:
        self._finish(
            letter.id,
            status=LetterStatus.SENT,
            sent_at=_now(),
            message_id=msg_id,
            attempts=letter.attempts + 1,
            last_error=None,
            next_attempt_at=None,
        )

    def temporary(self, letter: Letter, reason: str) -> str:
        """Schedule a retry, or give up; returns what happened.

        Tenant letters give up after ``max_attempts`` (the post takes over). Staff
        emails are retried on later runs until ``staff_retry_hours`` have passed since
        their first try: greylisting alone can take a quarter of an hour.
        """
        smtp = self.settings.smtp
        attempts = letter.attempts + 1
        now = self.clock()
        if letter.kind in TENANT_KINDS:
            if attempts >= smtp.max_attempts:
                return self.permanent(
                    letter, f"gave up after {attempts} attempts: {reason}", attempts
                )
            delay = timedelta(seconds=smtp.backoff_seconds * (2 ** (attempts - 1)))
        else:
            if staff_gives_up(now, self._first_try(letter), smtp.staff_retry_hours):
                return self.permanent(
                    letter, f"gave up after {attempts} attempts: {reason}", attempts
                )
            delay = staff_retry_delay(
                attempts, smtp.staff_backoff_minutes, smtp.staff_backoff_max_minutes
            )
        self._finish(
            letter.id,
            status=LetterStatus.PENDING,
            attempts=attempts,
            last_error=reason,
            next_attempt_at=now + delay,
        )
        return "retry"

    def _first_try(self, letter: Letter) -> datetime:
        """When a staff email was first tried: queued on the run's day, tried in that run.

        ``created_at`` is the real clock; on a run for another date the run clock's start
        of that date stands in for it.
        """
        created = _aware(letter.created_at)
        if created is not None and created.astimezone(STOCKHOLM).date() == letter.created_on:
            return created
        at = scheduled_time(self.settings.schedules.daily)
        return datetime.combine(letter.created_on, at, tzinfo=STOCKHOLM).astimezone(UTC)

    def permanent(self, letter: Letter, reason: str, attempts: int | None = None) -> str:
        """Tenant letters go to print and are flagged; staff emails fail."""
        attempts = letter.attempts + 1 if attempts is None else attempts
        if letter.kind in TENANT_KINDS and letter.pdf_path and self._has_postal_address(letter):
            self._finish(
                letter.id,
                status=LetterStatus.PENDING,
                channel=Channel.PRINT,
                flagged=True,
                attempts=attempts,
                last_error=f"email: {reason}; moved to print",
                next_attempt_at=None,
            )
            return "moved_to_print"
        self._finish(
            letter.id,
            status=LetterStatus.FAILED,
            attempts=attempts,
            last_error=reason,
            next_attempt_at=None,
            flagged=letter.kind in TENANT_KINDS,
        )
        return "failed"

    def _has_postal_address(self, letter: Letter) -> bool:
        from flows.stages.letters import has_postal_address

        with session_scope(self.engine) as session:
            episode = session.get(Episode, letter.episode_id) if letter.episode_id else None
            return episode is not None and has_postal_address(episode)

    def claim(self, letter_id: int, status: str, token: str | None) -> bool:
        """Claim one letter seen as ``status`` (and ``token``); False when another run did."""
        guard = Letter.claim_token.is_(None) if token is None else Letter.claim_token == token
        with session_scope(self.engine) as session:
            result = session.execute(
                update(Letter)
                .where(Letter.id == letter_id, Letter.status == status, guard)
                .values(status=LetterStatus.SENDING, claim_token=self.token, claimed_at=_now())
            )
            return result.rowcount == 1


def _outgoing(settings: Settings, letter: Letter, slot: AppointmentSlot | None) -> OutgoingEmail:
    pdf = Path(letter.pdf_path).read_bytes() if letter.pdf_path else None
    invite = None
    if slot is not None and letter.kind in TENANT_KINDS:
        domain = sender_domain(settings.smtp.from_address)
        english = letter.language == "en"
        invite = Invite(
            uid=f"appointment-{letter.appointment_id}@{domain}",
            starts_at=_aware(slot.starts_at) or _now(),
            ends_at=_aware(slot.ends_at) or _now(),
            summary="Meeting with the housing advisor" if english else "Möte med boenderådgivaren",
            location=slot.location,
            description=letter.subject or "",
            sequence=letter.version,
            cancel=letter.kind == LetterKind.APPOINTMENT_CANCELLED,
        )
    if letter.kind in TENANT_KINDS:
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
    )


async def _deliver_emails(outbox: _Outbox, counts: dict[str, int]) -> None:
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
            if not letter.recipient or not valid_address(letter.recipient):
                counts[outbox.permanent(letter, "invalid email address")] += 1
                continue
            try:
                message = build_message(settings.smtp, _outgoing(settings, letter, slot))
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
    outbox: _Outbox, letter: Letter, reason: str, counts: dict[str, int]
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


def _deliver_print(outbox: _Outbox, run_date: date, counts: dict[str, int]) -> None:
    """Put every pending print letter into the day's batch; finish half-done batches first."""
    settings = outbox.settings
    print_dir = settings.paths.print_dir
    with session_scope(outbox.engine) as session:
        rows = session.execute(
            select(Letter.print_batch, Letter.claim_token, Letter.claimed_at).where(
                Letter.status == LetterStatus.SENDING,
                Letter.channel == Channel.PRINT,
                Letter.print_batch.is_not(None),
            )
        ).all()
    timeout = settings.smtp.claim_timeout_seconds
    # Batches whose run died before finishing; a live run finishes its own.
    unfinished = sorted(
        {
            name
            for name, token, claimed_at in rows
            if token != outbox.token and claim_is_stale(token, claimed_at, timeout)
        }
    )
    for name in unfinished:
        _complete_batch(outbox, name, counts, rewrite=not batch_exists(print_dir, name))

    with session_scope(outbox.engine) as session:
        if outbox.postgres:
            # One run at a time names a batch, so two runs never pick the same name.
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PRINT_LOCK})
        query = (
            select(Letter.id, Letter.pdf_path)
            .where(Letter.status == LetterStatus.PENDING, Letter.channel == Channel.PRINT)
            .order_by(Letter.id)
        )
        if outbox.postgres:
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).all()
        if not rows:
            return
        missing = [i for i, path in rows if not path or not Path(path).exists()]
        if missing:
            session.execute(
                update(Letter)
                .where(Letter.id.in_(missing))
                .values(status=LetterStatus.FAILED, last_error="letter PDF missing", flagged=True)
            )
            counts["failed"] += len(missing)
        ready = [i for i, path in rows if i not in set(missing)]
        if not ready:
            return
        # Claim first under a name of our own: on SQLite this write takes the database
        # lock, so the batch count below sees every batch another run has committed.
        session.execute(
            update(Letter)
            .where(Letter.id.in_(ready), Letter.status == LetterStatus.PENDING)
            .values(
                status=LetterStatus.SENDING,
                print_batch=outbox.token,
                claim_token=outbox.token,
                claimed_at=_now(),
            )
        )
        prefix = run_date.isoformat()
        existing = session.scalar(
            select(func.count(func.distinct(Letter.print_batch))).where(
                Letter.print_batch.like(f"{prefix}-%")
            )
        )
        name = f"{prefix}-{int(existing or 0) + 1:02d}"
        session.execute(
            update(Letter).where(Letter.print_batch == outbox.token).values(print_batch=name)
        )
    _complete_batch(outbox, name, counts, rewrite=True)


def _complete_batch(outbox: _Outbox, name: str, counts: dict[str, int], rewrite: bool) -> None:
    with session_scope(outbox.engine) as session:
        rows = session.execute(
            select(Letter.id, Letter.idempotency_key, Letter.kind, Letter.pdf_path)
            .where(Letter.print_batch == name, Letter.status == LetterStatus.SENDING)
            .order_by(Letter.id)
        ).all()
    if not rows:
        return
    if rewrite:
        items = [PrintItem(i, key, kind, Path(path)) for i, key, kind, path in rows]
        write_print_batch(outbox.settings.paths.print_dir, name, items)
    with session_scope(outbox.engine) as session:
        session.execute(
            update(Letter)
            .where(Letter.id.in_([row[0] for row in rows]))
            .values(
                status=LetterStatus.SENT,
                sent_at=_now(),
                claim_token=None,
                claimed_at=None,
            )
        )
    counts["printed"] += len(rows)
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


def _tenant_letters_in_queue(outbox: _Outbox) -> list[Any]:
    """Unsent tenant letters outside a print batch, with their appointment's state and time."""
    with session_scope(outbox.engine) as session:
        return list(
            session.execute(
                select(
                    Letter.id,
                    Letter.kind,
                    Letter.channel,
                    Letter.status,
                    Letter.claim_token,
                    Letter.claimed_at,
                    Letter.episode_id,
                    Letter.version,
                    Letter.attempts,
                    Letter.last_error,
                    Appointment.status,
                    AppointmentSlot.starts_at,
                )
                .join(Appointment, Appointment.id == Letter.appointment_id)
                .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
                .where(
                    Letter.kind.in_(TENANT_KINDS),
                    Letter.status.in_([LetterStatus.PENDING, LetterStatus.SENDING]),
                    Letter.print_batch.is_(None),
                )
                .order_by(Letter.id)
            ).all()
        )


def _replace_late_letters(outbox: _Outbox, run_date: date, counts: dict[str, int]) -> None:
    """Never send a letter as it was when its meeting is too close for its channel.

    An appointment letter is rebooked: a new time, a new letter version (by post when
    its email had already failed), the old letter ``superseded``. When no time can be
    booked it fails flagged and the worklist asks the advisor to act. A letter whose
    appointment is no longer booked (cancelled, attended) is superseded; so is a
    cancellation whose meeting has passed.
    """
    settings = outbox.settings
    timeout = settings.smtp.claim_timeout_seconds
    for row in _tenant_letters_in_queue(outbox):
        (letter_id, kind, channel, status, token, claimed_at, episode_id, version, attempts,
         last_error, appointment_status, starts_at) = row  # fmt: skip
        if status == LetterStatus.SENDING and (
            token == outbox.token or not claim_is_stale(token, claimed_at, timeout)
        ):
            continue  # in flight in a live run
        start = _aware(starts_at) or outbox.clock()
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
        if gone or kind != LetterKind.APPOINTMENT:
            outbox._finish(
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
    outbox: _Outbox,
    run_date: date,
    letter_id: int,
    episode_id: int,
    version: int,
    by_post: bool,
    counts: dict[str, int],
) -> None:
    from flows.stages.booking import BookingError, rebook

    try:
        rebook(outbox.engine, outbox.settings, episode_id, run_date, by=SYSTEM_ACTOR)
    except BookingError as exc:
        outbox._finish(
            letter_id,
            status=LetterStatus.FAILED,
            flagged=True,
            last_error=f"{MEETING_PASSED}; no new time booked: {exc}",
            next_attempt_at=None,
        )
        counts["not_rebooked"] += 1
        return
    outbox._finish(
        letter_id,
        status=LetterStatus.SUPERSEDED,
        last_error=f"{MEETING_PASSED}; rebooked, a new letter version replaces it",
        next_attempt_at=None,
    )
    counts["rebooked"] += 1
    if by_post:
        _send_new_version_by_post(outbox, episode_id, version)


def _send_new_version_by_post(outbox: _Outbox, episode_id: int, version: int) -> None:
    """The new letter goes in today's print batch when email had already failed."""
    with session_scope(outbox.engine) as session:
        episode = session.get(Episode, episode_id)
        if episode is None or not _postal_ok(episode):
            return  # email is then the only way; the worklist shows it if it fails
        session.execute(
            update(Letter)
            .where(
                Letter.episode_id == episode_id,
                Letter.kind == LetterKind.APPOINTMENT,
                Letter.version > version,
                Letter.status == LetterStatus.PENDING,
                Letter.channel == Channel.EMAIL,
            )
            .values(
                channel=Channel.PRINT,
                flagged=True,
                last_error=f"{NOT_IN_TIME}: the earlier version's email failed",
            )
        )


def _postal_ok(episode: Episode) -> bool:
    from flows.stages.letters import has_postal_address

    return has_postal_address(episode)


def _post_what_email_missed(outbox: _Outbox, run_date: date, counts: dict[str, int]) -> None:
    """Email tenant letters still unsent on the last day the post arrives in time: print them."""
    postal_days = outbox.settings.booking.postal_days
    for row in _tenant_letters_in_queue(outbox):
        letter_id, _, channel, status, *_rest, last_error, _, starts_at = row
        if channel != Channel.EMAIL or status != LetterStatus.PENDING:
            continue
        meeting_day = (_aware(starts_at) or outbox.clock()).astimezone(STOCKHOLM).date()
        if not must_post_today(run_date, meeting_day, postal_days):
            continue
        with session_scope(outbox.engine) as session:
            letter = session.get(Letter, letter_id)
            episode = (
                session.get(Episode, letter.episode_id) if letter and letter.episode_id else None
            )
            if letter is None or not letter.pdf_path or episode is None or not _postal_ok(episode):
                continue
            moved = session.execute(
                update(Letter)
                .where(
                    Letter.id == letter_id,
                    Letter.status == LetterStatus.PENDING,
                    Letter.channel == Channel.EMAIL,
                )
                .values(
                    channel=Channel.PRINT,
                    flagged=True,
                    next_attempt_at=None,
                    last_error=f"{NOT_IN_TIME}: {last_error or 'not sent'}"[:2000],
                )
            )
            counts["moved_to_print"] += moved.rowcount


def _pending_email(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(
            session.scalar(
                select(func.count(Letter.id)).where(
                    Letter.channel == Channel.EMAIL,
                    Letter.status.in_([LetterStatus.PENDING, LetterStatus.SENDING]),
                )
            )
            or 0
        )


def deliver_outbox(
    engine: Engine, settings: Settings, run_date: date, at: datetime | None = None
) -> dict[str, int]:
    """Send pending email letters and write the day's print batch; returns counts only.

    Letters too late for their channel are rebooked first; after emailing, letters the
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
        )
    }
    outbox = _Outbox(engine, settings, RunClock(run_date, settings, at))
    _replace_late_letters(outbox, run_date, counts)
    local: LocalSmtpServer | None = None
    smtp = settings.smtp
    if _pending_email(engine):
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
