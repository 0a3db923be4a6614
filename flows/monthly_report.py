"""The monthly Prefect flow: the previous month's statistics, written and emailed to managers.

Scheduled on the 1st at 07:00 Europe/Stockholm (see :mod:`flows.deployments`). Its
parameters are the month string and the configuration file path only; its artifact
and the managers' email hold aggregate, suppressed counts only. A rerun for the same
month rewrites the files and queues no email twice (one idempotency key per month
and manager).
"""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from domain.formatting import local_now
from domain.statistics import month_label, previous_month, shift_month
from domain.vocabulary import Channel, LetterKind
from flows.hooks import alert_crashed_flow, alert_failed_flow
from flows.runs import run_job
from flows.stages.outbox import enqueue
from flows.stages.statistics import (
    check_month,
    monthly_summary,
    refresh_stat_facts_for,
    write_report,
)
from models.config import Settings, load_settings
from models.db import engine_scope, make_engine, session_scope
from models.privacy import masked_errors, protect_process


def refresh_window(settings: Settings, month: str) -> list[str]:
    """The month and those before it whose figures can still change.

    Outcomes arrive up to ``outcomes.follow_up_days`` after the last notice and are
    counted back in the payment-order month too, so that window is refreshed again.
    """
    back = settings.outcomes.follow_up_days // 30 + 2
    return [shift_month(month, -n) for n in range(back, -1, -1)]


def summary_markdown(month: str, lines: list[tuple[str, str]]) -> str:
    """The artifact: the month's aggregate figures, small counts already hidden."""
    out = [f"# Månadsstatistik {month_label(month)}", "", "| Mått | Värde |", "|---|---|"]
    out += [f"| {label} | {value} |" for label, value in lines]
    return "\n".join(out)


def manager_email_body(settings: Settings, month: str, lines: list[tuple[str, str]]) -> str:
    """Plain Swedish text with the headline figures; the report itself is attached."""
    figures = "\n".join(f"  {label}: {value}" for label, value in lines)
    return (
        "Hej,\n\n"
        f"Här kommer statistiken för det vräkningsförebyggande arbetet i "
        f"{settings.municipality.name}, {month_label(month)}. Hela rapporten med diagram "
        "och jämförelse med föregående år finns i den bifogade PDF-filen och i portalen "
        "(logga in med ditt konto):\n"
        f"{settings.web.link(f'/chef?manad={month}')}\n\n"
        f"{figures}\n\n"
        f"Antal från 1 till {settings.statistics.suppress_threshold} visas som "
        f"<{settings.statistics.suppress_threshold + 1}. Rapporten innehåller inga "
        "personuppgifter.\n\n"
        f"{settings.municipality.social_services}\n"
    )


@task(name="refresh-statistics", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30)
def refresh_task(settings: Settings, month: str) -> dict[str, int]:
    protect_process()
    engine = make_engine(settings.database.url)
    try:
        with masked_errors():
            return refresh_stat_facts_for(engine, settings, refresh_window(settings, month))
    finally:
        engine.dispose()


@task(name="write-report", cache_policy=NO_CACHE)
def write_task(settings: Settings, month: str) -> dict[str, str]:
    protect_process()
    engine = make_engine(settings.database.url)
    try:
        with masked_errors():
            return {
                fmt: str(write_report(engine, settings, month=month, fmt=fmt))
                for fmt in ("pdf", "html")
            }
    finally:
        engine.dispose()


@task(name="queue-manager-emails", cache_policy=NO_CACHE)
def queue_task(settings: Settings, month: str, pdf_path: str, today: date) -> dict[str, int]:
    protect_process()
    engine = make_engine(settings.database.url)
    try:
        with masked_errors():
            lines = monthly_summary(engine, settings, month)
            body = manager_email_body(settings, month, lines)
            subject = f"Statistik vräkningsförebyggande arbete, {month_label(month)}"
            created = 0
            with session_scope(engine) as session:
                for manager in settings.statistics.managers:
                    _letter, new = enqueue(
                        session,
                        key=f"manager_report:{month}:{manager.lower()}",
                        kind=LetterKind.MANAGER_REPORT,
                        channel=Channel.EMAIL,
                        created_on=today,
                        recipient=manager,
                        subject=subject,
                        body=body,
                        pdf_path=pdf_path,
                    )
                    created += int(new)
            return {
                "queued": created,
                "already_queued": len(settings.statistics.managers) - created,
            }
    finally:
        engine.dispose()


@task(name="deliver", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=60)
def deliver_task(settings: Settings, today: date) -> dict[str, int]:
    from flows.stages.delivery import deliver_outbox

    protect_process()
    engine = make_engine(settings.database.url)
    try:
        with masked_errors():
            return deliver_outbox(engine, settings, today)
    finally:
        engine.dispose()


def _has_delivery() -> bool:
    return importlib.util.find_spec("flows.stages.delivery") is not None


@flow(
    name="kvarboende-monthly-report",
    log_prints=False,
    on_failure=[alert_failed_flow],
    on_crashed=[alert_crashed_flow],
)
def monthly_report_flow(month: str | None = None, config_file: str | None = None) -> dict:
    """Refresh the figures, write the PDF and HTML report, email the PDF to the managers.

    ``month`` (YYYY-MM) defaults to the previous month in Europe/Stockholm. Like the
    daily flow, it makes the process private and masks personal data in logs and in
    the error Prefect stores (:mod:`models.privacy`).
    """
    protect_process()
    with masked_errors():
        settings = load_settings(config_file)
        result: dict = {}

        def report() -> dict[str, int]:
            result.update(_monthly_report(month, config_file))
            return {"emails_queued": result["emails"]["queued"]}

        run_id = runtime.flow_run.id
        with engine_scope(settings.database.url) as engine:
            run_job(
                engine,
                settings,
                "monthly-report",
                local_now().date(),
                [("monthly_report", report)],
                flow_run_id=str(run_id) if run_id else None,
                deployment_id=str(runtime.deployment.id) if runtime.deployment.id else None,
            )
        return result


def _monthly_report(month: str | None, config_file: str | None) -> dict:
    logger = get_run_logger()
    settings = load_settings(config_file)
    today = local_now().date()
    month = check_month(month) if month else previous_month(today)
    refreshed = refresh_task(settings, month)
    files = write_task(settings, month)
    engine = make_engine(settings.database.url)
    try:
        lines = monthly_summary(engine, settings, month)
    finally:
        engine.dispose()
    create_markdown_artifact(
        key="monthly-statistics",
        markdown=summary_markdown(month, lines),
        description="Aggregate counts only; small counts hidden",
    )
    queued = queue_task(settings, month, files["pdf"], today)
    delivered = deliver_task(settings, today) if _has_delivery() else {}
    logger.info(
        "statistics %s: %s months refreshed, report %s, %s emails queued",
        month,
        refreshed["months_refreshed"],
        Path(files["pdf"]).name,
        queued["queued"],
    )
    return {
        "month": month,
        "refresh": refreshed,
        "files": files,
        "emails": queued,
        "delivery": delivered,
    }
