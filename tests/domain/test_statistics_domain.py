"""Pure statistics functions: periods, medians, small-count suppression, facts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from domain import statistics as st


def test_periods_of_a_month_report() -> None:
    month, ytd, rolling = st.report_periods(month="2026-10")
    assert (month.first, month.last) == ("2026-10", "2026-10")
    assert (ytd.first, ytd.last) == ("2026-01", "2026-10")
    assert (rolling.first, rolling.last) == ("2025-11", "2026-10")
    assert len(rolling.months) == 12
    earlier = rolling.a_year_earlier()
    assert (earlier.key, earlier.first, earlier.last) == ("rolling12_prev", "2024-11", "2025-10")
    (year,) = st.report_periods(year=2006)
    assert year.months == [f"2006-{m:02d}" for m in range(1, 13)]
    assert st.previous_month(date(2027, 1, 1)) == "2026-12"
    with pytest.raises(ValueError):
        st.parse_month("2026-13")


def test_median_from_histogram() -> None:
    def median(pairs: list[tuple[int, float]]) -> float | None:
        return st.median_from_histogram(
            pl.DataFrame(pairs, schema={"days": pl.Int64, "count": pl.Float64}, orient="row")
        )

    assert median([]) is None
    assert median([(3, 1)]) == 3
    assert median([(1, 2), (2, 1), (10, 1)]) == 1.5  # 1 1 2 10
    assert median([(10, 1), (1, 2), (2, 2)]) == 2  # 1 1 2 2 10


def cells(**values: float) -> dict[tuple[str, str], float]:
    return {("p", k): v for k, v in values.items()}


def test_primary_suppression_hides_one_to_threshold_only() -> None:
    values = cells(a=0, b=1, c=4, d=5, e=123)
    assert st.suppress_cells(values, [], threshold=4) == {("p", "b"), ("p", "c")}
    assert st.suppressed_label(4) == "<5"


def test_complementary_suppression_protects_a_total() -> None:
    values = cells(total=20, a=3, b=7, c=10)
    rule = [(("p", "total"), [("p", "a"), ("p", "b"), ("p", "c")])]
    hidden = st.suppress_cells(values, rule, threshold=4)
    # a alone could be computed as 20 - 7 - 10: the smallest other part goes too.
    assert hidden == {("p", "a"), ("p", "b")}


def test_a_small_hidden_difference_is_protected() -> None:
    # 10 opened, 8 known: "not known" (never shown) would be 2.
    values = cells(opened=10, known=8, not_known=2)
    rule = [(("p", "opened"), [("p", "known"), ("p", "not_known")])]
    hidden = st.suppress_cells(values, rule, threshold=4, hidden={("p", "not_known")})
    assert hidden == {("p", "known")}
    # A large hidden difference is safe, and one suppressed part with it is safe too.
    values = cells(opened=20, known=3, not_known=17)
    hidden = st.suppress_cells(values, rule, threshold=4, hidden={("p", "not_known")})
    assert hidden == {("p", "known")}


def test_suppression_cascades_through_shared_cells() -> None:
    values = {("m", "x"): 2.0, ("m", "y"): 9.0, ("m", "t"): 11.0, ("q", "x"): 9.0, ("q", "r"): 0.0}
    rules = [
        (("m", "t"), [("m", "x"), ("m", "y")]),  # t = x + y
        (("q", "x"), [("m", "y"), ("q", "r")]),  # another sum using y
    ]
    hidden = st.suppress_cells(values, rules, threshold=4)
    assert ("m", "x") in hidden and ("m", "y") in hidden
    # y, now hidden, would be computed from the second sum: one more cell goes.
    assert ("q", "x") in hidden or ("q", "r") in hidden


def _marked(first: str = "2024-01", last: str = "2026-12") -> list[tuple[str, str, str, float]]:
    """Refresh markers: these months have stored figures (zeros where no fact says more)."""
    return [(m, st.REFRESHED_METRIC, "", 1.0) for m in st.month_range(first, last)]


def _facts_for(evictions: dict[str, int], *, marked: bool = True) -> pl.DataFrame:
    rows = [(m, "evictions_executed", "", float(n)) for m, n in evictions.items()]
    rows += [(m, "notices_by_type", "payment_order", 50.0) for m in evictions]
    rows += _marked() if marked else []
    return pl.DataFrame(rows, schema=st.FACT_SCHEMA, orient="row")


def test_running_sums_are_hidden_when_one_of_their_months_is() -> None:
    facts = _facts_for({"2026-03": 2, "2026-10": 7})
    report = st.build_statistics_report(facts, month="2026-10", inhabitants=10_000, children=2_000)
    assert report.figures["month"]["evictions_executed"] == 7
    assert report.figures["ytd"]["evictions_executed"] == 9
    # 9 - 7 = 2 earlier this year: the year to date (which contains March) is withheld,
    # not the month, whose 7 reveals nothing once the running sums are hidden.
    assert report.shown("month", "evictions_executed") == "7"
    assert report.shown("ytd", "evictions_executed") == ".."
    assert report.shown("rolling12", "evictions_executed") == ".."
    assert not report.is_suppressed("trend:2026-10", "evictions_executed")
    assert report.shown("trend:2026-03", "evictions_executed") == "<5"
    assert report.shown("ytd", "evictions_per_10000", "rate") == ".."
    assert report.shown("month", "evictions_per_10000", "rate") == "7,00"


def test_consecutive_monthly_reports_do_not_reveal_a_hidden_month_by_difference() -> None:
    """September shows Jan–sep 19 known; October's 1 must not follow from Jan–okt 20."""
    known = {"2026-01": 6, "2026-03": 7, "2026-06": 6, "2026-10": 1, "2026-11": 6}
    known |= {"2025-02": 8, "2025-10": 3}  # a year earlier: October small as well
    rows = _marked()
    for month in st.month_range("2025-01", "2026-11"):
        rows.append((month, "episodes_opened", "", 40.0))
        if month in known:
            rows.append((month, "episodes_known", "", float(known[month])))
    facts = pl.DataFrame(rows, schema=st.FACT_SCHEMA, orient="row")

    def report(month: str) -> st.StatisticsReport:
        return st.build_statistics_report(facts, month=month, inhabitants=10_000, children=2_000)

    september, october, november = report("2026-09"), report("2026-10"), report("2026-11")
    key = "episodes_known_to_social_services"
    assert september.shown("ytd", key) == "19"
    assert october.figures["ytd"][key] == 20
    assert october.shown("month", key) == "<5"
    assert october.shown("ytd", key) == ".."  # 20 - 19 would be October's 1
    assert october.shown("rolling12", key) == ".."
    assert october.shown("ytd", "share_known", "share") == ".."
    assert october.shown("month_prev", key) == "<5"
    assert october.shown("ytd_prev", key) == ".."
    # November's own figure is shown, but its year to date still contains October:
    # Jan–nov minus Jan–sep minus November would give October.
    assert november.shown("month", key) == "6"
    assert november.shown("ytd", key) == ".."
    # Generally: no count hidden in October's own column is the difference of two
    # running sums shown in the September and October reports.
    for count in st.count_keys(october.figures["month"]):
        for single, running in (
            ("month", "ytd"),
            ("month", "rolling12"),
            ("month_prev", "ytd_prev"),
            ("month_prev", "rolling12_prev"),
        ):
            if october.is_suppressed(single, count):
                shown_now = not october.is_suppressed(running, count)
                shown_before = not september.is_suppressed(running, count)
                assert not (shown_now and shown_before), (count, running)


def test_a_year_is_hidden_when_exactly_one_of_its_months_is() -> None:
    # March's 2 is hidden in its own report; June's 9 is shown: 11 - 9 would reveal it.
    one = st.build_statistics_report(
        _facts_for({"2026-03": 2, "2026-06": 9}), year=2026, inhabitants=10_000, children=2_000
    )
    assert one.shown("year", "evictions_executed") == ".."
    assert one.shown("trend:2026-06", "evictions_executed") == "9"
    # With two hidden months the year (14) gives only their sum: shown, as Väsby's 10.
    two = st.build_statistics_report(
        _facts_for({"2026-03": 2, "2026-05": 3, "2026-06": 9}),
        year=2026,
        inhabitants=10_000,
        children=2_000,
    )
    assert two.shown("year", "evictions_executed") == "14"


def test_month_report_shows_large_counts_and_compares_a_year_earlier() -> None:
    facts = _facts_for({"2025-10": 12, "2026-10": 30})
    report = st.build_statistics_report(
        facts, month="2026-10", inhabitants=10_000, children=2_000, national={"2026": 2.5}
    )
    assert report.shown("month", "evictions_executed") == "30"
    assert report.shown("month_prev", "evictions_executed") == "12"
    assert report.shown("rolling12_prev", "evictions_executed") == "12"
    assert report.shown("month", "evictions_per_10000", "rate") == "30,00"
    assert report.shown("rolling12", "national_evictions_per_10000", "national") == "2,50"
    assert [c.key for c in report.columns] == [
        "month", "month_prev", "ytd", "ytd_prev", "rolling12", "rolling12_prev"
    ]  # fmt: skip


def test_compute_facts_attributes_each_count_to_its_month() -> None:
    episodes = pl.DataFrame(
        [
            (
                1,
                date(2026, 9, 28),
                date(2026, 9, 28),
                "caseworker",
                datetime(2026, 9, 30, 23, 30, tzinfo=UTC),
                True,
                False,
                "evicted",
                "confirmed",
                date(2026, 11, 3),
            ),  # noqa: E501
            (
                2,
                date(2026, 10, 2),
                date(2026, 10, 2),
                "advisor",
                None,
                False,
                True,
                None,
                None,
                None,
            ),  # noqa: E501
        ],
        schema=st.EPISODE_SCHEMA,
        orient="row",
    )
    notices = pl.DataFrame(
        [
            (1, "c1", "termination_notice", date(2026, 9, 28)),
            (1, "c1", "payment_order", date(2026, 10, 5)),
            (1, "c1", "payment_order", date(2026, 10, 9)),  # a second one: still one episode
            (2, "c2", "termination_notice", date(2026, 10, 2)),
        ],
        schema=st.NOTICE_SCHEMA,
        orient="row",
    )
    companies = pl.DataFrame(
        [("c1", "municipal"), ("c2", "private")], schema=st.COMPANY_SCHEMA, orient="row"
    )  # noqa: E501
    facts = st.compute_facts(
        ["2026-09", "2026-10", "2026-11"],
        episodes=episodes,
        notices=notices,
        companies=companies,
        inhabitants=100,
    )

    def value(month: str, metric: str, dimension: str = "") -> float:
        hit = facts.filter(
            (pl.col("month") == month)
            & (pl.col("metric") == metric)
            & (pl.col("dimension") == dimension)  # noqa: E501
        )
        return float(hit["value"].sum())

    assert value("2026-09", "episodes_opened") == 1
    assert value("2026-10", "episodes_opened") == 1
    assert value("2026-10", "notices_by_type", "payment_order") == 2
    assert value("2026-10", "episodes_reaching", "payment_order") == 1
    assert value("2026-10", "episodes_reaching_known", "payment_order") == 1
    assert value("2026-10", "notices_by_landlord_type", "private") == 1
    assert value("2026-10", "recurrences") == 1
    # Routed 23:30 UTC on 30 September = 1 October in Stockholm: three days after the notice.
    assert value("2026-10", "days_to_first_action", "3") == 1
    assert value("2026-11", "outcomes", "evicted:confirmed") == 1
    assert value("2026-11", "evictions_executed") == 1  # no executed notice: the outcome date
    assert value("2026-11", "evictions_with_children") == 1
    assert value("2026-11", st.REFRESHED_METRIC) == 1
    assert value("2026-11", "population_inhabitants") == 100


def test_letters_and_bookings_count_on_the_run_day_that_produced_them() -> None:
    episodes = pl.DataFrame(
        [
            (
                7,
                date(2026, 9, 20),
                date(2026, 9, 20),
                "advisor",
                None,
                False,
                False,
                None,
                None,
                None,
            )
        ],  # noqa: E501
        schema=st.EPISODE_SCHEMA,
        orient="row",
    )
    late = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # the outbox ran much later
    appointments = pl.DataFrame(
        [(70, 7, "attended", True, late, datetime(2026, 10, 6, 8, 0, tzinfo=UTC))],
        schema=st.APPOINTMENT_SCHEMA,
        orient="row",
    )
    letters = pl.DataFrame(
        [
            (7, "appointment", "print", "sent", late, date(2026, 9, 30), 70),
            (7, "caseworker_notice", "email", "sent", late, date(2026, 9, 30), None),
            (7, "appointment", "email", "failed", None, date(2026, 9, 25), 70),
        ],
        schema=st.LETTER_SCHEMA,
        orient="row",
    )
    facts = st.compute_facts(
        ["2026-09", "2026-10", "2026-11"],
        episodes=episodes,
        notices=None,
        companies=None,
        appointments=appointments,
        letters=letters,
    )
    got = {
        (m, k, d): v
        for m, k, d, v in facts.filter(pl.col("metric") != st.REFRESHED_METRIC).iter_rows()
    }
    assert got == {
        ("2026-09", "episodes_opened", ""): 1,
        ("2026-09", "letters_sent", "print"): 1,  # the caseworker notice is no tenant letter
        ("2026-09", "appointments_booked", ""): 1,  # 25 Sep: the run that made its first letter
        ("2026-09", "appointments_before_deadline", ""): 1,
        ("2026-09", "days_to_first_action", "5"): 1,
        ("2026-10", "appointments_attended", ""): 1,
        # The same meeting on the meeting-day base: booked for October, attended.
        ("2026-10", "meetings_scheduled", ""): 1,
        ("2026-10", "meetings_attended", ""): 1,
    }


def test_a_rebooked_and_a_cancelled_episode_count_once_each() -> None:
    """Letters and bookings count tenants: a rebooking or a cancellation adds nothing."""

    def at(month: int, day: int) -> datetime:
        return datetime(2026, month, day, 9, 0, tzinfo=UTC)

    episodes = pl.DataFrame(
        [
            (8, date(2026, 9, 20), date(2026, 9, 20), "advisor", None, False, False)
            + (None, None, None),
            (9, date(2026, 10, 1), date(2026, 10, 1), "advisor", None, False, False)
            + (None, None, None),
        ],
        schema=st.EPISODE_SCHEMA,
        orient="row",
    )
    appointments = pl.DataFrame(
        [
            # Episode 8: booked in September, rebooked in October, then attended.
            (80, 8, "cancelled", True, at(9, 25), at(10, 6)),
            (81, 8, "attended", False, at(10, 2), at(10, 12)),
            # Episode 9: booked in October, then the time was cancelled.
            (90, 9, "cancelled", False, at(10, 3), at(10, 20)),
        ],
        schema=st.APPOINTMENT_SCHEMA,
        orient="row",
    )
    letters = pl.DataFrame(
        [
            (8, "appointment", "email", "sent", at(9, 25), date(2026, 9, 25), 80),
            (8, "appointment", "print", "sent", at(10, 2), date(2026, 10, 2), 81),  # version 2
            (9, "appointment", "email", "sent", at(10, 3), date(2026, 10, 3), 90),
            (9, "appointment_cancelled", "email", "sent", at(10, 5), date(2026, 10, 5), 90),
        ],
        schema=st.LETTER_SCHEMA,
        orient="row",
    )
    facts = st.compute_facts(
        ["2026-09", "2026-10"],
        episodes=episodes,
        notices=None,
        companies=None,
        appointments=appointments,
        letters=letters,
    )
    got = {
        (m, k, d): v
        for m, k, d, v in facts.filter(
            pl.col("metric").is_in(
                [
                    "letters_sent",
                    "appointments_booked",
                    "appointments_before_deadline",
                    "appointments_attended",
                    "meetings_scheduled",
                    "meetings_attended",
                ]
            )
        ).iter_rows()
    }
    assert got == {
        ("2026-09", "letters_sent", "email"): 1,  # episode 8's first letter only
        ("2026-10", "letters_sent", "email"): 1,  # episode 9; its cancellation is no invitation
        ("2026-09", "appointments_booked", ""): 1,  # episode 8's first booking, not the rebooking
        ("2026-09", "appointments_before_deadline", ""): 1,  # the first time was before it
        ("2026-10", "appointments_booked", ""): 1,  # episode 9: offered a time, later cancelled
        ("2026-10", "appointments_attended", ""): 1,
        # Meetings on the meeting day: episode 8 once (the attended time; the cancelled
        # one is no meeting), episode 9 not at all (its only time was cancelled).
        ("2026-10", "meetings_scheduled", ""): 1,
        ("2026-10", "meetings_attended", ""): 1,
    }
    year = st.period_figures(facts, ["2026-09", "2026-10"])
    assert year["letters_sent"] == 2 and year["appointments_booked"] == 2


def test_national_rate_of_the_latest_year_beside_annualised_rates_and_missing_months() -> None:
    facts = _facts_for({"2026-10": 30}, marked=False).vstack(
        pl.DataFrame(
            [(m, st.REFRESHED_METRIC, "", 1.0) for m in st.month_range("2025-11", "2026-10")],
            schema=st.FACT_SCHEMA,
            orient="row",
        )
    )
    report = st.build_statistics_report(
        facts, month="2026-10", inhabitants=10_000, children=2_000, national={"2026": 2.5}
    )
    # Every period is compared with the latest published national year, like with like:
    # a month's rate is also given as if it held for twelve months.
    assert report.value("rolling12", "national_evictions_per_10000") == 2.5
    assert report.value("month", "national_evictions_per_10000") == 2.5
    assert report.shown("month", "national_year", "year") == "2026"
    assert report.shown("month", "evictions_per_10000", "rate") == "30,00"
    assert report.shown("month", "evictions_per_10000_annualised", "rate") == "360,00"
    assert report.shown("ytd", "evictions_per_10000_annualised", "rate") == "36,00"  # 10 months
    assert report.shown("rolling12", "evictions_per_10000_annualised", "rate") == "30,00"
    assert report.missing_months == st.month_range("2024-11", "2025-10")
    assert report.missing_note.startswith(
        "Sparade månadssiffror saknas för nov 2024–okt 2025. Där visas – i stället"
    )
    # Before the first stored month: "–", not 0 and 0,00, in every comparison column.
    for scope in ("month_prev", "ytd_prev", "rolling12_prev"):
        assert report.value(scope, "evictions_executed") is None
        assert report.shown(scope, "evictions_executed") == "–"
        assert report.shown(scope, "evictions_per_10000", "rate") == "–"
        assert report.shown(scope, "share_known", "share") == "–"
    assert report.shown("trend:2025-10", "evictions_executed") == "–"
    assert report.shown("trend:2026-10", "evictions_executed") == "30"
    assert report.shown("rolling12", "evictions_executed") == "30"
    # A comparison period with only some months stored is "–" too; a current one sums them.
    partial = st.build_statistics_report(
        facts, month="2026-03", inhabitants=10_000, children=2_000
    )  # rolling 12 = apr 2025–mar 2026, of which nov 2025–mar 2026 stored
    assert partial.shown("rolling12", "notices_total") == "0"  # stored months, no notices
    assert partial.shown("rolling12_prev", "notices_total") == "–"
    assert st.month_spans(["2026-03", "2025-12", "2026-01"]) == ["dec 2025–jan 2026", "mar 2026"]


def test_a_small_company_hides_a_second_company_and_landlord_type() -> None:
    rows = [
        ("2026-10", "notices_by_type", "payment_order", 53.0),
        ("2026-10", "notices_by_company", "small", 3.0),
        ("2026-10", "notices_by_company", "large", 50.0),
        ("2026-10", "notices_by_landlord_type", "private", 3.0),
        ("2026-10", "notices_by_landlord_type", "municipal", 50.0),
        *_marked(),
    ]
    facts = pl.DataFrame(rows, schema=st.FACT_SCHEMA, orient="row")
    report = st.build_statistics_report(facts, month="2026-10", inhabitants=10_000, children=2_000)
    assert report.shown("month", "notices_total") == "53"
    assert report.shown("month", "notices_by_company.small") == "<5"
    # 53 - 50 would give the small company's 3: the larger one is hidden too, shown as
    # ".." (withheld), since "<5" would state a false value.
    assert report.shown("month", "notices_by_company.large") == ".."
    assert report.shown("month", "notices_by_landlord_type.private") == "<5"
    assert report.shown("month", "notices_by_landlord_type.municipal") == ".."
    assert report.shown("month", "notices_by_type.payment_order") == "53"


def test_months_before_the_first_data_are_not_marked_as_computed() -> None:
    notices = pl.DataFrame(
        [(None, "c1", "termination_notice", date(2026, 10, 5))],
        schema=st.NOTICE_SCHEMA,
        orient="row",
    )
    facts = st.compute_facts(
        ["2026-08", "2026-09", "2026-10", "2026-11"], episodes=None, notices=notices, companies=None
    )
    marked = facts.filter(pl.col("metric") == st.REFRESHED_METRIC)["month"].to_list()
    assert marked == ["2026-10", "2026-11"]
    empty = st.compute_facts(["2026-10"], episodes=None, notices=None, companies=None)
    assert empty.height == 0


def test_json_period_without_stored_months_is_null_not_zero() -> None:
    rows = [(m, st.REFRESHED_METRIC, "", 1.0) for m in st.month_range("2026-01", "2026-10")]
    rows += [("2026-10", "episodes_opened", "", 12.0), ("2026-10", "recurrences", "", 2.0)]
    facts = pl.DataFrame(rows, schema=st.FACT_SCHEMA, orient="row")
    report = st.build_statistics_report(facts, month="2026-10", inhabitants=10_000, children=2_000)
    data = st.report_json(report, exact=False)
    assert data["episodes_opened"] == 12 and data["recurrences"] is None
    assert data["evictions_executed"] == 0
    assert st.report_json(report, exact=True)["recurrences"] == 2
    previous = data["previous_period"]
    assert previous["episodes_opened"] is None
    assert set(previous["notices_by_type"].values()) == {None}


def test_outcome_parts_always_add_up() -> None:
    rows = [
        ("2026-10", "outcomes", "settled_without_intervention:confirmed", 20.0),
        ("2026-10", "outcomes", "settled_without_intervention:", 6.0),  # certainty not recorded
        ("2026-10", "outcomes", "some_future_outcome:", 7.0),
        ("2026-10", "outcomes", "moved_out:confirmed", 9.0),
    ]
    f = st.period_figures(pl.DataFrame(rows, schema=st.FACT_SCHEMA, orient="row"), ["2026-10"])
    assert f["settled_without_intervention"] == 26
    assert f["settled_without_intervention_presumed"] == 6
    assert f["outcome.unknown"] == 7
    parts = ["settled_without_intervention_confirmed", "settled_without_intervention_presumed"]
    parts += [f"outcome.{o}" for o in st.OUTCOMES if o != "settled_without_intervention"]
    assert sum(f[p] for p in parts) == f["outcomes_total"] == 42
