"""Which section of the caseworker's list an open episode belongs in."""

from __future__ import annotations

from datetime import date, timedelta

from domain.caseworker import CaseworkerSection as S
from domain.caseworker import caseworker_section

TODAY = date(2026, 12, 7)
OLD = date(2026, 10, 1)


def section(**values: object) -> S:
    args: dict[str, object] = {
        "eviction_day": None, "deadline": None, "opened_on": OLD, "last_event_date": OLD,
        "acted_on": None, "horizon_days": 14,
    }  # fmt: skip
    args.update(values)
    return caseworker_section(TODAY, **args)  # type: ignore[arg-type]


def test_sections_in_order_of_urgency() -> None:
    assert section(eviction_day=TODAY) is S.EVICTION
    assert section(eviction_day=TODAY + timedelta(14)) is S.EVICTION
    assert section(eviction_day=TODAY + timedelta(15)) is S.OTHER  # beyond the horizon
    assert section(eviction_day=TODAY - timedelta(1)) is S.OTHER  # passed: not "soon"
    assert section(eviction_day=TODAY + timedelta(3), acted_on=TODAY) is S.EVICTION
    assert section(deadline=TODAY + timedelta(7)) is S.DEADLINE
    assert section(deadline=TODAY + timedelta(8)) is S.OTHER
    assert section(deadline=TODAY - timedelta(14)) is S.DEADLINE
    assert section(deadline=TODAY - timedelta(15)) is S.OTHER
    assert section(opened_on=TODAY - timedelta(7)) is S.NEW
    assert section(opened_on=TODAY - timedelta(8)) is S.OTHER
    assert section(opened_on=TODAY, deadline=TODAY + timedelta(2)) is S.DEADLINE


def test_acted_until_a_newer_notice() -> None:
    assert section(acted_on=TODAY, deadline=TODAY + timedelta(2)) is S.ACTED
    assert section(acted_on=OLD, last_event_date=OLD) is S.ACTED  # same day counts
    later = section(acted_on=OLD, last_event_date=OLD + timedelta(1), deadline=TODAY)
    assert later is S.DEADLINE
