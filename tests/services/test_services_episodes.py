"""services.episodes: search, show, record and the preconditions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from booking_helpers import add_caseworker, add_episode
from sqlalchemy import func, select

from domain.outcomes import ActivityKind
from flows.stages.booking import book_appointments
from models.db import session_scope
from models.errors import KvarboendeError, NotAllowed, NotFound
from models.tables import Activity, AuditLog, Episode
from services import episodes, matches

RUN = date(2026, 11, 2)  # a Monday
PNR = "198501012384"  # the helper's synthetic number


def _other_household(engine) -> int:  # noqa: ANN001
    episode_id = add_episode(engine, name="Bo Ek", street="Storgatan 3")
    with session_scope(engine) as session:
        session.get(Episode, episode_id).personnummer = "199001012380"
    return episode_id


def _found(engine, text: str) -> list[int]:  # noqa: ANN001
    with session_scope(engine) as session:
        page = episodes.list_episodes(session, by="anna", search=text)
    return [item.id for item in page.items]


@pytest.mark.parametrize(
    "written", [PNR, "19850101-2384", "8501012384", "850101-2384", "850101 - 2384"]
)
def test_search_finds_a_personnummer_however_it_is_written(db_engine, written: str) -> None:  # noqa: ANN001
    wanted = add_episode(db_engine)
    _other_household(db_engine)
    assert _found(db_engine, written) == [wanted]


def test_search_by_name_address_and_episode_number(db_engine) -> None:  # noqa: ANN001
    wanted = add_episode(db_engine, name="Åsa Öberg", street="Ringvägen 12")
    other = _other_household(db_engine)
    assert _found(db_engine, "åsa öb") == [wanted]  # any case, also Å and Ö on SQLite
    assert _found(db_engine, "RINGVÄGEN") == [wanted]
    assert _found(db_engine, str(other)) == [other]
    assert _found(db_engine, f"#{wanted}") == [wanted]
    assert _found(db_engine, "100%") == []  # a LIKE wildcard is only a character
    assert _found(db_engine, "   ") == [wanted, other]


def test_list_filters_by_caseworker_status_and_pages(db_engine) -> None:  # noqa: ANN001
    add_caseworker(db_engine, "hl1", None)
    add_caseworker(db_engine, "hl2", None)
    mine = [add_episode(db_engine, routing="caseworker", caseworker_id="hl1") for _ in range(3)]
    add_episode(db_engine, routing="caseworker", caseworker_id="hl2")
    add_episode(db_engine, routing="advisor")
    with session_scope(db_engine) as session:
        own = episodes.list_episodes(session, by="karin", caseworker_id="hl1")
        assert [i.id for i in own.items] == mine and own.total == 3
        assert {i.caseworker_id for i in own.items} == {"hl1"}
        page = episodes.list_episodes(session, by="karin", caseworker_id="hl1", limit=2, offset=2)
        assert [i.id for i in page.items] == mine[2:] and page.total == 3
        closed = episodes.list_episodes(session, by="karin", statuses=["closed"])
        assert closed.items == () and closed.total == 0
        with pytest.raises(KvarboendeError, match="unknown status 'open'"):
            episodes.list_episodes(session, by="karin", statuses=["open"])
        logged = session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "list_episodes")
        )
    assert logged == 3


def test_not_found_raises_not_found(db_engine) -> None:  # noqa: ANN001
    with session_scope(db_engine) as session:
        with pytest.raises(NotFound, match="episode 999999 not found"):
            episodes.show_episode(session, 999_999, by="anna")
        with pytest.raises(NotFound, match="episode 999999 not found"):
            episodes.record_activity(session, 999_999, ActivityKind.NOTE, by="anna", on_date=RUN)
        with pytest.raises(NotFound, match="episode 999999 not found"):
            episodes.close_episode(session, 999_999, "moved_out", by="anna", on_date=RUN)
        with pytest.raises(NotFound, match="match 999 not found"):
            matches.confirm(session, 999, by="anna")


def _meeting_day(engine, episode_id: int) -> date:  # noqa: ANN001
    from domain.formatting import STOCKHOLM

    with session_scope(engine) as session:
        detail = episodes.show_episode(session, episode_id, by="anna")
    (meeting,) = detail.appointments
    return meeting.starts_at.astimezone(STOCKHOLM).date()


def test_attendance_is_recorded_once_and_not_before_the_meeting(db_engine, settings) -> None:  # noqa: ANN001
    episode_id = add_episode(db_engine)
    book_appointments(db_engine, settings, RUN)
    day = _meeting_day(db_engine, episode_id)

    with session_scope(db_engine) as session, pytest.raises(NotAllowed, match="meeting is on"):
        episodes.record_activity(
            session, episode_id, ActivityKind.ATTENDED, by="anna", on_date=day - timedelta(1)
        )
    with session_scope(db_engine) as session:
        done = episodes.record_activity(
            session, episode_id, ActivityKind.ATTENDED, by="anna", on_date=day
        )
    assert done.appointment_status == "attended"
    with session_scope(db_engine) as session, pytest.raises(NotAllowed, match="already recorded"):
        episodes.record_activity(session, episode_id, ActivityKind.ATTENDED, by="anna", on_date=day)
    with session_scope(db_engine) as session:
        kinds = session.scalars(select(Activity.kind)).all()
        detail = episodes.show_episode(session, episode_id, by="anna")
    assert kinds == ["attended"]  # refused, not duplicated
    assert [a.status for a in detail.appointments] == ["attended"]
    assert [a.kind for a in detail.activities] == ["attended"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (ActivityKind.NO_SHOW, ActivityKind.NO_SHOW),
        (ActivityKind.NO_SHOW, ActivityKind.ATTENDED),
        (ActivityKind.ATTENDED, ActivityKind.NO_SHOW),
    ],
)
def test_a_meeting_is_recorded_once_whatever_the_second_outcome(
    db_engine,  # noqa: ANN001
    settings,  # noqa: ANN001
    first: ActivityKind,
    second: ActivityKind,
) -> None:
    """Two clicks, two advisors or a change of mind: the second recording is refused."""
    episode_id = add_episode(db_engine)
    book_appointments(db_engine, settings, RUN)
    day = _meeting_day(db_engine, episode_id)
    with session_scope(db_engine) as session:
        episodes.record_activity(session, episode_id, first, by="anna", on_date=day)
    recorded = "attended" if first == ActivityKind.ATTENDED else "missed"
    refused = f"already recorded as {recorded}; a meeting is recorded once"
    with session_scope(db_engine) as session, pytest.raises(NotAllowed, match=refused):
        episodes.record_activity(session, episode_id, second, by="karin", on_date=day)
    with session_scope(db_engine) as session:
        kinds = session.scalars(select(Activity.kind).order_by(Activity.id)).all()
        detail = episodes.show_episode(session, episode_id, by="anna")
        meeting = episodes.meeting_to_record(session, episode_id)
        assert meeting is not None
        recording = episodes.meeting_recording(session, episode_id, meeting)
    assert kinds == [str(first)]
    assert [a.status for a in detail.appointments] == [episodes.MEETING_KINDS[first]]
    assert recording is not None
    assert (recording.kind, recording.by, recording.on_date) == (str(first), "anna", day)


def test_a_booked_meeting_has_no_recording(db_engine, settings) -> None:  # noqa: ANN001
    episode_id = add_episode(db_engine)
    book_appointments(db_engine, settings, RUN)
    with session_scope(db_engine) as session:
        episodes.record_activity(session, episode_id, ActivityKind.NOTE, by="anna", on_date=RUN,
                                 text="Ringde")  # fmt: skip
        meeting = episodes.meeting_to_record(session, episode_id)
        assert meeting is not None
        assert episodes.meeting_recording(session, episode_id, meeting) is None


def test_show_gives_letters_meetings_and_history(db_engine, settings) -> None:  # noqa: ANN001
    from flows.stages.letters import create_letters

    episode_id = add_episode(db_engine)
    book_appointments(db_engine, settings, RUN)
    create_letters(db_engine, settings, RUN)
    with session_scope(db_engine) as session:
        episodes.close_episode(session, episode_id, "moved_out", by="anna", on_date=RUN)
    with session_scope(db_engine) as session:
        detail = episodes.show_episode(session, episode_id, by="anna")
    assert detail.episode.id == episode_id and detail.episode.status == "closed"
    assert detail.episode.deadline_date == date(2026, 11, 30)
    assert detail.transitions[-1].to_status == "closed"
    assert detail.transitions[-1].reason.startswith("Avslutat manuellt")
    (letter,) = detail.letters
    assert (letter.kind, letter.version) == ("appointment", 1)
    assert letter.pdf_available == bool(letter.pdf_path)
    assert detail.match is None and len(detail.appointments) == 1
