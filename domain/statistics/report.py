"""The report: periods, rates, national comparisons and suppressed tables, ready to render.

Part of :mod:`domain.statistics` (see its docstring for the three layers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from domain.statistics.facts import EVENT_TYPES, FACT_SCHEMA, REFRESHED_METRIC
from domain.statistics.figures import HIDDEN_KEYS, count_keys, period_figures
from domain.statistics.months import (
    Period,
    month_label,
    month_range,
    month_spans,
    report_periods,
    shift_month,
)
from domain.statistics.suppression import (
    Cell,
    cross_report_suppression,
    month_at_risk,
    period_constraints,
    suppress_cells,
)
from domain.vocabulary import (
    EVENT_LABEL_SV,
    EventType,
)

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
                Row("Påminnelser om mötet som skickats", "reminders_sent"),
                Row("varav med sms", "reminders_sent.sms"),
                Row("varav med e-post", "reminders_sent.email"),
                Row("Påminnelser som bekräftats levererade", "reminders_delivered"),
                Row("Påminnelser som inte gick fram", "reminders_failed"),
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
        out["reminders"] = {
            "sent": number("reminders_sent"),
            "sent_sms": number("reminders_sent.sms"),
            "sent_email": number("reminders_sent.email"),
            "delivered": number("reminders_delivered"),
            "failed": number("reminders_failed"),
        }
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
        ("Påminnelser om mötet skickade", "reminders_sent"),
        ("varav bekräftat levererade", "reminders_delivered"),
        ("Påminnelser som inte gick fram", "reminders_failed"),
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
