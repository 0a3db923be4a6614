"""Monthly eviction statistics for managers: anonymous facts, periods, suppression.

Three layers, all pure (no I/O):

1. :func:`compute_facts` turns frames of episodes, notices, appointments, letters and
   activities into *facts*: anonymous counts per month, metric and dimension. Facts
   are what the database keeps (table ``stat_fact``), so a report still gives the same
   numbers after the episodes behind it were deleted by retention (gallring).
2. :func:`period_figures` sums the facts of any set of months (a month, the year to
   date, the rolling 12 months, the same a year earlier) into flat named figures;
   medians come from a stored histogram, so they too survive retention.
3. :func:`build_statistics_report` adds rates, national comparisons and small-count
   suppression (primary: 1..threshold shown as ``<5``; complementary: a further cell is
   hidden wherever a sum or a difference of shown numbers would reveal a hidden one,
   also across consecutive reports: see :func:`cross_report_suppression`).

Month attribution (each fact belongs to the month in which it happened, so that a
month's facts are final soon after it ends): notices by event date; funnel steps by
the date an episode first reached that step; episodes opened, known, with children
and recurrences by the opening date. Letters and bookings count tenants (episodes),
not letter or appointment rows: each episode once, by the run day of its first sent
appointment letter and by the day of its first booking; attended and missed meetings
once per episode by the meeting day; days to first action by the day of that action;
outcomes by the outcome date; executed evictions by the date Kronofogden executed them
(or the outcome date when only the outcome says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from domain.vocabulary import (
    EVENT_LABEL_SV,
    EventType,
    LetterKind,
    Outcome,
    OutcomeCertainty,
    Routing,
)

STOCKHOLM_TZ = "Europe/Stockholm"
EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)
LANDLORD_TYPES: tuple[str, ...] = ("municipal", "private", "cooperative")
CHANNELS: tuple[str, ...] = ("email", "print")

_DT = pl.Datetime("us", "UTC")

#: Column schemas of the input frames; the stage selects exactly these columns.
EPISODE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "opened_on": pl.Date(),
    "first_notice_date": pl.Date(),
    "routing": pl.Utf8(),
    "matched_at": _DT,
    "has_children": pl.Boolean(),
    "is_recurrence": pl.Boolean(),
    "outcome": pl.Utf8(),
    "outcome_certainty": pl.Utf8(),
    "outcome_date": pl.Date(),
}
NOTICE_SCHEMA: dict[str, pl.DataType] = {
    "episode_id": pl.Int64(),
    "company_id": pl.Utf8(),
    "event_type": pl.Utf8(),
    "event_date": pl.Date(),
}
COMPANY_SCHEMA: dict[str, pl.DataType] = {"id": pl.Utf8(), "landlord_type": pl.Utf8()}
APPOINTMENT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "episode_id": pl.Int64(),
    "status": pl.Utf8(),
    "before_deadline": pl.Boolean(),
    "booked_at": _DT,
    "starts_at": _DT,
}
LETTER_SCHEMA: dict[str, pl.DataType] = {
    "episode_id": pl.Int64(),
    "kind": pl.Utf8(),
    "channel": pl.Utf8(),
    "status": pl.Utf8(),
    "sent_at": _DT,
    "created_on": pl.Date(),
    "appointment_id": pl.Int64(),
}
ACTIVITY_SCHEMA: dict[str, pl.DataType] = {
    "episode_id": pl.Int64(),
    "kind": pl.Utf8(),
    "on_date": pl.Date(),
}
FACT_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.Utf8(),
    "metric": pl.Utf8(),
    "dimension": pl.Utf8(),
    "value": pl.Float64(),
}

#: Marks a month whose facts were computed (even when every count was zero).
REFRESHED_METRIC = "_refreshed"
#: A month whose facts must never be recomputed (retention deleted data behind them, or
#: they passed ``freeze_after_months``): a marker fact, kept when a month is refreshed.
FROZEN_METRIC = "_frozen"


# --------------------------------------------------------------------------- months


def parse_month(text: str) -> str:
    """Validate ``YYYY-MM`` and return it; ValueError with the text otherwise."""
    parts = text.strip().split("-")
    if len(parts) != 2 or len(parts[0]) != 4 or len(parts[1]) != 2:
        raise ValueError(f"month {text!r} must look like 2026-10")
    try:
        year, month = int(parts[0]), int(parts[1])
    except ValueError:
        raise ValueError(f"month {text!r} must look like 2026-10") from None
    if not 1 <= month <= 12 or not 1900 <= year <= 2999:
        raise ValueError(f"month {text!r} is not a calendar month")
    return f"{year:04d}-{month:02d}"


def shift_month(month: str, delta: int) -> str:
    """The month ``delta`` months after (negative: before) ``month``."""
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + (mon - 1) + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive, in order."""
    months, current = [], first
    while current <= last:
        months.append(current)
        current = shift_month(current, 1)
    return months


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def previous_month(today: date) -> str:
    """The month before the one ``today`` falls in: what the monthly flow reports."""
    return shift_month(month_of(today), -1)


MONTHS_SV = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)  # fmt: skip
MONTHS_SHORT_SV = (
    "jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
)  # fmt: skip


def month_spans(months: Sequence[str]) -> list[str]:
    """Consecutive months joined into spans: ``["nov 2024–okt 2025", "mar 2026"]``."""

    def short(month: str) -> str:
        return f"{MONTHS_SHORT_SV[int(month[5:7]) - 1]} {month[:4]}"

    spans: list[list[str]] = []
    for month in sorted(set(months)):
        if spans and shift_month(spans[-1][-1], 1) == month:
            spans[-1].append(month)
        else:
            spans.append([month])
    return [
        short(span[0]) if len(span) == 1 else f"{short(span[0])}–{short(span[-1])}"
        for span in spans
    ]


def month_label(month: str) -> str:
    """``oktober 2026``."""
    return f"{MONTHS_SV[int(month[5:7]) - 1]} {month[:4]}"


@dataclass(frozen=True)
class Period:
    """A run of whole months the report sums facts over."""

    key: str
    label: str
    first: str
    last: str

    @property
    def months(self) -> list[str]:
        return month_range(self.first, self.last)

    def a_year_earlier(self) -> Period:
        first, last = shift_month(self.first, -12), shift_month(self.last, -12)
        return Period(self.key + "_prev", _period_label(self.key, first, last), first, last)


def _period_label(key: str, first: str, last: str) -> str:
    if key == "month":
        return month_label(last).capitalize()
    if key == "year":
        return f"År {last[:4]}"
    if key == "ytd":
        return f"Jan–{MONTHS_SHORT_SV[int(last[5:7]) - 1]} {last[:4]}"
    start = f"{MONTHS_SHORT_SV[int(first[5:7]) - 1]} {first[:4]}".capitalize()
    return f"{start}–{MONTHS_SHORT_SV[int(last[5:7]) - 1]} {last[:4]}"


def report_periods(month: str | None = None, year: int | None = None) -> list[Period]:
    """The report's current periods: month, year to date and rolling 12 months, or a year."""
    if (month is None) == (year is None):
        raise ValueError("give either a month or a year")
    if year is not None:
        first, last = f"{year:04d}-01", f"{year:04d}-12"
        return [Period("year", _period_label("year", first, last), first, last)]
    assert month is not None
    ytd_first = f"{month[:4]}-01"
    rolling_first = shift_month(month, -11)
    return [
        Period("month", _period_label("month", month, month), month, month),
        Period("ytd", _period_label("ytd", ytd_first, month), ytd_first, month),
        Period("rolling12", _period_label("rolling12", rolling_first, month), rolling_first, month),
    ]


# --------------------------------------------------------------------------- facts


def _frame(data: pl.DataFrame | None, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """The frame with exactly the schema's columns (empty when missing)."""
    if data is None or data.height == 0:
        return pl.DataFrame(schema=dict(schema))
    return data.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def _local_date(column: str) -> pl.Expr:
    """A UTC timestamp as its calendar date in Stockholm."""
    return pl.col(column).dt.convert_time_zone(STOCKHOLM_TZ).dt.date()


def _month_expr(column: str) -> pl.Expr:
    return pl.col(column).dt.strftime("%Y-%m").alias("month")


def _count(frame: pl.DataFrame, metric: str, date_column: str, dimension: pl.Expr | None = None):
    """Count rows per month (of ``date_column``) and dimension as fact rows."""
    dim = (dimension if dimension is not None else pl.lit("")).cast(pl.Utf8).alias("dimension")
    return (
        frame.filter(pl.col(date_column).is_not_null())
        .select(_month_expr(date_column), dim)
        .group_by("month", "dimension")
        .agg(pl.len().cast(pl.Float64).alias("value"))
        .with_columns(pl.lit(metric).alias("metric"))
        .select(list(FACT_SCHEMA))
    )


def letter_dates(letters: pl.DataFrame) -> pl.DataFrame:
    """Each letter with ``letter_on``: the day the daily run produced it.

    The run date (``created_on``) is the municipality's working day for the letter,
    also when the outbox sends it a little later or the run replays past days; the
    send time stands in only when no run date is stored.
    """
    return letters.with_columns(
        pl.coalesce(pl.col("created_on"), _local_date("sent_at")).alias("letter_on")
    )


def booking_dates(appointments: pl.DataFrame, letters: pl.DataFrame) -> pl.DataFrame:
    """Each appointment with ``booked_on``: the booking day, or its letter's run day if earlier."""
    letter_day = (
        letter_dates(letters)
        .filter(pl.col("appointment_id").is_not_null() & pl.col("letter_on").is_not_null())
        .group_by("appointment_id")
        .agg(pl.col("letter_on").min())
        .rename({"appointment_id": "id"})
    )
    return appointments.join(letter_day, on="id", how="left").with_columns(
        pl.min_horizontal(_local_date("booked_at"), pl.col("letter_on")).alias("booked_on")
    )


def _first_per_episode(frame: pl.DataFrame, *order: str) -> pl.DataFrame:
    """The earliest row of each episode by the ``order`` columns (nulls last)."""
    return (
        frame.filter(pl.col("episode_id").is_not_null())
        .sort(["episode_id", *order], nulls_last=True)
        .group_by("episode_id", maintain_order=True)
        .first()
    )


def first_letters(letters: pl.DataFrame) -> pl.DataFrame:
    """Each episode's first sent appointment letter (``letter_on``, ``channel``).

    Only ``appointment`` letters count: a cancellation letter is no invitation, and
    a rebooking's new version reaches a tenant who was already counted.
    """
    sent = letter_dates(letters).filter(
        (pl.col("status") == "sent")
        & (pl.col("kind") == LetterKind.APPOINTMENT.value)
        & pl.col("letter_on").is_not_null()
    )
    return _first_per_episode(sent, "letter_on", "sent_at")


def first_action_dates(
    episodes: pl.DataFrame,
    appointments: pl.DataFrame,
    letters: pl.DataFrame,
    activities: pl.DataFrame,
) -> pl.DataFrame:
    """Each episode's first action (``episode_id``, ``action_date``), if any.

    An action is what the municipality did: routing to the client's caseworker, a
    letter (to the tenant or the caseworker notice), a meeting booked, or any
    recorded activity (call, visit, note).
    """
    routed = episodes.filter(
        (pl.col("routing") == Routing.CASEWORKER.value) & pl.col("matched_at").is_not_null()
    ).select(pl.col("id").alias("episode_id"), _local_date("matched_at").alias("action_date"))
    written = (
        letter_dates(letters)
        .filter(pl.col("episode_id").is_not_null() & (pl.col("status") != "failed"))
        .select("episode_id", pl.col("letter_on").alias("action_date"))
    )
    booked = booking_dates(appointments, letters).select(
        "episode_id", pl.col("booked_on").alias("action_date")
    )
    done = activities.select("episode_id", pl.col("on_date").alias("action_date"))
    return (
        pl.concat([routed, written, booked, done], how="vertical")
        .filter(pl.col("action_date").is_not_null())
        .group_by("episode_id")
        .agg(pl.col("action_date").min())
        .sort("episode_id")
    )


def compute_facts(
    months: Iterable[str],
    *,
    episodes: pl.DataFrame | None,
    notices: pl.DataFrame | None,
    companies: pl.DataFrame | None,
    appointments: pl.DataFrame | None = None,
    letters: pl.DataFrame | None = None,
    activities: pl.DataFrame | None = None,
    inhabitants: int | None = None,
    children: int | None = None,
) -> pl.DataFrame:
    """Anonymous facts (month, metric, dimension, value) for the given months.

    Only non-zero counts are kept, plus a ``_refreshed`` marker and the population
    figures for each month from the first one with data, so that an empty month is
    known to have been computed.
    """
    wanted = sorted(set(months))
    ep = _frame(episodes, EPISODE_SCHEMA)
    nt = _frame(notices, NOTICE_SCHEMA)
    co = _frame(companies, COMPANY_SCHEMA)
    ap = _frame(appointments, APPOINTMENT_SCHEMA)
    lt = _frame(letters, LETTER_SCHEMA)
    ac = _frame(activities, ACTIVITY_SCHEMA)

    known = pl.col("routing") == Routing.CASEWORKER.value
    parts: list[pl.DataFrame] = []

    # Notices received, by type, company and landlord type.
    nt = nt.join(co.rename({"id": "company_id"}), on="company_id", how="left")
    parts.append(_count(nt, "notices_by_type", "event_date", pl.col("event_type")))
    parts.append(_count(nt, "notices_by_company", "event_date", pl.col("company_id")))
    parts.append(
        _count(
            nt,
            "notices_by_landlord_type",
            "event_date",
            pl.col("landlord_type").fill_null("unknown"),
        )
    )

    # Funnel: episodes by the date they first reached each step of the legal chain.
    reached = (
        nt.filter(pl.col("episode_id").is_not_null())
        .group_by("episode_id", "event_type")
        .agg(pl.col("event_date").min())
        .join(ep.select(pl.col("id").alias("episode_id"), "routing"), on="episode_id", how="left")
    )
    parts.append(_count(reached, "episodes_reaching", "event_date", pl.col("event_type")))
    parts.append(
        _count(reached.filter(known), "episodes_reaching_known", "event_date", pl.col("event_type"))
    )
    # The payment-order cohort's outcome (Väsby: 60 % of those with a BF settled without
    # intervention), counted in the month of the first payment order. These facts grow
    # as outcomes arrive, so the monthly flow refreshes the follow-up window again.
    cohort = reached.filter(pl.col("event_type") == EventType.PAYMENT_ORDER.value).join(
        ep.select(pl.col("id").alias("episode_id"), "outcome"), on="episode_id", how="left"
    )
    parts.append(
        _count(
            cohort.filter(pl.col("outcome") == Outcome.SETTLED_WITHOUT_INTERVENTION.value),
            "payment_order_settled_without_intervention",
            "event_date",
        )
    )

    # Episodes opened, and of those: known to social services, with children, recurrences.
    parts.append(_count(ep, "episodes_opened", "opened_on"))
    parts.append(_count(ep.filter(known), "episodes_known", "opened_on"))
    parts.append(_count(ep.filter(pl.col("has_children")), "episodes_with_children", "opened_on"))
    parts.append(_count(ep.filter(pl.col("is_recurrence")), "recurrences", "opened_on"))

    # Tenants reached, not letter rows: an episode counts once, in the month of its
    # first sent appointment letter (a rebooking's new version and a cancellation
    # letter go to the same tenant), with that letter's channel. Väsby's figure is
    # "letters with a visiting time to 407 tenants".
    parts.append(_count(first_letters(lt), "letters_sent", "letter_on", pl.col("channel")))

    # Bookings: an episode counts once, on its first booking day, and whether that first
    # time lay before the tenant's deadline. A rebooking is not a new booking, and a
    # first time that was later cancelled still counts (the tenant was offered a time),
    # so a month's figure does not change afterwards. Meetings count per episode too,
    # on the day of the first attended (or first missed) meeting.
    ap = booking_dates(ap, lt).with_columns(_local_date("starts_at").alias("meeting_on"))
    booked = _first_per_episode(ap.filter(pl.col("booked_on").is_not_null()), "booked_on", "id")
    parts.append(_count(booked, "appointments_booked", "booked_on"))
    parts.append(
        _count(
            booked.filter(pl.col("before_deadline")), "appointments_before_deadline", "booked_on"
        )
    )
    for status, metric in (
        ("attended", "appointments_attended"),
        ("no_show", "appointments_missed"),
    ):
        held = ap.filter((pl.col("status") == status) & pl.col("meeting_on").is_not_null())
        parts.append(_count(_first_per_episode(held, "meeting_on", "id"), metric, "meeting_on"))

    # Days from the first notice to the first action: a histogram by the action's month.
    first = first_action_dates(ep, ap, lt, ac).join(
        ep.select(pl.col("id").alias("episode_id"), "first_notice_date"), on="episode_id"
    )
    first = first.with_columns(
        (pl.col("action_date") - pl.col("first_notice_date"))
        .dt.total_days()
        .clip(lower_bound=0)
        .alias("days")
    )
    parts.append(_count(first, "days_to_first_action", "action_date", pl.col("days")))

    # Outcomes by outcome date, settlement certainty kept apart.
    closed = ep.filter(pl.col("outcome").is_not_null())
    parts.append(
        _count(
            closed,
            "outcomes",
            "outcome_date",
            pl.concat_str(
                [pl.col("outcome"), pl.col("outcome_certainty").fill_null("")], separator=":"
            ),
        )
    )

    # Executed evictions: Kronofogden's report, else the stored outcome 'evicted'.
    executed_notice = (
        nt.filter(
            (pl.col("event_type") == EventType.EVICTION_EXECUTED.value)
            & pl.col("episode_id").is_not_null()
        )
        .group_by("episode_id")
        .agg(pl.col("event_date").min().alias("executed_on"))
    )
    evicted = (
        ep.select(pl.col("id").alias("episode_id"), "has_children", "outcome", "outcome_date")
        .join(executed_notice, on="episode_id", how="left")
        .filter(pl.col("executed_on").is_not_null() | (pl.col("outcome") == Outcome.EVICTED.value))
        .with_columns(pl.coalesce("executed_on", "outcome_date").alias("executed_on"))
    )
    parts.append(_count(evicted, "evictions_executed", "executed_on"))
    parts.append(
        _count(evicted.filter(pl.col("has_children")), "evictions_with_children", "executed_on")
    )

    facts = pl.concat(parts, how="vertical").filter(pl.col("month").is_in(wanted))
    # Months before the first notice or episode predate the system: they stay unmarked,
    # so a report says their figures are missing instead of showing a true-looking 0.
    starts = [d for d in (nt["event_date"].min(), ep["opened_on"].min()) if d is not None]
    first = month_of(min(starts)) if starts else None  # type: ignore[type-var]
    covered = [m for m in wanted if first is not None and m >= first]
    markers = [
        pl.DataFrame(
            {
                "month": covered,
                "metric": [metric] * len(covered),
                "dimension": [""] * len(covered),
                "value": [float(value)] * len(covered),
            },
            schema=FACT_SCHEMA,
        )
        for metric, value in (
            (REFRESHED_METRIC, 1),
            ("population_inhabitants", inhabitants),
            ("population_children", children),
        )
        if value is not None
    ]
    return (
        pl.concat([facts, *markers], how="vertical")
        .group_by("month", "metric", "dimension")
        .agg(pl.col("value").sum())
        .sort("month", "metric", "dimension")
    )


# --------------------------------------------------------------------------- figures

#: Figure keys that are counts (everything else is a share, rate or median).
BASE_COUNT_KEYS: tuple[str, ...] = (
    "notices_total",
    *(f"notices_by_type.{t}" for t in EVENT_TYPES),
    *(f"notices_by_landlord_type.{t}" for t in LANDLORD_TYPES),
    *(f"episodes_reaching.{t}" for t in EVENT_TYPES),
    "episodes_reaching_known.payment_order",
    "episodes_reaching_unknown.payment_order",
    "payment_order_settled_without_intervention",
    "payment_order_not_settled_without_intervention",
    "episodes_opened",
    "episodes_known_to_social_services",
    "episodes_not_known",
    "episodes_with_children",
    "episodes_without_children",
    "recurrences",
    "episodes_first_time",
    "letters_sent",
    *(f"letters_sent.{c}" for c in CHANNELS),
    "appointments_booked",
    "appointments_booked_before_deadline",
    "appointments_booked_after_deadline",
    "appointments_attended",
    "appointments_missed",
    "first_actions",
    "outcomes_total",
    "settled_without_intervention",
    "settled_without_intervention_confirmed",
    "settled_without_intervention_presumed",
    *(f"outcome.{o}" for o in OUTCOMES if o != Outcome.SETTLED_WITHOUT_INTERVENTION.value),
    "evictions_executed",
    "evictions_executed_with_children",
    "evictions_executed_without_children",
)

#: Counts that are never shown but can be derived from shown ones (suppression needs them).
HIDDEN_KEYS = frozenset(
    {
        "episodes_reaching_unknown.payment_order",
        "payment_order_not_settled_without_intervention",
        "episodes_not_known",
        "episodes_without_children",
        "episodes_first_time",
        "appointments_booked_after_deadline",
        "evictions_executed_without_children",
        "first_actions",
    }
)


def median_from_histogram(histogram: pl.DataFrame) -> float | None:
    """The median of values given as (``days``, ``count``) rows; None when empty."""
    rows = (
        histogram.filter(pl.col("count") > 0)
        .sort("days")
        .with_columns(pl.col("count").cum_sum().alias("cum"))
    )
    total = int(rows["count"].sum()) if rows.height else 0
    if total == 0:
        return None

    def nth(n: int) -> float:  # the n-th smallest value, 1-based
        return float(rows.filter(pl.col("cum") >= n)["days"][0])

    if total % 2:
        return nth(total // 2 + 1)
    return (nth(total // 2) + nth(total // 2 + 1)) / 2


def period_figures(facts: pl.DataFrame, months: Sequence[str]) -> dict[str, float]:
    """Flat named figures of a period: the facts of its months summed (counts only)."""
    selected = (
        facts.filter(pl.col("month").is_in(list(months)))
        .group_by("metric", "dimension")
        .agg(pl.col("value").sum())
        .sort("metric", "dimension")
    )
    sums: dict[tuple[str, str], float] = {
        (m, d): v
        for m, d, v in zip(
            selected["metric"].to_list(),
            selected["dimension"].to_list(),
            selected["value"].to_list(),
            strict=True,
        )
    }

    def total(metric: str) -> float:
        return sum(v for (m, _d), v in sums.items() if m == metric)

    def one(metric: str, dimension: str = "") -> float:
        return sums.get((metric, dimension), 0.0)

    f: dict[str, float] = {}
    f["notices_total"] = total("notices_by_type")
    for t in EVENT_TYPES:
        f[f"notices_by_type.{t}"] = one("notices_by_type", t)
        f[f"episodes_reaching.{t}"] = one("episodes_reaching", t)
    for (m, d), v in sums.items():
        if m == "notices_by_company":
            f[f"notices_by_company.{d}"] = v
        elif m == "notices_by_landlord_type":
            f[f"notices_by_landlord_type.{d}"] = v
        elif m == "letters_sent" and d not in CHANNELS:
            f[f"letters_sent.{d}"] = v
    for t in LANDLORD_TYPES:
        f.setdefault(f"notices_by_landlord_type.{t}", 0.0)
    f["episodes_reaching_known.payment_order"] = one("episodes_reaching_known", "payment_order")
    f["episodes_reaching_unknown.payment_order"] = (
        f["episodes_reaching.payment_order"] - f["episodes_reaching_known.payment_order"]
    )
    f["payment_order_settled_without_intervention"] = one(
        "payment_order_settled_without_intervention"
    )
    f["payment_order_not_settled_without_intervention"] = (
        f["episodes_reaching.payment_order"] - f["payment_order_settled_without_intervention"]
    )
    f["episodes_opened"] = one("episodes_opened")
    f["episodes_known_to_social_services"] = one("episodes_known")
    f["episodes_not_known"] = f["episodes_opened"] - f["episodes_known_to_social_services"]
    f["episodes_with_children"] = one("episodes_with_children")
    f["episodes_without_children"] = f["episodes_opened"] - f["episodes_with_children"]
    f["recurrences"] = one("recurrences")
    f["episodes_first_time"] = f["episodes_opened"] - f["recurrences"]
    f["letters_sent"] = total("letters_sent")
    for c in CHANNELS:
        f[f"letters_sent.{c}"] = one("letters_sent", c)
    f["appointments_booked"] = one("appointments_booked")
    f["appointments_booked_before_deadline"] = one("appointments_before_deadline")
    f["appointments_booked_after_deadline"] = (
        f["appointments_booked"] - f["appointments_booked_before_deadline"]
    )
    f["appointments_attended"] = one("appointments_attended")
    f["appointments_missed"] = one("appointments_missed")

    histogram = pl.DataFrame(
        [
            (int(d), v)
            for (m, d), v in sums.items()
            if m == "days_to_first_action" and d.lstrip("-").isdigit()
        ],
        schema={"days": pl.Int64, "count": pl.Float64},
        orient="row",
    )
    f["first_actions"] = float(histogram["count"].sum()) if histogram.height else 0.0
    f["median_days_to_first_action"] = median_from_histogram(histogram)  # type: ignore[assignment]

    # An outcome name this version does not know counts as unknown, and a settlement
    # not reported by the company as presumed, so that the parts always add up.
    outcomes: dict[str, float] = {}
    for (m, d), v in sums.items():
        if m == "outcomes":
            outcome, _, certainty = d.partition(":")
            outcome = outcome if outcome in OUTCOMES else Outcome.UNKNOWN.value
            outcomes[outcome] = outcomes.get(outcome, 0.0) + v
            if outcome == Outcome.SETTLED_WITHOUT_INTERVENTION.value:
                sure = certainty == OutcomeCertainty.CONFIRMED.value
                key = f"settled_without_intervention_{'confirmed' if sure else 'presumed'}"
                f[key] = f.get(key, 0.0) + v
    swi = Outcome.SETTLED_WITHOUT_INTERVENTION.value
    f["settled_without_intervention"] = outcomes.get(swi, 0.0)
    f.setdefault("settled_without_intervention_confirmed", 0.0)
    f.setdefault("settled_without_intervention_presumed", 0.0)
    for o in OUTCOMES:
        if o != swi:
            f[f"outcome.{o}"] = outcomes.get(o, 0.0)
    f["outcomes_total"] = sum(outcomes.values())

    f["evictions_executed"] = one("evictions_executed")
    f["evictions_executed_with_children"] = one("evictions_with_children")
    f["evictions_executed_without_children"] = (
        f["evictions_executed"] - f["evictions_executed_with_children"]
    )

    population = facts.filter(
        pl.col("month").is_in(list(months))
        & pl.col("metric").is_in(["population_inhabitants", "population_children"])
    ).sort("month")
    for metric in ("population_inhabitants", "population_children"):
        values = population.filter(pl.col("metric") == metric)["value"]
        if values.len():
            f[metric] = float(values[-1])
    return f


def count_keys(figures: Mapping[str, float | None]) -> list[str]:
    """The count figures present, in a stable order."""
    dynamic = sorted(
        k
        for k in figures
        if k not in BASE_COUNT_KEYS
        and k.startswith(("notices_by_company.", "notices_by_landlord_type.", "letters_sent."))
    )
    return [k for k in BASE_COUNT_KEYS if k in figures] + dynamic


# --------------------------------------------------------------------------- suppression

Cell = tuple[str, str]  # (scope, figure key)


def suppress_cells(
    values: Mapping[Cell, float],
    constraints: Sequence[tuple[Cell, Sequence[Cell]]],
    *,
    threshold: int,
    hidden: Set[Cell] = frozenset(),
    forced: Set[Cell] = frozenset(),
) -> set[Cell]:
    """Which shown cells must be hidden so that no small count can be read or derived.

    Primary suppression hides every shown count from 1 to ``threshold``. Each
    constraint says ``total == sum(parts)``; when exactly one of its cells is unknown
    to a reader (suppressed, or never shown) and that cell is suppressed or a small
    hidden count, it could be computed from the others, so the smallest non-zero shown
    cell of the constraint is suppressed too (complementary suppression), until no
    constraint leaks. Zeros are not small counts and are shown. ``forced`` cells are
    suppressed from the start (rules that look beyond this one report).
    """

    def small(cell: Cell) -> bool:
        return 0 < values.get(cell, 0) <= threshold

    suppressed = {c for c in values if c not in hidden and small(c)}
    suppressed |= {c for c in forced if c in values and c not in hidden}
    changed = True
    while changed:
        changed = False
        for total, parts in constraints:
            cells = [total, *parts]
            unknown = [c for c in cells if c in suppressed or c in hidden]
            if len(unknown) != 1:
                continue
            (only,) = unknown
            if only in hidden and not small(only):
                continue
            candidates = [c for c in cells if c not in suppressed and c not in hidden]
            if not candidates:
                continue
            pick = min(
                candidates,
                key=lambda c: (values.get(c, 0) == 0, values.get(c, 0), c == total, c),
            )
            suppressed.add(pick)
            changed = True
    return suppressed


def month_at_risk(figures: Mapping[str, float | None], threshold: int) -> set[str]:
    """The count keys a month hides on its own: small counts and what protects them.

    Depends only on the month's own facts, so every report (the month's own, later
    months' trend charts and sums) agrees on it; :func:`cross_report_suppression` keeps
    these months out of every published sum.
    """
    scope = "m"
    values = {(scope, k): float(figures[k] or 0.0) for k in count_keys(figures)}
    hidden = {(scope, k) for k in HIDDEN_KEYS if (scope, k) in values}
    constraints = period_constraints(scope, figures)
    return {k for _s, k in suppress_cells(values, constraints, threshold=threshold, hidden=hidden)}


def cross_report_suppression(
    periods: Sequence[Period], at_risk: Mapping[str, Set[str]]
) -> set[Cell]:
    """Cells to hide so that no report, read beside earlier or later ones, reveals a month.

    Consecutive monthly reports publish running sums (year to date, rolling 12 months,
    the same a year earlier): the difference between two of them is the sum of the
    months in between, so a month hidden in its own report would be revealed if a sum
    containing it were shown. Rule: a sum over several months is shown for a figure
    only when none of its months hides that figure (``at_risk``); a single month shows
    what its own report shows. A calendar year in the annual report is compared with no
    other published sum containing a hidden month (monthly sums never contain one), so
    it is hidden only when exactly one of its months hides the figure: the year minus
    the months shown on their own would then be that month.
    """
    out: set[Cell] = set()
    for period in periods:
        months = period.months
        counts: dict[str, int] = {}
        for month in months:
            for key in at_risk.get(month, ()):
                counts[key] = counts.get(key, 0) + 1
        annual = period.key in ("year", "year_prev")
        for key, n in counts.items():
            if len(months) == 1 or (n == 1 if annual else n > 0):
                out.add((period.key, key))
    return out


def period_constraints(
    scope: str, figures: Mapping[str, float | None]
) -> list[tuple[Cell, list[Cell]]]:
    """The sums that hold inside one period's figures (total, parts)."""

    def cell(key: str) -> Cell:
        return (scope, key)

    companies = [k for k in figures if k.startswith("notices_by_company.")]
    landlords = [k for k in figures if k.startswith("notices_by_landlord_type.")]
    channels = [k for k in figures if k.startswith("letters_sent.")]
    outcome_parts = [
        "settled_without_intervention_confirmed",
        "settled_without_intervention_presumed",
        *(f"outcome.{o}" for o in OUTCOMES if o != Outcome.SETTLED_WITHOUT_INTERVENTION.value),
    ]
    pairs: list[tuple[str, list[str]]] = [
        ("notices_total", [f"notices_by_type.{t}" for t in EVENT_TYPES]),
        ("notices_total", companies),
        ("notices_total", landlords),
        (
            "episodes_reaching.payment_order",
            ["episodes_reaching_known.payment_order", "episodes_reaching_unknown.payment_order"],
        ),
        (
            "episodes_reaching.payment_order",
            [
                "payment_order_settled_without_intervention",
                "payment_order_not_settled_without_intervention",
            ],
        ),
        ("episodes_opened", ["episodes_known_to_social_services", "episodes_not_known"]),
        ("episodes_opened", ["episodes_with_children", "episodes_without_children"]),
        ("episodes_opened", ["recurrences", "episodes_first_time"]),
        ("letters_sent", channels),
        (
            "appointments_booked",
            ["appointments_booked_before_deadline", "appointments_booked_after_deadline"],
        ),
        (
            "settled_without_intervention",
            ["settled_without_intervention_confirmed", "settled_without_intervention_presumed"],
        ),
        ("outcomes_total", outcome_parts),
        (
            "evictions_executed",
            ["evictions_executed_with_children", "evictions_executed_without_children"],
        ),
    ]
    return [(cell(total), [cell(p) for p in parts]) for total, parts in pairs if parts]


# --------------------------------------------------------------------------- the report

#: Figures drawn month by month in the 24-month trend chart.
TREND_KEYS: tuple[str, ...] = ("notices_total", "evictions_executed")
TREND_MONTHS = 24

JSON_KEYS: tuple[str, ...] = (
    "notices_by_type",
    "episodes_opened",
    "episodes_known_to_social_services",
    "letters_sent",
    "appointments_attended",
    "settled_without_intervention",
    "settled_without_intervention_confirmed",
    "evictions_executed",
    "evictions_executed_with_children",
    "recurrences",
)

#: The funnel of the legal chain (stage label, figure key).
FUNNEL: tuple[tuple[str, str], ...] = (
    ("Nya ärenden (underrättelse)", "episodes_opened"),
    ("Betalningsföreläggande", "episodes_reaching.payment_order"),
    ("Avhysning bokad", "episodes_reaching.eviction_scheduled"),
    ("Avhysning verkställd", "evictions_executed"),
)

OUTCOME_LABELS: dict[str, str] = {
    "settled_without_intervention_confirmed": "Reglerat utan insats, bekräftat",
    "settled_without_intervention_presumed": "Reglerat utan insats, antaget",
    "outcome.settled_with_support": "Reglerat med stöd",
    "outcome.moved_out": "Flyttat",
    "outcome.withdrawn": "Återkallat av annan orsak",
    "outcome.evicted": "Avhyst",
    "outcome.unknown": "Okänt utfall",
}

LANDLORD_LABELS: dict[str, str] = {
    "municipal": "Allmännyttan (kommunal)",
    "private": "Privat",
    "cooperative": "Bostadsrättsförening/kooperativ",
    "unknown": "Okänd",
}


@dataclass
class Row:
    """One line of a report table: a label, a figure key and how to show it."""

    label: str
    key: str
    kind: str = "count"  # count | share | rate | days | national


@dataclass
class Table:
    title: str
    rows: list[Row]


@dataclass
class StatisticsReport:
    """Everything a report format needs: periods, exact figures and what is suppressed."""

    title: str
    municipality: str
    threshold: int
    periods: list[Period]
    previous: dict[str, Period]
    figures: dict[str, dict[str, float | None]]
    suppressed: set[Cell]
    trend_months: list[str]
    trend: dict[str, dict[str, float]]  # month -> key -> value
    tables: list[Table] = field(default_factory=list)
    company_names: dict[str, str] = field(default_factory=dict)
    missing_months: list[str] = field(default_factory=list)
    #: Scopes (period keys, ``trend:YYYY-MM``) without stored figures: shown as "–".
    unknown: set[str] = field(default_factory=set)

    @property
    def missing_note(self) -> str:
        """A Swedish sentence naming the months without stored figures, or ''."""
        if not self.missing_months:
            return ""
        return (
            "Sparade månadssiffror saknas för "
            + ", ".join(month_spans(self.missing_months))
            + ". Där visas – i stället för en siffra: för en månad, för en period utan"
            " sparade månader och för en jämförelseperiod ett år tidigare som saknar någon"
            " månad. Övriga perioder räknar bara månaderna med sparade siffror."
        )

    def is_unknown(self, scope: str, key: str = "") -> bool:
        """No stored figures behind this cell (Kronofogden's national rates are config)."""
        return scope in self.unknown and key not in NATIONAL_KEYS

    @property
    def main(self) -> Period:
        return self.periods[0]

    @property
    def columns(self) -> list[Period]:
        """Each current period followed by the same period a year earlier."""
        out: list[Period] = []
        for period in self.periods:
            out += [period, self.previous[period.key]]
        return out

    def value(self, scope: str, key: str) -> float | None:
        """The exact figure; None when unknown (no stored months) or not defined."""
        if self.is_unknown(scope, key):
            return None
        if scope.startswith("trend:"):
            return self.trend.get(scope.removeprefix("trend:"), {}).get(key)
        return self.figures.get(scope, {}).get(key)

    def is_suppressed(self, scope: str, key: str) -> bool:
        """Hidden to protect small counts (an unknown cell is "–", not suppressed)."""
        return (scope, key) in self.suppressed and not self.is_unknown(scope, key)

    def shown(self, scope: str, key: str, kind: str = "count") -> str:
        """The figure as the manager reads it: ``12 345``, ``<5``, ``18,7 %``, ``2,6``, ``–``.

        A hidden small count reads ``<5``; any other hidden figure (a larger count
        hidden to protect a small one, a share, rate or median) reads ``..``, the
        statistics agencies' sign for a figure withheld, since ``<5`` would state a
        false value. A figure without stored data reads ``–``.
        """
        value = self.value(scope, key)
        if self.is_suppressed(scope, key):
            small = value is not None and 0 < value <= self.threshold
            return suppressed_label(self.threshold) if kind == "count" and small else WITHHELD
        if value is None:
            return "–"
        if kind == "share":
            return f"{value * 100:.1f} %".replace(".", ",")
        if kind in ("rate", "national"):
            return f"{value:.2f}".replace(".", ",")
        if kind == "days":
            return f"{value:.1f}".replace(".", ",").removesuffix(",0")
        return sv_int(value)

    def exact_or_none(self, scope: str, key: str) -> float | None:
        """The number for machines: None when suppressed."""
        return None if self.is_suppressed(scope, key) else self.value(scope, key)


#: How a withheld share, rate, median or larger count is shown.
WITHHELD = ".."

#: Figures that come from config (Kronofogden), not from stored facts.
NATIONAL_KEYS = frozenset({"national_evictions_per_10000", "national_child_evictions_per_10000"})


def suppressed_label(threshold: int) -> str:
    return f"<{threshold + 1}"


def sv_int(value: float) -> str:
    """``12 345``: whole numbers with a space between thousands."""
    return f"{int(round(value)):,}".replace(",", " ")


def _with_derived(
    figures: dict[str, float],
    year: int,
    *,
    inhabitants: int,
    children: int,
    national: Mapping[str, float],
    national_children: Mapping[str, float],
) -> dict[str, float | None]:
    """Add shares, rates per 10 000 and the national rates of the period's year."""
    f: dict[str, float | None] = dict(figures)
    opened = figures["episodes_opened"]
    booked = figures["appointments_booked"]
    reached = figures["episodes_reaching.payment_order"]
    f["share_known"] = figures["episodes_known_to_social_services"] / opened if opened else None
    f["share_known_payment_order"] = (
        figures["episodes_reaching_known.payment_order"] / reached if reached else None
    )
    f["share_settled_without_intervention_payment_order"] = (
        figures["payment_order_settled_without_intervention"] / reached if reached else None
    )
    f["share_before_deadline"] = (
        figures["appointments_booked_before_deadline"] / booked if booked else None
    )
    people = figures.get("population_inhabitants") or inhabitants
    kids = figures.get("population_children") or children
    f["population_inhabitants"] = people
    f["population_children"] = kids
    f["evictions_per_10000"] = figures["evictions_executed"] / people * 10_000
    f["child_evictions_per_10000"] = figures["evictions_executed_with_children"] / kids * 10_000
    f["national_evictions_per_10000"] = national.get(str(year))
    f["national_child_evictions_per_10000"] = national_children.get(str(year))
    return f


#: Derived figure -> the counts it would reveal; suppressed when any of them is.
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "share_known": ("episodes_known_to_social_services", "episodes_opened"),
    "share_known_payment_order": (
        "episodes_reaching_known.payment_order",
        "episodes_reaching.payment_order",
    ),
    "share_settled_without_intervention_payment_order": (
        "payment_order_settled_without_intervention",
        "episodes_reaching.payment_order",
    ),
    "share_before_deadline": ("appointments_booked_before_deadline", "appointments_booked"),
    "evictions_per_10000": ("evictions_executed",),
    "child_evictions_per_10000": ("evictions_executed_with_children",),
}


def _nested(periods: Sequence[Period]) -> list[tuple[Period, Period]]:
    """Pairs (inner, outer) of distinct periods where inner's months lie inside outer's."""
    return [
        (inner, outer)
        for inner in periods
        for outer in periods
        if inner.key != outer.key
        and outer.first <= inner.first
        and inner.last <= outer.last
        and (inner.first, inner.last) != (outer.first, outer.last)
    ]


def build_statistics_report(
    facts: pl.DataFrame,
    *,
    month: str | None = None,
    year: int | None = None,
    threshold: int = 4,
    inhabitants: int,
    children: int,
    national: Mapping[str, float] | None = None,
    national_children: Mapping[str, float] | None = None,
    municipality: str = "",
    company_names: Mapping[str, str] | None = None,
) -> StatisticsReport:
    """The whole report for a month (with year to date and rolling 12 months) or a year.

    Reads nothing but ``facts``; every period is compared with the same period a year
    earlier; suppression covers every table, the trend chart and the sums that link
    nested periods (a month inside its year to date) and the trend to the periods.
    """
    national = national or {}
    national_children = national_children or {}
    facts = facts if facts.height else pl.DataFrame(schema=FACT_SCHEMA)
    periods = report_periods(month, year)
    previous = {p.key: p.a_year_earlier() for p in periods}
    everything = [*periods, *previous.values()]

    figures: dict[str, dict[str, float | None]] = {}
    for period in everything:
        base = period_figures(facts, period.months)
        # Kronofogden's rates are per calendar year: only a 12-month period compares.
        whole_year = len(period.months) == 12
        figures[period.key] = _with_derived(
            base,
            int(period.last[:4]),
            inhabitants=inhabitants,
            children=children,
            national=national if whole_year else {},
            national_children=national_children if whole_year else {},
        )
    # Every period lists the same companies, so tables line up.
    company_keys = sorted(
        {k for f in figures.values() for k in f if k.startswith("notices_by_company.")}
    )
    landlord_keys = sorted(
        {k for f in figures.values() for k in f if k.startswith("notices_by_landlord_type.")}
    )
    for f in figures.values():
        for k in (*company_keys, *landlord_keys):
            f.setdefault(k, 0.0)

    last = periods[0].last
    trend_months = month_range(shift_month(last, -(TREND_MONTHS - 1)), last)
    needed = sorted({m for p in everything for m in p.months} | set(trend_months))
    monthly = {m: period_figures(facts, [m]) for m in needed}
    at_risk = {m: month_at_risk(monthly[m], threshold) for m in needed}
    trend = {m: {k: monthly[m][k] for k in TREND_KEYS} for m in trend_months}

    # Suppression over all cells at once.
    values: dict[Cell, float] = {}
    hidden: set[Cell] = set()
    constraints: list[tuple[Cell, list[Cell]]] = []
    for period in everything:
        f = figures[period.key]
        for key in count_keys(f):
            values[(period.key, key)] = float(f[key] or 0.0)
            if key in HIDDEN_KEYS:
                hidden.add((period.key, key))
        constraints += period_constraints(period.key, f)
    forced = cross_report_suppression(everything, at_risk)
    for m in trend_months:
        for key in TREND_KEYS:
            values[(f"trend:{m}", key)] = trend[m][key]
            if key in at_risk[m]:
                forced.add((f"trend:{m}", key))
    for inner, outer in _nested(everything):
        rest = f"rest:{outer.key}-{inner.key}"
        for key in count_keys(figures[inner.key]):
            if (outer.key, key) not in values:
                continue
            values[(rest, key)] = values[(outer.key, key)] - values[(inner.key, key)]
            hidden.add((rest, key))
            constraints.append(((outer.key, key), [(inner.key, key), (rest, key)]))
    for period in everything:
        if period.first >= trend_months[0] and period.last <= trend_months[-1]:
            for key in TREND_KEYS:
                constraints.append(
                    ((period.key, key), [(f"trend:{m}", key) for m in period.months])
                )
    suppressed = suppress_cells(
        values, constraints, threshold=threshold, hidden=hidden, forced=forced
    )
    for period in everything:
        f = figures[period.key]
        for derived, sources in DERIVED_FROM.items():
            if any((period.key, s) in suppressed for s in sources):
                suppressed.add((period.key, derived))
        if 0 < (f.get("first_actions") or 0) <= threshold:
            suppressed.add((period.key, "median_days_to_first_action"))

    names = dict(company_names or {})
    refreshed = set(facts.filter(pl.col("metric") == REFRESHED_METRIC)["month"].to_list())
    # Without stored figures a period is unknown ("–"), not 0: a current period when
    # none of its months is stored, a comparison period a year earlier when any is
    # missing (a part of a period compared with a whole one would mislead).
    unknown = {
        p.key
        for p in everything
        if (p.key.endswith("_prev") and any(m not in refreshed for m in p.months))
        or all(m not in refreshed for m in p.months)
    }
    unknown |= {f"trend:{m}" for m in trend_months if m not in refreshed}
    report = StatisticsReport(
        title=(
            f"Vräkningsförebyggande arbete – statistik {month_label(month)}"
            if month
            else f"Vräkningsförebyggande arbete – statistik år {year}"
        ),
        municipality=municipality,
        threshold=threshold,
        periods=periods,
        previous=previous,
        figures=figures,
        suppressed=suppressed,
        trend_months=trend_months,
        trend=trend,
        company_names=names,
        missing_months=[m for m in needed if m not in refreshed],
        unknown=unknown,
    )
    report.tables = report_tables(company_keys, landlord_keys, names)
    return report


def report_tables(
    company_keys: Sequence[str], landlord_keys: Sequence[str], company_names: Mapping[str, str]
) -> list[Table]:
    """The report's tables, in reading order, with Swedish labels."""
    types = [Row(EVENT_LABEL_SV[EventType(t)], f"notices_by_type.{t}") for t in EVENT_TYPES]
    companies = [
        Row(company_names.get(k.split(".", 1)[1], k.split(".", 1)[1]), k) for k in company_keys
    ]
    landlords = [
        Row(LANDLORD_LABELS.get(k.split(".", 1)[1], k.split(".", 1)[1]), k) for k in landlord_keys
    ]
    total = Row("Summa underrättelser", "notices_total")
    return [
        Table("Underrättelser efter typ", [*types, total]),
        Table("Underrättelser efter hyresvärd", [*companies, total]),
        Table("Underrättelser efter typ av hyresvärd", [*landlords, total]),
        Table(
            "Ärenden och insatser",
            [
                Row("Nya ärenden", "episodes_opened"),
                Row(
                    "varav kända av socialtjänsten (till handläggare)",
                    "episodes_known_to_social_services",
                ),
                Row("andel kända av socialtjänsten", "share_known", "share"),
                Row("varav hushåll med barn", "episodes_with_children"),
                Row("varav återkommande (ny skuld)", "recurrences"),
                Row("Ärenden som nått betalningsföreläggande", "episodes_reaching.payment_order"),
                Row("varav kända av socialtjänsten", "episodes_reaching_known.payment_order"),
                Row("andel kända av socialtjänsten", "share_known_payment_order", "share"),
                Row(
                    "varav reglerat utan insats (hittills)",
                    "payment_order_settled_without_intervention",
                ),
                Row(
                    "andel reglerat utan insats (hittills)",
                    "share_settled_without_intervention_payment_order",
                    "share",
                ),
                Row("Hyresgäster som fått brev med besökstid", "letters_sent"),
                Row("varav första brevet med e-post", "letters_sent.email"),
                Row("varav första brevet med papperspost", "letters_sent.print"),
                Row("Hyresgäster med bokad besökstid (första bokningen)", "appointments_booked"),
                Row(
                    "varav bokade före sista betalningsdag",
                    "appointments_booked_before_deadline",
                ),
                Row("andel bokade före sista betalningsdag", "share_before_deadline", "share"),
                Row("Hyresgäster som kommit på besök", "appointments_attended"),
                Row("Hyresgäster som uteblivit från besök", "appointments_missed"),
                Row(
                    "Mediantid från underrättelse till första åtgärd (dagar)",
                    "median_days_to_first_action",
                    "days",
                ),
            ],
        ),
        Table(
            "Utfall",
            [
                Row("Reglerat utan insats", "settled_without_intervention"),
                *(Row(label, key) for key, label in OUTCOME_LABELS.items()),
                Row("Summa avslutade ärenden", "outcomes_total"),
            ],
        ),
        Table(
            "Avhysningar",
            [
                Row("Verkställda avhysningar", "evictions_executed"),
                Row("varav i hushåll med barn", "evictions_executed_with_children"),
                Row("Verkställda avhysningar per 10 000 invånare", "evictions_per_10000", "rate"),
                Row(
                    "Riket enligt Kronofogden (helår), per 10 000 invånare",
                    "national_evictions_per_10000",
                    "national",
                ),
                Row(
                    "Avhysningar som berör barn per 10 000 barn",
                    "child_evictions_per_10000",
                    "rate",
                ),
                Row(
                    "Riket enligt Kronofogden (helår), per 10 000 barn",
                    "national_child_evictions_per_10000",
                    "national",
                ),
            ],
        ),
    ]


def report_json(report: StatisticsReport, *, exact: bool) -> dict[str, object]:
    """The machine-readable form: the issue's keys for the main period and a year earlier.

    Without ``exact`` a suppressed number is ``null`` (a count from 1 to the threshold,
    or one that would reveal such a count). A period without stored figures (see
    :attr:`StatisticsReport.unknown`: before the system was in use) is all ``null``
    rather than zeros.
    """

    def block(period: Period) -> dict[str, object]:
        def number(key: str) -> int | None:
            scope = period.key
            value = report.value(scope, key) if exact else report.exact_or_none(scope, key)
            return None if value is None else int(round(value))

        out: dict[str, object] = {
            "notices_by_type": {t: number(f"notices_by_type.{t}") for t in EVENT_TYPES}
        }
        for key in JSON_KEYS[1:]:
            out[key] = number(key)
        return out

    main = report.main
    return {**block(main), "previous_period": block(report.previous[main.key])}


def summary_lines(report: StatisticsReport) -> list[tuple[str, str]]:
    """Label/value lines (Swedish) for the main period: what the demo prints last."""
    scope = report.main.key
    lines = [
        ("Period", report.main.label),
        ("Underrättelser mottagna", "notices_total"),
        ("Nya ärenden", "episodes_opened"),
        ("varav kända av socialtjänsten", "episodes_known_to_social_services"),
        ("Hyresgäster som fått brev med besökstid", "letters_sent"),
        ("Hyresgäster med bokad besökstid", "appointments_booked"),
        ("Hyresgäster som kommit på besök", "appointments_attended"),
        ("Hyresgäster som uteblivit från besök", "appointments_missed"),
        ("Reglerat utan insats (bekräftat)", "settled_without_intervention_confirmed"),
        ("Reglerat utan insats (antaget)", "settled_without_intervention_presumed"),
        ("Reglerat med stöd", "outcome.settled_with_support"),
        ("Verkställda avhysningar", "evictions_executed"),
        ("varav i hushåll med barn", "evictions_executed_with_children"),
        ("Återkommande ärenden", "recurrences"),
    ]
    out: list[tuple[str, str]] = [lines[0]]
    out += [(label, report.shown(scope, key)) for label, key in lines[1:]]
    out.append(
        (
            "Mediantid till första åtgärd (dagar)",
            report.shown(scope, "median_days_to_first_action", "days"),
        )
    )
    return out
