"""Facts: anonymous counts per month, metric and dimension, from the pipeline's frames.

Part of :mod:`domain.statistics` (see its docstring for the three layers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import polars as pl

from domain.outcomes import INTERVENTION_KINDS
from domain.statistics.months import month_of
from domain.vocabulary import (
    EventType,
    LetterKind,
    Outcome,
    Routing,
)
from domain.working_days import non_working_weekdays

STOCKHOLM_TZ = "Europe/Stockholm"
EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)
LANDLORD_TYPES: tuple[str, ...] = ("municipal", "private", "cooperative", "social_contract")
CHANNELS: tuple[str, ...] = ("email", "print")
REMINDER_CHANNELS: tuple[str, ...] = ("sms", "email")

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
#: Further columns the later measures read (children affected, social contracts, the
#: deadline, the day a notice was received); a frame without them counts them as unknown.
EPISODE_EXTRA_SCHEMA: dict[str, pl.DataType] = {
    "company_id": pl.Utf8(),
    "children_count": pl.Int64(),
    "children_known": pl.Boolean(),
    "deadline_date": pl.Date(),
}
NOTICE_EXTRA_SCHEMA: dict[str, pl.DataType] = {"received_at": _DT}
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
REMINDER_SCHEMA: dict[str, pl.DataType] = {
    "channel": pl.Utf8(),
    "sent_at": _DT,
    "delivered_at": _DT,
    "failed_at": _DT,
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


def _frame(data: pl.DataFrame | None, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """The frame with exactly the schema's columns (empty when missing, null when absent)."""
    if data is None or data.height == 0:
        return pl.DataFrame(schema=dict(schema))
    return data.select(
        [
            (pl.col(name) if name in data.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )


def _local_date(column: str) -> pl.Expr:
    """A UTC timestamp as its calendar date in Stockholm."""
    return pl.col(column).dt.convert_time_zone(STOCKHOLM_TZ).dt.date()


def _month_expr(column: str) -> pl.Expr:
    return pl.col(column).dt.strftime("%Y-%m").alias("month")


def _count(
    frame: pl.DataFrame, metric: str, date_column: str, dimension: pl.Expr | None = None
) -> pl.DataFrame:
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


def _sum(frame: pl.DataFrame, metric: str, date_column: str, value_column: str) -> pl.DataFrame:
    """Sum ``value_column`` per month (of ``date_column``) as fact rows (no dimension)."""
    return (
        frame.filter(pl.col(date_column).is_not_null())
        .select(_month_expr(date_column), pl.col(value_column).fill_null(0).cast(pl.Float64))
        .group_by("month")
        .agg(pl.col(value_column).sum().alias("value"))
        .with_columns(pl.lit("").alias("dimension"), pl.lit(metric).alias("metric"))
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
    reminders: pl.DataFrame | None = None,
    inhabitants: int | None = None,
    children: int | None = None,
) -> pl.DataFrame:
    """Anonymous facts (month, metric, dimension, value) for the given months.

    Only non-zero counts are kept, plus a ``_refreshed`` marker and the population
    figures for each month from the first one with data, so that an empty month is
    known to have been computed.
    """
    wanted = sorted(set(months))
    ep = _frame(episodes, EPISODE_SCHEMA | EPISODE_EXTRA_SCHEMA)
    nt = _frame(notices, NOTICE_SCHEMA | NOTICE_EXTRA_SCHEMA)
    co = _frame(companies, COMPANY_SCHEMA)
    ap = _frame(appointments, APPOINTMENT_SCHEMA)
    lt = _frame(letters, LETTER_SCHEMA)
    ac = _frame(activities, ACTIVITY_SCHEMA)
    rm = _frame(reminders, REMINDER_SCHEMA)

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

    # Meeting reminders, by channel and the Stockholm day of each step: handed to the
    # gateway or mail server (sent), confirmed on the phone (delivered), given up (failed).
    rm = rm.with_columns(
        _local_date("sent_at").alias("sent_on"),
        _local_date("delivered_at").alias("delivered_on"),
        _local_date("failed_at").alias("failed_on"),
    )
    parts.append(_count(rm, "reminders_sent", "sent_on", pl.col("channel")))
    parts.append(_count(rm, "reminders_delivered", "delivered_on", pl.col("channel")))
    parts.append(_count(rm, "reminders_failed", "failed_on", pl.col("channel")))

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
        ep.select(
            pl.col("id").alias("episode_id"),
            "has_children",
            "children_count",
            "children_known",
            "company_id",
            "outcome",
            "outcome_date",
        )
        .join(executed_notice, on="episode_id", how="left")
        .filter(pl.col("executed_on").is_not_null() | (pl.col("outcome") == Outcome.EVICTED.value))
        .with_columns(pl.coalesce("executed_on", "outcome_date").alias("executed_on"))
    )
    parts.append(_count(evicted, "evictions_executed", "executed_on"))
    parts.append(
        _count(evicted.filter(pl.col("has_children")), "evictions_with_children", "executed_on")
    )
    # Kronofogden counts the children affected, not only households with children: the
    # number from the register or the advisor's record; households where nobody knows
    # are counted apart, so the report can say the figure is incomplete.
    children_known = pl.col("children_known").fill_null(False)
    parts.append(
        _sum(
            evicted.filter(children_known), "children_in_evictions", "executed_on", "children_count"
        )
    )
    parts.append(
        _count(evicted.filter(~children_known), "evictions_children_unknown", "executed_on")
    )
    # Evictions by landlord type of the episode's company: social contracts (the
    # municipality's own second-hand contracts) are a figure municipalities publish.
    parts.append(
        _count(
            evicted.join(co.rename({"id": "company_id"}), on="company_id", how="left"),
            "evictions_by_landlord_type",
            "executed_on",
            pl.col("landlord_type").fill_null("unknown"),
        )
    )
    # The payment-order cohort's evictions, in the month of the first payment order.
    parts.append(
        _count(
            cohort.join(evicted.select("episode_id"), on="episode_id", how="semi"),
            "payment_order_evicted",
            "event_date",
        )
    )

    # Meetings on one base, the meeting day: each tenant once, by the meeting that
    # decided (the first one attended, else the first one missed, else the first one
    # still booked); cancelled times are no meetings. Booked = attended + missed + not
    # yet recorded, all counted on the same day.
    live = ap.filter(
        (pl.col("status") != "cancelled") & pl.col("meeting_on").is_not_null()
    ).with_columns(
        pl.when(pl.col("status") == "attended")
        .then(0)
        .when(pl.col("status") == "no_show")
        .then(1)
        .otherwise(2)
        .alias("rank")
    )
    decided = _first_per_episode(live, "rank", "meeting_on", "id")
    parts.append(_count(decided, "meetings_scheduled", "meeting_on"))
    parts.append(
        _count(decided.filter(pl.col("status") == "attended"), "meetings_attended", "meeting_on")
    )
    parts.append(
        _count(decided.filter(pl.col("status") == "no_show"), "meetings_missed", "meeting_on")
    )

    # Contact with the household (a recorded intervention) and with social services.
    contact_days = (
        ac.filter(pl.col("kind").is_in(sorted(INTERVENTION_KINDS)))
        .group_by("episode_id")
        .agg(pl.col("on_date").min().alias("contact_on"))
    )

    # Staying housed (kvarboende) twelve months after the episode opened: no executed
    # eviction and no move-out by then. Counted in the month the twelve months end, so
    # a period's figure is about the episodes opened twelve months before it.
    left = (
        pl.concat(
            [
                evicted.select("episode_id", pl.col("executed_on").alias("left_on")),
                ep.filter(pl.col("outcome") == Outcome.MOVED_OUT.value).select(
                    pl.col("id").alias("episode_id"), pl.col("outcome_date").alias("left_on")
                ),
            ],
            how="vertical",
        )
        .group_by("episode_id")
        .agg(pl.col("left_on").min())
    )
    year_on = (
        ep.select(pl.col("id").alias("episode_id"), "opened_on", "routing")
        .with_columns(pl.col("opened_on").dt.offset_by("12mo").alias("year_on"))
        .join(left, on="episode_id", how="left")
        .join(contact_days, on="episode_id", how="left")
        .with_columns(
            pl.when(
                (pl.col("routing") == Routing.CASEWORKER.value)
                | (pl.col("contact_on") <= pl.col("year_on")).fill_null(False)
            )
            .then(pl.lit("contact"))
            .otherwise(pl.lit("no_contact"))
            .alias("contact"),
            (pl.col("left_on").is_null() | (pl.col("left_on") > pl.col("year_on"))).alias("housed"),
        )
    )
    parts.append(_count(year_on, "housed_12m_base", "year_on", pl.col("contact")))
    parts.append(
        _count(year_on.filter(pl.col("housed")), "housed_12m_housed", "year_on", pl.col("contact"))
    )

    # Outreach timeliness. Receipt: the day the first notice of the episode arrived.
    receipts = (
        nt.filter(pl.col("episode_id").is_not_null() & pl.col("received_at").is_not_null())
        .group_by("episode_id")
        .agg(pl.col("received_at").min())
        .with_columns(_local_date("received_at").alias("received_on"))
    )
    if receipts.height:
        years = receipts["received_on"].dt.year()
        days_off = non_working_weekdays(int(years.min()), int(years.max()) + 1)  # type: ignore[arg-type]
    else:
        days_off = []
    routed_on = ep.filter(
        (pl.col("routing") == Routing.CASEWORKER.value) & pl.col("matched_at").is_not_null()
    ).select(pl.col("id").alias("episode_id"), _local_date("matched_at").alias("acted_on"))
    lettered_on = first_letters(lt).select("episode_id", pl.col("letter_on").alias("acted_on"))
    acted = (
        pl.concat([routed_on, lettered_on], how="vertical")
        .group_by("episode_id")
        .agg(pl.col("acted_on").min())
    )
    outreach = receipts.join(acted, on="episode_id", how="left").with_columns(
        pl.col("received_on")
        .dt.add_business_days(1, holidays=days_off, roll="forward")
        .alias("next_working_day")
    )
    parts.append(_count(outreach, "outreach_received", "received_on"))
    parts.append(
        _count(
            outreach.filter(pl.col("acted_on") <= pl.col("next_working_day")),
            "outreach_within_1wd",
            "received_on",
        )
    )
    receipt_days = (
        first_action_dates(ep, ap, lt, ac)
        .join(receipts.select("episode_id", "received_on"), on="episode_id")
        .with_columns(
            (pl.col("action_date") - pl.col("received_on"))
            .dt.total_days()
            .clip(lower_bound=0)
            .alias("days")
        )
    )
    # Counted by the month of receipt, on the same base as the share above.
    parts.append(
        _count(receipt_days, "days_receipt_to_first_action", "received_on", pl.col("days"))
    )
    # Episodes whose last day to pay passed with no contact with the household by then
    # (settled or withdrawn by that day: nothing was needed), by the deadline's month.
    done_by = pl.col("outcome").is_in(
        [
            Outcome.SETTLED_WITHOUT_INTERVENTION.value,
            Outcome.SETTLED_WITH_SUPPORT.value,
            Outcome.WITHDRAWN.value,
        ]
    ) & (pl.col("outcome_date") <= pl.col("deadline_date")).fill_null(False)
    deadlines = (
        ep.filter(pl.col("deadline_date").is_not_null() & ~done_by)
        .select(pl.col("id").alias("episode_id"), "deadline_date")
        .join(contact_days, on="episode_id", how="left")
    )
    parts.append(_count(deadlines, "deadline_passed", "deadline_date"))
    parts.append(
        _count(
            deadlines.filter(
                pl.col("contact_on").is_null() | (pl.col("contact_on") > pl.col("deadline_date"))
            ),
            "deadline_passed_unreached",
            "deadline_date",
        )
    )

    facts = pl.concat(parts, how="vertical").filter(pl.col("month").is_in(wanted))
    # Months before the first notice or episode predate the system: they stay unmarked,
    # so a report says their figures are missing instead of showing a true-looking 0.
    starts = [d for d in (nt["event_date"].min(), ep["opened_on"].min()) if isinstance(d, date)]
    first_month = month_of(min(starts)) if starts else None
    covered = [m for m in wanted if first_month is not None and m >= first_month]
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
