"""A housing company's reporting rhythm, and how long silence must last before it means anything.

A company that delivers one file a quarter is silent for three months by design: an
event of 12 May reaches us on 1 July. Silence is therefore measured against each
company's rhythm. The rhythm is measured from its deliveries (or configured as
``reporting_interval_days`` in its ``[[companies]]`` entry):

* **interval**: the longest gap, in days, between the days its recent files arrived
  (configured: that number of days); with a single file, the span of the event dates in
  it (a file reports a period);
* **lag**: the longest time from the newest event in a recent file to the day the file
  arrived (the company's time to export);
* **event lag**: how long after its date an event usually reaches us (90th percentile).

The **reporting delay** is the longest an event can take to reach us: the interval plus
the lag, or the event lag when that is longer. A presumed outcome (silence) then needs
``follow_up_days`` of real silence *plus* the reporting delay, and the worklist's "no
news" check waits ``follow_up_check_days`` plus the delay. The longest of the recent
files is taken, not the typical one: waiting too long keeps an episode open a while,
closing too early cuts a debt in two.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

#: How many of a company's latest delivery days the rhythm is measured on.
RECENT_FILES = 13

#: Columns of the deliveries frame: one row per file day and event date, with a count.
DELIVERIES_SCHEMA: dict[str, pl.DataType] = {
    "company_id": pl.String(),
    "received_on": pl.Date(),
    "event_date": pl.Date(),
    "notices": pl.Int64(),
}


@dataclass(frozen=True)
class ReportingRhythm:
    """One company's measured (or configured) rhythm, in whole days."""

    company_id: str
    interval_days: int = 0
    lag_days: int = 0
    event_lag_days: int = 0
    configured: bool = False
    files: int = 0

    @property
    def delay_days(self) -> int:
        """The longest an event takes to reach us: interval + lag, or the event lag."""
        return max(self.interval_days + self.lag_days, self.event_lag_days, 0)

    def silence_days(self, follow_up_days: int) -> int:
        """Days after the last news before silence may close an episode."""
        return follow_up_days + self.delay_days

    def check_days(self, follow_up_check_days: int) -> int:
        """Days after the last news before the worklist asks whether anything happened."""
        return follow_up_check_days + self.delay_days


def measure_rhythms(
    deliveries: pl.DataFrame, configured: Mapping[str, int | None] | None = None
) -> dict[str, ReportingRhythm]:
    """Each company's rhythm from its deliveries (see the module docstring).

    ``deliveries`` has the :data:`DELIVERIES_SCHEMA` columns (one row per company, file
    day and event date, with the number of notices); ``configured`` maps company ids to
    their ``reporting_interval_days`` (None: measure). Companies in ``configured`` with
    no deliveries get their configured interval (or nothing).
    """
    configured = dict(configured or {})
    frame = deliveries.select(list(DELIVERIES_SCHEMA)).cast(DELIVERIES_SCHEMA)  # type: ignore[arg-type]
    frame = frame.filter(pl.col("received_on").is_not_null() & pl.col("event_date").is_not_null())
    days = (
        frame.group_by("company_id", "received_on")
        .agg(
            pl.col("event_date").max().alias("newest"),
            pl.col("event_date").min().alias("oldest"),
        )
        .sort("company_id", "received_on")
        .with_columns(_n=pl.col("received_on").rank("ordinal", descending=True).over("company_id"))
        .filter(pl.col("_n") <= RECENT_FILES)
        .sort("company_id", "received_on")
    )
    per_file = days.with_columns(
        gap=(pl.col("received_on") - pl.col("received_on").shift(1).over("company_id"))
        .dt.total_days()
        .cast(pl.Int64),
        lag=(pl.col("received_on") - pl.col("newest")).dt.total_days().clip(0).cast(pl.Int64),
        span=(pl.col("newest") - pl.col("oldest")).dt.total_days().cast(pl.Int64),
    )
    summary = per_file.group_by("company_id").agg(
        pl.len().alias("files"),
        pl.col("gap").max().alias("interval"),
        pl.col("span").max().alias("span"),
        pl.col("lag").max().alias("lag"),
    )
    recent = frame.join(
        days.select("company_id", "received_on"), on=["company_id", "received_on"], how="semi"
    ).with_columns(
        lag=(pl.col("received_on") - pl.col("event_date")).dt.total_days().clip(0).cast(pl.Int64)
    )
    event_lag = (
        recent.sort("company_id", "lag")
        .with_columns(
            _cum=pl.col("notices").cum_sum().over("company_id"),
            _total=pl.col("notices").sum().over("company_id"),
        )
        .filter(pl.col("_cum") >= 0.9 * pl.col("_total"))
        .group_by("company_id")
        .agg(pl.col("lag").min().alias("event_lag"))
    )
    summary = summary.join(event_lag, on="company_id", how="left")
    rhythms: dict[str, ReportingRhythm] = {}
    for row in summary.iter_rows(named=True):
        company = row["company_id"]
        fixed = configured.get(company)
        measured = row["interval"] if row["interval"] is not None else row["span"]
        rhythms[company] = ReportingRhythm(
            company_id=company,
            interval_days=int(fixed if fixed is not None else (measured or 0)),
            lag_days=int(row["lag"] or 0),
            event_lag_days=int(row["event_lag"] or 0),
            configured=fixed is not None,
            files=int(row["files"]),
        )
    for company, fixed in configured.items():
        if company not in rhythms and fixed is not None:
            rhythms[company] = ReportingRhythm(company, interval_days=fixed, configured=True)
    return rhythms


def rhythm_of(rhythms: Mapping[str, ReportingRhythm], company_id: str) -> ReportingRhythm:
    """The company's rhythm, or none at all (delay 0) when nothing is known yet."""
    return rhythms.get(company_id) or ReportingRhythm(company_id)


def silence_frame(
    rhythms: Mapping[str, ReportingRhythm], follow_up_days: int, follow_up_check_days: int
) -> pl.DataFrame:
    """``company_id, silence_days, check_days`` for joining onto episode facts."""
    rows = [
        (c, r.silence_days(follow_up_days), r.check_days(follow_up_check_days))
        for c, r in sorted(rhythms.items())
    ]
    return pl.DataFrame(
        rows,
        schema={"company_id": pl.String, "silence_days": pl.Int64, "check_days": pl.Int64},
        orient="row",
    )
