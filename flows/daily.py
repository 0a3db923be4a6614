"""The Prefect flows of the pipeline: daily, the 15-minute inbox run, delivery, the
case-register import and retention.

The daily flow: ingest → match → outcomes → follow-up → booking → letters → worklists →
delivery; the inbox flow: ingest → match → booking → letters → delivery. The flows are
thin: each task is one stage function from :mod:`flows.pipeline`, and each run is
recorded and followed by the alert checks (:func:`flows.runs.run_job`). Their only
parameters are a date string and the configuration file path, and their artifacts hold
counts only, so nothing personal ever reaches Prefect's database. Scheduled runs (no
date given) skip weekends and Swedish public holidays: a cron cannot name those days.
A failed or crashed flow run is alerted by its hooks (:mod:`flows.hooks`).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import partial

from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from domain.formatting import STOCKHOLM
from flows.hooks import alert_crashed_flow, alert_failed_flow
from flows.pipeline import DAILY_STAGES, DELIVERY_STAGES, INBOX_STAGES, Stage
from flows.pipeline import run_stage as pipeline_stage
from flows.runs import StageCall, run_job
from models.config import Settings, load_settings, require_contact_settings
from models.db import engine_scope
from models.privacy import masked_errors, protect_process


@task(name="stage", cache_policy=NO_CACHE, retries=0)
def run_stage(name: str, settings: Settings, run_date: date) -> dict[str, int]:
    """Run one stage against a fresh engine (engines are not shared across tasks), under
    the stage's lock so that an overlapping run (CLI or Prefect) takes its turn."""
    protect_process()  # a task may run in another process or thread than its flow
    stage = {stage_name: fn for stage_name, fn, _ in DAILY_STAGES}[name]
    with engine_scope(settings.database.url) as engine, masked_errors():
        # masked: Prefect stores the error text as the task run's state
        return pipeline_stage(engine, settings, run_date, name, stage)


def counts_markdown(run_date: date, counts: dict[str, dict[str, int]]) -> str:
    """A Markdown table of the stage counts: numbers only, no personal data."""
    lines = [f"# Kvarboende daily run {run_date.isoformat()}", "", "| stage | count | value |"]
    lines.append("|---|---|---|")
    for stage, values in counts.items():
        for key, value in values.items():
            lines.append(f"| {stage} | {key} | {value} |")
    return "\n".join(lines)


def _flow_run_id() -> str | None:
    run_id = runtime.flow_run.id
    return str(run_id) if run_id else None


def _deployment_id() -> str | None:
    """Set when a deployment (a schedule, a worker) started the run, not a flow call."""
    deployment = runtime.deployment.id
    return str(deployment) if deployment else None


def _stage_calls(
    settings: Settings, day: date, stages: tuple[tuple[str, Stage, bool], ...]
) -> list[tuple[str, StageCall]]:
    calls: list[tuple[str, StageCall]] = []
    for name, _, retryable in stages:
        # I/O (inbox folders, SMTP) may fail for a moment: 10 s, 20 s, 40 s (+/- jitter)
        stage_task = (
            run_stage.with_options(
                task_run_name=f"{name}-{day.isoformat()}",
                retries=3,
                retry_delay_seconds=exponential_backoff(backoff_factor=10),
                retry_jitter_factor=0.5,
            )
            if retryable
            else run_stage.with_options(task_run_name=f"{name}-{day.isoformat()}", retries=0)
        )
        calls.append((name, partial(stage_task, name, settings, day)))
    return calls


def _run_pipeline(
    job: str,
    stages: tuple[tuple[str, Stage, bool], ...],
    run_date: str | None,
    config_file: str | None,
    exclusive: bool,
) -> dict[str, dict[str, int]]:
    logger = get_run_logger()
    settings = load_settings(config_file)
    require_contact_settings(settings)  # letters would print a blank phone or website
    scheduled = run_date is None
    day = date.fromisoformat(run_date) if run_date else datetime.now(STOCKHOLM).date()
    with engine_scope(settings.database.url) as engine:
        counts = run_job(
            engine,
            settings,
            job,
            day,
            _stage_calls(settings, day, stages),
            flow_run_id=_flow_run_id(),
            deployment_id=_deployment_id(),
            working_days_only=scheduled,
            exclusive=exclusive,
        )
    for name, values in counts.items():
        logger.info("%s: %s", name, values)
    create_markdown_artifact(
        key=f"{job}-counts", markdown=counts_markdown(day, counts), description="Counts only"
    )
    return counts


@flow(
    name="kvarboende-daily",
    log_prints=False,
    on_failure=[alert_failed_flow],
    on_crashed=[alert_crashed_flow],
)
def daily_flow(run_date: str | None = None, config_file: str | None = None) -> dict:
    """The daily job. ``run_date`` defaults to today in Europe/Stockholm.

    Under a Prefect worker this is the entry point: it makes the process private and
    masks personal data in logs and in the error Prefect stores (:mod:`models.privacy`).
    Without ``run_date`` (a scheduled run) a weekend or holiday is skipped.
    """
    protect_process()
    with masked_errors():
        return _run_pipeline("daily", DAILY_STAGES, run_date, config_file, exclusive=False)


@flow(
    name="kvarboende-inbox",
    log_prints=False,
    on_failure=[alert_failed_flow],
    on_crashed=[alert_crashed_flow],
)
def inbox_flow(run_date: str | None = None, config_file: str | None = None) -> dict:
    """New inbox files during the day: ingest, match, route, book, letters, delivery.

    Every 15 minutes in office hours, so a notice that arrives at 10:00 is routed to its
    caseworker or lettered and sent the same day. A run that finds the previous one
    still going skips at once (the next one comes in 15 minutes).
    """
    protect_process()
    with masked_errors():
        return _run_pipeline("inbox", INBOX_STAGES, run_date, config_file, exclusive=True)


@flow(
    name="kvarboende-delivery",
    log_prints=False,
    on_failure=[alert_failed_flow],
    on_crashed=[alert_crashed_flow],
)
def delivery_flow(config_file: str | None = None) -> dict[str, int]:
    """Deliver the outbox now: letters due, and staff emails waiting for their next attempt;
    then the meeting reminders due (the working day before, from ``reminders.send_from``).

    The daily job delivers once a day; a greylisting server (451 for 5-15 minutes) or a
    short outage needs retries within the day, and a staff email's retries must span at
    least ``smtp.staff_retry_hours``. The delivery stage's lock keeps this run and the
    daily job's delivery from overlapping.
    """
    protect_process()
    with masked_errors():
        settings = load_settings(config_file)
        day = datetime.now(STOCKHOLM).date()
        stage_task = run_stage.with_options(task_run_name=f"delivery-{day.isoformat()}")
        stages = [(name, partial(stage_task, name, settings, day)) for name in DELIVERY_STAGES]
        with engine_scope(settings.database.url) as engine:
            counts = run_job(
                engine,
                settings,
                "delivery",
                day,
                stages,
                flow_run_id=_flow_run_id(),
                deployment_id=_deployment_id(),
                exclusive=True,
            )
        if "skipped" in counts:
            return counts["skipped"]
        result = dict(counts.get("delivery", {}))
        result.update({f"reminders_{k}": v for k, v in counts.get("reminders", {}).items()})
        get_run_logger().info("delivery: %s", result)
        return result


@task(
    name="import-register",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=60),
    retry_jitter_factor=0.5,
)
def import_register_task(settings: Settings) -> dict[str, int]:
    """A new case-register snapshot from ``[cases] sql_url`` (the case system may be down)."""
    from flows.stages.cases import import_register

    protect_process()
    with engine_scope(settings.database.url) as engine, masked_errors():
        return import_register(engine, settings, None)


@flow(
    name="kvarboende-cases-import",
    log_prints=False,
    on_failure=[alert_failed_flow],
    on_crashed=[alert_crashed_flow],
)
def cases_import_flow(config_file: str | None = None) -> dict[str, int]:
    """Nightly: read the case register from the case system (``[cases] sql_url``)."""
    protect_process()
    with masked_errors():
        settings = load_settings(config_file)
        day = datetime.now(STOCKHOLM).date()
        with engine_scope(settings.database.url) as engine:
            counts = run_job(
                engine,
                settings,
                "cases-import",
                day,
                [("cases_import", partial(import_register_task, settings))],
                flow_run_id=_flow_run_id(),
                deployment_id=_deployment_id(),
                exclusive=True,
            )
        result = counts.get("cases_import", counts.get("skipped", {}))
        get_run_logger().info("cases import: %s", result)
        return result


@flow(
    name="kvarboende-retention",
    log_prints=False,
    on_failure=[alert_failed_flow],
    on_crashed=[alert_crashed_flow],
)
def retention_flow(
    run_date: str | None = None, config_file: str | None = None, dry_run: bool = True
) -> dict[str, int]:
    """Retention (gallring), run by the operator in January: counts only with ``dry_run``."""
    from flows.stages.retention import apply_retention

    protect_process()
    with masked_errors():
        settings = load_settings(config_file)
        day = date.fromisoformat(run_date) if run_date else datetime.now(STOCKHOLM).date()
        with engine_scope(settings.database.url) as engine:
            counts = run_job(
                engine,
                settings,
                "retention",
                day,
                [("retention", partial(apply_retention, engine, settings, day, dry_run=dry_run))],
                flow_run_id=_flow_run_id(),
                deployment_id=_deployment_id(),
                exclusive=True,
            )
        result = counts.get("retention", counts.get("skipped", {}))
        get_run_logger().info("retention (dry run %s): %s", dry_run, result)
        return result
