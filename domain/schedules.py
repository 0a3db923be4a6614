"""When scheduled jobs should have run, and which of those times no run answered.

A cron string cannot name Swedish public holidays, so jobs that work on working days
only skip holidays themselves; the times expected of them leave holidays out too. A
scheduled time is missed when no run of the job started between it and ``grace``
later (a worker that was down, a server that was stopped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from domain.working_days import is_working_day


@dataclass(frozen=True)
class MissedRuns:
    """Consecutive scheduled times of one job that no run answered (UTC, oldest first)."""

    job: str
    times: list[datetime]


def valid_cron(text: str) -> bool:
    try:
        CronSim(text, datetime(2026, 1, 1))
    except CronSimError:
        return False
    return True


def expected_times(
    cron: str,
    timezone: str,
    start: datetime,
    end: datetime,
    working_days_only: bool = False,
) -> list[datetime]:
    """The cron's times after ``start`` up to ``end`` (UTC), holidays left out when asked."""
    zone = ZoneInfo(timezone)
    times: list[datetime] = []
    for moment in CronSim(cron, start.astimezone(zone)):
        if moment > end:
            break
        if working_days_only and not is_working_day(moment.date()):
            continue
        times.append(moment.astimezone(UTC))
    return times


def missed_times(
    expected: list[datetime], starts: list[datetime], grace: timedelta
) -> list[datetime]:
    """The expected times with no run started within ``grace`` after them (1 min before counts)."""
    early = timedelta(minutes=1)
    missed = []
    for moment in expected:
        if not any(moment - early <= started <= moment + grace for started in starts):
            missed.append(moment)
    return missed


def group_gaps(job: str, missed: list[datetime], expected: list[datetime]) -> list[MissedRuns]:
    """Missed times split into gaps: runs of consecutive expected times that were all missed."""
    gaps: list[MissedRuns] = []
    current: list[datetime] = []
    missed_set = set(missed)
    for moment in expected:
        if moment in missed_set:
            current.append(moment)
        elif current:
            gaps.append(MissedRuns(job, current))
            current = []
    if current:
        gaps.append(MissedRuns(job, current))
    return gaps


def deployment_schedule_keys(cases_from_sql: bool) -> dict[str, str | None]:
    """Deployment name -> its ``[schedules]`` key (None: no schedule, run by hand).

    The one list ``flows.deployments`` deploys and ``kvarboende doctor`` expects.
    """
    keys: dict[str, str | None] = {
        "daily": "daily",
        "inbox": "inbox",
        "delivery": "delivery",
        "monthly-report": "monthly_report",
    }
    if cases_from_sql:
        keys["cases-import"] = "cases_import"
    keys["retention"] = None
    return keys
