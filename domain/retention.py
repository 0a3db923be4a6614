"""Retention (gallring): which closed episodes' personal data is due for deletion.

The rule, configurable because the law changed with Socialtjänstlag (2025:400):

* A record is deleted ``years`` years after its last entry, completed by the end of
  the following year. The deletion is therefore *due* on 1 January of the year after
  the year in which the period ran out: a last entry on 2026-03-10 with five years ran
  out in 2031, so it is due on 2032-01-01 (and must be done by 2032-12-31). An
  operator runs retention once a year, in January.
* People born on one of ``keep_birth_days`` (5, 15 and 25 by default; the day of a
  samordningsnummer is the number's day - 60) are kept for research. An empty list
  keeps nobody.
* Only closed episodes are deleted; an open episode is never deleted, however old.
* The record is the person's: a personnummer (tenant or co-tenant) on an episode
  that is kept keeps every other episode it appears on as well ("linked"). So a
  person's history goes all at once, the last entry that counts is the person's
  latest, and a deleted personnummer leaves no row behind.

Everything here is pure (polars frames in, frames out) so it is tested without a
database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from domain.notices import HeaderMapping, excel_leading_zero, normalise_personnummer
from domain.vocabulary import OPEN_STATUSES

#: Why an episode is deleted or kept; the stage reports a count per decision.
DELETE = "delete"
KEEP_OPEN = "open"
KEEP_NOT_DUE = "not_due"
KEEP_RESEARCH = "research"
KEEP_LINKED = "linked"
DECISIONS: tuple[str, ...] = (DELETE, KEEP_OPEN, KEEP_NOT_DUE, KEEP_RESEARCH, KEEP_LINKED)

#: The episode columns the rule reads (no names or addresses).
EPISODE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "status": pl.Utf8(),
    "personnummer": pl.Utf8(),
    "co_tenant_personnummer": pl.Utf8(),
}
#: Entry dates: for each episode the earliest and latest date of one kind of entry.
ENTRY_SCHEMA: dict[str, pl.DataType] = {
    "episode_id": pl.Int64(),
    "first": pl.Date(),
    "last": pl.Date(),
}
DECISION_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "first_entry": pl.Date(),
    "last_entry": pl.Date(),
    "due_on": pl.Date(),
    "decision": pl.Utf8(),
}


@dataclass(frozen=True)
class RetentionRule:
    """The configured rule: years after the last entry, and birth days kept for research."""

    years_after_last_entry: int
    keep_birth_days: frozenset[int]

    @classmethod
    def of(cls, years: int, keep_birth_days: Iterable[int]) -> RetentionRule:
        if years < 1:
            raise ValueError("years_after_last_entry must be at least 1")
        days = frozenset(int(d) for d in keep_birth_days)
        if any(not 1 <= d <= 31 for d in days):
            raise ValueError("keep_birth_days must be days of the month, 1-31")
        return cls(years, days)

    def due_on(self, last_entry: date) -> date:
        """The day deletion becomes due: 1 January after the year the period ran out."""
        return date(last_entry.year + self.years_after_last_entry + 1, 1, 1)

    def cutoff(self, run_date: date) -> date:
        """Records whose last entry is before this day are due on ``run_date``."""
        return date(run_date.year - self.years_after_last_entry, 1, 1)


def birth_day(personnummer: pl.Expr) -> pl.Expr:
    """The day of the month of birth in a 12-digit number (samordningsnummer: day - 60).

    Null when the number has no usable day (too short, not digits, day 0 or above 91).
    """
    raw = personnummer.str.slice(6, 2).cast(pl.Int64, strict=False)
    day = pl.when(raw > 60).then(raw - 60).otherwise(raw)
    return pl.when((day >= 1) & (day <= 31) & (personnummer.str.len_chars() >= 8)).then(day)


def _frame(data: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return data.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def _persons(episodes: pl.DataFrame) -> pl.DataFrame:
    """(id, person) for every tenant and co-tenant number on an episode."""
    return (
        pl.concat(
            [
                episodes.select("id", pl.col("personnummer").alias("person")),
                episodes.select("id", pl.col("co_tenant_personnummer").alias("person")),
            ],
            how="vertical",
        )
        .with_columns(pl.col("person").str.strip_chars())
        .filter(pl.col("person").is_not_null() & (pl.col("person") != ""))
        .unique()
    )


def decide(
    episodes: pl.DataFrame,
    entries: pl.DataFrame,
    run_date: date,
    rule: RetentionRule,
) -> pl.DataFrame:
    """One row per episode: its first and last entry, the day it is due, and the decision.

    ``entries`` may hold several rows per episode (one per kind of entry); an episode
    without any entry row is never due (there is no date to count from).
    """
    ep = _frame(episodes, EPISODE_SCHEMA)
    span = (
        _frame(entries, ENTRY_SCHEMA)
        .group_by("episode_id")
        .agg(
            pl.min_horizontal("first", "last").min().alias("first_entry"),
            pl.max_horizontal("first", "last").max().alias("last_entry"),
        )
        .rename({"episode_id": "id"})
    )
    persons = _persons(ep)
    keep_days = sorted(rule.keep_birth_days)
    research_ids = persons.filter(birth_day(pl.col("person")).is_in(keep_days)).select("id")
    base = (
        ep.join(span, on="id", how="left")
        .with_columns(
            (pl.col("last_entry").dt.year() + rule.years_after_last_entry + 1)
            .cast(pl.Int32)
            .pipe(lambda year: pl.date(year, 1, 1))
            .alias("due_on"),
            pl.col("id").is_in(research_ids["id"].implode()).alias("research"),
        )
        .with_columns(
            pl.when(pl.col("status").is_in(sorted(str(s) for s in OPEN_STATUSES)))
            .then(pl.lit(KEEP_OPEN))
            .when(pl.col("due_on").is_null() | (pl.col("due_on") > run_date))
            .then(pl.lit(KEEP_NOT_DUE))
            .when(pl.col("research"))
            .then(pl.lit(KEEP_RESEARCH))
            .otherwise(pl.lit(DELETE))
            .alias("decision")
        )
    )
    # A person on any kept episode keeps all their episodes; repeat until nothing changes,
    # since keeping an episode may keep its co-tenant's other episodes in turn.
    decision = base.select("id", "decision")
    while True:
        kept_persons = persons.join(
            decision.filter(pl.col("decision") != DELETE).select("id"), on="id", how="semi"
        ).select("person")
        blocked = (
            persons.join(decision.filter(pl.col("decision") == DELETE).select("id"), on="id")
            .join(kept_persons, on="person", how="semi")
            .select("id")
            .unique()
        )
        if blocked.height == 0:
            break
        decision = decision.with_columns(
            pl.when(pl.col("id").is_in(blocked["id"].implode()))
            .then(pl.lit(KEEP_LINKED))
            .otherwise(pl.col("decision"))
            .alias("decision")
        )
    return (
        base.drop("decision")
        .join(decision, on="id", how="left")
        .select(list(DECISION_SCHEMA))
        .cast(DECISION_SCHEMA)  # type: ignore[arg-type]
        .sort("id")
    )


def decision_counts(decisions: pl.DataFrame) -> dict[str, int]:
    """Episodes per decision (every decision present, zero when none)."""
    counted = dict(decisions.group_by("decision").len().iter_rows())
    return {name: int(counted.get(name, 0)) for name in DECISIONS}


def months_touched(decisions: pl.DataFrame) -> list[str]:
    """The months (``YYYY-MM``) from first to last entry of the episodes to delete.

    Every date the statistics attribute a fact to is one of an episode's entries, so
    these months hold every fact the deleted episodes contributed to.
    """
    spans = decisions.filter(
        (pl.col("decision") == DELETE) & pl.col("first_entry").is_not_null()
    ).select("first_entry", "last_entry")
    if spans.height == 0:
        return []
    months = spans.select(
        pl.date_ranges(
            pl.col("first_entry").dt.month_start(),
            pl.col("last_entry").dt.month_start(),
            interval="1mo",
        ).alias("month")
    ).explode("month")
    return sorted(set(months["month"].dt.strftime("%Y-%m").to_list()))


def past_retention(day: date, run_date: date, rule: RetentionRule) -> bool:
    """Whether something last written on ``day`` is due for deletion on ``run_date``."""
    return rule.due_on(day) <= run_date


def batches(ids: Sequence[int], size: int) -> list[list[int]]:
    """The ids in consecutive batches of at most ``size`` (one transaction each)."""
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


def audit_log_cutoff(run_date: date, years: int) -> date:
    """The first day of the audit log kept on ``run_date``: the same day ``years`` earlier
    (29 February: the 28th). Entries from before it are deleted."""
    try:
        return run_date.replace(year=run_date.year - years)
    except ValueError:
        return run_date.replace(year=run_date.year - years, day=28)


def worklist_expired(day: date, run_date: date, days: int) -> bool:
    """Whether a worklist written on ``day`` is older than ``days`` days on ``run_date``.

    A worklist is a working copy (the record is in the database), so it goes after
    ``[retention] worklist_days`` whatever became of the episodes it lists.
    """
    return (run_date - day).days > days


def rows_of_kept_people(
    raw: pl.DataFrame, mapping: HeaderMapping, kept: pl.Series, today: date
) -> pl.Series:
    """For each row of a notice file: does it name someone the database still keeps?

    A row is kept when its tenant's or co-tenant's number (normalised as at ingest) is
    one of ``kept`` (12-digit numbers). Every other row goes: people retention has
    deleted, and rows without a number anyone is kept for (the file itself is past its
    retention period, so only what a kept person's record needs stays).
    """
    numbers = []
    for name in ("personnummer", "co_tenant_personnummer"):
        source = mapping.fields.get(name)
        if source is None:
            continue
        cell = pl.col(source).cast(pl.String).str.strip_chars()
        digits, _valid = normalise_personnummer(excel_leading_zero(cell), today)
        numbers.append(digits.is_in(kept.cast(pl.String).implode()).fill_null(False))
    if not numbers:
        return pl.Series("keep", [False] * raw.height, dtype=pl.Boolean)
    return raw.select(pl.any_horizontal(numbers).alias("keep"))["keep"]
