"""services.worklists and services.matches on both databases."""

from __future__ import annotations

from datetime import date

import pytest
from booking_helpers import add_caseworker, add_episode

from models.db import session_scope
from models.errors import NotFound
from services import worklists

RUN = date(2026, 11, 4)  # two days after the helper opens its episodes


def test_a_caseworker_sees_only_their_episodes(db_engine, settings) -> None:  # noqa: ANN001
    add_caseworker(db_engine, "hl1", None)
    add_caseworker(db_engine, "hl2", None)
    mine = {add_episode(db_engine, routing="caseworker", caseworker_id="hl1") for _ in range(2)}
    theirs = add_episode(db_engine, routing="caseworker", caseworker_id="hl2")
    add_episode(db_engine, routing="advisor")
    with session_scope(db_engine) as session:
        own = worklists.caseworker_worklist(session, settings, RUN, "hl1")
        with pytest.raises(NotFound, match="unknown caseworker"):
            worklists.caseworker_worklist(session, settings, RUN, "nobody")
        other = worklists.caseworker_worklist(session, settings, RUN, "hl2")
    assert own.owner == "caseworker:hl1"
    assert set(own.rows["episode_id"].to_list()) == mine
    assert other.rows["episode_id"].to_list() == [theirs]
