"""The report: periods, rates, national comparisons and suppressed tables, ready to render.

Part of :mod:`domain.statistics` (see its docstring for the three layers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from domain.statistics.facts import EVENT_TYPES, FACT_SCHEMA, FROZEN_METRIC, REFRESHED_METRIC
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
    year_partners,
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
    "social_contract": "Sociala kontrakt (kommunens andrahandskontrakt)",
    "unknown": "Okänd",
}


#: Executed evictions by the landlord type of the tenancy (social contracts apart).
EVICTION_LANDLORD_LABELS: dict[str, str] = {
    "municipal": "varav hos allmännyttan (kommunal)",
    "private": "varav hos privata hyresvärdar",
    "cooperative": "varav hos bostadsrättsföreningar/kooperativ",
    "social_contract": "varav från sociala kontrakt (kommunens andrahandskontrakt)",
    "unknown": "varav hos okänd typ av hyresvärd",
}


@dataclass
class Row:
    """One line of a report table: a label, a figure key and how to show it."""

    label: str
    key: str
    kind: str = "count"  # count | share | rate | days | national | national_count | year


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
    #: Months whose stored figures can still change (inside the freeze window, not
    #: frozen): their periods are marked "preliminärt" in every format.
    preliminary_months: list[str] = field(default_factory=list)

    def is_preliminary(self, scope: str) -> bool:
        """Whether a period (or ``trend:YYYY-MM``) contains a month that can still change."""
        if scope.startswith("trend:"):
            return scope.removeprefix("trend:") in self.preliminary_months
        period = next((p for p in self.columns if p.key == scope), None)
        if period is None or scope in self.unknown:
            return False
        return any(m in self.preliminary_months for m in period.months)

    @property
    def preliminary_note(self) -> str:
        """A Swedish sentence naming the preliminary months, or ''."""
        months = [m for m in self.preliminary_months if f"trend:{m}" in self._scopes()]
        if not months:
            return ""
        return (
            "Preliminärt: siffrorna för "
            + ", ".join(month_spans(months))
            + " kan fortfarande ändras (utfall och sena underrättelser räknas in i efterhand)."
            " Perioder med någon sådan månad är märkta preliminärt. Äldre månader är låsta"
            " och ändras aldrig."
        )

    def _scopes(self) -> set[str]:
        months = {m for p in self.columns for m in p.months} | set(self.trend_months)
        return {f"trend:{m}" for m in months}

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
        if kind == "year":
            return str(int(value))
        if kind == "days":
            return f"{value:.1f}".replace(".", ",").removesuffix(",0")
        return sv_int(value)

    def exact_or_none(self, scope: str, key: str) -> float | None:
        """The number for machines: None when suppressed."""
        return None if self.is_suppressed(scope, key) else self.value(scope, key)


#: How a withheld share, rate, median or larger count is shown.
WITHHELD = ".."

#: Figures that come from config (Kronofogden), not from stored facts.
NATIONAL_KEYS = frozenset(
    {
        "national_evictions_per_10000",
        "national_child_evictions_per_10000",
        "national_year",
        "national_applications",
        "national_evictions",
        "national_children_affected",
    }
)


def latest_year(values: Mapping[str, float], year: int) -> int | None:
    """The latest configured year not after ``year``: Kronofogden publishes a year's
    figures months later, so a report compares with the latest published year."""
    years = [int(y) for y in values if str(y).isdigit() and int(y) <= year]
    return max(years) if years else None


def suppressed_label(threshold: int) -> str:
    return f"<{threshold + 1}"


def sv_int(value: float) -> str:
    """``12 345``: whole numbers with a space between thousands."""
    return f"{int(round(value)):,}".replace(",", " ")


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _with_derived(
    figures: dict[str, float],
    year: int,
    *,
    months: int = 12,
    inhabitants: int,
    children: int,
    national: Mapping[str, float],
    national_children: Mapping[str, float],
    national_counts: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, float | None]:
    """Add shares, rates per 10 000 and the national figures of the latest published
    year up to the period's year (see :func:`latest_year`)."""
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
    # Like with like: a period shorter than a year as if the rate held for twelve months.
    f["evictions_per_10000_annualised"] = (
        figures["evictions_executed"] * 12 / months / people * 10_000
    )
    # Unknown stays unknown: with any evicted household whose children nobody counted,
    # the number of children is a lower bound and no rate is given.
    f["children_affected_per_10000"] = (
        None
        if figures.get("evictions_children_unknown", 0.0) > 0
        else figures.get("children_in_evictions", 0.0) * 12 / months / kids * 10_000
    )
    # One comparison year for every national figure: the latest year up to the period's
    # for which any is configured (a figure not given for that year reads "–").
    sources: dict[str, Mapping[str, float]] = {
        "national_evictions_per_10000": national,
        "national_child_evictions_per_10000": national_children,
        **(national_counts or {}),
    }
    years = [y for y in (latest_year(v, year) for v in sources.values()) if y is not None]
    national_year = max(years) if years else None
    f["national_year"] = national_year
    for key, values in sources.items():
        f[key] = values.get(str(national_year)) if national_year is not None else None
    f["share_payment_order_evicted"] = _share(figures.get("payment_order_evicted", 0.0), reached)
    f["attendance_rate"] = _share(
        figures.get("meetings_attended", 0.0), figures.get("meetings_scheduled", 0.0)
    )
    for suffix in ("", ".contact", ".no_contact"):
        f[f"share_housed_12m{suffix}"] = _share(
            figures.get(f"housed_12m_housed{suffix}", 0.0),
            figures.get(f"housed_12m_base{suffix}", 0.0),
        )
    f["share_outreach_within_1wd"] = _share(
        figures.get("outreach_within_1wd", 0.0), figures.get("outreach_received", 0.0)
    )
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
    "evictions_per_10000_annualised": ("evictions_executed",),
    "children_affected_per_10000": ("children_in_evictions",),
    "share_payment_order_evicted": ("payment_order_evicted", "episodes_reaching.payment_order"),
    "attendance_rate": ("meetings_attended", "meetings_scheduled"),
    "share_housed_12m": ("housed_12m_housed", "housed_12m_base"),
    "share_housed_12m.contact": ("housed_12m_housed.contact", "housed_12m_base.contact"),
    "share_housed_12m.no_contact": (
        "housed_12m_housed.no_contact",
        "housed_12m_base.no_contact",
    ),
    "share_outreach_within_1wd": ("outreach_within_1wd", "outreach_received"),
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
    national_counts: Mapping[str, Mapping[str, float]] | None = None,
    municipality: str = "",
    company_names: Mapping[str, str] | None = None,
    preliminary_from: str | None = None,
) -> StatisticsReport:
    """The whole report for a month (with year to date and rolling 12 months) or a year.

    Reads nothing but ``facts``; every period is compared with the same period a year
    earlier; suppression covers every table, the trend chart and the sums that link
    nested periods (a month inside its year to date) and the trend to the periods.

    ``national_counts`` are Kronofogden's national counts per year (keys
    ``national_applications``, ``national_evictions``, ``national_children_affected``).
    Months from ``preliminary_from`` on that are stored but not frozen are preliminary.
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
        # Kronofogden's rates are per calendar year: every period shows the latest
        # published year, beside the period's rate recomputed for twelve months.
        figures[period.key] = _with_derived(
            base,
            int(period.last[:4]),
            months=len(period.months),
            inhabitants=inhabitants,
            children=children,
            national=national,
            national_children=national_children,
            national_counts=national_counts,
        )
    # Every period lists the same companies, so tables line up.
    company_keys = sorted(
        {k for f in figures.values() for k in f if k.startswith("notices_by_company.")}
    )
    landlord_keys = sorted(
        {k for f in figures.values() for k in f if k.startswith("notices_by_landlord_type.")}
    )
    evicted_by = sorted(
        {k for f in figures.values() for k in f if k.startswith("evictions_by_landlord_type.")}
    )
    for f in figures.values():
        for k in (*company_keys, *landlord_keys, *evicted_by):
            f.setdefault(k, 0.0)

    last = periods[0].last
    trend_months = month_range(shift_month(last, -(TREND_MONTHS - 1)), last)
    needed = sorted({m for p in everything for m in p.months} | set(trend_months))
    monthly = {m: period_figures(facts, [m]) for m in needed}
    at_risk = {m: month_at_risk(monthly[m], threshold) for m in needed}
    refreshed = set(facts.filter(pl.col("metric") == REFRESHED_METRIC)["month"].to_list())
    # A complete calendar year (every month stored) may hide December beside a single
    # small month, so that the year's total can be shown (see year_partners).
    for y in sorted({m[:4] for m in needed}):
        year_months = month_range(f"{y}-01", f"{y}-12")
        if all(m in refreshed for m in year_months):
            for m in year_months:
                if m not in monthly:
                    monthly[m] = period_figures(facts, [m])
                    at_risk[m] = month_at_risk(monthly[m], threshold)
            year_partners(year_months, monthly, at_risk, threshold)
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
        if 0 < (f.get("first_actions_after_receipt") or 0) <= threshold:
            suppressed.add((period.key, "median_days_receipt_to_first_action"))

    names = dict(company_names or {})
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
    frozen = set(facts.filter(pl.col("metric") == FROZEN_METRIC)["month"].to_list())
    preliminary = sorted(
        m
        for m in needed
        if m in refreshed
        and m not in frozen
        and preliminary_from is not None
        and m >= preliminary_from
    )
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
        preliminary_months=preliminary,
    )
    evicted_keys = sorted(
        {k for f in figures.values() for k in f if k.startswith("evictions_by_landlord_type.")}
    )
    report.tables = report_tables(
        company_keys, landlord_keys, names, yearly=year is not None, evicted_keys=evicted_keys
    )
    return report


def report_tables(
    company_keys: Sequence[str],
    landlord_keys: Sequence[str],
    company_names: Mapping[str, str],
    *,
    yearly: bool = False,
    evicted_keys: Sequence[str] = (),
) -> list[Table]:
    """The report's tables, in reading order, with Swedish labels.

    A yearly report starts with the figures laid out like Kronofogden's statistics for
    one municipality, beside the national figures.
    """
    types = [Row(EVENT_LABEL_SV[EventType(t)], f"notices_by_type.{t}") for t in EVENT_TYPES]
    companies = [
        Row(company_names.get(k.split(".", 1)[1], k.split(".", 1)[1]), k) for k in company_keys
    ]
    landlords = [
        Row(LANDLORD_LABELS.get(k.split(".", 1)[1], k.split(".", 1)[1]), k) for k in landlord_keys
    ]
    total = Row("Summa underrättelser", "notices_total")
    national_year = Row("Rikets siffror avser år (senast publicerade)", "national_year", "year")
    tables: list[Table] = []
    if yearly:
        tables.append(
            Table(
                "Jämfört med riket (som Kronofogdens statistik)",
                [
                    Row(
                        "Ansökningar om avhysning (ärenden som nått betalningsföreläggande)",
                        "episodes_reaching.payment_order",
                    ),
                    Row(
                        "Riket: ansökningar om avhysning", "national_applications", "national_count"
                    ),
                    Row(
                        "Avhysningsärenden (avhysning bokad)",
                        "episodes_reaching.eviction_scheduled",
                    ),
                    Row("Verkställda avhysningar", "evictions_executed"),
                    Row("Riket: verkställda avhysningar", "national_evictions", "national_count"),
                    Row(
                        "Barn som berörts av verkställda avhysningar (där antalet är känt)",
                        "children_in_evictions",
                    ),
                    Row(
                        "Avhysningar där antalet barn är okänt",
                        "evictions_children_unknown",
                    ),
                    Row("Riket: barn som berörts", "national_children_affected", "national_count"),
                    Row(
                        "Verkställda avhysningar per 10 000 invånare", "evictions_per_10000", "rate"
                    ),
                    Row(
                        "Riket: verkställda avhysningar per 10 000 invånare",
                        "national_evictions_per_10000",
                        "national",
                    ),
                    Row("Barn som berörts per 10 000 barn", "children_affected_per_10000", "rate"),
                    Row(
                        "Riket: avhysningar som berör barn per 10 000 barn",
                        "national_child_evictions_per_10000",
                        "national",
                    ),
                    national_year,
                ],
            )
        )
    evicted_by = [
        Row(EVICTION_LANDLORD_LABELS.get(k.split(".", 1)[1], f"varav {k.split('.', 1)[1]}"), k)
        for k in evicted_keys
    ]
    tables += [
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
                Row("varav avhysta (hittills)", "payment_order_evicted"),
                Row("andel avhysta (hittills)", "share_payment_order_evicted", "share"),
                Row("Hyresgäster som fått brev med besökstid", "letters_sent"),
                Row("varav första brevet med e-post", "letters_sent.email"),
                Row("varav första brevet med papperspost", "letters_sent.print"),
                Row("Påminnelser om mötet som skickats", "reminders_sent"),
                Row("varav med sms", "reminders_sent.sms"),
                Row("varav med e-post", "reminders_sent.email"),
                Row("Påminnelser som bekräftats levererade", "reminders_delivered"),
                Row("Påminnelser som inte gick fram", "reminders_failed"),
                Row(
                    "Hyresgäster med bokad besökstid (första bokningen, räknat på bokningsdagen)",
                    "appointments_booked",
                ),
                Row(
                    "varav bokade före sista betalningsdag",
                    "appointments_booked_before_deadline",
                ),
                Row("andel bokade före sista betalningsdag", "share_before_deadline", "share"),
                Row(
                    "Hyresgäster som kommit på besök (räknat på besöksdagen)",
                    "appointments_attended",
                ),
                Row(
                    "Hyresgäster som uteblivit från besök (första uteblivna besöket)",
                    "appointments_missed",
                ),
                Row(
                    "Mediantid från underrättelse till första åtgärd (dagar)",
                    "median_days_to_first_action",
                    "days",
                ),
            ],
        ),
        Table(
            "Besök, räknat på besöksdagen",
            [
                Row(
                    "Hyresgäster med besökstid under perioden (bokade, räknat på besöksdagen)",
                    "meetings_scheduled",
                ),
                Row("varav hållna (kom eller uteblev, registrerat)", "meetings_held"),
                Row("varav kom", "meetings_attended"),
                Row("varav uteblev", "meetings_missed"),
                Row("andel som kom, av alla med besökstid i perioden", "attendance_rate", "share"),
            ],
        ),
        Table(
            "Uppsökande arbete i tid",
            [
                Row("Ärenden vars första underrättelse kom in", "outreach_received"),
                Row(
                    "varav överlämnade eller med brev inom en arbetsdag",
                    "outreach_within_1wd",
                ),
                Row(
                    "andel inom en arbetsdag",
                    "share_outreach_within_1wd",
                    "share",
                ),
                Row(
                    "Mediantid från mottagen underrättelse till första åtgärd (dagar)",
                    "median_days_receipt_to_first_action",
                    "days",
                ),
                Row("Andel besökstider före sista betalningsdag", "share_before_deadline", "share"),
                Row("Ärenden vars sista betalningsdag passerade", "deadline_passed"),
                Row(
                    "varav utan kontakt med hushållet före dagen",
                    "deadline_passed_unreached",
                ),
            ],
        ),
        Table(
            "Kvarboende efter 12 månader",
            [
                Row("Ärenden öppnade 12 månader före perioden", "housed_12m_base"),
                Row("varav bor kvar (ingen avhysning, ingen flytt)", "housed_12m_housed"),
                Row("andel som bor kvar", "share_housed_12m", "share"),
                Row("Med kontakt med socialtjänsten", "housed_12m_base.contact"),
                Row("varav bor kvar", "housed_12m_housed.contact"),
                Row("andel som bor kvar", "share_housed_12m.contact", "share"),
                Row("Utan kontakt med socialtjänsten", "housed_12m_base.no_contact"),
                Row("varav bor kvar", "housed_12m_housed.no_contact"),
                Row("andel som bor kvar", "share_housed_12m.no_contact", "share"),
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
                *evicted_by,
                Row("Barn som berörts (antal barn, där det är känt)", "children_in_evictions"),
                Row("Avhysningar där antalet barn är okänt", "evictions_children_unknown"),
                Row("Verkställda avhysningar per 10 000 invånare", "evictions_per_10000", "rate"),
                Row(
                    "Per 10 000 invånare, omräknat till helår",
                    "evictions_per_10000_annualised",
                    "rate",
                ),
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
                    "Barn som berörts per 10 000 barn, omräknat till helår",
                    "children_affected_per_10000",
                    "rate",
                ),
                Row(
                    "Riket enligt Kronofogden (helår), per 10 000 barn",
                    "national_child_evictions_per_10000",
                    "national",
                ),
                national_year,
            ],
        ),
    ]
    return tables


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

        def ratio(key: str) -> float | None:
            scope = period.key
            value = report.value(scope, key) if exact else report.exact_or_none(scope, key)
            return None if value is None else round(float(value), 4)

        out: dict[str, object] = {
            "notices_by_type": {t: number(f"notices_by_type.{t}") for t in EVENT_TYPES}
        }
        for key in JSON_KEYS[1:]:
            out[key] = number(key)
        # Added keys (the ones above stay as they are).
        out["period"] = {"first": period.first, "last": period.last, "label": period.label}
        out["preliminary"] = report.is_preliminary(period.key)
        out["payment_order_cohort"] = {
            "payment_orders": number("episodes_reaching.payment_order"),
            "known_to_social_services": number("episodes_reaching_known.payment_order"),
            "share_known_to_social_services": ratio("share_known_payment_order"),
            "settled_without_intervention": number("payment_order_settled_without_intervention"),
            "share_settled_without_intervention": ratio(
                "share_settled_without_intervention_payment_order"
            ),
            "evicted": number("payment_order_evicted"),
            "share_evicted": ratio("share_payment_order_evicted"),
        }
        out["meetings"] = {
            "counted_on": "meeting_day",
            "scheduled": number("meetings_scheduled"),
            "held": number("meetings_held"),
            "attended": number("meetings_attended"),
            "missed": number("meetings_missed"),
            "attendance_rate": ratio("attendance_rate"),
            "booked_counted_on_booking_day": number("appointments_booked"),
        }
        out["staying_housed_12_months"] = {
            "episodes_opened_12_months_before": number("housed_12m_base"),
            "still_housed": number("housed_12m_housed"),
            "share_still_housed": ratio("share_housed_12m"),
            **{
                name: {
                    "episodes_opened_12_months_before": number(f"housed_12m_base.{c}"),
                    "still_housed": number(f"housed_12m_housed.{c}"),
                    "share_still_housed": ratio(f"share_housed_12m.{c}"),
                }
                for name, c in (
                    ("with_social_services_contact", "contact"),
                    ("without_social_services_contact", "no_contact"),
                )
            },
        }
        out["outreach"] = {
            "episodes_received": number("outreach_received"),
            "acted_within_one_working_day": number("outreach_within_1wd"),
            "share_acted_within_one_working_day": ratio("share_outreach_within_1wd"),
            "median_days_receipt_to_first_action": ratio("median_days_receipt_to_first_action"),
            "share_meetings_before_deadline": ratio("share_before_deadline"),
            "deadline_passed": number("deadline_passed"),
            "deadline_passed_unreached": number("deadline_passed_unreached"),
        }
        out["children_in_executed_evictions"] = number("children_in_evictions")
        out["executed_evictions_children_unknown"] = number("evictions_children_unknown")
        out["evictions_executed_by_landlord_type"] = {
            k.split(".", 1)[1]: number(k)
            for k in sorted(report.figures.get(period.key, {}))
            if k.startswith("evictions_by_landlord_type.")
        }
        out["national_comparison"] = {
            "year": number("national_year"),
            "evictions_per_10000_annualised": ratio("evictions_per_10000_annualised"),
            "national_evictions_per_10000": ratio("national_evictions_per_10000"),
            "children_affected_per_10000_annualised": ratio("children_affected_per_10000"),
            "national_child_evictions_per_10000": ratio("national_child_evictions_per_10000"),
        }
        out["reminders"] = {
            "sent": number("reminders_sent"),
            "sent_sms": number("reminders_sent.sms"),
            "sent_email": number("reminders_sent.email"),
            "delivered": number("reminders_delivered"),
            "failed": number("reminders_failed"),
        }
        return out

    main = report.main
    return {
        **block(main),
        "previous_period": block(report.previous[main.key]),
        "preliminary_months": list(report.preliminary_months),
    }


def _csv_period(period: Period) -> str:
    """``2006`` for a calendar year, ``2026-10`` for a month, else ``first..last``."""
    if period.first.endswith("-01") and period.last == f"{period.first[:4]}-12":
        return period.first[:4]
    return period.first if period.first == period.last else f"{period.first}..{period.last}"


def _csv_value(report: StatisticsReport, scope: str, key: str, kind: str) -> str:
    """A plain number (decimal point), or the report's sign for a withheld or missing one."""
    if report.is_suppressed(scope, key) or report.value(scope, key) is None:
        shown = report.shown(scope, key, kind)
        return "" if shown == "–" else shown
    value = float(report.value(scope, key))  # type: ignore[arg-type]
    if kind in ("count", "national_count", "year"):
        return str(int(round(value)))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def report_csv_rows(report: StatisticsReport) -> list[tuple[str, str, str, str]]:
    """The report as open data: (period, measure, breakdown, value), tidy long format.

    Every figure of every table for every period column, then the monthly trend;
    suppressed exactly as the report (``<5``, ``..``), an empty value where no figures
    are stored. A measure's breakdown is the part after the dot of its key
    (``notices_by_type.payment_order``), else ``total``. Aggregates only.
    """
    rows: list[tuple[str, str, str, str]] = []
    seen: set[str] = set()
    ordered: list[Row] = []
    for table in report.tables:
        for row in table.rows:
            if row.key not in seen:
                seen.add(row.key)
                ordered.append(row)
    done: set[str] = set()
    for period in report.columns:
        if _csv_period(period) in done:  # December: the year to date is the rolling 12
            continue
        done.add(_csv_period(period))
        for row in ordered:
            measure, _, breakdown = row.key.partition(".")
            value = _csv_value(report, period.key, row.key, row.kind)
            rows.append((_csv_period(period), measure, breakdown or "total", value))
    for month in report.trend_months:
        for key in TREND_KEYS:
            rows.append((month, key, "total", _csv_value(report, f"trend:{month}", key, "count")))
    return rows


def summary_lines(report: StatisticsReport) -> list[tuple[str, str]]:
    """Label/value lines (Swedish) for the main period: what the demo prints last."""
    scope = report.main.key
    period = report.main.label
    if report.is_preliminary(scope):
        period += " (preliminärt)"
    lines = [
        ("Period", period),
        ("Underrättelser mottagna", "notices_total"),
        ("Nya ärenden", "episodes_opened"),
        ("varav kända av socialtjänsten", "episodes_known_to_social_services"),
        ("Hyresgäster som fått brev med besökstid", "letters_sent"),
        ("Hyresgäster med bokad besökstid (bokningsdag)", "appointments_booked"),
        ("Hyresgäster med besökstid i perioden (besöksdag)", "meetings_scheduled"),
        ("varav kom", "meetings_attended"),
        ("varav uteblev", "meetings_missed"),
        ("Påminnelser om mötet skickade", "reminders_sent"),
        ("varav bekräftat levererade", "reminders_delivered"),
        ("Påminnelser som inte gick fram", "reminders_failed"),
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
