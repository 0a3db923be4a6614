"""Statistics a manager can compare and trust (issue 13): the pure rules.

Suppression that keeps headline totals visible, preliminary months, the payment-order
cohort, meetings on one base, staying housed after 12 months, social contracts,
children affected, outreach timeliness, the latest national year and open-data CSV.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from domain import statistics as st

PO = "notices_by_type.payment_order"


def _marked(first: str, last: str) -> list[tuple[str, str, str, float]]:
    return [(m, st.REFRESHED_METRIC, "", 1.0) for m in st.month_range(first, last)]


def _facts(rows: list[tuple[str, str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=st.FACT_SCHEMA, orient="row")


def _payment_orders(per_month: dict[str, int], first: str = "2025-01", last: str = "2026-12"):
    rows = [(m, "notices_by_type", "payment_order", float(n)) for m, n in per_month.items()]
    return _facts(rows + _marked(first, last))


# ------------------------------------------------------------------ suppression choices


def test_a_year_with_one_small_month_still_shows_its_total() -> None:
    """407 payment orders this year: one month with 3 no longer hides the year."""
    counts = {m: 37 for m in st.month_range("2026-01", "2026-12")}
    counts["2026-03"] = 3
    facts = _payment_orders(counts)
    year = st.build_statistics_report(facts, year=2026, inhabitants=10_000, children=2_000)
    total = sum(counts.values())
    assert year.shown("year", PO) == st.sv_int(total)
    assert year.shown("year", "notices_total") == st.sv_int(total)
    # March is hidden; the least informative other month that protects it is December,
    # reported together with the year (every other month was already in its own
    # report), so the year minus the months shown gives only March + December.
    assert year.shown("trend:2026-03", "notices_total") == "<5"
    assert year.shown("trend:2026-12", "notices_total") == ".."
    assert [m for m in year.trend_months if year.is_suppressed(f"trend:{m}", "notices_total")] == [
        "2026-03",
        "2026-12",
    ]
    # December's own report agrees: its month is withheld, its year to date (the whole
    # year) is shown, and no earlier monthly report showed a sum containing March.
    december = st.build_statistics_report(
        facts, month="2026-12", inhabitants=10_000, children=2_000
    )
    assert december.shown("month", PO) == ".."
    assert december.shown("ytd", PO) == st.sv_int(total)
    november = st.build_statistics_report(
        facts, month="2026-11", inhabitants=10_000, children=2_000
    )
    assert november.shown("month", PO) == "37"
    assert november.shown("ytd", PO) == ".."
    # The JSON reads the same.
    assert st.report_json(december, exact=False)["notices_by_type"]["payment_order"] is None


def test_a_year_total_is_hidden_only_when_no_other_month_can_protect() -> None:
    # December is the small month itself: every other month was already published.
    counts = {m: 37 for m in st.month_range("2026-01", "2026-12")}
    counts["2026-12"] = 2
    year = st.build_statistics_report(
        _payment_orders(counts), year=2026, inhabitants=10_000, children=2_000
    )
    assert year.shown("year", PO) == ".."
    # Only the small month has any: nothing else can be hidden beside it.
    alone = st.build_statistics_report(
        _payment_orders({"2026-05": 2}), year=2026, inhabitants=10_000, children=2_000
    )
    assert alone.shown("year", PO) == "<5"  # itself small
    # A year not yet complete hides no partner: the year to date stays withheld.
    partial = _payment_orders({"2026-03": 2, "2026-04": 30}, last="2026-06")
    june = st.build_statistics_report(partial, month="2026-06", inhabitants=10_000, children=2_000)
    assert june.shown("ytd", PO) == ".."
    assert june.shown("trend:2026-04", PO) == "–" or not june.is_suppressed("trend:2026-04", PO)


def test_complementary_suppression_hides_a_part_before_the_total() -> None:
    values = {("p", "total"): 40.0, ("p", "a"): 3.0, ("p", "b"): 37.0, ("p", "c"): 0.0}
    got = st.suppress_cells(
        values, [(("p", "total"), [("p", "a"), ("p", "b"), ("p", "c")])], threshold=4
    )
    assert got == {("p", "a"), ("p", "b")}


# ------------------------------------------------------------------ preliminary months


def _preliminary_report(tmp_path: Path) -> st.StatisticsReport:
    rows = [
        (m, "notices_by_type", "payment_order", 40.0) for m in st.month_range("2025-01", "2026-10")
    ]
    rows += _marked("2025-01", "2026-10")
    rows += [(m, st.FROZEN_METRIC, "", 1.0) for m in ("2025-10", "2025-11")]  # frozen by retention
    return st.build_statistics_report(
        _facts(rows),
        month="2026-10",
        inhabitants=10_000,
        children=2_000,
        preliminary_from="2025-10",
    )


def test_months_inside_the_freeze_window_are_preliminary_in_every_format(tmp_path: Path) -> None:
    import openpyxl
    from pypdf import PdfReader

    from letters import statistics_report as render

    report = _preliminary_report(tmp_path)
    # Inside the window and not frozen: preliminary; frozen months never are.
    assert report.preliminary_months == [*st.month_range("2025-12", "2026-10")]
    assert report.is_preliminary("month") and report.is_preliminary("ytd")
    assert report.is_preliminary("rolling12")
    assert not report.is_preliminary("month_prev")  # October 2025 is frozen
    assert not report.is_preliminary("ytd_prev")  # Jan–Oct 2025: before the window
    assert report.preliminary_note.startswith("Preliminärt: siffrorna för dec 2025–okt 2026")

    data = st.report_json(report, exact=False)
    assert data["preliminary"] is True and data["previous_period"]["preliminary"] is False
    assert data["preliminary_months"][0] == "2025-12"

    html = render.render_html(report)
    # The month, the year to date and the rolling 12 months; not the year-earlier columns.
    assert html.count('<span class="preliminary">preliminärt</span>') == 3 * len(report.tables)
    assert "Preliminärt: siffrorna" in html

    xlsx = render.write_xlsx(report, tmp_path / "r.xlsx")
    sheet = openpyxl.load_workbook(xlsx)["Avhysningar"]
    assert [c.value for c in sheet[4]][1:3] == ["Oktober 2026 (preliminärt)", "Oktober 2025"]
    trend = {r[0]: r[3] for r in openpyxl.load_workbook(xlsx)["Månadsutveckling"].iter_rows(
        min_row=2, values_only=True)}  # fmt: skip
    assert trend["2026-10"] == "preliminärt" and trend["2025-11"] is None

    pdf = tmp_path / "r.pdf"
    render.write_pdf(report, pdf)
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "preliminärt" in text and "Preliminärt: siffrorna" in text


# ------------------------------------------------------------------ facts of the new measures


def _at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC)


EPISODE_COLUMNS = [*st.EPISODE_SCHEMA, *st.EPISODE_EXTRA_SCHEMA]


def _episodes(rows: list[dict[str, object]]) -> pl.DataFrame:
    base: dict[str, object] = {
        "first_notice_date": None,
        "routing": "advisor",
        "matched_at": None,
        "has_children": False,
        "is_recurrence": False,
        "outcome": None,
        "outcome_certainty": None,
        "outcome_date": None,
        "company_id": "hem",
        "children_count": 0,
        "children_known": False,
        "deadline_date": None,
    }
    full = [{**base, "first_notice_date": r["opened_on"], **r} for r in rows]
    return pl.DataFrame(
        [tuple(r[c] for c in EPISODE_COLUMNS) for r in full],
        schema=st.EPISODE_SCHEMA | st.EPISODE_EXTRA_SCHEMA,
        orient="row",
    )


def _month_figures(facts: pl.DataFrame, month: str) -> dict[str, float | None]:
    report = st.build_statistics_report(
        facts.vstack(_facts(_marked("2024-01", "2026-12"))),
        month=month,
        threshold=0,  # exact figures: these tests check the counting, not the hiding
        inhabitants=10_000,
        children=2_000,
    )
    return report.figures["month"]


def test_staying_housed_twelve_months_after_opening_with_and_without_contact() -> None:
    opened = date(2025, 3, 10)
    episodes = _episodes(
        [
            {"id": 1, "opened_on": opened, "outcome": "evicted", "outcome_date": date(2025, 9, 1)},
            # Moved out, but after the twelve months: still housed a year on.
            {
                "id": 2,
                "opened_on": opened,
                "outcome": "moved_out",
                "outcome_date": date(2026, 5, 1),
            },
            {"id": 3, "opened_on": opened, "routing": "caseworker"},  # known: contact
            {"id": 4, "opened_on": opened},  # the advisor phoned: contact
            {
                "id": 5,
                "opened_on": opened,
                "outcome": "moved_out",
                "outcome_date": date(2025, 6, 1),
            },
        ]
    )
    activities = pl.DataFrame(
        [(4, "contacted", date(2025, 3, 20)), (5, "note", date(2025, 3, 20))],
        schema=st.ACTIVITY_SCHEMA,
        orient="row",
    )
    facts = st.compute_facts(
        st.month_range("2025-01", "2026-12"),
        episodes=episodes,
        notices=None,
        companies=None,
        activities=activities,
    )
    f = _month_figures(facts, "2026-03")  # twelve months after March 2025
    assert f["housed_12m_base"] == 5 and f["housed_12m_housed"] == 3
    assert f["share_housed_12m"] == pytest.approx(0.6)
    assert (f["housed_12m_base.contact"], f["housed_12m_housed.contact"]) == (2, 2)
    assert (f["housed_12m_base.no_contact"], f["housed_12m_housed.no_contact"]) == (3, 1)
    assert f["share_housed_12m.no_contact"] == pytest.approx(1 / 3)
    assert _month_figures(facts, "2026-02")["housed_12m_base"] == 0


def test_social_contracts_and_children_affected_are_reported_apart() -> None:
    from models.config import Settings

    settings = Settings(
        companies=[
            {"id": "soc", "name": "Socialtjänstens kontrakt", "landlord_type": "social_contract"}
        ]
    )
    assert settings.companies[0].landlord_type == "social_contract"

    companies = pl.DataFrame(
        [("hem", "municipal"), ("soc", "social_contract")], schema=st.COMPANY_SCHEMA, orient="row"
    )
    day = date(2026, 4, 8)
    evicted = {"outcome": "evicted", "outcome_date": day, "opened_on": date(2026, 1, 5)}
    episodes = _episodes(
        [
            {"id": 1, **evicted, "company_id": "soc", "has_children": True,
             "children_count": 2, "children_known": True},
            {"id": 2, **evicted, "company_id": "hem", "children_known": True},  # none: 0
            {"id": 3, **evicted, "company_id": "hem", "has_children": True},  # count unknown
        ]
    )  # fmt: skip
    notices = pl.DataFrame(
        [
            (1, "soc", "payment_order", date(2026, 2, 1)),
            (3, "hem", "payment_order", date(2026, 2, 3)),
        ],
        schema=st.NOTICE_SCHEMA,
        orient="row",
    )
    facts = st.compute_facts(
        st.month_range("2026-01", "2026-12"),
        episodes=episodes,
        notices=notices,
        companies=companies,
    )
    april = _month_figures(facts, "2026-04")
    assert april["evictions_executed"] == 3
    assert april["evictions_by_landlord_type.social_contract"] == 1
    assert april["evictions_by_landlord_type.municipal"] == 2
    assert april["children_in_evictions"] == 2
    assert april["evictions_children_unknown"] == 1
    assert april["children_affected_per_10000"] is None  # unknown stays unknown
    february = _month_figures(facts, "2026-02")
    assert february["notices_by_landlord_type.social_contract"] == 1
    assert february["payment_order_evicted"] == 2  # the cohort's evictions, by the BF month
    report = st.build_statistics_report(
        facts.vstack(_facts(_marked("2025-01", "2026-12"))),
        year=2026,
        inhabitants=10_000,
        children=2_000,
    )
    labels = {r.label: r.key for t in report.tables for r in t.rows}
    key = labels["varav från sociala kontrakt (kommunens andrahandskontrakt)"]
    assert key == "evictions_by_landlord_type.social_contract"
    assert report.shown("year", key) == "<5"
    assert report.figures["year"]["children_affected_per_10000"] is None


def test_meetings_are_counted_on_the_meeting_day() -> None:
    """Booked, held, attended and missed on one base: the month of the meeting."""
    day = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    episodes = _episodes([{"id": i, "opened_on": date(2026, 9, 20)} for i in range(1, 5)])
    appointments = pl.DataFrame(
        [
            (10, 1, "attended", True, day.replace(month=9, day=22), day),
            (20, 2, "no_show", True, day.replace(month=9, day=22), day),
            (21, 2, "attended", True, day.replace(day=6), day.replace(day=12)),  # came later
            (30, 3, "booked", True, day.replace(month=9, day=22), day.replace(day=20)),
            (40, 4, "cancelled", True, day.replace(month=9, day=22), day),
        ],
        schema=st.APPOINTMENT_SCHEMA,
        orient="row",
    )
    facts = st.compute_facts(
        ["2026-09", "2026-10"],
        episodes=episodes,
        notices=None,
        companies=None,
        appointments=appointments,
    )
    september, october = _month_figures(facts, "2026-09"), _month_figures(facts, "2026-10")
    assert september["appointments_booked"] == 4  # by the booking day
    assert october["meetings_scheduled"] == 3  # 1, 2 and 3; the cancelled time is none
    assert october["meetings_held"] == 2 and october["meetings_attended"] == 2
    assert october["meetings_missed"] == 0  # episode 2 came in the end
    assert october["attendance_rate"] == pytest.approx(2 / 3)


def test_outreach_timeliness() -> None:
    thursday, friday, monday = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 5)
    episodes = _episodes(
        [
            {"id": 1, "opened_on": friday},  # received Friday, letter Monday: in time
            {"id": 2, "opened_on": thursday, "routing": "caseworker", "matched_at": _at(monday)},
            {"id": 3, "opened_on": thursday, "deadline_date": date(2026, 10, 20)},
            {"id": 4, "opened_on": thursday, "deadline_date": date(2026, 10, 21)},
            {"id": 5, "opened_on": thursday, "deadline_date": date(2026, 10, 22),
             "outcome": "settled_without_intervention", "outcome_date": date(2026, 10, 9)},
        ]
    )  # fmt: skip
    notices = pl.DataFrame(
        [
            (1, "hem", "termination_notice", friday, _at(friday)),
            (2, "hem", "termination_notice", thursday, _at(thursday)),
        ],
        schema=st.NOTICE_SCHEMA | st.NOTICE_EXTRA_SCHEMA,
        orient="row",
    )
    letters = pl.DataFrame(
        [(1, "appointment", "print", "sent", _at(monday), monday, None)],
        schema=st.LETTER_SCHEMA,
        orient="row",
    )
    activities = pl.DataFrame(
        [(4, "contacted", date(2026, 10, 12))], schema=st.ACTIVITY_SCHEMA, orient="row"
    )
    facts = st.compute_facts(
        ["2026-10"],
        episodes=episodes,
        notices=notices,
        companies=None,
        letters=letters,
        activities=activities,
    )
    f = _month_figures(facts, "2026-10")
    assert f["outreach_received"] == 2
    assert f["outreach_within_1wd"] == 1  # Thursday -> Monday is two working days
    assert f["share_outreach_within_1wd"] == pytest.approx(0.5)
    assert f["median_days_receipt_to_first_action"] == pytest.approx(3.5)  # 3 and 4 days
    # Episode 3 passed its deadline with no contact; 4 was phoned; 5 paid in time.
    assert f["deadline_passed"] == 2 and f["deadline_passed_unreached"] == 1


# ------------------------------------------------------------------ national comparison, CSV


def test_the_latest_published_national_year_and_the_yearly_layout() -> None:
    facts = _facts([("2026-05", "evictions_executed", "", 12.0), *_marked("2025-01", "2026-12")])
    report = st.build_statistics_report(
        facts,
        year=2026,
        inhabitants=40_000,
        children=9_000,
        national={"2023": 2.6, "2024": 2.9},
        national_counts={
            "national_evictions": {"2023": 2768, "2024": 3042},
            "national_applications": {"2023": 6923},  # 2024 not yet configured
        },
    )
    assert report.shown("year", "national_year", "year") == "2024"
    assert report.shown("year", "national_evictions_per_10000", "national") == "2,90"
    assert report.shown("year", "national_evictions", "national_count") == "3 042"
    # One comparison year for every national figure, never a mix of years.
    assert report.shown("year", "national_applications", "national_count") == "–"
    assert report.shown("year_prev", "national_year", "year") == "2024"  # 2025: latest 2024
    assert report.shown("year", "evictions_per_10000", "rate") == "3,00"
    first = report.tables[0]
    assert first.title == "Jämfört med riket (som Kronofogdens statistik)"
    assert [r.key for r in first.rows][:5] == [
        "episodes_reaching.payment_order",
        "national_applications",
        "episodes_reaching.eviction_scheduled",
        "evictions_executed",
        "national_evictions",
    ]
    month = st.build_statistics_report(facts, month="2026-05", inhabitants=40_000, children=9_000)
    assert "Jämfört med riket (som Kronofogdens statistik)" not in [t.title for t in month.tables]


def test_open_data_csv_is_tidy_and_suppressed_like_the_report() -> None:
    counts = {m: 37 for m in st.month_range("2026-01", "2026-12")}
    counts["2026-03"] = 3
    rows = [(m, "notices_by_type", "payment_order", float(n)) for m, n in counts.items()]
    rows += [("2026-06", "evictions_executed", "", 2.0)]
    report = st.build_statistics_report(
        _facts(rows + _marked("2025-01", "2026-12")), year=2026, inhabitants=10_000, children=2_000
    )
    got = st.report_csv_rows(report)
    assert all(len(r) == 4 for r in got)
    index = {(p, m, b): v for p, m, b, v in got}
    assert len(index) == len(got)  # one value per period, measure and breakdown
    assert index[("2026", "notices_by_type", "payment_order")] == "410"
    assert index[("2026", "evictions_executed", "total")] == "<5"
    assert index[("2026-03", "notices_total", "total")] == "<5"
    assert index[("2026-12", "notices_total", "total")] == ".."
    assert index[("2025", "notices_by_type", "payment_order")] == "0"
    assert index[("2026", "share_known", "total")] == ""  # no episodes: not defined
    from services.reports import report_csv

    text = report_csv(report)
    assert text.splitlines()[0] == "period,measure,breakdown,value"
    assert json.dumps(text).count("personnummer") == 0
