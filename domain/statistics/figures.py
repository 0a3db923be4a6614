"""Figures: the facts of a set of months summed into flat named numbers and medians.

Part of :mod:`domain.statistics` (see its docstring for the three layers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from domain.statistics.facts import (
    CHANNELS,
    EVENT_TYPES,
    LANDLORD_TYPES,
    OUTCOMES,
    REMINDER_CHANNELS,
)
from domain.vocabulary import (
    Outcome,
    OutcomeCertainty,
)

#: With or without contact with social services (the staying-housed measure).
CONTACT: tuple[str, ...] = ("contact", "no_contact")

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
    "reminders_sent",
    *(f"reminders_sent.{c}" for c in REMINDER_CHANNELS),
    "reminders_delivered",
    "reminders_failed",
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
    *(f"evictions_by_landlord_type.{t}" for t in LANDLORD_TYPES),
    "children_in_evictions",
    "evictions_children_unknown",
    "payment_order_evicted",
    "payment_order_not_evicted",
    "meetings_scheduled",
    "meetings_held",
    "meetings_attended",
    "meetings_missed",
    "meetings_unrecorded",
    "housed_12m_base",
    "housed_12m_housed",
    "housed_12m_left",
    *(f"housed_12m_{m}.{c}" for c in CONTACT for m in ("base", "housed", "left")),
    "outreach_received",
    "outreach_within_1wd",
    "outreach_later",
    "first_actions_after_receipt",
    "deadline_passed",
    "deadline_passed_unreached",
    "deadline_passed_reached",
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
        "payment_order_not_evicted",
        "meetings_unrecorded",
        "housed_12m_left",
        *(f"housed_12m_left.{c}" for c in CONTACT),
        "outreach_later",
        "first_actions_after_receipt",
        "deadline_passed_reached",
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
    f["reminders_sent"] = total("reminders_sent")
    for c in REMINDER_CHANNELS:
        f[f"reminders_sent.{c}"] = one("reminders_sent", c)
    f["reminders_delivered"] = total("reminders_delivered")
    f["reminders_failed"] = total("reminders_failed")
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

    f["children_in_evictions"] = one("children_in_evictions")
    f["evictions_children_unknown"] = one("evictions_children_unknown")
    for (m, d), v in sums.items():
        if m == "evictions_by_landlord_type":
            f[f"evictions_by_landlord_type.{d}"] = v
    for t in LANDLORD_TYPES:
        f.setdefault(f"evictions_by_landlord_type.{t}", 0.0)
    f["payment_order_evicted"] = one("payment_order_evicted")
    f["payment_order_not_evicted"] = (
        f["episodes_reaching.payment_order"] - f["payment_order_evicted"]
    )
    f["meetings_scheduled"] = one("meetings_scheduled")
    f["meetings_attended"] = one("meetings_attended")
    f["meetings_missed"] = one("meetings_missed")
    f["meetings_held"] = f["meetings_attended"] + f["meetings_missed"]
    f["meetings_unrecorded"] = f["meetings_scheduled"] - f["meetings_held"]
    for c in CONTACT:
        f[f"housed_12m_base.{c}"] = one("housed_12m_base", c)
        f[f"housed_12m_housed.{c}"] = one("housed_12m_housed", c)
        f[f"housed_12m_left.{c}"] = f[f"housed_12m_base.{c}"] - f[f"housed_12m_housed.{c}"]
    for m in ("base", "housed", "left"):
        f[f"housed_12m_{m}"] = sum(f[f"housed_12m_{m}.{c}"] for c in CONTACT)
    f["outreach_received"] = one("outreach_received")
    f["outreach_within_1wd"] = one("outreach_within_1wd")
    f["outreach_later"] = f["outreach_received"] - f["outreach_within_1wd"]
    receipt = pl.DataFrame(
        [
            (int(d), v)
            for (m, d), v in sums.items()
            if m == "days_receipt_to_first_action" and d.lstrip("-").isdigit()
        ],
        schema={"days": pl.Int64, "count": pl.Float64},
        orient="row",
    )
    f["first_actions_after_receipt"] = float(receipt["count"].sum()) if receipt.height else 0.0
    f["median_days_receipt_to_first_action"] = median_from_histogram(receipt)  # type: ignore[assignment]
    f["deadline_passed"] = one("deadline_passed")
    f["deadline_passed_unreached"] = one("deadline_passed_unreached")
    f["deadline_passed_reached"] = f["deadline_passed"] - f["deadline_passed_unreached"]

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
        and k.startswith(
            (
                "notices_by_company.",
                "notices_by_landlord_type.",
                "letters_sent.",
                "evictions_by_landlord_type.",
            )
        )
    )
    return [k for k in BASE_COUNT_KEYS if k in figures] + dynamic
