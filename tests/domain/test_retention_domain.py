"""The retention rule (domain.retention), table-driven, without a database."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from domain import retention as rt
from domain.vocabulary import OPEN_STATUSES

FIVE = rt.RetentionRule.of(5, [5, 15, 25])


def pnr(day: int, serial: str = "9876") -> str:
    """A 12-digit number born on ``day`` of December 1981 (day + 60: samordningsnummer)."""
    return f"198112{day:02d}{serial}"


def decide_one(
    last: date,
    run: date,
    *,
    status: str = "closed",
    person: str | None = None,
    co_tenant: str | None = None,
    rule: rt.RetentionRule = FIVE,
    first: date | None = None,
) -> str:
    episodes = pl.DataFrame(
        {
            "id": [1],
            "status": [status],
            "personnummer": [person or pnr(18)],
            "co_tenant_personnummer": [co_tenant],
        },
        schema=rt.EPISODE_SCHEMA,
    )
    entries = pl.DataFrame(
        {"episode_id": [1], "first": [first or last], "last": [last]}, schema=rt.ENTRY_SCHEMA
    )
    return rt.decide(episodes, entries, run, rule)["decision"][0]


@pytest.mark.parametrize(
    ("last", "run", "expected"),
    [
        # Five years from 2026-03-10 run out in 2031: due 2032-01-01, done by 2032-12-31.
        (date(2026, 3, 10), date(2031, 3, 10), rt.KEEP_NOT_DUE),
        (date(2026, 3, 10), date(2031, 12, 31), rt.KEEP_NOT_DUE),
        (date(2026, 3, 10), date(2032, 1, 1), rt.DELETE),
        (date(2026, 3, 10), date(2032, 12, 31), rt.DELETE),
        (date(2026, 3, 10), date(2040, 6, 1), rt.DELETE),
        # The first and the last day of a year are due on the same day.
        (date(2026, 1, 1), date(2031, 12, 31), rt.KEEP_NOT_DUE),
        (date(2026, 1, 1), date(2032, 1, 1), rt.DELETE),
        (date(2026, 12, 31), date(2031, 12, 31), rt.KEEP_NOT_DUE),
        (date(2026, 12, 31), date(2032, 1, 1), rt.DELETE),
        (date(2027, 1, 1), date(2032, 1, 1), rt.KEEP_NOT_DUE),
        (date(2027, 1, 1), date(2033, 1, 1), rt.DELETE),
        # A leap day counts like any other day of its year.
        (date(2028, 2, 29), date(2033, 12, 31), rt.KEEP_NOT_DUE),
        (date(2028, 2, 29), date(2034, 1, 1), rt.DELETE),
    ],
)
def test_due_on_first_january_after_the_period_ran_out(last: date, run: date, expected: str):
    assert decide_one(last, run) == expected


@pytest.mark.parametrize(
    ("years", "last", "due"),
    [
        (5, date(2026, 3, 10), date(2032, 1, 1)),
        (3, date(2026, 3, 10), date(2030, 1, 1)),
        (1, date(2026, 12, 31), date(2028, 1, 1)),
        (10, date(2026, 1, 1), date(2037, 1, 1)),
    ],
)
def test_years_are_configurable(years: int, last: date, due: date) -> None:
    rule = rt.RetentionRule.of(years, [])
    assert rule.due_on(last) == due
    assert decide_one(last, due, rule=rule) == rt.DELETE
    assert decide_one(last, date(due.year - 1, 12, 31), rule=rule) == rt.KEEP_NOT_DUE


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (5, rt.KEEP_RESEARCH),
        (15, rt.KEEP_RESEARCH),
        (25, rt.KEEP_RESEARCH),
        (1, rt.DELETE),
        (4, rt.DELETE),
        (6, rt.DELETE),
        (14, rt.DELETE),
        (16, rt.DELETE),
        (24, rt.DELETE),
        (26, rt.DELETE),
        (31, rt.DELETE),
        # Samordningsnummer: the day plus 60.
        (65, rt.KEEP_RESEARCH),
        (75, rt.KEEP_RESEARCH),
        (85, rt.KEEP_RESEARCH),
        (66, rt.DELETE),
        (78, rt.DELETE),
    ],
)
def test_people_born_on_research_days_are_kept(day: int, expected: str) -> None:
    assert decide_one(date(2026, 3, 10), date(2032, 1, 1), person=pnr(day)) == expected


def test_research_days_are_configurable_and_an_empty_list_keeps_nobody() -> None:
    last, run = date(2026, 3, 10), date(2032, 1, 1)
    for day in (5, 15, 25):
        assert decide_one(last, run, person=pnr(day), rule=rt.RetentionRule.of(5, [])) == rt.DELETE
    only_first = rt.RetentionRule.of(5, [1])
    assert decide_one(last, run, person=pnr(1), rule=only_first) == rt.KEEP_RESEARCH
    assert decide_one(last, run, person=pnr(15), rule=only_first) == rt.DELETE


def test_a_co_tenant_born_on_a_research_day_keeps_the_episode() -> None:
    last, run = date(2026, 3, 10), date(2032, 1, 1)
    assert decide_one(last, run, co_tenant=pnr(15, "1234")) == rt.KEEP_RESEARCH


@pytest.mark.parametrize("number", [None, "", "19811", "1981XX189876"])
def test_a_number_without_a_birth_day_is_not_kept_for_research(number: str | None) -> None:
    episodes = pl.DataFrame(
        {
            "id": [1],
            "status": ["closed"],
            "personnummer": [number],
            "co_tenant_personnummer": [None],
        },
        schema=rt.EPISODE_SCHEMA,
    )
    entries = pl.DataFrame(
        {"episode_id": [1], "first": [date(2026, 1, 1)], "last": [date(2026, 2, 1)]},
        schema=rt.ENTRY_SCHEMA,
    )
    assert rt.decide(episodes, entries, date(2032, 1, 1), FIVE)["decision"][0] == rt.DELETE


@pytest.mark.parametrize("status", sorted(str(s) for s in OPEN_STATUSES))
def test_open_episodes_are_never_deleted(status: str) -> None:
    assert decide_one(date(1990, 1, 1), date(2040, 1, 1), status=status) == rt.KEEP_OPEN


@pytest.mark.parametrize("status", ["closed", "settled", "eviction_executed"])
def test_finished_episodes_are_deleted(status: str) -> None:
    assert decide_one(date(2026, 3, 10), date(2032, 1, 1), status=status) == rt.DELETE


def test_an_episode_without_any_entry_is_never_due() -> None:
    episodes = pl.DataFrame(
        {
            "id": [1],
            "status": ["closed"],
            "personnummer": [pnr(18)],
            "co_tenant_personnummer": [None],
        },
        schema=rt.EPISODE_SCHEMA,
    )
    empty = pl.DataFrame(schema=rt.ENTRY_SCHEMA)
    assert rt.decide(episodes, empty, date(2040, 1, 1), FIVE)["decision"][0] == rt.KEEP_NOT_DUE


def test_the_last_entry_is_the_latest_of_all_kinds() -> None:
    episodes = pl.DataFrame(
        {
            "id": [1],
            "status": ["closed"],
            "personnummer": [pnr(18)],
            "co_tenant_personnummer": [None],
        },
        schema=rt.EPISODE_SCHEMA,
    )
    entries = pl.DataFrame(
        {
            "episode_id": [1, 1, 1],
            "first": [date(2025, 11, 2), date(2026, 1, 5), date(2026, 1, 20)],
            "last": [date(2025, 12, 1), date(2027, 1, 4), date(2026, 2, 1)],
        },
        schema=rt.ENTRY_SCHEMA,
    )
    out = rt.decide(episodes, entries, date(2032, 6, 1), FIVE)
    assert out.row(0, named=True) == {
        "id": 1,
        "first_entry": date(2025, 11, 2),
        "last_entry": date(2027, 1, 4),
        "due_on": date(2033, 1, 1),
        "decision": rt.KEEP_NOT_DUE,
    }


def _many(rows: list[tuple[int, str, str | None, str | None, date]]) -> pl.DataFrame:
    episodes = pl.DataFrame(
        [(i, s, p, c) for i, s, p, c, _ in rows], schema=rt.EPISODE_SCHEMA, orient="row"
    )
    entries = pl.DataFrame(
        [(i, d, d) for i, _, _, _, d in rows], schema=rt.ENTRY_SCHEMA, orient="row"
    )
    out = rt.decide(episodes, entries, date(2032, 1, 1), FIVE)
    return dict(zip(out["id"].to_list(), out["decision"].to_list(), strict=True))


def test_a_person_with_a_kept_episode_keeps_all_their_episodes() -> None:
    old, recent = date(2026, 3, 1), date(2029, 5, 1)
    a, b, c, d = pnr(18, "0001"), pnr(19, "0002"), pnr(20, "0003"), pnr(21, "0004")
    decisions = _many(
        [
            (1, "closed", a, None, old),  # a's later episode 2 is not due yet
            (2, "closed", a, None, recent),
            (3, "closed", b, None, old),  # due, but b is co-tenant on 4,
            (4, "closed", c, b, old),  # c is co-tenant on 5,
            (5, "closed", d, c, old),  # and d is co-tenant on an open episode:
            (6, "payment_order", None, d, old),  # the whole chain is kept
        ]
    )
    assert decisions == {
        1: rt.KEEP_LINKED,
        2: rt.KEEP_NOT_DUE,
        3: rt.KEEP_LINKED,
        4: rt.KEEP_LINKED,
        5: rt.KEEP_LINKED,
        6: rt.KEEP_OPEN,
    }


def test_linking_stops_where_nobody_is_kept() -> None:
    old = date(2026, 3, 1)
    a, b, c = pnr(18, "0001"), pnr(19, "0002"), pnr(15, "0003")
    decisions = _many(
        [
            (1, "closed", a, b, old),
            (2, "closed", b, None, old),
            (3, "closed", c, None, old),  # research, shares nobody with 1 and 2
            (4, "closed", None, None, old),  # no number at all: its own record
        ]
    )
    assert decisions == {1: rt.DELETE, 2: rt.DELETE, 3: rt.KEEP_RESEARCH, 4: rt.DELETE}


def test_counts_and_months_touched() -> None:
    episodes = pl.DataFrame(
        [(1, "closed", pnr(18), None), (2, "closed", pnr(19), None), (3, "closed", pnr(5), None)],
        schema=rt.EPISODE_SCHEMA,
        orient="row",
    )
    entries = pl.DataFrame(
        [
            (1, date(2025, 11, 20), date(2026, 1, 3)),
            (2, date(2026, 3, 1), date(2026, 3, 31)),
            (3, date(2024, 1, 1), date(2024, 1, 1)),
        ],
        schema=rt.ENTRY_SCHEMA,
        orient="row",
    )
    out = rt.decide(episodes, entries, date(2032, 1, 1), FIVE)
    assert rt.decision_counts(out) == {
        rt.DELETE: 2,
        rt.KEEP_OPEN: 0,
        rt.KEEP_NOT_DUE: 0,
        rt.KEEP_RESEARCH: 1,
        rt.KEEP_LINKED: 0,
    }
    # Only the deleted episodes' months; the research episode's 2024 stays out.
    assert rt.months_touched(out) == ["2025-11", "2025-12", "2026-01", "2026-03"]


@pytest.mark.parametrize(("years", "days"), [(0, [5]), (5, [0]), (5, [32])])
def test_a_bad_rule_is_refused(years: int, days: list[int]) -> None:
    with pytest.raises(ValueError):
        rt.RetentionRule.of(years, days)


def test_batches() -> None:
    assert rt.batches([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert rt.batches([], 2) == []
