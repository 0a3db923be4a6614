"""The delivery run's access to the letter table: claims and results, one commit each.

A letter is claimed (``sending`` with this run's token ``host:pid:uuid``) in one short
transaction before it is sent, and its result written in another after; on PostgreSQL
candidates are selected ``FOR UPDATE SKIP LOCKED`` and the claim is a conditional
update, so two runs never claim the same letter. See ``flows.stages.delivery`` for
the run itself.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, false, func, or_, select, true, update
from sqlalchemy.orm import aliased

from connectors.print_batch import PrintItem
from connectors.smtp import Attachment
from domain.addresses import has_postal_address
from domain.delivery import (
    NOT_IN_TIME,
    post_in_time,
    scheduled_time,
    staff_gives_up,
    staff_retry_delay,
)
from domain.formatting import STOCKHOLM
from domain.vocabulary import Channel, LetterKind, LetterStatus
from models.config import Settings
from models.db import (
    as_utc,
    as_utc_or_none,
    for_update_skip_locked,
    rowcount,
    session_scope,
    transaction_lock,
)
from models.tables import Appointment, AppointmentSlot, Episode, Letter
from services.outbox import POST_COPY, TENANT_KINDS

#: The advisory lock key that serialises the naming of print batches ("kvpr").
PRINT_LOCK = 0x6B767072


def real_now() -> datetime:
    """The real clock (claims always use it, whatever date the run is for)."""
    return datetime.now(UTC)


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
    if real_now() - (as_utc_or_none(claimed_at) or real_now()) > timedelta(seconds=timeout):
        return True
    host, _, rest = token.partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        return pid != os.getpid() and not _pid_alive(pid)
    return False


class Outbox:
    """The delivery run's access to the letter table: claims and results, one commit each."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        clock: Callable[[], datetime],
        run_date: date | None = None,
    ) -> None:
        """``clock``: the run's "now" (deadlines and retry times follow the run date);
        ``run_date``: the day letters go out on (default: the clock's day in Stockholm)."""
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.run_date = run_date or clock().astimezone(STOCKHOLM).date()
        self.token = new_claim_token()

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
                        self._on_its_date(),
                    )
                    .order_by(Letter.id)
                    .limit(1)
                )
                row = session.execute(for_update_skip_locked(session, query)).first()
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
                    .values(
                        status=LetterStatus.SENDING, claim_token=self.token, claimed_at=real_now()
                    )
                )
                if rowcount(result) != 1:
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

    def _on_its_date(self) -> Any:
        """Only tenant letters (and post copies) dated the run's day may go out: one
        dated earlier could name a last day to pay that has passed (see :meth:`redate`)."""
        return or_(
            Letter.kind.not_in([*TENANT_KINDS, POST_COPY]),
            Letter.created_on >= self.run_date,
        )

    def stale_dated(self) -> list[tuple[int, str, str | None, datetime | None]]:
        """Unsent tenant letters outside a print batch dated before the run's day:
        (id, status, claim token, claimed at)."""
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(Letter.id, Letter.status, Letter.claim_token, Letter.claimed_at)
                .where(
                    Letter.kind.in_(TENANT_KINDS),
                    Letter.status.in_([LetterStatus.PENDING, LetterStatus.SENDING]),
                    Letter.print_batch.is_(None),
                    Letter.created_on < self.run_date,
                )
                .order_by(Letter.id)
            ).all()
        return [(i, status, token, at) for i, status, token, at in rows]

    def redate(self, letter_id: int) -> int | None:
        """Replace a letter claimed by this run, dated before the run's day, by a new
        version dated the run's day; returns the new letter's id (None: not ours any more).

        The old letter is superseded and the new one queued in one transaction: a crash
        leaves either the old letter (redone by the rerun) or both, never two new ones.
        """
        from services.letters import REDATED, redate_letter

        with session_scope(self.engine) as session:
            old = session.get(Letter, letter_id)
            if old is None or old.claim_token != self.token:
                return None
            dated = old.created_on
            result = session.execute(
                update(Letter)
                .where(Letter.id == letter_id, Letter.claim_token == self.token)
                .values(
                    status=LetterStatus.SUPERSEDED,
                    claim_token=None,
                    claimed_at=None,
                    next_attempt_at=None,
                )
                .execution_options(synchronize_session=False)
            )
            if rowcount(result) != 1:
                return None
            new = redate_letter(session, self.settings, old, self.run_date)
            session.execute(
                update(Letter)
                .where(Letter.id == letter_id)
                .values(
                    last_error=f"{REDATED} ({dated.isoformat()}): version {new.version} "
                    f"dated {self.run_date.isoformat()} replaces it"
                )
                .execution_options(synchronize_session=False)
            )
            return new.id

    def redate_copies(self) -> int:
        """Post copies of letters already emailed, still to print on a later day than
        their date: each is rendered again dated the run's day. Returns how many."""
        from services.letters import REDATED, redate_copy

        original = aliased(Letter)
        with session_scope(self.engine) as session:
            ids = session.scalars(
                select(Letter.id)
                .join(original, original.id == Letter.copy_of_id)
                .where(
                    Letter.kind == POST_COPY,
                    Letter.status == LetterStatus.PENDING,
                    Letter.print_batch.is_(None),
                    Letter.created_on < self.run_date,
                    original.status == LetterStatus.SENT,
                )
                .order_by(Letter.id)
            ).all()
        redated = 0
        for copy_id in ids:
            with session_scope(self.engine) as session:
                result = session.execute(
                    update(Letter)
                    .where(
                        Letter.id == copy_id,
                        Letter.status == LetterStatus.PENDING,
                        Letter.print_batch.is_(None),
                    )
                    .values(
                        status=LetterStatus.SUPERSEDED,
                        last_error=f"{REDATED}: printed again dated {self.run_date.isoformat()}",
                    )
                    .execution_options(synchronize_session=False)
                )
                if rowcount(result) != 1:
                    continue  # another run took it
                copy = session.get(Letter, copy_id)
                assert copy is not None
                redate_copy(session, self.settings, copy, self.run_date)
                redated += 1
        return redated

    def attachments(self, letter: Letter) -> tuple[Attachment, ...]:
        """Files made at sending time: a company's receipt email gets its receipt as CSV."""
        if letter.kind != LetterKind.COMPANY_RECEIPT:
            return ()
        from services.receipts import receipt_attachment

        with session_scope(self.engine) as session:
            found = receipt_attachment(session, letter.idempotency_key, self.settings)
        if found is None:
            return ()
        name, content = found
        return (Attachment(name, content, "text/csv"),)

    def next_retry_in(self) -> float | None:
        """Seconds until the earliest pending email letter may be retried, if any is waiting."""
        with session_scope(self.engine) as session:
            earliest = session.scalar(
                select(func.min(Letter.next_attempt_at)).where(
                    Letter.status == LetterStatus.PENDING,
                    Letter.channel == Channel.EMAIL,
                    Letter.next_attempt_at.is_not(None),
                    self._on_its_date(),  # the only ones claim_email may take
                )
            )
        if earliest is None:
            return None
        now = self.clock()
        return max(0.0, ((as_utc_or_none(earliest) or now) - now).total_seconds())

    def finish(self, letter_id: int, **values: Any) -> bool:
        """Write a claimed letter's result and release the claim (False: not ours any more)."""
        with session_scope(self.engine) as session:
            result = session.execute(
                update(Letter)
                .where(Letter.id == letter_id, Letter.claim_token == self.token)
                .values(claim_token=None, claimed_at=None, **values)
            )
            return rowcount(result) == 1

    def sent(self, letter: Letter, msg_id: str) -> None:
        self.finish(
            letter.id,
            status=LetterStatus.SENT,
            sent_at=self.clock(),  # the run's time: a catch-up run dates it on its day
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
        self.finish(
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
        created = as_utc_or_none(letter.created_at)
        if created is not None and created.astimezone(STOCKHOLM).date() == letter.created_on:
            return created
        at = scheduled_time(self.settings.schedules.daily)
        return datetime.combine(letter.created_on, at, tzinfo=STOCKHOLM).astimezone(UTC)

    def permanent(self, letter: Letter, reason: str, attempts: int | None = None) -> str:
        """Tenant letters go to print and are flagged; staff emails fail.

        A letter whose post copy is already printed is not printed again: the email
        fails (unflagged: the tenant has the letter on paper).
        """
        attempts = letter.attempts + 1 if attempts is None else attempts
        if letter.kind in TENANT_KINDS and self.copy_posted(letter.id):
            self.finish(
                letter.id,
                status=LetterStatus.FAILED,
                attempts=attempts,
                last_error=f"email: {reason}; its post copy went by post",
                next_attempt_at=None,
            )
            return "failed_post_copy_sent"
        if letter.kind in TENANT_KINDS and letter.pdf_path and self._has_postal_address(letter):
            self.finish(
                letter.id,
                status=LetterStatus.PENDING,
                channel=Channel.PRINT,
                flagged=True,
                attempts=attempts,
                last_error=f"email: {reason}; moved to print",
                next_attempt_at=None,
            )
            return "moved_to_print"
        self.finish(
            letter.id,
            status=LetterStatus.FAILED,
            attempts=attempts,
            last_error=reason,
            next_attempt_at=None,
            flagged=letter.kind in TENANT_KINDS,
        )
        return "failed"

    def copy_posted(self, letter_id: int, *, or_pending: bool = False) -> bool:
        """Whether the letter's post copy is printed or in a batch (or still to be, too)."""
        states = [LetterStatus.SENDING, LetterStatus.SENT]
        if or_pending:
            states.append(LetterStatus.PENDING)
        with session_scope(self.engine) as session:
            found = session.scalar(
                select(func.count(Letter.id)).where(
                    Letter.copy_of_id == letter_id,
                    Letter.kind == POST_COPY,
                    Letter.status.in_(states),
                )
            )
        return bool(found)

    def drop_needless_copies(self, run_date: date) -> int:
        """Post copies not to print: the letter itself goes by post, was replaced or
        failed, or the post would arrive on or after the meeting day. Returns how many."""
        original = aliased(Letter)
        postal_days = self.settings.booking.postal_days
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(Letter.id, original.status, original.channel, AppointmentSlot.starts_at)
                .join(original, original.id == Letter.copy_of_id, isouter=True)
                .join(Appointment, Appointment.id == Letter.appointment_id, isouter=True)
                .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id, isouter=True)
                .where(
                    Letter.kind == POST_COPY,
                    Letter.status == LetterStatus.PENDING,
                    Letter.print_batch.is_(None),
                )
            ).all()
            dropped = 0
            for copy_id, status, channel, starts_at in rows:
                if status is None or status in (LetterStatus.SUPERSEDED, LetterStatus.FAILED):
                    reason = "the letter was replaced or not sent: no copy"
                elif channel == Channel.PRINT:
                    reason = "the letter itself goes by post"
                elif starts_at is not None and not post_in_time(
                    run_date, as_utc(starts_at).astimezone(STOCKHOLM).date(), postal_days
                ):
                    reason = f"{NOT_IN_TIME}: the post would arrive too late; the email carries it"
                else:
                    continue
                done = session.execute(
                    update(Letter)
                    .where(Letter.id == copy_id, Letter.status == LetterStatus.PENDING)
                    .values(status=LetterStatus.SUPERSEDED, last_error=reason)
                )
                dropped += rowcount(done)
        return dropped

    def _has_postal_address(self, letter: Letter) -> bool:
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
                .values(status=LetterStatus.SENDING, claim_token=self.token, claimed_at=real_now())
            )
            return rowcount(result) == 1

    def pending_email(self) -> int:
        """Email letters waiting or in flight: whether the SMTP server is needed at all."""
        with session_scope(self.engine) as session:
            return int(
                session.scalar(
                    select(func.count(Letter.id)).where(
                        Letter.channel == Channel.EMAIL,
                        Letter.status.in_([LetterStatus.PENDING, LetterStatus.SENDING]),
                    )
                )
                or 0
            )

    def tenant_letters_in_queue(self) -> list[Any]:
        """Unsent tenant letters outside a print batch, with their appointment's state and time."""
        with session_scope(self.engine) as session:
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

    def send_new_version_by_post(self, episode_id: int, version: int) -> None:
        """The new letter goes in today's print batch when email had already failed."""
        with session_scope(self.engine) as session:
            episode = session.get(Episode, episode_id)
            if episode is None or not has_postal_address(episode):
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

    def post_instead(self, letter_id: int, last_error: str | None) -> int:
        """Move a pending email tenant letter to print, flagged, when the post can take it.

        Returns 1 when moved, 0 when it has no PDF, no postal address or was taken meanwhile.
        """
        if self.copy_posted(letter_id, or_pending=True):
            return 0  # its post copy is the post
        with session_scope(self.engine) as session:
            letter = session.get(Letter, letter_id)
            episode = (
                session.get(Episode, letter.episode_id) if letter and letter.episode_id else None
            )
            if (
                letter is None
                or not letter.pdf_path
                or episode is None
                or not has_postal_address(episode)
            ):
                return 0
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
            return rowcount(moved)

    def unfinished_batches(self) -> list[str]:
        """Print batches whose run died before finishing; a live run finishes its own."""
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(Letter.print_batch, Letter.claim_token, Letter.claimed_at).where(
                    Letter.status == LetterStatus.SENDING,
                    Letter.channel == Channel.PRINT,
                    Letter.print_batch.is_not(None),
                )
            ).all()
        timeout = self.settings.smtp.claim_timeout_seconds
        return sorted(
            {
                str(name)
                for name, token, claimed_at in rows
                if token != self.token and claim_is_stale(token, claimed_at, timeout)
            }
        )

    def claim_print_batch(self, run_date: date) -> tuple[str | None, int]:
        """Claim every pending print letter into the day's next batch: (its name, PDFs missing).

        Letters whose PDF is missing fail flagged. The name is ``<date>-NN``; one run at
        a time names a batch, so two runs never pick the same name.
        """
        with session_scope(self.engine) as session:
            transaction_lock(session, PRINT_LOCK)
            query = (
                select(Letter.id, Letter.pdf_path)
                .where(
                    Letter.status == LetterStatus.PENDING,
                    Letter.channel == Channel.PRINT,
                    self._on_its_date(),
                )
                .order_by(Letter.id)
            )
            rows = session.execute(for_update_skip_locked(session, query)).all()
            if not rows:
                return None, 0
            missing = [i for i, path in rows if not path or not Path(path).exists()]
            if missing:
                session.execute(
                    update(Letter)
                    .where(Letter.id.in_(missing))
                    .values(
                        status=LetterStatus.FAILED, last_error="letter PDF missing", flagged=True
                    )
                )
            ready = [i for i, path in rows if i not in set(missing)]
            if not ready:
                return None, len(missing)
            # Claim first under a name of our own: on SQLite this write takes the database
            # lock, so the batch count below sees every batch another run has committed.
            session.execute(
                update(Letter)
                .where(Letter.id.in_(ready), Letter.status == LetterStatus.PENDING)
                .values(
                    status=LetterStatus.SENDING,
                    print_batch=self.token,
                    claim_token=self.token,
                    claimed_at=real_now(),
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
                update(Letter).where(Letter.print_batch == self.token).values(print_batch=name)
            )
        return name, len(missing)

    def batch_items(self, name: str) -> list[PrintItem]:
        """The letters of a claimed print batch, in order."""
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(Letter.id, Letter.idempotency_key, Letter.kind, Letter.pdf_path)
                .where(Letter.print_batch == name, Letter.status == LetterStatus.SENDING)
                .order_by(Letter.id)
            ).all()
        return [PrintItem(i, key, kind, Path(path)) for i, key, kind, path in rows if path]

    def batch_sent(self, items: list[PrintItem]) -> None:
        """The batch file is written: its letters are sent."""
        with session_scope(self.engine) as session:
            session.execute(
                update(Letter)
                .where(Letter.id.in_([item.letter_id for item in items]))
                .values(
                    status=LetterStatus.SENT,
                    sent_at=self.clock(),  # the run's time: a catch-up run dates it on its day
                    claim_token=None,
                    claimed_at=None,
                )
            )
