"""Monthly statistics: facts, periods, suppression, retention and the Väsby 2006 year."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import stats_fixtures as fx
from sqlalchemy import Engine, delete, func, select

from domain import statistics as st
from flows.stages.statistics import (
    ReportError,
    build_report,
    monthly_summary,
    refresh_stat_facts,
    refresh_stat_facts_for,
    write_report,
)
from models.config import Settings
from models.db import session_scope
from models.tables import (
    Activity,
    Appointment,
    AppointmentSlot,
    Episode,
    EpisodeTransition,
    Letter,
    Notice,
    StatFact,
)

NATIONAL_2006 = 3.1  # a test value for the comparison column, not an official figure


def vasby_settings(tmp_path: Path, **statistics: object) -> Settings:
    return Settings(
        municipality={
            "name": "Upplands Väsby kommun",
            "inhabitants": fx.INHABITANTS,
            "children": fx.CHILDREN,
        },  # noqa: E501
        statistics={
            "suppress_threshold": 4,
            "national_evictions_per_10000": {"2006": NATIONAL_2006},
            "managers": ["chef@example.se"],
            **statistics,
        },
        companies=[
            {"id": "vasbyhem", "name": "Väsbyhem AB", "landlord_type": "municipal"},
            {"id": "privat", "name": "Privat Hyresvärd AB", "landlord_type": "private"},
        ],
        paths={"reports_dir": tmp_path / "reports"},
    )


@pytest.fixture
def vasby(db_engine: Engine, tmp_path: Path) -> tuple[Engine, Settings]:
    """The Väsby database with facts refreshed for 2005 and 2006."""
    with session_scope(db_engine) as session:
        fx.build_vasby(session)
    settings = vasby_settings(tmp_path)
    months = st.month_range("2005-01", "2006-12")
    counts = refresh_stat_facts_for(db_engine, settings, months, today=date(2007, 1, 2))
    assert counts["months_refreshed"] == 24 and counts["months_frozen"] == 0
    return db_engine, settings


# ------------------------------------------------------------------ the 2006 year, end to end


def test_vasby_2006_annual_report_shows_the_published_figures(vasby) -> None:
    engine, settings = vasby
    report = build_report(engine, settings, year=2006)
    y, p = "year", "year_prev"
    f = report.figures[y]
    assert f["episodes_reaching.payment_order"] == fx.PAYMENT_ORDERS_2006
    assert f["episodes_reaching_known.payment_order"] == fx.KNOWN_2006
    assert f["payment_order_settled_without_intervention"] == 244
    assert f["episodes_opened"] == fx.PAYMENT_ORDERS_2006
    assert f["episodes_known_to_social_services"] == fx.KNOWN_2006
    # Tenants, not rows: rebookings add letter versions and appointments, and some
    # tenants also got a cancellation letter; each tenant still counts once.
    with session_scope(engine) as session:
        letter_rows = session.scalar(
            select(func.count()).where(Letter.created_on >= date(2006, 1, 1))
        )
        appointment_rows = session.scalar(select(func.count()).select_from(Appointment))
    assert letter_rows == fx.LETTERS_2006 + fx.REBOOKED_2006 + fx.CANCELLED_2006
    assert appointment_rows == fx.LETTERS_2006 + fx.REBOOKED_2006
    assert f["letters_sent"] == fx.LETTERS_2006
    assert f["letters_sent.email"] + f["letters_sent.print"] == fx.LETTERS_2006
    assert f["appointments_booked"] == fx.LETTERS_2006
    assert f["appointments_booked_before_deadline"] == fx.LETTERS_2006
    assert f["appointments_attended"] == fx.ATTENDED_2006
    assert f["appointments_missed"] == fx.MISSED_2006
    assert f["settled_without_intervention"] == fx.SETTLED_WITHOUT_INTERVENTION_2006
    assert f["settled_without_intervention_confirmed"] == fx.SWI_CONFIRMED_2006
    assert f["settled_without_intervention_presumed"] == 44
    assert f["outcome.settled_with_support"] == fx.SETTLED_WITH_SUPPORT_2006
    assert f["outcome.evicted"] == fx.EVICTED_2006
    assert f["outcomes_total"] == 244 + 60 + 10
    assert f["evictions_executed"] == fx.EVICTED_2006
    assert f["evictions_executed_with_children"] == fx.EVICTED_WITH_CHILDREN_2006
    assert f["recurrences"] == fx.RECURRENCES_2006
    assert f["notices_by_type.termination_notice"] == 407
    assert f["notices_by_type.payment_order"] == 407
    assert f["notices_by_type.eviction_scheduled"] == 10
    assert f["notices_by_type.eviction_executed"] == 10
    assert f["notices_total"] == 407 * 2 + 20
    assert f["notices_by_company.privat"] == 2 * 59 + 2 * 2  # every 7th; two of them evicted
    assert f["notices_by_landlord_type.municipal"] + f["notices_by_landlord_type.private"] == 834
    # Known tenants were routed the day after the notice; letters went out on day 2.
    assert f["median_days_to_first_action"] == 1
    # Shares and rates.
    assert report.shown(y, "share_known_payment_order", "share") == "18,7 %"
    assert report.shown(y, "share_settled_without_intervention_payment_order", "share") == "60,0 %"
    assert f["evictions_per_10000"] == pytest.approx(10 / 38_000 * 10_000)
    assert report.shown(y, "evictions_per_10000", "rate") == "2,63"
    assert report.shown(y, "national_evictions_per_10000", "national") == "3,10"
    assert report.shown(y, "child_evictions_per_10000", "rate") == ".."  # 3 children's homes
    # The year before.
    assert report.figures[p]["evictions_executed"] == fx.EVICTED_2005
    assert report.figures[p]["evictions_executed_with_children"] == fx.EVICTED_WITH_CHILDREN_2005
    assert report.shown(p, "evictions_per_10000", "rate") == "4,21"
    assert report.shown(p, "national_evictions_per_10000", "national") == "–"
    # What the manager reads.
    assert report.shown(y, "evictions_executed") == "10"
    assert report.shown(p, "evictions_executed") == "16"
    assert report.shown(y, "evictions_executed_with_children") == "<5"
    assert report.shown(y, "episodes_reaching.payment_order") == "407"
    assert report.shown(y, "settled_without_intervention") == "244"
    assert report.missing_months == [] and report.missing_note == ""


def test_episodes_with_children_match_the_database(vasby) -> None:
    engine, settings = vasby
    with session_scope(engine) as session:
        expected = session.scalar(
            select(func.count()).where(Episode.has_children, Episode.opened_on >= date(2006, 1, 1))
        )
    report = build_report(engine, settings, year=2006)
    assert report.figures["year"]["episodes_with_children"] == expected


def test_json_has_the_issue_keys_for_the_year_and_the_year_before(vasby, tmp_path: Path) -> None:
    engine, settings = vasby
    path = write_report(engine, settings, year=2006, fmt="json", out=tmp_path / "r.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    keys = {
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
        "reminders",  # issue 12: sent, delivered, failed
    }
    # Every key of the first version stays; later ones are added beside them.
    added = {
        "period",
        "preliminary",
        "payment_order_cohort",
        "meetings",
        "staying_housed_12_months",
        "outreach",
        "children_in_executed_evictions",
        "executed_evictions_children_unknown",
        "evictions_executed_by_landlord_type",
        "national_comparison",
    }
    assert set(data) == keys | added | {"previous_period", "preliminary_months"}
    assert set(data["previous_period"]) == keys | added
    assert set(data["notices_by_type"]) == set(st.EVENT_TYPES)
    assert set(data["reminders"]) == {"sent", "sent_sms", "sent_email", "delivered", "failed"}
    assert data["episodes_opened"] == 407
    assert data["episodes_known_to_social_services"] == 76
    assert data["settled_without_intervention"] == 244
    assert data["settled_without_intervention_confirmed"] == 200
    assert data["evictions_executed"] == 10
    assert data["evictions_executed_with_children"] is None  # 3: suppressed without json_exact
    assert data["previous_period"]["evictions_executed"] == 16
    assert data["previous_period"]["evictions_executed_with_children"] == 5  # above 4: shown
    exact = vasby_settings(tmp_path, json_exact=True)
    path = write_report(engine, exact, year=2006, fmt="json", out=tmp_path / "exact.json")
    assert json.loads(path.read_text(encoding="utf-8"))["evictions_executed_with_children"] == 3


# ------------------------------------------------------------------ retention and refresh


def _delete_everything_personal(engine: Engine) -> None:
    """What retention (gallring) does: the episodes and all that hangs on them go."""
    with session_scope(engine) as session:
        for table in (Activity, Letter, Appointment, AppointmentSlot, EpisodeTransition, Notice):
            session.execute(delete(table))
        session.execute(delete(Episode))


def test_report_survives_deleting_the_episodes(vasby, tmp_path: Path) -> None:
    engine, settings = vasby
    before = build_report(engine, settings, year=2006)
    json_before = write_report(engine, settings, year=2006, fmt="json", out=tmp_path / "a.json")
    summary_before = monthly_summary(engine, settings, "2006-10")
    _delete_everything_personal(engine)
    # A later refresh must not wipe frozen months whose source data is gone.
    counts = refresh_stat_facts_for(
        engine, settings, st.month_range("2005-01", "2006-12"), today=date(2026, 11, 1)
    )
    assert counts == {"months_refreshed": 0, "months_frozen": 24, "facts": 0}
    after = build_report(engine, settings, year=2006)
    assert after.figures == before.figures
    assert after.suppressed == before.suppressed
    json_after = write_report(engine, settings, year=2006, fmt="json", out=tmp_path / "b.json")
    assert json_after.read_text(encoding="utf-8") == json_before.read_text(encoding="utf-8")
    assert monthly_summary(engine, settings, "2006-10") == summary_before


def test_refresh_replaces_a_recent_month_and_is_idempotent(vasby) -> None:
    engine, settings = vasby

    def stored() -> list[tuple]:
        """The facts (the frozen marker a refresh may add aside)."""
        with session_scope(engine) as session:
            return session.execute(
                select(StatFact.month, StatFact.metric, StatFact.dimension, StatFact.value)
                .where(StatFact.metric != st.FROZEN_METRIC)
                .order_by(StatFact.month, StatFact.metric, StatFact.dimension)
            ).all()

    before = stored()
    again = refresh_stat_facts_for(engine, settings, ["2006-10"], today=date(2006, 11, 1))
    assert again["months_refreshed"] == 1 and again["facts"] > 0
    assert stored() == before
    # Twenty years later the month is frozen: the plain refresh leaves it alone.
    assert refresh_stat_facts(engine, settings, "2006-10")["months_frozen"] == 1
    assert stored() == before


def test_bad_month_is_a_one_line_error(vasby) -> None:
    engine, settings = vasby
    for bad in ("2026-13", "26-10", "oktober", "2026-1"):
        with pytest.raises(ReportError) as caught:
            build_report(engine, settings, month=bad)
        assert "\n" not in str(caught.value)
    with pytest.raises(ReportError):
        write_report(engine, settings, month="2006-10", fmt="docx")


def test_monthly_summary_has_swedish_labels_and_suppressed_small_counts(vasby) -> None:
    engine, settings = vasby
    lines = dict(monthly_summary(engine, settings, "2006-10"))
    assert lines["Period"] == "Oktober 2006"
    assert lines["Nya ärenden"] == "34"  # i % 12 == 9 for i < 407
    assert (
        lines["Verkställda avhysningar"] in {"<5", "0"}
        or lines["Verkställda avhysningar"].isdigit()
    )  # noqa: E501
    assert all(isinstance(v, str) for v in lines.values())


# ------------------------------------------------------------------ charts and formats


def _bars(svg: str, **match: str) -> list[dict[str, str]]:
    """The data-* attributes of every <rect> in an SVG whose attributes match."""
    import re
    from html import unescape

    found = []
    for rect in re.findall(r"<rect [^>]*>", svg):
        attrs = {k: unescape(v) for k, v in re.findall(r'data-([a-z]+)="([^"]*)"', rect)}
        if attrs and all(attrs.get(k) == v for k, v in match.items()):
            found.append(attrs)
    return found


def test_funnel_chart_draws_the_published_figures(vasby) -> None:
    from letters.statistics_report import funnel_svg

    engine, settings = vasby
    svg = funnel_svg(build_report(engine, settings, year=2006))
    year = {b["stage"]: b["value"] for b in _bars(svg, period="year")}
    before = {b["stage"]: b["value"] for b in _bars(svg, period="year_prev")}
    assert year == {
        "episodes_opened": "407",
        "episodes_reaching.payment_order": "407",
        "episodes_reaching.eviction_scheduled": "10",
        "evictions_executed": "10",
    }
    assert before == dict.fromkeys(year, "16")


def test_trend_chart_has_24_months_with_small_counts_hidden(vasby) -> None:
    from letters.statistics_report import trend_svg

    engine, settings = vasby
    with session_scope(engine) as session:
        dates = session.scalars(
            select(Notice.event_date).where(Notice.event_type == "eviction_executed")
        ).all()
    exact: dict[str, int] = {}
    for day in dates:
        exact[st.month_of(day)] = exact.get(st.month_of(day), 0) + 1
    svg = trend_svg(build_report(engine, settings, year=2006))
    evictions = _bars(svg, series="evictions_executed")
    notices = _bars(svg, series="notices_total")
    assert [b["month"] for b in evictions] == st.month_range("2005-01", "2006-12")
    assert len(notices) == 24
    for bar in evictions:
        n = exact.get(bar["month"], 0)
        assert bar["value"] == ("<5" if 0 < n <= 4 else str(n)), bar
    assert sum(int(b["value"]) for b in notices if b["month"] >= "2006-01") == 834


def test_outcome_chart_shares(vasby) -> None:
    from letters.statistics_report import outcomes_svg

    engine, settings = vasby
    svg = outcomes_svg(build_report(engine, settings, year=2006))
    shares = {b["key"]: b for b in _bars(svg)}
    assert shares["settled_without_intervention_confirmed"]["value"] == "200"
    assert float(shares["settled_without_intervention_confirmed"]["share"]) == pytest.approx(
        200 / 314, abs=1e-4
    )
    assert shares["outcome.evicted"]["value"] == "10"
    assert float(shares["outcome.settled_with_support"]["share"]) == pytest.approx(
        60 / 314, abs=1e-4
    )  # noqa: E501


def test_html_is_self_contained_and_shows_suppressed_counts(vasby, tmp_path: Path) -> None:
    engine, settings = vasby
    path = write_report(engine, settings, year=2006, fmt="html", out=tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    assert html.count("<svg") == 3
    assert "<script" not in html and "src=" not in html and "<link" not in html
    assert "https://" not in html
    assert html.replace("http://www.w3.org/2000/svg", "").count("http://") == 0
    assert "Verkställda avhysningar" in html and "&lt;5" in html
    assert "Upplands Väsby kommun" in html


def test_xlsx_read_back(vasby, tmp_path: Path) -> None:
    import openpyxl

    engine, settings = vasby
    path = write_report(engine, settings, year=2006, fmt="xlsx", out=tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [
        "Jämfört med riket (som Kronofog",  # the yearly report's first table
        "Underrättelser efter typ",
        "Underrättelser efter hyresvärd",
        "Underrättelser efter typ av hyr",  # Excel allows 31 characters
        "Ärenden och insatser",
        "Besök, räknat på besöksdagen",
        "Uppsökande arbete i tid",
        "Kvarboende efter 12 månader",
        "Utfall",
        "Avhysningar",
        "Månadsutveckling",
        "Om rapporten",
    ]
    sheet = book["Avhysningar"]
    rows = {r[0]: r[1:] for r in sheet.iter_rows(min_row=5, values_only=True) if r[0]}
    assert [c.value for c in sheet[4]][:3] == ["Mått", "År 2006", "År 2005"]
    assert rows["Verkställda avhysningar"] == (10, 16)
    assert rows["varav i hushåll med barn"] == ("<5", 5)
    assert rows["Verkställda avhysningar per 10 000 invånare"][0] == pytest.approx(10 / 3.8)
    assert rows["Riket enligt Kronofogden (helår), per 10 000 invånare"] == (NATIONAL_2006, "–")
    child_rate = rows["Avhysningar som berör barn per 10 000 barn"]
    assert child_rate[0] == ".." and child_rate[1] == pytest.approx(5 / 0.9)
    work = {
        r[0]: r[1:] for r in book["Ärenden och insatser"].iter_rows(min_row=5, values_only=True)
    }  # noqa: E501
    assert work["Ärenden som nått betalningsföreläggande"] == (407, 16)
    assert work["varav kända av socialtjänsten"] == (76, 0)
    trend = list(book["Månadsutveckling"].iter_rows(min_row=2, values_only=True))
    assert len(trend) == 24 and trend[0][0] == "2005-01"


def test_pdf_has_the_figures(vasby, tmp_path: Path) -> None:
    from pypdf import PdfReader

    engine, settings = vasby
    path = write_report(engine, settings, year=2006, fmt="pdf", out=tmp_path / "r.pdf")
    assert path.read_bytes().startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    assert "Verkställda avhysningar" in text
    assert "407" in text and "244" in text and "60,0 %" in text


def test_a_year_before_the_first_stored_month_reads_dash_in_every_format(
    vasby, tmp_path: Path
) -> None:
    """2004 predates the data: "–" (null in JSON), never 0 or 0,00, beside 2005."""
    import re

    import openpyxl
    from pypdf import PdfReader

    engine, settings = vasby
    xlsx = write_report(engine, settings, year=2005, fmt="xlsx", out=tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(xlsx)
    for title in ("Avhysningar", "Ärenden och insatser", "Utfall", "Underrättelser efter typ"):
        rows = {r[0]: r[1:] for r in book[title].iter_rows(min_row=5, values_only=True) if r[0]}
        for label, (_this_year, year_before) in rows.items():
            assert year_before == "–", (title, label)
    avhysningar = {
        r[0]: r[1:] for r in book["Avhysningar"].iter_rows(min_row=5, values_only=True) if r[0]
    }
    assert avhysningar["Verkställda avhysningar"] == (16, "–")
    assert avhysningar["Verkställda avhysningar per 10 000 invånare"][1] == "–"
    trend = {
        r[0]: r[1:3] for r in book["Månadsutveckling"].iter_rows(min_row=2, values_only=True)
    }  # the fourth column marks preliminary months
    assert all(trend[m] == ("–", "–") for m in st.month_range("2004-01", "2004-12"))
    assert all("–" not in trend[m] for m in st.month_range("2005-01", "2005-12"))

    html = write_report(engine, settings, year=2005, fmt="html", out=tmp_path / "r.html")
    text = html.read_text(encoding="utf-8")
    assert "0,00" not in text
    row = re.search(r"<td>Verkställda avhysningar per 10 000 invånare</td>(.*?)</tr>", text)
    assert row is not None
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1)) == ["4,21", "–"]
    assert 'data-period="year_prev" data-value="–"' in text  # the funnel's 2004 bars

    pdf = write_report(engine, settings, year=2005, fmt="pdf", out=tmp_path / "r.pdf")
    pdf_text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "4,21" in pdf_text and "0,00" not in pdf_text

    data = json.loads(
        write_report(engine, settings, year=2005, fmt="json", out=tmp_path / "r.json").read_text(
            encoding="utf-8"
        )
    )
    assert data["evictions_executed"] == 16
    assert data["previous_period"]["evictions_executed"] is None


# ------------------------------------------------------------------ issue 13: what managers compare


def test_payment_order_cohort_in_the_json_with_consistent_lines(vasby, tmp_path: Path) -> None:
    """Väsby's published figures: 407 with a BF, 76 known, 244 settled, 10 evicted."""
    engine, settings = vasby
    path = write_report(engine, settings, year=2006, fmt="json", out=tmp_path / "r.json")
    cohort = json.loads(path.read_text(encoding="utf-8"))["payment_order_cohort"]
    assert cohort == {
        "payment_orders": 407,
        "known_to_social_services": 76,
        "share_known_to_social_services": round(76 / 407, 4),
        "settled_without_intervention": 244,
        "share_settled_without_intervention": round(244 / 407, 4),
        "evicted": 10,
        "share_evicted": round(10 / 407, 4),
    }
    # December's report: its year to date is the whole year, and the cohort's count is
    # shown above its parts (not withheld while the line below reads 76).
    december = build_report(engine, settings, month="2006-12")
    for key, shown in (
        ("episodes_reaching.payment_order", "407"),
        ("episodes_reaching_known.payment_order", "76"),
        ("payment_order_settled_without_intervention", "244"),
        ("payment_order_evicted", "10"),
    ):
        assert december.shown("ytd", key) == shown, key


def test_yearly_open_data_csv_and_preliminary_months_from_the_database(
    vasby, tmp_path: Path
) -> None:
    import csv

    from services.reports import build_report as build_in_session

    engine, settings = vasby
    path = write_report(engine, settings, year=2006, fmt="csv", out=tmp_path / "r.csv")
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert set(rows[0]) == {"period", "measure", "breakdown", "value"}
    index = {(r["period"], r["measure"], r["breakdown"]): r["value"] for r in rows}
    assert index[("2006", "episodes_reaching", "payment_order")] == "407"
    assert index[("2006", "evictions_executed", "total")] == "10"
    assert index[("2006", "evictions_executed_with_children", "total")] == "<5"
    assert index[("2005", "evictions_executed", "total")] == "16"
    # Seen from January 2007 every 2006 month can still change; not from today.
    with session_scope(engine) as session:
        then = build_in_session(session, settings, year=2006, today=date(2007, 1, 2))
        now = build_in_session(session, settings, year=2006)
    assert then.is_preliminary("year") and then.preliminary_months[-1] == "2006-12"
    assert not now.is_preliminary("year") and now.preliminary_months == []
