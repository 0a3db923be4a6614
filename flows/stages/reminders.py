"""Stage: remind tenants of their meeting the working day before, by SMS or email.

Runs after the delivery stage in the daily job and in every delivery run (the
``delivery`` deployment, every 15 minutes on working days 07-17, or ``kvarboende
outbox deliver`` from cron). The daily job alone (06:30) would come before
``reminders.send_from`` (08:00): the delivery runs are what send the reminder on the
working day before, and retry it; the daily job catches up whatever is due then.

1. Queue a reminder (insert-or-ignore on its key) for every booked meeting whose
   window is open: from ``send_from`` on the working day before the meeting until
   ``min_notice_hours`` before it.
2. Withdraw waiting reminders whose meeting moved (``superseded``) or is now too
   close (``failed``: the advisor's worklist says to phone).
3. Send: SMS through the gateway (or the demo's folder), email through SMTP. A
   gateway that does not answer or cannot be reached is tried once per run; 5xx and
   429 are retried on later runs with a doubling pause up to ``max_attempts``; other
   4xx fail at once (an SMS that failed goes by email when there is an address, as
   does one the gateway later reports undelivered: the email is queued by the report
   and sent by the next run). A failed reminder is on the advisor's worklist.

Time: a run for today uses the real clock; a run for another date (the demo, a
catch-up) acts as if it ran at ``send_from`` on that date.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from connectors.local_smtp import LocalSmtpServer
from connectors.sms import SmsOutcome, SmsSender
from connectors.smtp import TIMEOUT, Outcome, OutgoingEmail, SmtpSender, SmtpUnavailable
from connectors.smtp import build_message as build_email
from domain import reminders as rm
from domain.delivery import scheduled_time
from domain.formatting import STOCKHOLM
from flows.stages.delivery import RunClock, _listening, _run
from models.config import Settings
from services.reminders import Claimed, ReminderOutbox

log = logging.getLogger(__name__)

COUNT_KEYS = (
    "queued_sms",
    "queued_email",
    "no_contact",
    "not_discreet",
    "sent_sms",
    "sent_email",
    "retry",
    "failed",
    "failed_email_queued",
    "superseded",
    "too_close",
    "deferred",
)


def _clock(settings: Settings, run_date: date, at: datetime | None) -> RunClock:
    if at is None and run_date != datetime.now(STOCKHOLM).date():
        daily = scheduled_time(settings.schedules.daily)
        moment = max(daily, settings.reminders.send_from)
        at = datetime.combine(run_date, moment, tzinfo=STOCKHOLM).astimezone(UTC)
    return RunClock(run_date, settings, at)


def send_reminders(
    engine: Engine, settings: Settings, run_date: date, at: datetime | None = None
) -> dict[str, int]:
    """Queue the reminders due now and send them; returns counts only."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    if not settings.reminders.enabled:
        return counts
    outbox = ReminderOutbox(engine, settings, _clock(settings, run_date, at))
    queued = outbox.queue()
    for key, value in vars(queued).items():
        counts[key] += value
    for key, value in outbox.close_gone().items():
        counts[key] += value
    if outbox.waiting(rm.SMS):
        _send_sms(outbox, counts)
    if outbox.waiting(rm.EMAIL):
        smtp = settings.smtp
        local: LocalSmtpServer | None = None
        if smtp.start_local and not _listening(smtp.host, smtp.port):
            local = LocalSmtpServer(
                mail_dir=settings.paths.mail_dir, port=smtp.port, host=smtp.host
            )
            local.start()
        try:
            _run(_send_emails(outbox, counts))
        finally:
            if local is not None:
                local.stop()
    return counts


def _send_sms(outbox: ReminderOutbox, counts: dict[str, int]) -> None:
    settings = outbox.settings
    delivered_on_write = settings.sms.transport == "file"
    handled: set[int] = set()
    secret = settings.sms.status_secret.get_secret_value()
    status_url = settings.web.link(f"/api/v1/sms-status/{secret}") if secret else ""
    with SmsSender(settings.sms, settings.paths.sms_dir, status_url) as sender:
        stale = outbox.stale_ids()
        while (claimed := outbox.claim(rm.SMS, stale, handled)) is not None:
            handled.add(claimed.id)
            result = sender.send(key=claimed.key, to=claimed.recipient, message=claimed.body)
            if result.outcome is SmsOutcome.SENT:
                outbox.sent(claimed, result.gateway_id, delivered_on_write)
                counts["sent_sms"] += 1
            elif result.outcome is SmsOutcome.TEMPORARY:
                counts[outbox.temporary(claimed, result.reason)] += 1
                if result.unreachable:
                    # Each further try could cost a whole timeout: the rest wait for the
                    # next run (their attempts are not counted, they were never tried).
                    counts["deferred"] += 1
                    log.warning("SMS gateway unreachable; reminders wait for the next run")
                    break
            else:
                counts[outbox.permanent(claimed, result.reason)] += 1


def _email(claimed: Claimed) -> OutgoingEmail:
    return OutgoingEmail(
        key=claimed.key, to=claimed.recipient, subject=claimed.subject or "", body=claimed.body
    )


async def _send_emails(outbox: ReminderOutbox, counts: dict[str, int]) -> None:
    settings = outbox.settings
    handled: set[int] = set()
    async with SmtpSender(settings.smtp) as sender:
        stale = outbox.stale_ids()
        while (claimed := outbox.claim(rm.EMAIL, stale, handled)) is not None:
            handled.add(claimed.id)
            message = build_email(settings.smtp, _email(claimed))
            try:
                outcome, reason = await sender.send(message)
            except SmtpUnavailable as exc:
                counts[outbox.temporary(claimed, str(exc))] += 1
                counts["deferred"] += 1
                break
            if outcome is Outcome.SENT:
                # The demo's own SMTP server is the mailbox: accepted there is delivered.
                outbox.sent(claimed, message["Message-ID"], delivered=settings.smtp.start_local)
                counts["sent_email"] += 1
            elif outcome is Outcome.TEMPORARY:
                counts[outbox.temporary(claimed, reason)] += 1
                if reason == TIMEOUT:
                    counts["deferred"] += 1
                    break
            else:
                counts[outbox.permanent(claimed, reason)] += 1
