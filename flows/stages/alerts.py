"""Alerts to the operators: find what went wrong since the last run, email it once.

Run at the end of every job (and from Prefect's failure and crash hooks). The checks
store an alert under a key of its own (:func:`services.operations.raise_alert`), so a
problem seen by forty runs a day is one alert; :func:`send_alerts` emails every unsent
alert, one email per kind, to ``[operations] alert_emails``, and leaves them for the
next run when the SMTP server does not take it. The texts hold ids, counts, error
types and what to do, never personal data.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connectors.local_smtp import LocalSmtpServer
from connectors.smtp import OutgoingEmail, SmtpSender, SmtpUnavailable, build_message
from domain.formatting import STOCKHOLM
from domain.schedules import expected_times, group_gaps, missed_times
from models.config import Settings
from models.db import session_scope
from services import operations as ops

log = logging.getLogger(__name__)

#: Jobs whose runs are expected at their [schedules] times, and whether they skip holidays.
SCHEDULED_JOBS: dict[str, tuple[str, bool]] = {
    "daily": ("daily", True),
    "inbox": ("inbox", True),
    "delivery": ("delivery", False),
    "monthly-report": ("monthly_report", False),
    "cases-import": ("cases_import", False),
}

#: Kind -> (email subject, what to do). Swedish, for the municipality's operators.
KINDS: dict[str, tuple[str, str]] = {
    "run_failed": (
        "en körning misslyckades",
        "Läs körningens logg i Prefect (flödeskörningens id står ovan) och rätta felet. "
        "Kör sedan jobbet igen (t.ex. `kvarboende run daily`): det som redan gjorts görs "
        "inte om.",
    ),
    "run_crashed": (
        "en körning avbröts (krasch)",
        "Processen dog innan körningen var klar (minne, omstart, arbetaren stoppades). "
        "Kontrollera arbetaren (`prefect worker`) och `kvarboende doctor`, kör sedan jobbet "
        "igen: det som redan gjorts görs inte om.",
    ),
    "stage_failing": (
        "ett steg misslyckas gång på gång",
        "Samma steg har misslyckats i flera körningar i rad. Läs felet i Prefects logg "
        "för de angivna körningarna och kör `kvarboende doctor`.",
    ),
    "missed_run": (
        "en schemalagd körning blev inte av",
        "Ingen körning startade vid den schemalagda tiden. Kontrollera att Prefect-servern "
        "och arbetarna är igång (`kvarboende doctor`); jobbet tar igen det som väntar vid "
        "nästa körning, eller kör det för hand nu.",
    ),
    "inbox_file": (
        "en fil i inkorgen kunde inte läsas",
        "Filen ligger kvar i inkorgen eller i mappen för avvisade filer med sitt kvitto. "
        "Be bostadsbolaget skicka den igen, eller prova `kvarboende companies check FILE "
        "--company ID` och rätta bolagets kolumnmappning i config.toml.",
    ),
    "overdue_letters": (
        "brev har inte skickats i tid",
        "Breven väntar fortfarande i utkorgen. Kontrollera SMTP-servern (`kvarboende "
        "doctor`), se `kvarboende outbox list` och kör `kvarboende outbox deliver`.",
    ),
}


def _local(moment: datetime) -> str:
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def check_alerts(
    engine: Engine, settings: Settings, run_date: date, now: datetime | None = None
) -> dict[str, int]:
    """Store an alert for every problem found; returns how many new ones of each kind."""
    now = now or datetime.now(UTC)
    config = settings.operations
    new: dict[str, int] = defaultdict(int)
    with session_scope(engine) as session:
        for run in ops.hung_runs(session, now - timedelta(hours=config.run_hung_hours)):
            ops.finish_run(session, run.id, ops.FAILED, error="Crashed")
            key = f"run_crashed:{run.flow_run_id or f'run-{run.id}'}"
            detail = f"Jobb {run.job}, körning {run.id} startad {_local(run.started_at)}"
            detail += f", flödeskörning {run.flow_run_id}" if run.flow_run_id else ""
            new["run_crashed"] += ops.raise_alert(session, key, "run_crashed", detail)
        for streak in ops.failure_streaks(session, config.stage_failure_streak):
            key = f"stage_failing:{streak.stage}:{streak.run_ids[0]}"
            detail = (
                f"Steget {streak.stage} misslyckades i {len(streak.run_ids)} körningar i rad "
                f"(körningar {', '.join(str(i) for i in streak.run_ids)})"
            )
            new["stage_failing"] += ops.raise_alert(session, key, "stage_failing", detail)
        new["missed_run"] += _check_missed(session, settings, now)
        since = now - timedelta(days=config.missed_run_lookback_days)
        for file in ops.files_rejected_since(session, since):
            key = f"inbox_file:{file.company_id}:{file.content_hash}"
            detail = (
                f"Bolag {file.company_id}: fil {file.id} (sha256 {file.content_hash[:12]}) "
                "avvisades i sin helhet; skälet står i kvittot"
            )
            new["inbox_file"] += ops.raise_alert(session, key, "inbox_file", detail)
        # Queued on or before this day and still not sent: overdue.
        last_ok = run_date - timedelta(days=config.letter_overdue_days)
        for letter_id in ops.unsent_letters_queued_before(session, last_ok + timedelta(days=1)):
            key = f"overdue_letter:{letter_id}"
            detail = (
                f"Brev {letter_id}, köat för {config.letter_overdue_days} dag(ar) sedan eller mer"
            )
            new["overdue_letters"] += ops.raise_alert(session, key, "overdue_letters", detail)
    return {kind: count for kind, count in new.items() if count}


def _check_missed(session: Session, settings: Settings, now: datetime) -> int:
    config = settings.operations
    grace = timedelta(minutes=config.missed_run_grace_minutes)
    created = 0
    for job, (key, working_days_only) in SCHEDULED_JOBS.items():
        if job == "cases-import" and not settings.cases.sql_url:
            continue
        first = ops.scheduled_since(session, job)
        if first is None:
            continue  # never run by a scheduler: nothing is expected of it yet
        start = max(first, now - timedelta(days=config.missed_run_lookback_days))
        cron = getattr(settings.schedules, key)
        expected = expected_times(
            cron, settings.schedules.timezone, start, now - grace, working_days_only
        )
        if not expected:
            continue
        starts = ops.run_starts(session, job, start - timedelta(minutes=1))
        for gap in group_gaps(job, missed_times(expected, starts, grace), expected):
            detail = (
                f"Jobb {job}: {len(gap.times)} schemalagda körningar blev inte av, "
                f"från {_local(gap.times[0])} till {_local(gap.times[-1])}"
            )
            alert_key = f"missed_run:{job}:{gap.times[0].isoformat()}"
            created += ops.raise_alert(session, alert_key, "missed_run", detail)
    return created


def alert_failed_run(
    engine: Engine,
    settings: Settings,
    job: str,
    flow_run_id: str | None,
    run_id: int | None,
    error: str,
) -> bool:
    """Store the alert of a failed run (once per flow run, whoever notices it first)."""
    key = f"run_failed:{flow_run_id or f'run-{run_id}'}"
    detail = f"Jobb {job}"
    detail += f", körning {run_id}" if run_id is not None else ""
    detail += f", flödeskörning {flow_run_id}" if flow_run_id else ""
    detail += f": {error}"
    with session_scope(engine) as session:
        return ops.raise_alert(session, key, "run_failed", detail)


def alert_crashed_run(engine: Engine, settings: Settings, job: str, flow_run_id: str) -> bool:
    with session_scope(engine) as session:
        return ops.raise_alert(
            session,
            f"run_crashed:{flow_run_id}",
            "run_crashed",
            f"Jobb {job}, flödeskörning {flow_run_id}",
        )


def alert_email(settings: Settings, kind: str, details: list[str], key: str) -> OutgoingEmail:
    title, todo = KINDS.get(kind, (kind, "Kör `kvarboende doctor`."))
    lines = "\n".join(f"  - {line}" for line in details)
    body = (
        f"Hej,\n\nKvarboende ({settings.municipality.name}): {title}.\n\n{lines}\n\n"
        f"Vad du gör: {todo}\n\n"
        "Meddelandet innehåller inga personuppgifter (bara id, antal och feltyper). "
        "Samma problem larmas bara en gång.\n"
    )
    subject = f"Kvarboende drift: {title} ({len(details)})"
    return OutgoingEmail(
        key=key, to=", ".join(settings.operations.alert_emails), subject=subject, body=body
    )


def send_alerts(engine: Engine, settings: Settings) -> dict[str, int]:
    """Email every unsent alert, one email per kind; unsent ones wait for the next run."""
    counts = {"alert_emails": 0, "alerts_sent": 0, "alerts_waiting": 0}
    if not settings.operations.alert_emails:
        return counts
    from flows.stages.delivery import _listening, _run

    with session_scope(engine) as session:
        pending = ops.unsent_alerts(session)
        if not pending:
            return counts
        by_kind: dict[str, list[ops.AlertRecord]] = defaultdict(list)
        for alert in pending:
            by_kind[alert.kind].append(alert)
        smtp = settings.smtp
        local = None
        if smtp.start_local and not _listening(smtp.host, smtp.port):
            local = LocalSmtpServer(
                mail_dir=settings.paths.mail_dir, port=smtp.port, host=smtp.host
            )
            local.start()
        try:
            sent_kinds = _run(_send(settings, by_kind))
        finally:
            if local is not None:
                local.stop()
        for kind, alerts in by_kind.items():
            ids = [a.id for a in alerts]
            if kind in sent_kinds:
                ops.alerts_sent(session, ids)
                counts["alert_emails"] += 1
                counts["alerts_sent"] += len(ids)
            else:
                ops.alerts_attempted(session, ids)
                counts["alerts_waiting"] += len(ids)
    return counts


async def _send(settings: Settings, by_kind: dict[str, list[ops.AlertRecord]]) -> set[str]:
    from connectors.smtp import Outcome

    sent: set[str] = set()
    try:
        async with SmtpSender(settings.smtp) as sender:
            for kind, alerts in by_kind.items():
                email = alert_email(
                    settings, kind, [a.detail for a in alerts], key=f"alert:{alerts[0].key}"
                )
                outcome, reason = await sender.send(build_message(settings.smtp, email))
                if outcome == Outcome.SENT:
                    sent.add(kind)
                else:
                    log.warning("alert email (%s) not sent: %s; tried again next run", kind, reason)
    except SmtpUnavailable as exc:
        log.warning("alert emails wait for the next run: %s", exc)
    return sent
