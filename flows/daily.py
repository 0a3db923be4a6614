"""The daily Prefect flow: ingest → match → outcomes → follow-up → booking → letters →
worklists → delivery.

The flow is thin: each task is one stage function from :mod:`flows.pipeline`. Its only
parameters are a date string and the configuration file path, and its artifact holds
counts only, so nothing personal ever reaches Prefect's database.
"""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from domain.formatting import STOCKHOLM
from flows.pipeline import DAILY_STAGES, DELIVERY_STAGES
from flows.pipeline import run_stage as pipeline_stage
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


@flow(name="kvarboende-daily", log_prints=False)
def daily_flow(run_date: str | None = None, config_file: str | None = None) -> dict:
    """The daily job. ``run_date`` defaults to today in Europe/Stockholm.

    Under a Prefect worker this is the entry point: it makes the process private and
    masks personal data in logs and in the error Prefect stores (:mod:`models.privacy`).
    """
    protect_process()
    with masked_errors():
        return _daily(run_date, config_file)


def _daily(run_date: str | None, config_file: str | None) -> dict:
    logger = get_run_logger()
    settings = load_settings(config_file)
    require_contact_settings(settings)
    day = date.fromisoformat(run_date) if run_date else datetime.now(STOCKHOLM).date()
    counts: dict[str, dict[str, int]] = {}
    for name, _, retryable in DAILY_STAGES:
        stage_task = run_stage.with_options(
            task_run_name=f"{name}-{day.isoformat()}",
            retries=3 if retryable else 0,
            retry_delay_seconds=[10, 60, 300] if retryable else 0,
        )
        counts[name] = stage_task(name, settings, day)
        logger.info("%s: %s", name, counts[name])
    create_markdown_artifact(
        key="daily-counts", markdown=counts_markdown(day, counts), description="Counts only"
    )
    return counts


@flow(name="kvarboende-delivery", log_prints=False)
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
        counts: dict[str, int] = {}
        for name in DELIVERY_STAGES:
            stage_task = run_stage.with_options(task_run_name=f"{name}-{day.isoformat()}")
            stage_counts = stage_task(name, settings, day)
            get_run_logger().info("%s: %s", name, stage_counts)
            counts.update(
                stage_counts
                if name == "delivery"
                else {f"reminders_{k}": v for k, v in stage_counts.items()}
            )
        return counts
