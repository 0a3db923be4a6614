"""Outcome rules, recurrence links, follow-up dates and no-show tasks, applied to the database.

The daily flow calls :func:`apply_outcome_rules` and :func:`create_follow_up_tasks`
after ingest and matching; both return counts only and can be rerun for the same
date without changing anything a second time. The advisor's recordings
(``kvarboende record`` / ``episodes close``) go through :func:`record_activity`
and :func:`close_episode`, which write an Activity or a transition plus an audit
entry with who and when.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import NamedTuple

import polars as pl
from sqlalchemy import Engine, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from domain.formatting import STOCKHOLM
from domain.outcomes import (
    FACTS_SCHEMA,
    INTERVENTION_KINDS,
    INTERVENTION_LABEL_SV,
    INTERVENTIONS_SCHEMA,
    MANUAL_OUTCOMES,
    OPEN_STATUS_VALUES,
    OUTCOME_LABEL_SV,
    SETTLED,
    SETTLED_OUTCOMES,
    SOURCE_ADVISOR,
    SOURCE_SILENCE,
    ActivityKind,
    OutcomeRules,
    TaskKind,
    decide_outcomes,
    follow_up_dates,
    manual_settled_outcome,
    plan_follow_up_tasks,
    recurrence_links,
)
from models.audit import audit
from models.config import Settings
from models.db import session_scope
from models.domain import (
    TERMINAL_STATUSES,
    AppointmentStatus,
    EpisodeStatus,
    EventType,
    Outcome,
    OutcomeCertainty,
)
from models.errors import KvarboendeError
from models.tables import (
    Activity,
    Appointment,
    AppointmentSlot,
    Episode,
    EpisodeTransition,
    Notice,
    Task,
)

TASK_OPEN, TASK_DONE, TASK_CANCELLED = "open", "done", "cancelled"

#: Ids per ``IN (...)`` list: SQLite allows 32,766 parameters, PostgreSQL 65,535.
ID_CHUNK = 10_000

#: Activities that mean the household was reached: no home visit is needed after them.
CONTACT_KINDS: frozenset[str] = frozenset(
    {ActivityKind.CONTACTED, ActivityKind.HOME_VISIT, ActivityKind.ATTENDED}
)


def rules_from(settings: Settings) -> OutcomeRules:
    """The outcome rules as configured in ``[outcomes]``."""
    cfg = settings.outcomes
    return OutcomeRules(
        follow_up_days=cfg.follow_up_days,
        follow_up_check_days=cfg.follow_up_check_days,
        presume_settled_statuses=tuple(cfg.presume_settled_statuses),
        recurrence_months=cfg.recurrence_months,
    )


def stockholm_dates(values: list[datetime | None]) -> pl.Series:
    """Calendar days in Stockholm of stored timestamps (naive values are taken as UTC)."""
    series = pl.Series(
        [
            None if v is None else (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC)
            for v in values
        ],
        dtype=pl.Datetime("us", "UTC"),
    )
    return series.dt.convert_time_zone("Europe/Stockholm").dt.date()


def _frame(rows: list, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def candidate_condition():  # noqa: ANN201 - a SQLAlchemy boolean clause
    """Episodes the rules may act on: not closed, or closed by silence and since reported on.

    Closed-by-silence episodes without a settlement, execution or withdrawal notice are
    left out, so
    the daily work does not grow with the years of history.
    """
    e, n = Episode.__table__.c, Notice.__table__.c
    reported = select(n.episode_id).where(
        n.event_type.in_(
            [EventType.SETTLED.value, EventType.EVICTION_EXECUTED.value, EventType.WITHDRAWN.value]
        )
    )
    return or_(
        e.status != EpisodeStatus.CLOSED,
        and_(e.outcome_source == SOURCE_SILENCE, e.id.in_(reported)),
    )


def load_facts(session: Session) -> pl.DataFrame:
    """Facts for every episode the rules may act on (see :func:`candidate_condition`)."""
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
        )
        .outerjoin(notices, notices.c.episode_id == e.id)
        .outerjoin(activities, activities.c.episode_id == e.id)
        .where(candidate_condition())
        .order_by(e.id)
    ).all()
    columns = [
        "episode_id", "status", "outcome_source", "outcome_certainty", "last_event_date",
        "last_open_event_date", "settled_date", "executed_date", "withdrawn_date", "eviction_at",
        "last_activity_date", "follow_up_date",
    ]  # fmt: skip
    raw = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    eviction = stockholm_dates(raw.pop("eviction_at")).alias("eviction_date")
    schema = {**FACTS_SCHEMA, "follow_up_date": pl.Date()}
    schema.pop("eviction_date")
    frame = pl.DataFrame(raw, schema=schema)  # type: ignore[arg-type]
    return frame.with_columns(eviction)


def load_interventions(session: Session, episode_id: int | None = None) -> pl.DataFrame:
    """Intervening activities and attended meetings of episodes the rules may act on.

    With ``episode_id``: of that one episode, whatever its status (a manual close).
    """
    a, e = Activity.__table__.c, Episode.__table__.c
    candidates = select(e.id).where(
        candidate_condition() if episode_id is None else e.id == episode_id
    )
    rows = session.execute(
        select(a.episode_id, a.on_date, a.kind).where(
            a.kind.in_(sorted(INTERVENTION_KINDS)), a.episode_id.in_(candidates)
        )
    ).all()
    recorded = _frame(rows, INTERVENTIONS_SCHEMA)
    ap, slot = Appointment.__table__.c, AppointmentSlot.__table__.c
    met = session.execute(
        select(ap.episode_id, slot.starts_at)
        .join(AppointmentSlot.__table__, slot.id == ap.slot_id)
        .where(ap.status == AppointmentStatus.ATTENDED, ap.episode_id.in_(candidates))
    ).all()
    attended = pl.DataFrame(
        {
            "episode_id": pl.Series([r[0] for r in met], dtype=pl.Int64),
            "on_date": stockholm_dates([r[1] for r in met]),
            "kind": pl.Series([str(ActivityKind.ATTENDED)] * len(met), dtype=pl.String),
        }
    )
    return pl.concat([recorded, attended])


def _store_decisions(session: Session, decisions: pl.DataFrame) -> int:
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


def _store_follow_up_dates(session: Session, facts: pl.DataFrame, rules: OutcomeRules) -> int:
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


def _store_recurrences(session: Session, months: int) -> int:
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
    episodes = _frame(
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


def apply_outcome_rules(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Close every episode whose outcome the rules can tell today; counts per outcome.

    One transaction: outcome decisions (status → closed with a transition, outcome,
    date, source and certainty), presumed outcomes confirmed by late reports, recurrence
    links and refreshed follow-up dates. A rerun for the same date finds nothing new.
    """
    rules = rules_from(settings)
    with session_scope(engine) as session:
        facts = load_facts(session)
        interventions = load_interventions(session)
        decisions = decide_outcomes(facts, interventions, run_date, rules)
        closed = _store_decisions(session, decisions)
        follow_ups = _store_follow_up_dates(
            session, facts.filter(~pl.col("episode_id").is_in(decisions["episode_id"])), rules
        )
        recurrences = _store_recurrences(session, rules.recurrence_months)
    counts = {"episodes_checked": facts.height, "closed": closed}
    confirmed_later = decisions.filter(pl.col("from_status") == EpisodeStatus.CLOSED).height
    counts["confirmed_after_presumed"] = confirmed_later
    for outcome in Outcome:
        for certainty in (OutcomeCertainty.CONFIRMED, OutcomeCertainty.PRESUMED, None):
            n = decisions.filter(
                (pl.col("outcome") == outcome)
                & (
                    pl.col("outcome_certainty").is_null()
                    if certainty is None
                    else pl.col("outcome_certainty") == certainty
                )
            ).height
            if n:
                counts[f"{outcome}_{certainty or 'uncertain'}"] = n
    counts["follow_up_dates_set"] = follow_ups
    counts["recurrence_links_made"] = recurrences
    return counts


def create_follow_up_tasks(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Create the no-show tasks due by the Malmö routine; close those that are moot.

    Unique per episode, kind and round, so a rerun creates nothing twice. Open tasks of
    episodes that are no longer open are cancelled; open tasks of households reached
    since the missed meeting are done.
    """
    cfg = settings.outcomes
    with session_scope(engine) as session:
        ap, slot, e = (
            Appointment.__table__.c,
            AppointmentSlot.__table__.c,
            Episode.__table__.c,
        )
        rows = session.execute(
            select(ap.episode_id, e.has_children, slot.starts_at)
            .join(AppointmentSlot.__table__, slot.id == ap.slot_id)
            .join(Episode.__table__, e.id == ap.episode_id)
            .where(ap.status == AppointmentStatus.NO_SHOW, e.status.in_(OPEN_STATUS_VALUES))
        ).all()
        no_shows = pl.DataFrame(
            {
                "episode_id": pl.Series([r[0] for r in rows], dtype=pl.Int64),
                "has_children": pl.Series([bool(r[1]) for r in rows], dtype=pl.Boolean),
                "no_show_date": stockholm_dates([r[2] for r in rows]),
            }
        )
        a = Activity.__table__.c
        contacts = _frame(
            session.execute(
                select(a.episode_id, a.on_date).where(a.kind.in_(sorted(CONTACT_KINDS)))
            ).all(),
            {"episode_id": pl.Int64(), "on_date": pl.Date()},
        )
        planned = plan_follow_up_tasks(
            no_shows, contacts, run_date, cfg.phone_call_days, cfg.home_visit_days
        )
        created = _insert_tasks(session, planned)
        cancelled = _close_moot_tasks(session)
        done = _close_reached_tasks(session, no_shows, contacts)
    return {
        "no_shows": no_shows.height,
        "tasks_planned": planned.height,
        "tasks_created": created,
        "tasks_cancelled": cancelled,
        "tasks_done_by_contact": done,
    }


def _insert_tasks(session: Session, planned: pl.DataFrame) -> int:
    """Insert the planned tasks that do not exist yet (idempotent on episode, kind, round)."""
    if planned.is_empty():
        return 0
    t, ap = Task.__table__, Appointment.__table__
    missed = select(ap.c.episode_id).where(ap.c.status == AppointmentStatus.NO_SHOW)
    existing = _frame(
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
        [{**row, "status": TASK_OPEN, "created_at": now} for row in new.iter_rows(named=True)],
    )
    return new.height


def _close_moot_tasks(session: Session) -> int:
    """Cancel open tasks of episodes that closed or reached a terminal status."""
    t, e = Task.__table__, Episode.__table__
    result = session.execute(
        update(t)
        .where(
            t.c.status == TASK_OPEN,
            t.c.episode_id.in_(select(e.c.id).where(e.c.status.not_in(OPEN_STATUS_VALUES))),
        )
        .values(status=TASK_CANCELLED, done_at=datetime.now(UTC))
    )
    return result.rowcount or 0


def _close_reached_tasks(session: Session, no_shows: pl.DataFrame, contacts: pl.DataFrame) -> int:
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
    for start in range(0, len(ids), ID_CHUNK):  # databases limit the number of parameters
        result = session.execute(
            update(t)
            .where(t.c.status == TASK_OPEN, t.c.episode_id.in_(ids[start : start + ID_CHUNK]))
            .values(status=TASK_DONE, done_at=datetime.now(UTC))
        )
        done += result.rowcount or 0
    return done


# --- what the advisor records -------------------------------------------------------------

#: Tasks a recording completes: a call reached them, a visit was made, they came.
_TASKS_DONE_BY: dict[str, tuple[str, ...]] = {
    ActivityKind.CONTACTED: (TaskKind.PHONE_CALL,),
    ActivityKind.HOME_VISIT: (TaskKind.PHONE_CALL, TaskKind.HOME_VISIT),
    ActivityKind.ATTENDED: (TaskKind.PHONE_CALL, TaskKind.HOME_VISIT),
}


def _episode_or_error(session: Session, episode_id: int) -> Episode:
    episode = session.get(Episode, episode_id)
    if episode is None:
        raise KvarboendeError(f"episode {episode_id} not found")
    return episode


def record_activity(
    engine: Engine,
    episode_id: int,
    kind: ActivityKind,
    *,
    by: str,
    on_date: date,
    text: str | None = None,
) -> int:
    """Store what the advisor or caseworker did; returns the Activity id.

    ``attended`` and ``no_show`` also set the status of the episode's latest booked
    appointment (an error if there is none). Contact recordings complete the matching
    open tasks. Every recording is audit-logged with who; the free text stays in the
    Activity row only, never in the audit log.
    """
    with session_scope(engine) as session:
        episode = _episode_or_error(session, episode_id)
        if kind in (ActivityKind.ATTENDED, ActivityKind.NO_SHOW):
            appointment = session.scalars(
                select(Appointment)
                .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
                .where(
                    Appointment.episode_id == episode.id,
                    Appointment.status.in_(
                        [
                            AppointmentStatus.BOOKED,
                            AppointmentStatus.ATTENDED,
                            AppointmentStatus.NO_SHOW,
                        ]
                    ),
                )
                .order_by(AppointmentSlot.starts_at.desc(), Appointment.id.desc())
            ).first()
            if appointment is None:
                raise KvarboendeError(f"episode {episode_id} has no booked appointment")
            appointment.status = (
                AppointmentStatus.ATTENDED
                if kind == ActivityKind.ATTENDED
                else AppointmentStatus.NO_SHOW
            )
            audit(session, by, f"appointment_{appointment.status}", "appointment", appointment.id)
        activity = Activity(
            episode_id=episode.id, kind=str(kind), text=text or None, on_date=on_date, by=by
        )
        session.add(activity)
        session.flush()
        done_kinds = _TASKS_DONE_BY.get(kind, ())
        if done_kinds:
            session.execute(
                update(Task)
                .where(
                    Task.episode_id == episode.id,
                    Task.status == TASK_OPEN,
                    Task.kind.in_(done_kinds),
                )
                .values(status=TASK_DONE, done_at=datetime.now(UTC))
            )
        audit(session, by, f"record_{kind}", "episode", episode.id, f"activity {activity.id}")
        return activity.id


def record_children(engine: Engine, episode_id: int, count: int, *, by: str) -> None:
    """Record how many children live in the household (0: none); audit-logged with who.

    For households not known to social services nobody knows until someone asks: the
    advisor records it at the meeting, the phone call or the home visit. From then on
    children-first booking and the home visit after a no-show use it, and the worklist
    shows yes or no instead of "unknown". The count stays out of the audit entry.
    """
    if count < 0:
        raise KvarboendeError(f"--count must be 0 or more (0: no children), not {count}")
    with session_scope(engine) as session:
        episode = _episode_or_error(session, episode_id)
        episode.children_count = count
        episode.has_children = count > 0
        episode.children_known = True
        audit(session, by, "record_children", "episode", episode.id)


class ClosedEpisode(NamedTuple):
    """What :func:`close_episode` did: the status before, the outcome stored, and why."""

    previous_status: str
    outcome: str
    reason: str


def close_episode(
    engine: Engine,
    episode_id: int,
    outcome: str,
    *,
    by: str,
    on_date: date,
    text: str | None = None,
) -> ClosedEpisode:
    """Close an episode by hand with a confirmed outcome.

    For what only the advisor learns: the household moved out, the application was
    withdrawn, or a settlement the company did not report. Already closed episodes are
    refused unless their outcome was only presumed or unknown (closed by silence).
    A settlement is with or without support as the recorded interventions say
    (``settled`` lets them decide; an explicit choice that contradicts them is refused),
    so a manual close can never count a helped household as settled without intervention.
    """
    if outcome not in MANUAL_OUTCOMES:
        raise KvarboendeError(
            f"unknown outcome {outcome!r}, use one of {', '.join(MANUAL_OUTCOMES)}"
        )
    with session_scope(engine) as session:
        episode = _episode_or_error(session, episode_id)
        previous = episode.status
        if previous == EpisodeStatus.CLOSED and episode.outcome_source != SOURCE_SILENCE:
            raise KvarboendeError(
                f"episode {episode_id} is already closed "
                f"({episode.outcome}, {episode.outcome_source})"
            )
        support = None
        if outcome == SETTLED or outcome in SETTLED_OUTCOMES:
            try:
                outcome, support = manual_settled_outcome(
                    outcome, load_interventions(session, episode.id), on_date
                )
            except ValueError as exc:
                raise KvarboendeError(f"episode {episode_id}: {exc}") from None
        certainty = None if outcome == Outcome.UNKNOWN else OutcomeCertainty.CONFIRMED.value
        episode.status = EpisodeStatus.CLOSED.value
        episode.outcome = outcome
        episode.outcome_certainty = certainty
        episode.outcome_date = on_date
        episode.outcome_source = SOURCE_ADVISOR
        reason = f"Avslutat manuellt: {OUTCOME_LABEL_SV[outcome]}"
        if support:
            reason += f" ({INTERVENTION_LABEL_SV[support]})"
        session.add(
            EpisodeTransition(
                episode_id=episode.id,
                from_status=previous,
                to_status=EpisodeStatus.CLOSED.value,
                effective_date=on_date,
                reason=reason + (f" ({text})" if text else ""),
            )
        )
        session.execute(
            update(Task)
            .where(Task.episode_id == episode.id, Task.status == TASK_OPEN)
            .values(status=TASK_CANCELLED, done_at=datetime.now(UTC))
        )
        audit(session, by, "close_episode", "episode", episode.id, f"outcome {outcome}")
        return ClosedEpisode(previous, outcome, reason)


def local_today() -> date:
    """Today in Stockholm: the default run date of every command."""
    return datetime.now(STOCKHOLM).date()


def episode_timeline(engine: Engine, episode_id: int, *, by: str) -> dict[str, object]:
    """Everything recorded about one episode, oldest first, for ``kvarboende episodes show``.

    The read is audit-logged (who looked at which episode), because the answer holds
    the tenant's personal data.
    """
    with session_scope(engine) as session:
        episode = _episode_or_error(session, episode_id)
        transitions = session.execute(
            select(
                EpisodeTransition.at,
                EpisodeTransition.from_status,
                EpisodeTransition.to_status,
                EpisodeTransition.effective_date,
                EpisodeTransition.reason,
            )
            .where(EpisodeTransition.episode_id == episode_id)
            .order_by(EpisodeTransition.id)
        ).all()
        meetings = session.execute(
            select(
                AppointmentSlot.starts_at,
                AppointmentSlot.location,
                Appointment.status,
                Appointment.before_deadline,
            )  # fmt: skip
            .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .where(Appointment.episode_id == episode_id)
            .order_by(AppointmentSlot.starts_at, Appointment.id)
        ).all()
        activities = session.execute(
            select(Activity.on_date, Activity.kind, Activity.by, Activity.text)
            .where(Activity.episode_id == episode_id)
            .order_by(Activity.on_date, Activity.id)
        ).all()
        tasks = session.execute(
            select(Task.kind, Task.round, Task.due_date, Task.status)
            .where(Task.episode_id == episode_id)
            .order_by(Task.round, Task.kind)
        ).all()
        audit(session, by, "read_episode", "episode", episode_id)
        return {
            "episode": {
                column: getattr(episode, column)
                for column in (
                    "id",
                    "tenant_name",
                    "street_address",
                    "apartment",
                    "postal_code",
                    "town",
                    "status",
                    "routing",
                    "caseworker_id",
                    "opened_on",
                    "deadline_date",
                    "deadline_estimated",
                    "debt_amount",
                    "has_children",
                    "children_count",
                    "children_known",
                    "eviction_at",
                    "is_recurrence",
                    "previous_episode_id",
                    "follow_up_date",
                    "outcome",
                    "outcome_certainty",
                    "outcome_date",
                    "outcome_source",
                )
            },  # fmt: skip
            "transitions": [tuple(row) for row in transitions],
            "appointments": [tuple(row) for row in meetings],
            "activities": [tuple(row) for row in activities],
            "tasks": [tuple(row) for row in tasks],
        }
