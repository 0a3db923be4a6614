"""Small-count suppression: primary (1..threshold) and complementary, also across reports.

Part of :mod:`domain.statistics` (see its docstring for the three layers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from domain.statistics.facts import EVENT_TYPES, OUTCOMES
from domain.statistics.figures import CONTACT, HIDDEN_KEYS, count_keys
from domain.statistics.months import Period
from domain.vocabulary import (
    Outcome,
)

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

    The cell hidden in addition is the least informative one: a non-zero part (the
    smallest) before the constraint's total, so that a period's headline figure is
    hidden only when no other cell can protect the small one.
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
                key=lambda c: (values.get(c, 0) == 0, c == total, values.get(c, 0), c),
            )
            suppressed.add(pick)
            changed = True
    return suppressed


def month_at_risk(
    figures: Mapping[str, float | None], threshold: int, forced: Set[str] = frozenset()
) -> set[str]:
    """The count keys a month hides on its own: small counts and what protects them.

    Depends only on the month's own facts (and, once its calendar year is complete, on
    :func:`year_partners`), so every report (the month's own, later months' trend charts
    and sums) agrees on it; :func:`cross_report_suppression` keeps these months out of
    every published sum. ``forced`` keys are hidden too (with what protects them).
    """
    scope = "m"
    values = {(scope, k): float(figures[k] or 0.0) for k in count_keys(figures)}
    hidden = {(scope, k) for k in HIDDEN_KEYS if (scope, k) in values}
    constraints = period_constraints(scope, figures)
    return {
        k
        for _s, k in suppress_cells(
            values,
            constraints,
            threshold=threshold,
            hidden=hidden,
            forced={(scope, k) for k in forced},
        )
    }


def year_partners(
    year_months: Sequence[str],
    monthly: Mapping[str, Mapping[str, float | None]],
    at_risk: dict[str, set[str]],
    threshold: int,
) -> dict[str, set[str]]:
    """Hide a second month where exactly one month of a complete year hides a figure.

    The year's total minus the months shown on their own would otherwise be the small
    month, and the total (the headline "407 payment orders this year") would have to be
    withheld. The second month is December: its own report is made together with the
    year's (in January), while every other month was already shown in its own monthly
    report, so hiding one of those would protect nothing. When December is the small
    month itself or has no such count, no other choice protects the month and the
    year's total is withheld (:func:`cross_report_suppression`).

    Updates ``at_risk`` in place (December's set, with what protects the added key in
    December's own tables) and returns the keys added per month.
    """
    added: dict[str, set[str]] = {}
    if len(year_months) != 12:
        return added
    december = year_months[-1]
    changed = True
    while changed:
        changed = False
        for key in sorted({k for m in year_months for k in at_risk.get(m, ())}):
            risky = [m for m in year_months if key in at_risk.get(m, ())]
            if len(risky) != 1 or risky[0] == december:
                continue
            if not (monthly[december].get(key) or 0) > 0:
                continue
            before = at_risk.get(december, set())
            after = month_at_risk(monthly[december], threshold, forced={*before, key})
            at_risk[december] = after
            added.setdefault(december, set()).update(after - before)
            changed = True
    return added


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
    the months shown on their own would then be that month (:func:`year_partners`
    hides December as well wherever that protects the month, so the total is shown).
    A running sum that covers exactly one calendar year (December's year to date and
    rolling 12 months) follows the calendar year's rule.
    """
    out: set[Cell] = set()
    for period in periods:
        months = period.months
        counts: dict[str, int] = {}
        for month in months:
            for key in at_risk.get(month, ()):
                counts[key] = counts.get(key, 0) + 1
        annual = len(months) == 12 and months[0].endswith("-01")
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
    evicted_by = [k for k in figures if k.startswith("evictions_by_landlord_type.")]
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
        ("reminders_sent", ["reminders_sent.sms", "reminders_sent.email"]),
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
        ("evictions_executed", evicted_by),
        (
            "episodes_reaching.payment_order",
            ["payment_order_evicted", "payment_order_not_evicted"],
        ),
        ("meetings_scheduled", ["meetings_attended", "meetings_missed", "meetings_unrecorded"]),
        ("meetings_scheduled", ["meetings_held", "meetings_unrecorded"]),
        ("meetings_held", ["meetings_attended", "meetings_missed"]),
        ("housed_12m_base", ["housed_12m_housed", "housed_12m_left"]),
        ("housed_12m_base", [f"housed_12m_base.{c}" for c in CONTACT]),
        ("housed_12m_housed", [f"housed_12m_housed.{c}" for c in CONTACT]),
        *(
            (f"housed_12m_base.{c}", [f"housed_12m_housed.{c}", f"housed_12m_left.{c}"])
            for c in CONTACT
        ),
        ("outreach_received", ["outreach_within_1wd", "outreach_later"]),
        ("deadline_passed", ["deadline_passed_unreached", "deadline_passed_reached"]),
    ]
    return [(cell(total), [cell(p) for p in parts]) for total, parts in pairs if parts]
