"""What the demo reads: the day's visits and calls it plays the advisor for, and the
counts it prints at the end (the same figures on SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.episodes import PROVISIONAL_REOPEN_PREFIX
from domain.formatting import STOCKHOLM
from domain.vocabulary import (
    OPEN_STATUSES,
    AppointmentStatus,
    EpisodeStatus,
    LetterKind,
    LetterStatus,
    OutcomeCertainty,
    TaskKind,
    TaskStatus,
)
from models.tables import (
    Appointment,
    AppointmentSlot,
    Episode,
    EpisodeTransition,
    Letter,
    Notice,
    Task,
)
from services.reminders import reminder_counts


def booked_on(session: Session, day: date) -> list[int]:
    """Episodes with a booked appointment on ``day`` (Stockholm), in appointment order."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=STOCKHOLM)
    return list(
        session.scalars(
            select(Appointment.episode_id)
            .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .where(
                Appointment.status == AppointmentStatus.BOOKED,
                AppointmentSlot.starts_at >= start,
                AppointmentSlot.starts_at < start + timedelta(days=1),
            )
            .order_by(Appointment.id)
        )
    )


def no_shows_on(session: Session, day: date) -> list[int]:
    """Episodes whose meeting on ``day`` (Stockholm) was missed, in appointment order."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=STOCKHOLM)
    return list(
        session.scalars(
            select(Appointment.episode_id)
            .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .where(
                Appointment.status == AppointmentStatus.NO_SHOW,
                AppointmentSlot.starts_at >= start,
                AppointmentSlot.starts_at < start + timedelta(days=1),
            )
            .order_by(Appointment.id)
        )
    )


def evictions_without_meeting(session: Session, day: date, horizon_days: int) -> list[int]:
    """Open advisor episodes with an eviction within ``horizon_days`` and no booked meeting
    (the worklist's "Avhysningar inom kort" an advisor would offer a new time)."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=STOCKHOLM)
    booked = select(Appointment.episode_id).where(Appointment.status == AppointmentStatus.BOOKED)
    return list(
        session.scalars(
            select(Episode.id)
            .where(
                Episode.routing == "advisor",
                Episode.status.in_([s.value for s in OPEN_STATUSES]),
                Episode.eviction_at >= start,
                Episode.eviction_at < start + timedelta(days=horizon_days + 1),
                Episode.id.not_in(booked),
            )
            .order_by(Episode.id)
        )
    )


def calls_due(session: Session, day: date) -> list[int]:
    """Episodes with an open phone-call task due on ``day``, in task order."""
    return list(
        session.scalars(
            select(Task.episode_id)
            .where(
                Task.kind == TaskKind.PHONE_CALL,
                Task.status == TaskStatus.OPEN,
                Task.due_date == day,
            )
            .order_by(Task.id)
        )
    )


@dataclass(frozen=True)
class DemoCounts:
    """What the demo stored and queued, for its closing summary."""

    notices: int
    episodes: int
    routing: dict[str, int]
    letters: dict[str, int]
    appointment_channels: dict[str, int]
    reminders: dict[str, dict[str, int]]  # channel -> status -> count
    episodes_per_company: dict[str, int] = field(default_factory=dict)
    presumed_settled: int = 0  # closed for silence as settled (presumed), now
    presumed_reopened: int = 0  # closures for silence a late notice withdrew
    letters_per_episode: dict[int, int] = field(default_factory=dict)  # letters -> episodes
    post_copies_sent: int = 0  # emailed letters also posted (address from the landlord)


def demo_counts(session: Session) -> DemoCounts:
    """Notices, episodes by routing, letters by kind and appointment letters by channel."""
    routing = session.execute(select(Episode.routing, func.count()).group_by(Episode.routing))
    letters = session.execute(select(Letter.kind, func.count()).group_by(Letter.kind))
    channels = session.execute(
        select(Letter.channel, func.count())
        .where(Letter.kind == LetterKind.APPOINTMENT.value)
        .group_by(Letter.channel)
    )
    per_company = session.execute(
        select(Episode.company_id, func.count()).group_by(Episode.company_id)
    )
    presumed = session.scalar(
        select(func.count())
        .select_from(Episode)
        .where(Episode.outcome_certainty == OutcomeCertainty.PRESUMED.value)
    )
    reopened = session.scalar(
        select(func.count())
        .select_from(EpisodeTransition)
        .where(
            EpisodeTransition.from_status == EpisodeStatus.CLOSED.value,
            EpisodeTransition.reason.like(f"{PROVISIONAL_REOPEN_PREFIX}%"),
        )
    )
    per_episode = (
        select(Episode.id, func.count(Letter.id).label("n"))
        .outerjoin(
            Letter,
            (Letter.episode_id == Episode.id) & (Letter.kind == LetterKind.APPOINTMENT.value),
        )
        .group_by(Episode.id)
        .subquery()
    )
    histogram = session.execute(
        select(per_episode.c.n, func.count()).group_by(per_episode.c.n).order_by(per_episode.c.n)
    )
    return DemoCounts(
        notices=int(session.scalar(select(func.count()).select_from(Notice)) or 0),
        episodes=int(session.scalar(select(func.count()).select_from(Episode)) or 0),
        routing={str(k): int(v) for k, v in routing},
        letters={str(k): int(v) for k, v in letters},
        appointment_channels={str(k): int(v) for k, v in channels},
        reminders=reminder_counts(session),
        episodes_per_company={str(k): int(v) for k, v in per_company},
        presumed_settled=int(presumed or 0),
        presumed_reopened=int(reopened or 0),
        letters_per_episode={int(k): int(v) for k, v in histogram},
        post_copies_sent=int(
            session.scalar(
                select(func.count())
                .select_from(Letter)
                .where(
                    Letter.kind == LetterKind.POST_COPY.value,
                    Letter.status == LetterStatus.SENT.value,
                )
            )
            or 0
        ),
    )


def first_routed_caseworker(session: Session) -> str | None:
    """A caseworker with routed episodes, for the demo's caseworker login (None: none yet)."""
    return session.scalar(
        select(Episode.caseworker_id)
        .where(Episode.caseworker_id.is_not(None))
        .order_by(Episode.caseworker_id)
        .limit(1)
    )
