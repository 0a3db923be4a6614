"""Every scheduled job in one place, served by one ``prefect`` process on one machine.

Schedules run only against a real Prefect server (``prefect server start``) reached
through ``PREFECT_API_URL``; Prefect's temporary in-process server cannot schedule.
Beyond one machine, deploy the same flows to a work pool instead of ``serve``.
"""

from __future__ import annotations

import os

from prefect import serve
from prefect.schedules import Cron, Schedule

from flows.daily import daily_flow, delivery_flow
from flows.monthly_report import monthly_report_flow
from models.config import Settings
from models.errors import KvarboendeError


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


def deployments(settings: Settings, config_file: str):
    """The daily, delivery and monthly deployments with their cron schedules (Europe/Stockholm)."""
    return [
        daily_flow.to_deployment(
            name="daily",
            schedules=[_cron(settings, "daily")],
            parameters={"config_file": config_file},
            description="Ingest, match, route, book, letters, worklists, delivery.",
        ),
        delivery_flow.to_deployment(
            name="delivery",
            schedules=[_cron(settings, "delivery")],
            parameters={"config_file": config_file},
            description="Letters due, staff emails waiting for a retry, meeting reminders due.",
        ),
        monthly_report_flow.to_deployment(
            name="monthly-report",
            schedules=[_cron(settings, "monthly_report")],
            parameters={"config_file": config_file},
            description="The previous month's statistics, emailed to the managers.",
        ),
    ]


def serve_all(settings: Settings, config_file: str) -> None:
    """Serve the deployments until interrupted; refuse without a Prefect server."""
    if not os.environ.get("PREFECT_API_URL"):
        raise KvarboendeError(
            "schedules need a Prefect server: run `prefect server start` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (see README, 'Scheduled operation')"
        )
    serve(*deployments(settings, config_file))
