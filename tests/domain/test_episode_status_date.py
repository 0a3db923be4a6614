"""The day a stored episode reached its status: the one copy the ingest stage uses."""

from __future__ import annotations

from datetime import date

from domain.episodes import status_reached_on
from domain.outcomes import SOURCE_SILENCE

LAST = date(2026, 3, 1)
OUTCOME = date(2026, 9, 1)
MOVED = date(2026, 2, 1)


def test_closed_by_silence_ended_with_its_last_event() -> None:
    assert status_reached_on("closed", LAST, OUTCOME, SOURCE_SILENCE, None) == LAST


def test_other_closed_episodes_ended_on_their_outcome_date() -> None:
    assert status_reached_on("closed", LAST, OUTCOME, "advisor", None) == OUTCOME
    assert status_reached_on("closed", LAST, None, "advisor", None) == LAST


def test_open_episodes_date_from_their_transition_else_the_last_event() -> None:
    assert status_reached_on("decision", LAST, None, None, MOVED) == MOVED
    assert status_reached_on("decision", LAST, OUTCOME, None, None) == LAST
