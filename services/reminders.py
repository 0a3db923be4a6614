"""Meeting reminders: queueing them once, claiming them for sending, their results.

One row per reminder in ``reminder`` under an idempotency key (episode, meeting,
channel), written insert-or-ignore, so a rerun after a crash queues nothing twice. A
reminder is claimed (``sending`` with the run's token ``host:pid:uuid``) in a short
transaction of its own before the gateway is called, and its result written in another
after: a kill leaves at most the one in-flight reminder ``sending``, taken over later
when its owner is gone (same host) or its claim is older than
``reminders.claim_timeout_seconds``, and sent again with the same key (the gateway's
idempotency header). On PostgreSQL candidates are selected ``FOR UPDATE SKIP LOCKED``
and the claim is a conditional update, so two runs never claim the same reminder.

Also here: the tenant's "no SMS" mark (kept for the person across episodes), the
failed reminders for the advisor's worklist, and the counts for the statistics and
the demo.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import polars as pl
from sqlalchemy import (
    ColumnElement,
    Engine,
    and_,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, aliased

from domain import reminders as rm
from domain.addresses import tenant_email
from domain.formatting import STOCKHOLM
from domain.vocabulary import OPEN_STATUSES, AppointmentStatus
from models.audit import audit
from models.config import Settings
from models.db import (
    as_utc,
    insert_or_ignore,
    rowcount,
    session_scope,
    skip_locked,
    upsert,
)
from models.tables import Appointment, AppointmentSlot, Episode, Reminder
from models.tables import SmsChoice as SmsChoiceTable
from services._common import get_episode
from services.delivery import claim_is_stale, new_claim_token, real_now


class ReminderStatus:
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"  # handed to the gateway or the mail server
    DELIVERED = "delivered"  # on the phone (the demo's folder, a gateway delivery report)
    FAILED = "failed"
    SUPERSEDED = "superseded"  # the meeting was moved or cancelled before it went out


#: Statuses of a reminder that reached (or is on its way to) the tenant.
DONE = (ReminderStatus.SENT, ReminderStatus.DELIVERED)
WAITING = (ReminderStatus.PENDING, ReminderStatus.SENDING)

#: ``last_error`` of a reminder that was never sent because its meeting came too close.
TOO_CLOSE = "meeting too close or passed before the reminder went out"


@dataclass(frozen=True)
class QueuedCounts:
    queued_sms: int = 0
    queued_email: int = 0
    no_contact: int = 0  # neither a mobile number (or SMS allowed) nor an email address
    not_discreet: int = 0  # the text would have named the debt: failed, on the worklist


def _meeting(settings: Settings, advisor_id: str, slot: AppointmentSlot) -> rm.Meeting:
    advisor = next((a for a in settings.advisors if a.id == advisor_id), None)
    town = settings.municipality.name
    return rm.Meeting(
        advisor_name=advisor.name if advisor else "Boenderådgivningen",
        organisation=town,
        starts_at=as_utc(slot.starts_at),
        place=slot.location,
        address=advisor.address if advisor else "",
        phone=(advisor.phone if advisor and advisor.phone else settings.municipality.phone),
    )


def queue_due_reminders(session: Session, settings: Settings, now: datetime) -> QueuedCounts:
    """Queue a reminder for every booked meeting whose reminder window is open now.

    The window opens at ``reminders.send_from`` on the working day before the meeting
    and closes ``min_notice_hours`` before it. One reminder per meeting: a meeting that
    already has one (in any channel, in any state) gets none.
    """
    config = settings.reminders
    has_any = exists().where(
        Reminder.appointment_id == Appointment.id, Reminder.status != ReminderStatus.SUPERSEDED
    )
    rows = session.execute(
        select(Appointment.id, Appointment.episode_id, AppointmentSlot, Episode)
        .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
        .join(Episode, Episode.id == Appointment.episode_id)
        .where(
            Appointment.status == AppointmentStatus.BOOKED,
            Episode.status.in_([s.value for s in OPEN_STATUSES]),
            AppointmentSlot.starts_at > now,
            AppointmentSlot.starts_at <= now + timedelta(days=10),  # holidays: Easter
            ~has_any,
        )
        .order_by(Appointment.id)
    ).all()
    sms_on = settings.sms.transport != "none"
    choices = load_sms_choices(session) if rows else {}
    counts = {"queued_sms": 0, "queued_email": 0, "no_contact": 0, "not_discreet": 0}
    for appointment_id, episode_id, slot, episode in rows:
        window = rm.reminder_window(
            as_utc(slot.starts_at), config.send_from, config.min_notice_hours
        )
        if not (window.opens <= now < window.closes):
            continue
        mobile = rm.swedish_mobile(episode.phone)
        email = tenant_email(episode.email, episode.tenant_email)[0]
        no_sms = rm.refuses_sms(choices, episode_keys(episode))
        channel = rm.channel_for(mobile, email, no_sms, sms_on)
        if channel is None:
            counts["no_contact"] += 1
            continue
        meeting = _meeting(settings, slot.advisor_id, slot)
        language = "en" if episode.language == "en" else "sv"
        if channel == rm.SMS:
            recipient, subject, body = mobile, None, rm.sms_text(meeting, language)
        else:
            recipient = email
            subject = rm.email_subject(meeting, language)
            body = rm.email_text(meeting, language)
        discreet = rm.is_discreet(body) and rm.is_discreet(subject or "")
        created = _insert(
            session,
            key=rm.reminder_key(episode_id, appointment_id, channel),
            episode_id=episode_id,
            appointment_id=appointment_id,
            channel=channel,
            recipient=str(recipient),
            subject=subject,
            body=body,
            created_on=now.astimezone(STOCKHOLM).date(),
            failed=None
            if discreet
            else "the text would name the debt: check the meeting place in [[advisors]]",
            now=now,
        )
        if not created:
            continue
        if not discreet:
            counts["not_discreet"] += 1
        else:
            counts[f"queued_{channel}"] += 1
    return QueuedCounts(**counts)


def _insert(
    session: Session,
    *,
    key: str,
    episode_id: int,
    appointment_id: int,
    channel: str,
    recipient: str,
    subject: str | None,
    body: str,
    created_on: date,
    failed: str | None,
    now: datetime,
) -> bool:
    """Insert-or-ignore one reminder; True when this call created it."""
    values = {
        "idempotency_key": key,
        "episode_id": episode_id,
        "appointment_id": appointment_id,
        "channel": channel,
        "recipient": recipient,
        "subject": subject,
        "body": body,
        "status": ReminderStatus.FAILED if failed else ReminderStatus.PENDING,
        "last_error": failed,
        "failed_at": now if failed else None,
        "attempts": 0,
        "created_on": created_on,
        "created_at": real_now(),
    }
    table = Reminder.__table__
    inserted = session.execute(
        insert_or_ignore(session, table).values(**values).returning(table.c.id)
    ).scalar()
    return inserted is not None


def email_instead(
    session: Session, settings: Settings, episode_id: int, appointment_id: int, now: datetime
) -> bool:
    """Queue the meeting's reminder by email after its SMS failed; True when queued now.

    Only while the meeting is still booked, the episode open, the reminder window not
    yet closed (``min_notice_hours`` before the meeting) and the episode has a usable
    address. Insert-or-ignore on the email reminder's key: a repeated failure report or
    a rerun queues nothing twice. When nothing is queued the failed SMS stays on the
    advisor's worklist, so that someone phones.
    """
    episode = session.get(Episode, episode_id)
    row = session.execute(
        select(AppointmentSlot, Appointment.status)
        .join(Appointment, Appointment.slot_id == AppointmentSlot.id)
        .where(Appointment.id == appointment_id)
    ).first()
    email = tenant_email(episode.email, episode.tenant_email)[0] if episode is not None else None
    if episode is None or row is None or email is None:
        return False
    slot, appointment_status = row
    closes = as_utc(slot.starts_at) - timedelta(hours=settings.reminders.min_notice_hours)
    open_statuses = {s.value for s in OPEN_STATUSES}
    if (
        appointment_status != AppointmentStatus.BOOKED
        or episode.status not in open_statuses
        or now >= closes
    ):
        return False
    meeting = _meeting(settings, slot.advisor_id, slot)
    language = "en" if episode.language == "en" else "sv"
    return _insert(
        session,
        key=rm.reminder_key(episode_id, appointment_id, rm.EMAIL),
        episode_id=episode_id,
        appointment_id=appointment_id,
        channel=rm.EMAIL,
        recipient=email,
        subject=rm.email_subject(meeting, language),
        body=rm.email_text(meeting, language),
        created_on=now.astimezone(STOCKHOLM).date(),
        failed=None,
        now=now,
    )


@dataclass(frozen=True)
class Claimed:
    """A reminder claimed for sending, with what the send needs (no ORM object)."""

    id: int
    key: str
    episode_id: int
    appointment_id: int
    channel: str
    recipient: str
    subject: str | None
    body: str
    attempts: int


class ReminderOutbox:
    """The reminder run's access to the ``reminder`` table: claims and results, one commit each."""

    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.token = new_claim_token()

    def queue(self) -> QueuedCounts:
        with session_scope(self.engine) as session:
            return queue_due_reminders(session, self.settings, self.clock())

    def stale_ids(self) -> list[int]:
        """Reminders left ``sending`` by a run that died (or hangs on another host)."""
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(Reminder.id, Reminder.claim_token, Reminder.claimed_at).where(
                    Reminder.status == ReminderStatus.SENDING
                )
            ).all()
        timeout = self.settings.reminders.claim_timeout_seconds
        return [
            i
            for i, token, claimed_at in rows
            if token != self.token and claim_is_stale(token, claimed_at, timeout)
        ]

    def close_gone(self) -> dict[str, int]:
        """Waiting reminders that must not go out: the meeting moved, or is too close now.

        A reminder of a meeting no longer booked is ``superseded``; one whose meeting is
        closer than ``min_notice_hours`` (or passed) ``failed`` for the worklist: the
        advisor phones instead. In-flight reminders of live runs are left alone.
        """
        now = self.clock()
        closes = now + timedelta(hours=self.settings.reminders.min_notice_hours)
        counts = {"superseded": 0, "too_close": 0}
        stale = set(self.stale_ids())
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(Reminder.id, Reminder.status, Appointment.status, AppointmentSlot.starts_at)
                .join(Appointment, Appointment.id == Reminder.appointment_id)
                .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
                .where(Reminder.status.in_(WAITING))
            ).all()
            for reminder_id, status, appointment_status, starts_at in rows:
                if status == ReminderStatus.SENDING and reminder_id not in stale:
                    continue
                guard = Reminder.status == status
                if appointment_status != AppointmentStatus.BOOKED:
                    values: dict[str, object] = {
                        "status": ReminderStatus.SUPERSEDED,
                        "last_error": "meeting moved",
                    }
                    key = "superseded"
                elif as_utc(starts_at) <= closes:
                    values = {
                        "status": ReminderStatus.FAILED,
                        "last_error": TOO_CLOSE,
                        "failed_at": now,
                    }
                    key = "too_close"
                else:
                    continue
                done = session.execute(
                    update(Reminder)
                    .where(Reminder.id == reminder_id, guard)
                    .values(claim_token=None, claimed_at=None, next_attempt_at=None, **values)
                )
                counts[key] += rowcount(done)
        return counts

    def claim(self, channel: str, stale: list[int], skip: Collection[int] = ()) -> Claimed | None:
        """Claim the next due reminder of ``channel`` (or a stale one); None when none is due."""
        while True:
            with session_scope(self.engine) as session:
                now = self.clock()
                due = or_(Reminder.next_attempt_at.is_(None), Reminder.next_attempt_at <= now)
                taken_over = (
                    and_(Reminder.id.in_(stale), Reminder.status == ReminderStatus.SENDING)
                    if stale
                    else false()
                )
                query = (
                    select(Reminder.id, Reminder.status, Reminder.claim_token)
                    .where(
                        Reminder.channel == channel,
                        or_(and_(Reminder.status == ReminderStatus.PENDING, due), taken_over),
                        Reminder.id.not_in(list(skip)) if skip else true(),
                    )
                    .order_by(Reminder.id)
                    .limit(1)
                )
                row = session.execute(skip_locked(session, query, Reminder)).first()
                if row is None:
                    return None
                reminder_id, status, old_token = row
                guard = (
                    Reminder.status == ReminderStatus.PENDING
                    if status == ReminderStatus.PENDING
                    else and_(
                        Reminder.status == ReminderStatus.SENDING,
                        Reminder.claim_token.is_(None)
                        if old_token is None
                        else Reminder.claim_token == old_token,
                    )
                )
                result = session.execute(
                    update(Reminder)
                    .where(Reminder.id == reminder_id, guard)
                    .values(
                        status=ReminderStatus.SENDING, claim_token=self.token, claimed_at=real_now()
                    )
                )
                if rowcount(result) != 1:
                    continue  # another run claimed it between our select and our update
                r = session.get(Reminder, reminder_id, populate_existing=True)
                assert r is not None
                return Claimed(
                    r.id,
                    r.idempotency_key,
                    r.episode_id,
                    r.appointment_id,
                    r.channel,
                    r.recipient,
                    r.subject,
                    r.body,
                    r.attempts,
                )

    def _finish(self, reminder_id: int, **values: object) -> bool:
        with session_scope(self.engine) as session:
            result = session.execute(
                update(Reminder)
                .where(Reminder.id == reminder_id, Reminder.claim_token == self.token)
                .values(claim_token=None, claimed_at=None, **values)
            )
            return rowcount(result) == 1

    def sent(self, claimed: Claimed, gateway_id: str | None, delivered: bool) -> None:
        """Handed over; ``delivered`` when the transport puts it on the phone itself.

        Times are the run's clock (the real one on a run for today), as the statistics
        count them by that day.
        """
        now = self.clock()
        self._finish(
            claimed.id,
            status=ReminderStatus.DELIVERED if delivered else ReminderStatus.SENT,
            attempts=claimed.attempts + 1,
            sent_at=now,
            delivered_at=now if delivered else None,
            gateway_id=gateway_id,
            last_error=None,
            next_attempt_at=None,
        )

    def temporary(self, claimed: Claimed, reason: str) -> str:
        """Try again after a doubling pause, until ``max_attempts``; returns what happened."""
        config = self.settings.reminders
        attempts = claimed.attempts + 1
        if attempts >= config.max_attempts:
            return self.permanent(claimed, f"gave up after {attempts} attempts: {reason}", attempts)
        delay = timedelta(seconds=config.backoff_seconds * (2 ** (attempts - 1)))
        self._finish(
            claimed.id,
            status=ReminderStatus.PENDING,
            attempts=attempts,
            last_error=reason[:2000],
            next_attempt_at=self.clock() + delay,
        )
        return "retry"

    def permanent(self, claimed: Claimed, reason: str, attempts: int | None = None) -> str:
        """Failed for good; an SMS that failed is sent by email instead when there is an address.

        The failed reminder is on the advisor's worklist unless the email replaces it.
        """
        now = self.clock()
        with session_scope(self.engine) as session:
            done = session.execute(
                update(Reminder)
                .where(Reminder.id == claimed.id, Reminder.claim_token == self.token)
                .values(
                    status=ReminderStatus.FAILED,
                    attempts=claimed.attempts + 1 if attempts is None else attempts,
                    last_error=reason[:2000],
                    failed_at=now,
                    next_attempt_at=None,
                    claim_token=None,
                    claimed_at=None,
                )
            )
            if rowcount(done) != 1 or claimed.channel != rm.SMS:
                return "failed"
            return "failed_email_queued" if self._email_instead(session, claimed, now) else "failed"

    def _email_instead(self, session: Session, claimed: Claimed, now: datetime) -> bool:
        return email_instead(
            session, self.settings, claimed.episode_id, claimed.appointment_id, now
        )

    def waiting(self, channel: str) -> int:
        """Reminders of ``channel`` pending or in flight: whether a transport is needed."""
        with session_scope(self.engine) as session:
            return int(
                session.scalar(
                    select(func.count(Reminder.id)).where(
                        Reminder.channel == channel, Reminder.status.in_(WAITING)
                    )
                )
                or 0
            )


@dataclass(frozen=True)
class DeliveryReport:
    """What a gateway's delivery report changed."""

    known: bool  # a sent SMS had that id (False also for a repeated report)
    email_queued: bool = False  # not delivered: the reminder goes by email instead


def record_delivery_report(
    session: Session, settings: Settings, gateway_id: str, delivered: bool, at: datetime
) -> DeliveryReport:
    """The gateway's delivery report of one SMS.

    Delivered: the reminder is ``delivered``. Not delivered (phone off for days, number
    gone): ``failed``, and, as after a refused send, the reminder goes by email when the
    meeting is still ahead and the episode has an address (:func:`email_instead`, once:
    the email reminder's key is unique). Otherwise the failed SMS is on the advisor's
    worklist so that someone phones. A report for an SMS already settled by an earlier
    report changes nothing.
    """
    values: dict[str, object] = (
        {"status": ReminderStatus.DELIVERED, "delivered_at": at}
        if delivered
        else {
            "status": ReminderStatus.FAILED,
            "failed_at": at,
            "last_error": "SMS not delivered to the phone (gateway delivery report)",
        }
    )
    row = session.execute(
        select(Reminder.id, Reminder.episode_id, Reminder.appointment_id).where(
            Reminder.channel == rm.SMS,
            Reminder.gateway_id == gateway_id,
            Reminder.status == ReminderStatus.SENT,
        )
    ).first()
    if row is None:
        return DeliveryReport(known=False)
    reminder_id, episode_id, appointment_id = row
    done = session.execute(
        update(Reminder)
        .where(Reminder.id == reminder_id, Reminder.status == ReminderStatus.SENT)
        .values(**values)
    )
    if not rowcount(done):
        return DeliveryReport(known=False)  # another report settled it meanwhile
    if delivered:
        return DeliveryReport(known=True)
    queued = email_instead(session, settings, episode_id, appointment_id, at)
    return DeliveryReport(known=True, email_queued=queued)


# ---------------------------------------------------------------------------
# The tenant's "no SMS" mark: kept for the person, across episodes


@dataclass(frozen=True)
class SmsChoice:
    episode_id: int
    no_sms: bool


def episode_keys(episode: Episode) -> list[rm.PersonKey]:
    """The keys under which the tenant of ``episode`` is found on other episodes."""
    return rm.person_keys(episode.personnummer, episode.personnummer_valid, episode.tenancy_key)


def load_sms_choices(
    session: Session, keys: Collection[rm.PersonKey] | None = None
) -> dict[rm.PersonKey, rm.SmsChoiceRow]:
    """Stored choices (all of them, or those under ``keys``), by key."""
    query = select(
        SmsChoiceTable.key_kind,
        SmsChoiceTable.key_value,
        SmsChoiceTable.no_sms,
        SmsChoiceTable.decided_at,
    )
    if keys is not None:
        if not keys:
            return {}
        query = query.where(
            or_(
                *(
                    and_(SmsChoiceTable.key_kind == k, SmsChoiceTable.key_value == v)
                    for k, v in keys
                )
            )
        )
    return {
        (kind, value): rm.SmsChoiceRow((kind, value), bool(no_sms), as_utc(at))
        for kind, value, no_sms, at in session.execute(query)
    }


def person_refuses_sms(session: Session, episode: Episode) -> bool:
    keys = episode_keys(episode)
    return rm.refuses_sms(load_sms_choices(session, keys), keys)


def _same_person(keys: list[rm.PersonKey]) -> ColumnElement[bool]:
    """Episodes of the person with ``keys`` (a valid personnummer, or the tenancy)."""
    conditions: list[ColumnElement[bool]] = []
    for kind, value in keys:
        if kind == rm.PERSONNUMMER_KEY:
            conditions.append(
                and_(Episode.personnummer == value, Episode.personnummer_valid.is_(True))
            )
        else:
            conditions.append(Episode.tenancy_key == value)
    return or_(*conditions) if conditions else false()


def set_no_sms(
    session: Session, episode_id: int, no_sms: bool, *, by: str, now: datetime | None = None
) -> SmsChoice:
    """Mark (or unmark) the tenant of an episode as not wanting SMS; audit-logged.

    The choice is stored for the person (their valid personnummer and the tenancy), so
    it holds on their other episodes too, also those opened later. Reminders then go by
    email (or not at all without an address); an SMS reminder already queued and not
    yet sent to the person is withdrawn.
    """
    episode = get_episode(session, episode_id, for_update=True)
    keys = episode_keys(episode)
    at = now or real_now()
    for kind, value in keys:
        session.execute(
            upsert(
                session, SmsChoiceTable, ["key_kind", "key_value"], ["no_sms", "decided_at"]
            ).values(key_kind=kind, key_value=value, no_sms=no_sms, decided_at=at)
        )
    if no_sms:
        person = select(Episode.id).where(or_(Episode.id == episode_id, _same_person(keys)))
        session.execute(
            update(Reminder)
            .where(
                Reminder.episode_id.in_(person),
                Reminder.channel == rm.SMS,
                Reminder.status == ReminderStatus.PENDING,
            )
            .values(status=ReminderStatus.SUPERSEDED, last_error="the tenant asked for no SMS")
            .execution_options(synchronize_session=False)
        )
    audit(session, by, "episode.no_sms", "episode", episode_id, detail=str(no_sms).lower())
    return SmsChoice(episode_id, no_sms)


def forget_orphan_sms_choices(session: Session, *, dry_run: bool = False) -> int:
    """Delete choices no episode has a key for any more (retention): returns how many."""
    by_number = and_(
        SmsChoiceTable.key_kind == rm.PERSONNUMMER_KEY,
        ~exists().where(
            Episode.personnummer == SmsChoiceTable.key_value, Episode.personnummer_valid.is_(True)
        ),
    )
    by_tenancy = and_(
        SmsChoiceTable.key_kind == rm.TENANCY_KEY,
        ~exists().where(Episode.tenancy_key == SmsChoiceTable.key_value),
    )
    orphan = or_(by_number, by_tenancy)
    if dry_run:
        return int(session.scalar(select(func.count(SmsChoiceTable.id)).where(orphan)) or 0)
    return rowcount(session.execute(delete(SmsChoiceTable).where(orphan)))


# ---------------------------------------------------------------------------
# What the worklist, the episode page, the statistics and the demo read

#: Schema of the failed reminders the worklist shows.
FAILED_SCHEMA: dict[str, pl.DataType] = {
    "reminder_id": pl.Int64(),
    "episode_id": pl.Int64(),
    "channel": pl.String(),
    "starts_at": pl.Datetime("us", "UTC"),
    "too_close": pl.Boolean(),
}


def failed_reminders(session: Session, since: datetime) -> pl.DataFrame:
    """Reminders that failed for a meeting still booked and not yet begun at ``since``.

    Only when no other reminder of the same meeting went out (an SMS replaced by an
    email that was sent is no problem any more).
    """
    other = aliased(Reminder)
    replaced = exists().where(
        other.appointment_id == Reminder.appointment_id,
        other.id != Reminder.id,
        other.status.in_([*DONE, *WAITING]),
    )
    rows = session.execute(
        select(
            Reminder.id,
            Reminder.episode_id,
            Reminder.channel,
            AppointmentSlot.starts_at,
            Reminder.last_error,
        )  # fmt: skip
        .join(Appointment, Appointment.id == Reminder.appointment_id)
        .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
        .where(
            Reminder.status == ReminderStatus.FAILED,
            Appointment.status == AppointmentStatus.BOOKED,
            AppointmentSlot.starts_at >= since,
            ~replaced,
        )
        .order_by(Reminder.id)
    ).all()
    data = [(i, e, c, as_utc(s), (error or "").startswith(TOO_CLOSE)) for i, e, c, s, error in rows]
    return pl.DataFrame(data, schema=FAILED_SCHEMA, orient="row")


@dataclass(frozen=True)
class EpisodeReminder:
    """One reminder as the episode page shows it (no text: the page shows the meeting)."""

    channel: str
    status: str
    created_on: date
    sent_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class ReminderSettings:
    """What the episode page says about reminders: the SMS choice and where they go."""

    no_sms: bool
    has_mobile: bool  # the company gave a Swedish mobile number
    has_email: bool


def reminder_settings(session: Session, episode_id: int) -> ReminderSettings:
    episode = get_episode(session, episode_id)
    return ReminderSettings(
        no_sms=person_refuses_sms(session, episode),
        has_mobile=rm.swedish_mobile(episode.phone) is not None,
        has_email=tenant_email(episode.email, episode.tenant_email)[0] is not None,
    )


def episode_reminders(session: Session, episode_id: int) -> list[EpisodeReminder]:
    rows = session.scalars(
        select(Reminder).where(Reminder.episode_id == episode_id).order_by(Reminder.id)
    )
    return [
        EpisodeReminder(r.channel, r.status, r.created_on, r.sent_at, r.last_error) for r in rows
    ]


def reminder_counts(session: Session) -> dict[str, dict[str, int]]:
    """Reminders by channel and status, for the demo's summary."""
    out: dict[str, dict[str, int]] = {}
    for channel, status, n in session.execute(
        select(Reminder.channel, Reminder.status, func.count()).group_by(
            Reminder.channel, Reminder.status
        )
    ):
        out.setdefault(str(channel), {})[str(status)] = int(n)
    return out
