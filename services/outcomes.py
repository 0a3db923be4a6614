"""The outcome rules' reads and writes: episode facts, decisions, links, no-show tasks.

``flows.stages.outcomes`` loads with these, lets :mod:`domain.outcomes` decide, and stores
the result with these, in one transaction. Writes are executemany statements on the
core tables (one round trip per batch), guarded so that a rerun changes nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from sqlalchemy import and_, bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from domain.outcomes import (
    FACTS_SCHEMA,
    SOURCE_SILENCE,
    ActivityKind,
    OutcomeRules,
    follow_up_dates,
    recurrence_links,
)
from domain.vocabulary import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    AppointmentStatus,
    EpisodeStatus,
    EventType,
    TaskStatus,
)
from models.db import chunks, rowcount, rows_frame
from models.tables import (
    Activity,
    Appointment,
    AppointmentSlot,
    Episode,
    EpisodeTransition,
    Notice,
    Task,
)
from services._common import stockholm_dates
from services.episodes import candidate_condition

#: Activities that mean the household was reached: no home visit is needed after them.
CONTACT_KINDS: frozenset[str] = frozenset(
    {ActivityKind.CONTACTED, ActivityKind.HOME_VISIT, ActivityKind.ATTENDED}
)


def load_facts(session: Session, waits: pl.DataFrame | None = None) -> pl.DataFrame:
    """Facts for every episode the rules may act on (see :func:`candidate_condition`).

    With ``waits`` (``company_id, silence_days, check_days``: :func:`domain.rhythm.
    silence_frame`) each episode waits as long as its company's rhythm asks; without,
    the configured days. ``meeting_pending`` (a booked meeting not yet recorded) and
    ``task_open`` (an open follow-up task) keep silence from closing it.
    """
    n = Notice.__table__.c
    rank_open = [str(e) for e in (
        EventType.TERMINATION_NOTICE,
        EventType.PAYMENT_ORDER,
        EventType.DECISION,
        EventType.EVICTION_SCHEDULED,
    )]  # fmt: skip
    notices = (
        select(
            n.episode_id,
            func.max(n.event_date).label("last_event_date"),
            func.max(case((n.event_type.in_(rank_open), n.event_date))).label("last_open"),
            func.max(case((n.event_type == EventType.SETTLED, n.event_date))).label("settled"),
            func.max(case((n.event_type == EventType.EVICTION_EXECUTED, n.event_date))).label(
                "executed"
            ),
            func.max(case((n.event_type == EventType.WITHDRAWN, n.event_date))).label("withdrawn"),
        )
        .where(n.episode_id.is_not(None))
        .group_by(n.episode_id)
        .subquery()
    )
    a = Activity.__table__.c
    activities = (
        select(a.episode_id, func.max(a.on_date).label("last_activity"))
        .group_by(a.episode_id)
        .subquery()
    )
    e = Episode.__table__.c
    ap, t = Appointment.__table__.c, Task.__table__.c
    pending_meetings = select(ap.episode_id).where(ap.status == AppointmentStatus.BOOKED)
    open_tasks = select(t.episode_id).where(t.status == TaskStatus.OPEN)
    rows = session.execute(
        select(
            e.id,
            e.status,
            e.outcome_source,
            e.outcome_certainty,
            func.coalesce(notices.c.last_event_date, e.last_event_date, e.first_notice_date),
            notices.c.last_open,
            notices.c.settled,
            notices.c.executed,
            notices.c.withdrawn,
            e.eviction_at,
            activities.c.last_activity,
            e.follow_up_date,
            e.company_id,
            e.id.in_(pending_meetings),
            e.id.in_(open_tasks),
        )
        .outerjoin(notices, notices.c.episode_id == e.id)
        .outerjoin(activities, activities.c.episode_id == e.id)
        .where(candidate_condition())
        .order_by(e.id)
    ).all()
    columns = [
        "episode_id", "status", "outcome_source", "outcome_certainty", "last_event_date",
        "last_open_event_date", "settled_date", "executed_date", "withdrawn_date", "eviction_at",
        "last_activity_date", "follow_up_date", "company_id", "meeting_pending", "task_open",
    ]  # fmt: skip
    raw = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    eviction = stockholm_dates(raw.pop("eviction_at")).alias("eviction_date")
    schema = {
        **FACTS_SCHEMA,
        "follow_up_date": pl.Date(),
        "company_id": pl.String(),
        "meeting_pending": pl.Boolean(),
        "task_open": pl.Boolean(),
    }
    schema.pop("eviction_date")
    frame = pl.DataFrame(raw, schema=schema).with_columns(eviction)
    if waits is not None:
        frame = frame.join(waits, on="company_id", how="left")
    return frame


def store_decisions(session: Session, decisions: pl.DataFrame) -> int:
    """Close the decided episodes, each with one transition; returns how many changed."""
    if decisions.is_empty():
        return 0
    table = Episode.__table__
    rows = [
        {
            "b_id": d["episode_id"],
            "b_from": d["from_status"],
            "outcome": d["outcome"],
            "outcome_certainty": d["outcome_certainty"],
            "outcome_date": d["outcome_date"],
            "outcome_source": d["outcome_source"],
            "status": EpisodeStatus.CLOSED.value,
            "updated_at": datetime.now(UTC),
        }
        for d in decisions.iter_rows(named=True)
    ]
    stmt = (
        update(table)
        .where(and_(table.c.id == bindparam("b_id"), table.c.status == bindparam("b_from")))
        .values(
            status=bindparam("status"),
            outcome=bindparam("outcome"),
            outcome_certainty=bindparam("outcome_certainty"),
            outcome_date=bindparam("outcome_date"),
            outcome_source=bindparam("outcome_source"),
            updated_at=bindparam("updated_at"),
        )
    )
    session.connection().execute(stmt, rows)
    transitions = [
        {
            "episode_id": d["episode_id"],
            "from_status": d["from_status"],
            "to_status": EpisodeStatus.CLOSED.value,
            "effective_date": d["outcome_date"],
            "reason": (
                "Utfallet bekräftat: " + d["reason"]
                if d["from_status"] == EpisodeStatus.CLOSED
                else d["reason"]
            ),
            "at": datetime.now(UTC),
        }
        for d in decisions.iter_rows(named=True)
    ]
    session.connection().execute(insert(EpisodeTransition.__table__), transitions)
    return len(rows)


def store_follow_up_dates(session: Session, facts: pl.DataFrame, rules: OutcomeRules) -> int:
    """Refresh ``Episode.follow_up_date`` of open episodes where it changed."""
    wanted = follow_up_dates(facts, rules).join(
        facts.select("episode_id", current="follow_up_date"), on="episode_id", how="left"
    )
    changed = wanted.filter(
        pl.col("current").is_null() | (pl.col("current") != pl.col("follow_up_date"))
    )
    if changed.is_empty():
        return 0
    table = Episode.__table__
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(follow_up_date=bindparam("b_date"))
    )
    session.connection().execute(
        stmt,
        [
            {"b_id": i, "b_date": d}
            for i, d in changed.select("episode_id", "follow_up_date").iter_rows()
        ],
    )
    return changed.height


def store_recurrences(session: Session, months: int) -> int:
    """Link unlinked episodes to the same tenant's or tenancy's earlier one; returns links made.

    An earlier episode ended on its outcome date; one closed by silence on its last
    event (the silence date says when we gave up waiting, not when anything happened).
    """
    e = Episode.__table__.c
    terminal = [str(s) for s in TERMINAL_STATUSES if s != EpisodeStatus.CLOSED]
    end_date = case(
        (
            (e.status == EpisodeStatus.CLOSED) & (e.outcome_source != SOURCE_SILENCE),
            func.coalesce(e.outcome_date, e.last_event_date),
        ),
        (e.status == EpisodeStatus.CLOSED, func.coalesce(e.last_event_date, e.outcome_date)),
        (e.status.in_(terminal), e.last_event_date),
    )
    rows = session.execute(
        select(
            e.id,
            e.tenancy_key,
            case((e.personnummer_valid.is_(True), e.personnummer)),
            e.opened_on,
            end_date,
            e.previous_episode_id,
        )
    ).all()
    episodes = rows_frame(
        rows,
        {
            "episode_id": pl.Int64(),
            "tenancy_key": pl.String(),
            "personnummer": pl.String(),
            "opened_on": pl.Date(),
            "end_date": pl.Date(),
            "previous_episode_id": pl.Int64(),
        },
    )
    links = recurrence_links(episodes, months)
    if links.is_empty():
        return 0
    table = Episode.__table__
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.previous_episode_id.is_(None))
        .values(previous_episode_id=bindparam("b_prev"), is_recurrence=bindparam("b_flag"))
    )
    session.connection().execute(
        stmt,
        [
            {"b_id": i, "b_prev": p, "b_flag": f}
            for i, p, f in links.select(
                "episode_id", "previous_episode_id", "is_recurrence"
            ).iter_rows()
        ],
    )
    return links.height


def load_no_shows(session: Session) -> pl.DataFrame:
    """Missed meetings of open episodes, for the no-show tasks.

    Schema: ``episode_id`` Int64, ``has_children`` Boolean (null: nobody knows yet),
    ``no_show_date`` Date (the slot's day in Stockholm).
    """
    ap, slot, e = (
        Appointment.__table__.c,
        AppointmentSlot.__table__.c,
        Episode.__table__.c,
    )
    rows = session.execute(
        select(ap.episode_id, e.has_children, slot.starts_at, e.children_known)
        .join(AppointmentSlot.__table__, slot.id == ap.slot_id)
        .join(Episode.__table__, e.id == ap.episode_id)
        .where(ap.status == AppointmentStatus.NO_SHOW, e.status.in_(OPEN_STATUSES))
    ).all()
    return pl.DataFrame(
        {
            "episode_id": pl.Series([r[0] for r in rows], dtype=pl.Int64),
            "has_children": pl.Series(
                [bool(r[1]) if r[3] else None for r in rows], dtype=pl.Boolean
            ),
            "no_show_date": stockholm_dates([r[2] for r in rows]),
        }
    )


def load_contacts(session: Session) -> pl.DataFrame:
    """Activities that reached the household (:data:`CONTACT_KINDS`): no visit after them.

    Schema: ``episode_id`` Int64, ``on_date`` Date.
    """
    a = Activity.__table__.c
    return rows_frame(
        session.execute(
            select(a.episode_id, a.on_date).where(a.kind.in_(sorted(CONTACT_KINDS)))
        ).all(),
        {"episode_id": pl.Int64(), "on_date": pl.Date()},
    )


def insert_tasks(session: Session, planned: pl.DataFrame) -> int:
    """Insert the planned tasks that do not exist yet (idempotent on episode, kind, round)."""
    if planned.is_empty():
        return 0
    t, ap = Task.__table__, Appointment.__table__
    missed = select(ap.c.episode_id).where(ap.c.status == AppointmentStatus.NO_SHOW)
    existing = rows_frame(
        session.execute(
            select(t.c.episode_id, t.c.kind, t.c.round).where(t.c.episode_id.in_(missed))
        ).all(),
        {"episode_id": pl.Int64(), "kind": pl.String(), "round": pl.Int64()},
    )
    new = planned.join(existing, on=["episode_id", "kind", "round"], how="anti")
    if new.is_empty():
        return 0
    now = datetime.now(UTC)
    session.connection().execute(
        insert(t),
        [
            {**row, "status": TaskStatus.OPEN, "created_at": now}
            for row in new.iter_rows(named=True)
        ],
    )
    return new.height


def close_moot_tasks(session: Session) -> int:
    """Cancel open tasks of episodes that closed or reached a terminal status."""
    t, e = Task.__table__, Episode.__table__
    result = session.execute(
        update(t)
        .where(
            t.c.status == TaskStatus.OPEN,
            t.c.episode_id.in_(select(e.c.id).where(e.c.status.not_in(OPEN_STATUSES))),
        )
        .values(status=TaskStatus.CANCELLED, done_at=datetime.now(UTC))
    )
    return rowcount(result)


def close_reached_tasks(session: Session, no_shows: pl.DataFrame, contacts: pl.DataFrame) -> int:
    """Mark open tasks done when the household was reached after the latest missed meeting."""
    if no_shows.is_empty() or contacts.is_empty():
        return 0
    latest = no_shows.group_by("episode_id").agg(pl.col("no_show_date").max())
    reached = (
        latest.join(contacts, on="episode_id")
        .filter(pl.col("on_date") >= pl.col("no_show_date"))
        .select("episode_id")
        .unique()
    )
    if reached.is_empty():
        return 0
    t = Task.__table__
    done = 0
    ids = reached["episode_id"].to_list()
    for chunk in chunks(ids):  # databases limit the number of parameters
        result = session.execute(
            update(t)
            .where(t.c.status == TaskStatus.OPEN, t.c.episode_id.in_(chunk))
            .values(status=TaskStatus.DONE, done_at=datetime.now(UTC))
        )
        done += rowcount(result)
    return done
