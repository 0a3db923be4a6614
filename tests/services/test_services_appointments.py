"""services.appointments: free slots, rebooking to a chosen slot, refusals (both databases)."""

from __future__ import annotations

from datetime import date

import pytest
from booking_helpers import add_episode
from sqlalchemy import select

from domain.formatting import STOCKHOLM
from flows.stages.booking import book_appointments
from models.db import session_scope
from models.errors import NotAllowed, NotFound
from models.tables import Appointment, AppointmentSlot, Letter
from services import appointments
from services.letters import appointment_letter_queue

RUN = date(2026, 11, 2)


def _slot_of(engine, episode_id: int) -> int:  # noqa: ANN001
    with session_scope(engine) as session:
        return session.scalars(
            select(Appointment.slot_id).where(
                Appointment.episode_id == episode_id, Appointment.status == "booked"
            )
        ).one()


def _rebook(engine, settings, episode_id: int, **choice: object) -> appointments.Rebooked:  # noqa: ANN001
    with session_scope(engine) as session:
        return appointments.rebook(
            session,
            settings,
            episode_id,
            RUN,
            by="anna",
            queue_letter=appointment_letter_queue(settings, RUN),
            **choice,  # type: ignore[arg-type]
        )


def test_free_slots_leave_out_taken_and_own_slots(db_engine, settings) -> None:  # noqa: ANN001
    first, second = add_episode(db_engine), add_episode(db_engine)
    book_appointments(db_engine, settings, RUN)
    taken = {_slot_of(db_engine, first), _slot_of(db_engine, second)}
    with session_scope(db_engine) as session:
        options = appointments.free_slots(session, settings, first, RUN)
    ids = [o.slot_id for o in options]
    assert options and not taken & set(ids)
    assert [o.starts_at for o in options] == sorted(o.starts_at for o in options)
    assert all(o.free == 1 and o.location for o in options)
    assert all(
        o.before_deadline == (o.starts_at.astimezone(STOCKHOLM).date() < date(2026, 11, 30))
        for o in options
    )


def test_rebook_to_a_taken_slot_is_refused_and_changes_nothing(db_engine, settings) -> None:  # noqa: ANN001
    first, second = add_episode(db_engine), add_episode(db_engine)
    book_appointments(db_engine, settings, RUN)
    mine, theirs = _slot_of(db_engine, first), _slot_of(db_engine, second)
    with pytest.raises(NotAllowed, match="is not free: fully booked"):
        _rebook(db_engine, settings, first, slot_id=theirs)
    assert _slot_of(db_engine, first) == mine
    with session_scope(db_engine) as session:
        assert session.scalars(select(Letter)).all() == []
        assert session.get(AppointmentSlot, theirs).booked == 1


def test_rebook_to_a_chosen_slot_or_time(db_engine, settings) -> None:  # noqa: ANN001
    episode = add_episode(db_engine)
    book_appointments(db_engine, settings, RUN)
    old = _slot_of(db_engine, episode)
    with session_scope(db_engine) as session:
        options = appointments.free_slots(session, settings, episode, RUN)
    chosen = options[3]
    done = _rebook(db_engine, settings, episode, slot_id=chosen.slot_id)
    assert (done.slot_id, done.starts_at, done.letters) == (chosen.slot_id, chosen.starts_at, 1)
    with session_scope(db_engine) as session:
        assert session.get(AppointmentSlot, old).booked == 0
        assert session.get(AppointmentSlot, chosen.slot_id).booked == 1
    # By time, in Stockholm wall-clock time: the next free option.
    later = options[5]
    local = later.starts_at.astimezone(STOCKHOLM)
    assert _rebook(db_engine, settings, episode, starts_at=local).slot_id == later.slot_id
    with pytest.raises(NotAllowed, match="already the episode's time"):
        _rebook(db_engine, settings, episode, starts_at=local)  # its own slot now
    with pytest.raises(NotFound):
        _rebook(db_engine, settings, 999_999)
