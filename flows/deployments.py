"""Every scheduled job in one place: served by ``kvarboende serve`` on one machine, or
deployed to a work pool (``kvarboende deploy --pool NAME``) for workers on several.

| deployment      | schedule (``[schedules]``, Europe/Stockholm) | what it does |
|-----------------|----------------------------------------------|--------------|
| daily           | ``daily``: working days 06:30                  | the whole pipeline |
| inbox           | ``inbox``: every 15 min, working days 07-17    | new files to letters sent |
| delivery        | ``delivery``: every 15 min, working days 07-17 | outbox retries |
| monthly-report  | ``monthly_report``: the 1st, 07:00             | managers' report |
| cases-import    | ``cases_import``: nightly 02:00 with ``[cases] sql_url`` | snapshot |
| retention       | none: the operator runs it in January          | gallring (dry run by default) |

Runs of one deployment never overlap: a Prefect concurrency limit of 1 per deployment
(the 15-minute jobs cancel a run that would start while one is running; the others
wait their turn), and under it the database locks of the jobs and stages. A cron
cannot name Swedish public holidays: the daily and inbox flows skip them themselves.

Schedules run only against a real Prefect server (``prefect server start``) reached
through ``PREFECT_API_URL``; Prefect's temporary in-process server cannot schedule.
"""

from __future__ import annotations

import os
from typing import Any

from prefect import Flow, serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron, Schedule

from domain.schedules import deployment_schedule_keys
from flows.daily import cases_import_flow, daily_flow, delivery_flow, inbox_flow, retention_flow
from flows.monthly_report import monthly_report_flow
from models.config import Settings
from models.errors import KvarboendeError

#: Deployment name -> [schedules] key (None: no schedule, run by hand).
SCHEDULE_KEYS: dict[str, str | None] = {
    "daily": "daily",
    "inbox": "inbox",
    "delivery": "delivery",
    "monthly-report": "monthly_report",
    "cases-import": "cases_import",
    "retention": None,
}


def _cron(settings: Settings, key: str) -> Schedule:
    """The schedule of ``[schedules] key``; a bad cron string is one line naming the key."""
    text = getattr(settings.schedules, key)
    try:
        return Cron(text, timezone=settings.schedules.timezone)
    except ValueError:
        raise KvarboendeError(
            f"schedules.{key}: {text!r} is not a cron schedule "
            "(minute hour day month weekday, e.g. '30 6 * * 1-5')"
        ) from None


def _one_at_a_time(skip: bool) -> ConcurrencyLimitConfig:
    strategy = ConcurrencyLimitStrategy.CANCEL_NEW if skip else ConcurrencyLimitStrategy.ENQUEUE
    return ConcurrencyLimitConfig(limit=1, collision_strategy=strategy)


def deployment_specs(settings: Settings) -> list[tuple[str, Flow[Any, Any], str | None, bool, str]]:
    """(name, flow, schedule key, skip-if-running, description) of every deployment."""
    specs: list[tuple[str, Flow[Any, Any], str | None, bool, str]] = [
        ("daily", daily_flow, "daily", False,
         "Ingest, match, route, book, letters, worklists, delivery."),
        ("inbox", inbox_flow, "inbox", True,
         "New inbox files: ingest, match, route, book, letters, delivery (same day)."),
        ("delivery", delivery_flow, "delivery", True,
         "Letters due and staff emails waiting for a retry (greylisting, outages)."),
        ("monthly-report", monthly_report_flow, "monthly_report", False,
         "The previous month's statistics, emailed to the managers."),
    ]  # fmt: skip
    if settings.cases.sql_url:
        specs.append(
            ("cases-import", cases_import_flow, "cases_import", True,
             "A new case-register snapshot from the case system ([cases] sql_url).")
        )  # fmt: skip
    specs.append(
        ("retention", retention_flow, None, True,
         "Gallring, run by the operator in January (dry_run=false to delete).")
    )  # fmt: skip
    return specs


def deployments(settings: Settings, config_file: str, **options: Any) -> list[Any]:
    """The deployments with their cron schedules (Europe/Stockholm) and concurrency limits.

    ``options`` go to ``to_deployment`` (e.g. ``work_pool_name`` when deploying to a pool).
    """
    return [
        flow.to_deployment(
            name=name,
            schedules=[_cron(settings, key)] if key else [],
            parameters={"config_file": config_file},
            description=description,
            concurrency_limit=_one_at_a_time(skip),
            **options,
        )
        for name, flow, key, skip, description in deployment_specs(settings)
    ]


def expected_schedules(settings: Settings) -> dict[str, str | None]:
    """Deployment name -> the cron it must have (``kvarboende doctor`` compares)."""
    specs = {name: key for name, _flow, key, _skip, _d in deployment_specs(settings)}
    if specs != deployment_schedule_keys(bool(settings.cases.sql_url)):
        raise KvarboendeError("deployments and domain.schedules disagree (a programming error)")
    return {name: getattr(settings.schedules, key) if key else None for name, key in specs.items()}


def require_server() -> None:
    if not os.environ.get("PREFECT_API_URL"):
        raise KvarboendeError(
            "schedules need a Prefect server: run `prefect server start` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (see README, 'Running in production')"
        )


def deploy_to_pool(settings: Settings, config_file: str, pool: str) -> list[str]:
    """Register the deployments with a work pool; workers import the flows from the
    installed ``kvarboende`` package (the same version and config path on every host)."""
    from prefect import deploy
    from prefect.deployments.runner import EntrypointType

    require_server()
    found = deployments(
        settings, config_file, work_pool_name=pool, entrypoint_type=EntrypointType.MODULE_PATH
    )
    deploy(*found, work_pool_name=pool, build=False, push=False, print_next_steps_message=False)
    return [d.name for d in found]


def serve_all(settings: Settings, config_file: str) -> None:
    """Serve the deployments until interrupted; refuse without a Prefect server."""
    require_server()
    serve(*deployments(settings, config_file))
