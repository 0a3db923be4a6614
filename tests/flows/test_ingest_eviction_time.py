"""An eviction day reported without its time: stored at local 00:00, shown as a day only."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from test_worklist import at, build, ep, ids, inputs

from domain.notices import parse_local_datetime
from domain.worklist import Section
from flows.commands.worklist import eviction_text


def test_a_bare_eviction_date_is_stored_at_local_midnight() -> None:
    parsed = pl.select(parse_local_datetime(pl.lit("2026-12-14"))).item()
    assert parsed == datetime(2026, 12, 13, 23, 0, tzinfo=UTC)  # 00:00 in Stockholm (CET)


def test_worklist_shows_only_the_day_when_no_time_was_given() -> None:
    data = inputs(
        [
            ep(1, eviction_at=at(24, 0), status="eviction_scheduled"),
            ep(2, eviction_at=at(25, 9), status="eviction_scheduled"),
        ]
    )
    rows = build(data)
    assert ids(rows, Section.EVICTIONS) == [1, 2]
    actions = rows.filter(pl.col("section") == Section.EVICTIONS.value)["action"].to_list()
    assert actions[0].startswith("Avhysning tisdag 24 november: kontakta")
    assert "00.00" not in actions[0]
    assert actions[1].startswith("Avhysning onsdag 25 november kl. 09.00: kontakta")


def test_episode_show_prints_the_day_without_an_invented_time() -> None:
    midnight = datetime(2026, 12, 13, 23, 0)  # SQLite gives UTC without a zone
    assert eviction_text(midnight) == "2026-12-14"
    assert eviction_text(datetime(2026, 12, 14, 8, 0, tzinfo=UTC)) == "2026-12-14 09:00"
