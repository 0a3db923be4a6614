"""The matching stage on SQLite and PostgreSQL: routing, children, review decisions."""

from __future__ import annotations

from pathlib import Path

import pytest
from register_helpers import RUN, add_episode, pnr, write_register
from sqlalchemy import func, select

from flows.stages.cases import import_register
from flows.stages.matching import decide_match, match_episodes
from models.config import Settings
from models.db import session_scope
from models.errors import KvarboendeError
from models.tables import AuditLog, Episode, Match


@pytest.fixture
def register(db_engine, tmp_path: Path):
    cases, household = write_register(tmp_path)
    import_register(db_engine, Settings(), cases, household, taken_on=RUN)
    return db_engine


def test_routing_by_tier_with_household_member_and_children(register) -> None:
    engine = register
    client = add_episode(engine, "k1", pnr("19800101123"), "Anna Häggström")
    partner = add_episode(engine, "k2", pnr("19850202456"), "Lars Berg")
    stranger = add_episode(engine, "k3", pnr("19770707777"), "Per Persson")
    review = add_episode(
        engine, "k4", None, "Omar Alizadeh", street_address="Björkvägen 3", apartment="1001",
        postal_code="12346",
    )  # fmt: skip
    counts = match_episodes(engine, Settings(), RUN)
    assert counts["episodes"] == 4
    assert counts["certain"] == 2 and counts["none"] == 1 and counts["possible"] == 1
    with session_scope(engine) as session:
        got = {e.id: e for e in session.scalars(select(Episode))}
        assert got[client].routing == "caseworker" and got[client].caseworker_id == "hs1"
        assert got[client].has_children and got[client].children_count == 2
        # The partner of a client is known: routed to the client's caseworker.
        assert got[partner].routing == "caseworker" and got[partner].case_id == got[client].case_id
        assert got[stranger].routing == "advisor" and got[stranger].case_id is None
        assert got[review].routing == "review" and got[review].case_id is None
        assert all(e.snapshot_id is not None and e.matched_at is not None for e in got.values())
        pending = session.scalars(select(Match).where(Match.episode_id == review)).one()
        assert pending.decision == "pending" and pending.case_ref == "C2"
        assert "samma adress och lägenhet" in pending.reasons
        # Audit entries carry ids only.
        details = session.scalars(select(AuditLog.detail)).all()
        assert not any("Anna" in (d or "") or "1980" in (d or "") for d in details)
    # A second run has nothing new to do.
    assert match_episodes(engine, Settings(), RUN)["episodes"] == 0


def test_confirm_and_reject_are_respected_on_later_episodes(register) -> None:
    engine = register
    tenant = pnr("19660606666")
    first = add_episode(
        engine, "k1", tenant, "Omar Ali", street_address="Björkvägen 3", apartment="1001",
        postal_code="12346",
    )  # fmt: skip
    match_episodes(engine, Settings(), RUN)
    with session_scope(engine) as session:
        match = session.scalars(select(Match).where(Match.episode_id == first)).one()
        assert match.tier == "possible"
    decide_match(engine, match.id, confirm=True, by="anna")
    with session_scope(engine) as session:
        episode = session.get(Episode, first)
        assert episode.routing == "caseworker" and episode.caseworker_id == "lb3"
        actions = session.scalars(select(AuditLog.action).where(AuditLog.actor == "anna")).all()
        assert actions == ["match.confirm"]
    with pytest.raises(KvarboendeError, match="already confirmed"):
        decide_match(engine, match.id, confirm=False, by="anna")

    # A new episode for the same tenant and case goes straight to the caseworker.
    second = add_episode(engine, "k9", tenant, "Omar Ali", street_address="Annan väg 1")
    match_episodes(engine, Settings(), RUN)
    with session_scope(engine) as session:
        episode = session.get(Episode, second)
        assert episode.routing == "caseworker" and episode.caseworker_id == "lb3"
        assert session.scalars(select(Match).where(Match.episode_id == second)).one().decision == (
            "confirmed"
        )


def test_rejected_pair_is_not_proposed_again(register) -> None:
    engine = register
    tenant = pnr("19660606666")
    fields = {"street_address": "Björkvägen 3", "apartment": "1001", "postal_code": "12346"}
    first = add_episode(engine, "k1", tenant, "Omar Ali", **fields)
    match_episodes(engine, Settings(), RUN)
    with session_scope(engine) as session:
        match_id = session.scalars(select(Match.id).where(Match.episode_id == first)).one()
    decide_match(engine, match_id, confirm=False, by="anna")
    with session_scope(engine) as session:
        assert session.get(Episode, first).routing == "advisor"
    second = add_episode(engine, "k2", tenant, "Omar Ali", **fields)
    match_episodes(engine, Settings(), RUN)
    with session_scope(engine) as session:
        episode = session.get(Episode, second)
        assert episode.routing == "advisor" and episode.case_id is None
        assert session.scalar(select(func.count()).select_from(Match)) == 2


def test_unknown_match_id_is_one_line(register) -> None:
    with pytest.raises(KvarboendeError, match="match 999 not found"):
        decide_match(register, 999, confirm=True, by="anna")


def test_without_a_register_episodes_wait(db_engine) -> None:
    add_episode(db_engine, "k1", pnr("19800101123"), "Anna")
    counts = match_episodes(db_engine, Settings(), RUN)
    assert counts == {"episodes": 1, "waiting_for_register": 1}


@pytest.mark.parametrize("confirm", [True, False])
def test_decision_without_a_number_is_respected_on_the_next_run(register, confirm) -> None:
    """No personnummer: the decision is tied to the tenant's name and home instead."""
    engine = register
    home = {"street_address": "Björkvägen 3", "apartment": "1001", "postal_code": "12346"}
    first = add_episode(engine, "k1", None, "Omar Ali", **home)
    match_episodes(engine, Settings(), RUN)
    with session_scope(engine) as session:
        match = session.scalars(select(Match).where(Match.episode_id == first)).one()
        assert (match.tier, match.decision) == ("possible", "pending")
    decide_match(engine, match.id, confirm=confirm, by="anna")
    # The same tenant, name written surname first, on the next run: no new review.
    second = add_episode(engine, "k2", None, "Ali, Omar", **home)
    stranger = add_episode(engine, "k3", None, "Omar Alizadeh", **home)
    match_episodes(engine, Settings(), RUN)
    with session_scope(engine) as session:
        episode = session.get(Episode, second)
        later = session.scalars(select(Match).where(Match.episode_id == second)).one()
        if confirm:
            assert episode.routing == "caseworker" and episode.caseworker_id == "lb3"
            assert later.decision == "confirmed"
        else:
            assert episode.routing == "advisor" and episode.case_id is None
            assert later.tier == "none" and later.case_ref is None
        # Someone else in the same flat is still proposed for review, not bound by it.
        assert session.get(Episode, stranger).routing == "review"


# --- issue 12: matching again when a number or a new register arrives -----------------------


def _set(engine, episode_id: int, **values: object) -> None:  # noqa: ANN001
    with session_scope(engine) as session:
        episode = session.get(Episode, episode_id)
        for name, value in values.items():
            setattr(episode, name, value)


def test_a_valid_number_from_a_later_notice_matches_again(register) -> None:
    engine = register
    review = add_episode(
        engine, "k4", None, "Omar Alizadeh", street_address="Björkvägen 3", apartment="1001",
        postal_code="12346",
    )  # fmt: skip
    unmatched = add_episode(engine, "k5", None, "Per Persson", street_address="Ekvägen 9")
    known = add_episode(engine, "k1", pnr("19800101123"), "Anna Häggström", personnummer_valid=True)
    first = match_episodes(engine, Settings(), RUN)
    assert first["rematched"] == 0
    with session_scope(engine) as session:
        assert session.get(Episode, unmatched).routing == "advisor"
    # Later notices bring valid numbers: the review's tenant is the client of case C2; the
    # unmatched tenant turns out to be the client of C1.
    _set(engine, review, personnummer=pnr("19900303789"), personnummer_valid=True)
    _set(engine, unmatched, personnummer=pnr("19800101123"), personnummer_valid=True)
    counts = match_episodes(engine, Settings(), RUN)
    assert counts["episodes"] == 0 and counts["rematched"] == 2
    assert counts["rematch_moved"] == 1 and counts["rematch_pending"] == 1
    with session_scope(engine) as session:
        got = {e.id: e for e in session.scalars(select(Episode))}
        # In review, no meeting: routed like a first match; the old review superseded.
        assert got[review].routing == "caseworker" and got[review].caseworker_id == "lb3"
        decisions = session.scalars(
            select(Match.decision).where(Match.episode_id == review).order_by(Match.id)
        ).all()
        assert decisions == ["superseded", "auto"]
        # Already with the advisor: not moved, the case waits for the advisor.
        assert got[unmatched].routing == "advisor" and got[unmatched].case_id is None
        pending = session.scalars(
            select(Match).where(Match.episode_id == unmatched, Match.decision == "pending")
        ).one()
        assert pending.case_ref == "C1"  # the number matches, the name does not: possible
        assert got[known].routing == "caseworker"  # routed: never matched again
        assert session.scalar(select(func.count()).select_from(Match)) == 5
    # Nothing changed since: a rerun does nothing; the advisor's decision routes it.
    assert match_episodes(engine, Settings(), RUN)["rematched"] == 0
    decide_match(engine, pending.id, confirm=True, by="anna")
    with session_scope(engine) as session:
        assert session.get(Episode, unmatched).routing == "caseworker"


def test_a_new_register_snapshot_matches_reviews_again(register, tmp_path: Path) -> None:
    engine = register
    review = add_episode(
        engine, "k4", None, "Omar Alizadeh", street_address="Björkvägen 3", apartment="1001",
        postal_code="12346",
    )  # fmt: skip
    booked = add_episode(
        engine, "k6", None, "Omar Alizadeh", street_address="Björkvägen 3", apartment="1001",
        postal_code="12346", contract_ref="K6",
    )  # fmt: skip
    match_episodes(engine, Settings(), RUN)
    with session_scope(engine) as session:
        assert {session.get(Episode, i).routing for i in (review, booked)} == {"review"}
    # The second one was booked and lettered as unknown while its review waited.
    from booking_helpers import ensure_company  # noqa: F401 - the company exists already

    from models.tables import Appointment, AppointmentSlot

    with session_scope(engine) as session:
        slot = AppointmentSlot(
            advisor_id="a1", location="M", starts_at=utc_at(9), ends_at=utc_at(10), booked=1
        )
        session.add(slot)
        session.flush()
        session.add(Appointment(episode_id=booked, slot_id=slot.id, status="booked"))
    # Case C2 is closed in the new export: the possible match is gone.
    folder = tmp_path / "new"
    folder.mkdir()
    cases, household = write_register(folder)
    lines = cases.read_text(encoding="utf-8").splitlines()
    cases.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    household.write_text("case_id;personnummer;name;relation;birth_date\n", encoding="utf-8")
    import_register(engine, Settings(), cases, household, taken_on=RUN)
    counts = match_episodes(engine, Settings(), RUN)
    assert counts["rematched"] == 2
    with session_scope(engine) as session:
        # No meeting: the review is gone, the advisor books a letter.
        assert session.get(Episode, review).routing == "advisor"
        # Booked while waiting: not moved by itself (nothing found now, nothing stored).
        assert session.get(Episode, booked).routing == "review"
        assert session.scalars(
            select(Match.decision).where(Match.episode_id == review).order_by(Match.id)
        ).all() == ["superseded", "auto"]


def utc_at(hour: int):  # noqa: ANN201
    from datetime import UTC, datetime

    return datetime(2026, 11, 9, hour, tzinfo=UTC)
