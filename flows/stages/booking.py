"""Stage: book an appointment for every advisor-routed episode that has none.

Slots are materialised in ``appointment_slot`` for the booking horizon (idempotent:
one row per advisor and start time); the pure rule in :mod:`domain.booking` picks
the slots; a slot is taken with ``UPDATE ... SET booked = booked + 1 WHERE booked <
capacity`` so that two runs at the same time can never overbook it, and a partial
unique index allows one active appointment per episode.

An episode is booked once. An advisor who wants another time uses :func:`rebook`;
:func:`cancel` frees the slot and sends the tenant a cancellation. Neither a no-show
nor a cancellation is rebooked automatically: after a no-show the follow-up is a
phone call (see the outcome rules), not a second letter by itself.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from domain.booking import LeadTimes, assign_slots
from models.audit import current_actor
from models.config import Settings
from models.db import session_scope
from services import appointments
from services.appointments import (  # noqa: F401 - BookingError re-exported for callers
    BookingError,
    book,
    booking_requests,
    booking_window,
    free_slot_list,
    materialise_slots,
    review_episode_ids,
)
from services.letters import appointment_letter_queue, cancellation_letter_queue


def book_appointments(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Book every open episode due for a meeting that has none; returns counts.

    Advisor-routed episodes, and those whose match review is still undecided
    ``booking.review_book_working_days`` before their deadline (booked as unknown to
    social services). ``no_slot_before_eviction``: not booked because no free time lies
    ``booking.eviction_margin_working_days`` before the eviction (on the worklist).
    """
    counts = {
        "candidates": 0,
        "booked": 0,
        "after_deadline": 0,
        "short_notice": 0,
        "review_fallback": 0,
        "no_slot": 0,
        "no_slot_before_eviction": 0,
        "slots_added": 0,
    }
    if not settings.advisors:
        return counts
    first, last = booking_window(settings, run_date)
    with session_scope(engine) as session:
        counts["slots_added"] = materialise_slots(session, settings, run_date, last)
        requests = booking_requests(
            session,
            run_date,
            settings.booking.review_book_working_days,
            settings.letters.post_when_email_from_landlord,
        )
        counts["candidates"] = len(requests)
        if not requests:
            return counts
        reviews = review_episode_ids(session, [r.episode_id for r in requests])
        free = free_slot_list(session, settings, first, last)
        assignments = assign_slots(requests, free, run_date, LeadTimes.of(settings.booking))
        booked: set[int] = set()
        for assignment in assignments:
            if book(
                session,
                assignment.episode_id,
                assignment.slot_id,
                assignment.before_deadline,
                assignment.short_notice,
            ):
                booked.add(assignment.episode_id)
                counts["booked"] += 1
                counts["after_deadline"] += 0 if assignment.before_deadline else 1
                counts["short_notice"] += int(assignment.short_notice)
                counts["review_fallback"] += int(assignment.episode_id in reviews)
        counts["no_slot"] = counts["candidates"] - counts["booked"]
        counts["no_slot_before_eviction"] = sum(
            1 for r in requests if r.episode_id not in booked and r.eviction is not None
        )
    return counts


def cancel(
    engine: Engine,
    settings: Settings,
    episode_id: int,
    run_date: date,
    by: str | None = None,
) -> dict[str, int]:
    """Cancel the booked appointment and queue the tenant's cancellation letter; counts."""
    queue = cancellation_letter_queue(settings, run_date)
    with session_scope(engine) as session:
        done = appointments.cancel(session, episode_id, by=current_actor(by), queue_letter=queue)
    return {"cancelled": 1, "letters": done.letters}


def rebook(
    engine: Engine,
    settings: Settings,
    episode_id: int,
    run_date: date,
    by: str | None = None,
    by_post: bool = False,
) -> dict[str, int]:
    """Move the episode to the next free slot and queue a new letter version; counts."""
    with session_scope(engine) as session:
        done = appointments.rebook(
            session,
            settings,
            episode_id,
            run_date,
            by=current_actor(by),
            queue_letter=appointment_letter_queue(settings, run_date),
            by_post=by_post,
        )
    return {"rebooked": 1, "before_deadline": int(done.before_deadline), "letters": done.letters}
