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
   also across consecutive reports: see :func:`cross_report_suppression`; the cell
   hidden in addition is a part before a total, and beside a single small month of a
   complete year it is December, so the year's total stays visible: see
   :func:`year_partners`). Months inside the freeze window are *preliminary*.

Month attribution (each fact belongs to the month in which it happened, so that a
month's facts are final soon after it ends): notices by event date; funnel steps by
the date an episode first reached that step; episodes opened, known, with children
and recurrences by the opening date. Letters and bookings count tenants (episodes),
not letter or appointment rows: each episode once, by the run day of its first sent
appointment letter and by the day of its first booking; attended and missed meetings
once per episode by the meeting day; days to first action by the day of that action;
outcomes by the outcome date; executed evictions by the date Kronofogden executed them
(or the outcome date when only the outcome says so).

Split by layer: :mod:`.months`, :mod:`.facts`, :mod:`.figures`, :mod:`.suppression`,
:mod:`.report`; every name is importable from ``domain.statistics`` as before.
"""

from __future__ import annotations

from domain.statistics.facts import (
    ACTIVITY_SCHEMA,
    APPOINTMENT_SCHEMA,
    CHANNELS,
    COMPANY_SCHEMA,
    EPISODE_EXTRA_SCHEMA,
    EPISODE_SCHEMA,
    EVENT_TYPES,
    FACT_SCHEMA,
    FROZEN_METRIC,
    LANDLORD_TYPES,
    LETTER_SCHEMA,
    NOTICE_EXTRA_SCHEMA,
    NOTICE_SCHEMA,
    OUTCOMES,
    REFRESHED_METRIC,
    REMINDER_SCHEMA,
    STOCKHOLM_TZ,
    booking_dates,
    compute_facts,
    first_action_dates,
    first_letters,
    letter_dates,
)
from domain.statistics.figures import (
    BASE_COUNT_KEYS,
    HIDDEN_KEYS,
    count_keys,
    median_from_histogram,
    period_figures,
)
from domain.statistics.months import (
    Period,
    month_label,
    month_of,
    month_range,
    month_spans,
    parse_month,
    previous_month,
    report_periods,
    shift_month,
)
from domain.statistics.report import (
    DERIVED_FROM,
    JSON_KEYS,
    LANDLORD_LABELS,
    NATIONAL_KEYS,
    OUTCOME_LABELS,
    TREND_KEYS,
    TREND_MONTHS,
    WITHHELD,
    Row,
    StatisticsReport,
    Table,
    build_statistics_report,
    latest_year,
    report_csv_rows,
    report_json,
    report_tables,
    summary_lines,
    suppressed_label,
    sv_int,
)
from domain.statistics.suppression import (
    Cell,
    cross_report_suppression,
    month_at_risk,
    period_constraints,
    suppress_cells,
    year_partners,
)

__all__ = [
    "ACTIVITY_SCHEMA",
    "REMINDER_SCHEMA",
    "APPOINTMENT_SCHEMA",
    "BASE_COUNT_KEYS",
    "CHANNELS",
    "COMPANY_SCHEMA",
    "Cell",
    "DERIVED_FROM",
    "EPISODE_EXTRA_SCHEMA",
    "EPISODE_SCHEMA",
    "EVENT_TYPES",
    "FACT_SCHEMA",
    "FROZEN_METRIC",
    "HIDDEN_KEYS",
    "JSON_KEYS",
    "LANDLORD_LABELS",
    "LANDLORD_TYPES",
    "LETTER_SCHEMA",
    "NATIONAL_KEYS",
    "NOTICE_EXTRA_SCHEMA",
    "NOTICE_SCHEMA",
    "OUTCOMES",
    "OUTCOME_LABELS",
    "Period",
    "REFRESHED_METRIC",
    "Row",
    "STOCKHOLM_TZ",
    "StatisticsReport",
    "TREND_KEYS",
    "TREND_MONTHS",
    "Table",
    "WITHHELD",
    "booking_dates",
    "build_statistics_report",
    "compute_facts",
    "count_keys",
    "cross_report_suppression",
    "first_action_dates",
    "first_letters",
    "letter_dates",
    "median_from_histogram",
    "month_at_risk",
    "month_label",
    "month_of",
    "month_range",
    "month_spans",
    "parse_month",
    "period_constraints",
    "period_figures",
    "previous_month",
    "latest_year",
    "report_csv_rows",
    "report_json",
    "report_periods",
    "report_tables",
    "shift_month",
    "summary_lines",
    "suppress_cells",
    "suppressed_label",
    "sv_int",
    "year_partners",
]
