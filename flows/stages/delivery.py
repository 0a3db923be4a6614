"""Stage: deliver the outbox, by email or in the day's print batch, and never lose a letter.

Every letter moves ``pending → sending → sent``, or to ``failed`` with the reason and
the attempt count. How a crash or a second run is handled:

* A letter is claimed before it is sent: one short transaction sets it ``sending``
  with this run's claim token (``host:pid:uuid``). On PostgreSQL the candidate is
  selected ``FOR UPDATE SKIP LOCKED`` and the claim is a conditional update, so two
  runs never claim the same letter; SQLite serialises the claim the same way.
* The claim is committed before the SMTP conversation and the result after it, so a
  kill can leave at most the one in-flight letter ``sending``. A later run takes it
  over when its owner process is gone (same host) or its claim is older than
  ``smtp.claim_timeout_seconds`` (another host), and sends it again with the same
  Message-ID: the only duplicate possible.
* Temporary failures (4xx, timeouts, dropped connections) are retried with doubling
  backoff up to ``smtp.max_attempts``; permanent ones (5xx, invalid address), and
  letters that run out of attempts, move a tenant letter to the print channel and
  flag it for the worklist. Staff emails have no paper form and end ``failed``.
* Print letters are claimed into a named batch before the batch file is written and
  marked sent after it; a rerun finishes a half-done batch under the same name.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import Coroutine
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, and_, false, func, or_, select, text, update

from connectors.local_smtp import LocalSmtpServer
from connectors.print_batch import PrintItem, batch_exists, write_print_batch
from connectors.smtp import (
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
from models.config import Settings
from models.db import session_scope
from models.domain import Channel, LetterKind, LetterStatus
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

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
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

    def claim_email(self, stale: list[int]) -> tuple[Letter, AppointmentSlot | None] | None:
        """Claim the next due email letter (or a stale one) with what is needed to send it.

        Returns None when nothing is due. The claim and the read share one short
        transaction, committed before anything is sent.
        """
        while True:
            with session_scope(self.engine) as session:
                due = or_(Letter.next_attempt_at.is_(None), Letter.next_attempt_at <= _now())
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
        return max(0.0, ((_aware(earliest) or _now()) - _now()).total_seconds())

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
        """Schedule a retry, or give up after max_attempts; returns what happened."""
        attempts = letter.attempts + 1
        if attempts >= self.settings.smtp.max_attempts:
            return self.permanent(letter, f"gave up after {attempts} attempts: {reason}", attempts)
        delay = self.settings.smtp.backoff_seconds * (2 ** (attempts - 1))
        self._finish(
            letter.id,
            status=LetterStatus.PENDING,
            attempts=attempts,
            last_error=reason,
            next_attempt_at=_now() + timedelta(seconds=delay),
        )
        return "retry"

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

    def release(self, letter: Letter, reason: str) -> None:
        """Give a claimed letter back untouched (the server was unreachable, not its fault)."""
        self._finish(letter.id, status=LetterStatus.PENDING, last_error=reason)


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
            outcome, reason = await _send_with_reconnect(sender, message, settings)
            if outcome is None:
                outbox.release(letter, reason)
                counts["deferred"] += 1
                break
            if outcome is Outcome.SENT:
                outbox.sent(letter, message["Message-ID"])
                counts["sent_email"] += 1
            elif outcome is Outcome.TEMPORARY:
                counts[outbox.temporary(letter, reason)] += 1
            else:
                counts[outbox.permanent(letter, reason)] += 1


async def _send_with_reconnect(
    sender: SmtpSender, message: Any, settings: Settings
) -> tuple[Outcome | None, str]:
    """Send; when no connection can be made, retry with backoff, then give up (None)."""
    reason = ""
    for attempt in range(settings.smtp.max_attempts):
        try:
            return await sender.send(message)
        except SmtpUnavailable as exc:
            reason = str(exc)
            if attempt + 1 < settings.smtp.max_attempts:
                await asyncio.sleep(settings.smtp.backoff_seconds * (2**attempt))
    return None, reason


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


def deliver_outbox(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Send pending email letters and write the day's print batch; returns counts only."""
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
        )
    }
    outbox = _Outbox(engine, settings)
    local: LocalSmtpServer | None = None
    smtp = settings.smtp
    if _pending_email(engine):
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
    _deliver_print(outbox, run_date, counts)
    return counts


__all__ = ["claim_is_stale", "deliver_outbox", "message_id", "new_claim_token"]
