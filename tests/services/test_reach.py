"""The issue-12 measures: pure rules, and loaded from SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
from booking_helpers import add_episode

from domain.booking import LeadTimes
from domain.reach import EPISODES_SCHEMA, LETTERS_SCHEMA, reach_measures

RULES = LeadTimes(postal_days=2, print_days=5, email_days=2, eviction_margin=2)


def letter(n: int, channel: str, created: date, meeting: date, **values: object) -> dict:
    row = {
        "letter_id": n,
        "episode_id": n,
        "kind": "appointment",
        "channel": channel,
        "post_copy": False,
        "status": "sent",
        "created_on": created,
        "sent_on": created,
        "meeting_on": meeting,
        "short_notice": False,
        "deadline_date": date(2026, 11, 30),
        "eviction_on": None,
    }
    row.update(values)
    return row


def test_lead_deadline_eviction_and_late_letters_are_counted() -> None:
    monday = date(2026, 11, 2)
    letters = pl.DataFrame(
        [
            letter(1, "print", monday, date(2026, 11, 9)),  # 5 working days: kept
            letter(2, "print", monday, date(2026, 11, 5), short_notice=True),  # 3: short
            letter(3, "email", monday, date(2026, 11, 4)),  # 2 by email: kept
            # Eviction Monday 9 Nov: the 5th keeps the margin, the 9th is the eviction day.
            letter(4, "print", monday, date(2026, 11, 5), eviction_on=date(2026, 11, 9)),
            letter(5, "print", monday, date(2026, 12, 9), eviction_on=date(2026, 11, 9)),
            letter(6, "print", monday, date(2026, 11, 9), sent_on=date(2026, 11, 3)),
            letter(7, "print", monday, date(2026, 11, 9), status="pending", sent_on=None),
            # The eviction was notified after the letter: counted apart.
            letter(
                8,
                "print",
                monday,
                date(2026, 11, 9),
                eviction_on=date(2026, 11, 6),
                eviction_known_on=date(2026, 11, 3),
            ),
        ],
        schema=LETTERS_SCHEMA,
    )
    m = reach_measures(letters, pl.DataFrame(schema=EPISODES_SCHEMA), date(2026, 11, 4), RULES)
    assert (m.letters, m.lead_kept, m.short_notice) == (8, 6, 1)
    assert (m.with_deadline, m.before_deadline) == (8, 7)
    assert (m.with_eviction, m.before_eviction, m.on_or_after_eviction) == (2, 1, 1)
    assert m.eviction_after_letter == 1
    assert (m.sent, m.sent_after_date, m.waiting_past_date) == (7, 1, 1)


def test_cancellations_and_post_copies_sent_late_count_but_not_as_appointments() -> None:
    monday, tuesday = date(2026, 11, 2), date(2026, 11, 3)
    meeting = date(2026, 11, 9)
    letters = pl.DataFrame(
        [
            letter(1, "email", monday, meeting),
            letter(2, "print", monday, meeting, kind="post_copy", sent_on=tuesday),
            letter(3, "email", monday, meeting, kind="appointment_cancelled", sent_on=tuesday),
            letter(4, "print", monday, meeting, kind="appointment_cancelled", status="pending",
                   sent_on=None),
        ],
        schema=LETTERS_SCHEMA,
    )  # fmt: skip
    m = reach_measures(letters, pl.DataFrame(schema=EPISODES_SCHEMA), tuesday, RULES)
    assert (m.letters, m.lead_kept, m.with_deadline) == (1, 1, 1)
    assert (m.sent, m.sent_after_date, m.waiting_past_date) == (3, 2, 1)


def test_an_emailed_letter_with_a_post_copy_wants_the_posts_lead_as_booking_does() -> None:
    monday = date(2026, 11, 2)
    thursday = date(2026, 11, 5)  # 3 working days: enough by email (2), not by post (5)
    letters = pl.DataFrame(
        [
            letter(1, "email", monday, thursday),
            letter(2, "email", monday, thursday, post_copy=True),
            letter(3, "email", monday, date(2026, 11, 9), post_copy=True),
        ],
        schema=LETTERS_SCHEMA,
    )
    m = reach_measures(letters, pl.DataFrame(schema=EPISODES_SCHEMA), monday, RULES)
    assert (m.letters, m.lead_kept) == (3, 2)
    assert RULES.wanted(True, post_copy=True) == RULES.wanted(False)


def test_an_episode_passing_its_deadline_unreached_is_counted() -> None:
    deadline = date(2026, 11, 16)
    episodes = pl.DataFrame(
        [
            (1, date(2026, 11, 2), deadline, None, None, date(2026, 11, 3)),  # lettered
            (2, date(2026, 11, 2), deadline, date(2026, 11, 2), None, None),  # caseworker
            (3, date(2026, 11, 2), deadline, None, None, None),  # nobody: unreached
            (4, date(2026, 11, 2), deadline, None, None, date(2026, 11, 16)),  # too late
            (5, date(2026, 11, 2), deadline, None, date(2026, 11, 5), None),  # settled
            (6, date(2026, 11, 17), deadline, None, None, None),  # opened after it
            (7, date(2026, 11, 2), date(2026, 12, 1), None, None, None),  # not yet passed
        ],
        schema=EPISODES_SCHEMA,
        orient="row",
    )
    m = reach_measures(pl.DataFrame(schema=LETTERS_SCHEMA), episodes, date(2026, 11, 20), RULES)
    assert (m.deadlines_passed, m.passed_unreached) == (4, 2)
    assert (m.opened_after_deadline, m.ended_before_deadline) == (1, 1)


def test_the_demo_figures_from_the_database(db_engine, settings) -> None:  # noqa: ANN001
    from flows.stages.booking import book_appointments
    from flows.stages.delivery import deliver_outbox
    from flows.stages.letters import create_letters
    from models.db import session_scope
    from services.reach import measure_reach

    run = date(2026, 11, 2)
    add_episode(db_engine, deadline=date(2026, 11, 30))
    add_episode(db_engine, deadline=date(2026, 11, 6))  # short notice forced
    add_episode(db_engine, deadline=date(2026, 11, 4), routing="caseworker")
    forgotten = add_episode(db_engine, deadline=date(2026, 11, 5), routing=None)
    book_appointments(db_engine, settings, run)
    create_letters(db_engine, settings, run)
    deliver_outbox(db_engine, settings, run)
    with session_scope(db_engine) as session:
        m = measure_reach(session, settings, date(2026, 11, 20))
    # Unmatched (no register yet) but close to its deadline: booked and lettered anyway.
    assert (m.letters, m.lead_kept, m.short_notice) == (3, 2, 1)
    assert (m.before_deadline, m.with_deadline) == (2, 3)
    assert (m.sent, m.sent_after_date, m.waiting_past_date) == (3, 0, 0)
    # Passed by the 20th: the 4th, 5th and 6th. The caseworker's episode has no matched_at
    # (never told): unreached; the short-notice one and the unmatched one got a letter.
    assert (m.deadlines_passed, m.passed_unreached) == (3, 1)
    assert forgotten


def test_only_letters_that_went_out_before_the_deadline_reach_the_tenant(
    db_engine, settings
) -> None:  # noqa: ANN001
    """A letter that failed (no address at all) or was never sent reached nobody."""
    from flows.stages.booking import book_appointments
    from flows.stages.delivery import deliver_outbox
    from flows.stages.letters import create_letters
    from models.db import session_scope
    from services.reach import measure_reach

    run = date(2026, 11, 2)
    add_episode(db_engine, deadline=date(2026, 11, 5), street=None)  # failed: no address
    add_episode(db_engine, deadline=date(2026, 11, 5))  # printed on the 2nd: reached
    book_appointments(db_engine, settings, run)
    create_letters(db_engine, settings, run)
    with session_scope(db_engine) as session:
        unsent = measure_reach(session, settings, date(2026, 11, 20))
    assert (unsent.deadlines_passed, unsent.passed_unreached) == (2, 2)  # none went out
    deliver_outbox(db_engine, settings, run)
    with session_scope(db_engine) as session:
        m = measure_reach(session, settings, date(2026, 11, 20))
    assert (m.deadlines_passed, m.passed_unreached) == (2, 1)


def test_cancellations_and_post_copies_are_measured_from_the_database(
    db_engine, settings, smtp_server
) -> None:  # noqa: ANN001
    from sqlalchemy import update

    from flows.stages.booking import book_appointments, cancel
    from flows.stages.delivery import deliver_outbox
    from flows.stages.letters import create_letters
    from models.db import session_scope
    from models.tables import Letter
    from services.reach import _letters, measure_reach

    settings.smtp.port = smtp_server.port
    settings.letters.post_when_email_from_landlord = True
    run = date(2026, 11, 2)
    episode = add_episode(db_engine, email="hyresgast@example.se")  # the landlord's address
    book_appointments(db_engine, settings, run)
    create_letters(db_engine, settings, run)
    deliver_outbox(db_engine, settings, run)
    cancel(db_engine, settings, episode, run)
    with session_scope(db_engine) as session:  # as if the cancellation went out a day late
        session.execute(
            update(Letter)
            .where(
                Letter.kind.in_(["appointment_cancelled", "post_copy"]), Letter.status == "pending"
            )
            .values(status="sent", sent_at=datetime(2026, 11, 3, 9, tzinfo=UTC))
        )
        frame = _letters(session)
        m = measure_reach(session, settings, date(2026, 11, 4))
    assert sorted(frame["kind"].to_list()) == [
        "appointment",
        "appointment_cancelled",
        "post_copy",
        "post_copy",
    ]
    emailed = frame.filter(pl.col("channel") == "email")
    assert emailed["post_copy"].to_list() == [True, True]
    assert (m.letters, m.sent, m.sent_after_date) == (1, 4, 2)
