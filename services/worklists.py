"""The daily worklists' content: which episodes each advisor and caseworker sees, and why.

Read-only queries shared by ``kvarboende worklist``, the daily stage that writes the
files (``flows.stages.worklist``) and the web portal. What a row says and in which
section lies in :mod:`domain.worklist`; this module loads the inputs once and cuts
them per owner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, Select, func, or_, select, union_all
from sqlalchemy.orm import Session

from domain.delivery import problem_of
from domain.formatting import STOCKHOLM
from domain.vocabulary import OPEN_STATUSES, AppointmentStatus, MatchDecision, Routing, TaskStatus
from domain.worklist import (
    ADVISOR,
    APPOINTMENTS_SCHEMA,
    CASEWORKER,
    EPISODES_SCHEMA,
    LETTERS_SCHEMA,
    MATCHES_SCHEMA,
    STAFF_EMAIL_KINDS,
    STAFF_EMAILS_SCHEMA,
    TASKS_SCHEMA,
    TENANT_LETTER_KINDS,
    UNDELIVERED_LETTER_STATUSES,
    WAITING_LETTER_STATUSES,
    Worklist,
    WorklistInputs,
    build_sections,
)
from models.config import Settings
from models.db import id_in, insert_or_ignore, rows_frame
from models.errors import NotFound
from models.tables import (
    Appointment,
    AppointmentSlot,
    Caseworker,
    Episode,
    Letter,
    Match,
    Reminder,
    Task,
    WorklistRun,
)
from services._common import start_of_day, stockholm_series
from services.reminders import ReminderStatus, failed_reminders

#: The audit log's actor for what the daily job does by itself.
SYSTEM_ACTOR = "kvarboende"

#: When an owner never had a worklist, "new episodes" means opened within this many days.
FIRST_LIST_LOOKBACK_DAYS = 7


def _columns(rows: Sequence[Any], names: list[str]) -> dict[str, Any]:
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def previous_run_date(session: Session, owner: str, run_date: date) -> date | None:
    """The date of the owner's last worklist before ``run_date`` (None: there was none)."""
    return session.scalar(
        select(func.max(WorklistRun.for_date)).where(
            WorklistRun.owner == owner, WorklistRun.for_date < run_date
        )
    )


def _letter_problems() -> Select[Any]:
    """Episodes with a tenant letter undelivered, waiting or flagged (any of them: only the
    latest counts, so this is wider than the section)."""
    lt = Letter.__table__.c
    return select(lt.episode_id).where(
        lt.kind.in_(TENANT_LETTER_KINDS),
        lt.status.in_(UNDELIVERED_LETTER_STATUSES + WAITING_LETTER_STATUSES) | lt.flagged,
    )


def _shown(since: date, run_date: date) -> ColumnElement[bool]:
    """Episodes a worklist of ``run_date`` can show: a superset of what
    :func:`domain.worklist.build_sections` turns into rows, so that a list loads the few
    thousand episodes it may show, not every open one (the advisor's page reads this on
    every view; ``test_worklist_candidates`` proves the lists are the same as from every
    episode). One condition per section, each a little wider than the section's rule
    (a day either side for Stockholm time against stored UTC):

    - an open episode with an eviction from the day before ``run_date`` on, however far
      ahead: the evictions within the horizon, and the advisor episodes that could not
      be booked before theirs (section 6, which has no horizon);
    - a booked meeting from the day before ``run_date`` on: today's and the next working
      day's meetings (whatever the status), meetings after the deadline or too close to
      the eviction, the failed reminders (only of meetings still to come);
    - an open episode with a booked meeting, whatever its day: the passed meetings
      nobody recorded (asked about while the episode is open);
    - a failed reminder (the reminder's own episode, in case it differs);
    - an open task; a pending match (urgent reviews and matches to confirm);
    - opened after ``since`` (new episodes, whatever their status);
    - a tenant letter undelivered, waiting or flagged (only the latest counts, so this
      is wider than the section);
    - an open episode past its follow-up date (no news after the company's rhythm,
      or the eviction day passed without word).
    """
    e, a, r = Episode.__table__.c, Appointment.__table__.c, Reminder.__table__.c
    t, m = Task.__table__.c, Match.__table__.c
    slot = AppointmentSlot.__table__.c
    day_start = datetime.combine(run_date, datetime.min.time(), STOCKHOLM).astimezone(UTC)
    is_open = e.status.in_([s.value for s in OPEN_STATUSES])
    booked = select(a.episode_id).where(a.status == AppointmentStatus.BOOKED)
    coming = booked.join(AppointmentSlot.__table__, slot.id == a.slot_id).where(
        slot.starts_at >= day_start - timedelta(days=1)
    )
    reminders = select(r.episode_id).where(r.status == ReminderStatus.FAILED)
    tasks = select(t.episode_id).where(t.status == TaskStatus.OPEN)
    matches = select(m.episode_id).where(m.decision == MatchDecision.PENDING)
    letters = _letter_problems()
    # Grouped so that PostgreSQL checks the status once and probes one set of ids for
    # the small tables, not one per table (a seq scan of every episode either way).
    return or_(
        is_open
        & or_(
            e.eviction_at >= day_start - timedelta(days=1),
            e.follow_up_date <= run_date,
            e.id.in_(booked),
        ),
        e.opened_on > since,
        e.id.in_(union_all(coming, reminders, tasks, matches, letters)),
    )


def _load_episodes(session: Session, shown: ColumnElement[bool]) -> pl.DataFrame:
    """Episodes a worklist can show (see :func:`_shown`); children null when not known."""
    e, cw = Episode.__table__.c, Caseworker.__table__.c
    names = [
        "episode_id", "tenant_name", "street_address", "apartment", "postal_code", "town",
        "deadline_date", "deadline_estimated", "debt_amount", "has_children", "children_known",
        "status", "outcome",
        "routing", "caseworker_id", "caseworker_name", "opened_on", "eviction_at",
        "follow_up_date", "last_event_date",
    ]  # fmt: skip
    rows = session.execute(
        select(
            e.id,
            e.tenant_name,
            e.street_address,
            e.apartment,
            e.postal_code,
            e.town,
            e.deadline_date,
            e.deadline_estimated,
            e.debt_amount,
            e.has_children,
            e.children_known,
            e.status,
            e.outcome,
            e.routing,
            e.caseworker_id,
            cw.name,
            e.opened_on,
            e.eviction_at,
            e.follow_up_date,
            e.last_event_date,
        )  # fmt: skip
        .outerjoin(Caseworker.__table__, cw.id == e.caseworker_id)
        .where(shown)
        .order_by(e.id)
    ).all()
    data = _columns(rows, names)
    data["eviction_at"] = stockholm_series(data["eviction_at"])
    data["debt_amount"] = [None if v is None else float(v) for v in data["debt_amount"]]
    known = data.pop("children_known")
    data["has_children"] = [
        bool(v) if k else None for v, k in zip(data["has_children"], known, strict=True)
    ]
    return pl.DataFrame(data, schema=EPISODES_SCHEMA)


def _load_appointments(session: Session, candidates: list[int]) -> pl.DataFrame:
    a, s = Appointment.__table__.c, AppointmentSlot.__table__.c
    rows = session.execute(
        select(
            a.id,
            a.episode_id,
            a.status,
            a.before_deadline,
            s.starts_at,
            a.short_notice,
            s.location,
            s.advisor_id,
        )  # fmt: skip
        .join(AppointmentSlot.__table__, s.id == a.slot_id)
        .where(id_in(a.episode_id, candidates))
        .order_by(a.id)
    ).all()
    data = _columns(rows, list(APPOINTMENTS_SCHEMA))
    data["starts_at"] = stockholm_series(data["starts_at"])
    return pl.DataFrame(data, schema=APPOINTMENTS_SCHEMA)


def _with_problem(rows: Sequence[Any], schema: Mapping[str, Any]) -> pl.DataFrame:
    """Rows whose last column is ``last_error``, that column replaced by its problem code."""
    data = [(*row[:-1], problem_of(row[-1])) for row in rows]
    return rows_frame(data, schema)


def _load_staff_emails(session: Session, settings: Settings | None, run_date: date) -> pl.DataFrame:
    """Staff emails that failed lately or still wait from an earlier day."""
    lt = Letter.__table__.c
    days = settings.smtp.staff_failure_days if settings is not None else 14
    rows = session.execute(
        select(lt.id, lt.kind, lt.idempotency_key, lt.status, lt.created_on, lt.last_error)
        .where(
            lt.kind.in_(STAFF_EMAIL_KINDS),
            or_(
                (lt.status == "failed") & (lt.created_on >= run_date - timedelta(days=days)),
                lt.status.in_(WAITING_LETTER_STATUSES) & (lt.created_on < run_date),
            ),
        )
        .order_by(lt.id)
    ).all()
    return _with_problem(rows, STAFF_EMAILS_SCHEMA)


def _first_dated() -> ColumnElement[Any]:
    """The day the tenant's letter about a meeting was first dated: a letter not sent on
    its date is dated again as a new version (same meeting, same kind), and the advisor
    should see how long it has waited, not only since this morning."""
    lt = Letter.__table__.c
    first = Letter.__table__.alias("first")
    return func.coalesce(
        select(func.min(first.c.created_on))
        .where(first.c.appointment_id == lt.appointment_id, first.c.kind == lt.kind)
        .scalar_subquery(),
        lt.created_on,
    )


def load_inputs(
    session: Session, since: date, run_date: date, settings: Settings | None = None
) -> WorklistInputs:
    """Everything any worklist of ``run_date`` needs, loaded once for all owners.

    The candidates are chosen once, in SQL; their meetings are read by their ids (written
    into the statement: no parameter limit, and no second evaluation of the choice). Open
    tasks and pending matches are read whole: each puts its episode among the candidates
    anyway. Tenant letters are read for the episodes with a letter that may be a problem
    (only those can have a latest letter that is one). Rows of episodes not loaded drop
    out when the inputs are cut per owner (:func:`restrict`).
    """
    episodes = _load_episodes(session, _shown(since, run_date))
    candidates = [int(i) for i in episodes["episode_id"].to_list()]
    t, m, lt = Task.__table__.c, Match.__table__.c, Letter.__table__.c
    return WorklistInputs(
        episodes=episodes,
        appointments=_load_appointments(session, candidates),
        open_tasks=rows_frame(
            session.execute(
                select(t.episode_id, t.kind, t.round, t.due_date)
                .where(t.status == TaskStatus.OPEN)
                .order_by(t.id)
            ).all(),
            TASKS_SCHEMA,
        ),
        pending_matches=rows_frame(
            session.execute(
                select(m.id, m.episode_id, m.tier, m.score)
                .where(m.decision == MatchDecision.PENDING)
                .order_by(m.id)
            ).all(),
            MATCHES_SCHEMA,
        ),
        tenant_letters=_with_problem(
            session.execute(
                select(
                    lt.id,
                    lt.episode_id,
                    lt.status,
                    lt.flagged,
                    lt.channel,
                    _first_dated(),
                    lt.last_error,
                )
                .where(lt.episode_id.in_(_letter_problems()), lt.kind.in_(TENANT_LETTER_KINDS))
                .order_by(lt.id)
            ).all(),
            LETTERS_SCHEMA,
        ),
        staff_emails=_load_staff_emails(session, settings, run_date),
        failed_reminders=failed_reminders(session, start_of_day(run_date)),
    )


def advisor_of_episodes(inputs: WorklistInputs, default_advisor: str) -> pl.DataFrame:
    """Which advisor each episode belongs to: that of its latest appointment, else the default."""
    latest = (
        inputs.appointments.sort(["episode_id", "starts_at", "appointment_id"])
        .unique(subset="episode_id", keep="last", maintain_order=True)
        .select("episode_id", "advisor_id")
    )
    return (
        inputs.episodes.select("episode_id")
        .join(latest, on="episode_id", how="left")
        .select("episode_id", advisor_id=pl.col("advisor_id").fill_null(default_advisor))
    )


def restrict(inputs: WorklistInputs, episode_ids: pl.Series) -> WorklistInputs:
    """The inputs limited to some episodes (one owner's)."""

    def keep(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("episode_id").is_in(episode_ids.implode()))

    return WorklistInputs(
        episodes=keep(inputs.episodes),
        appointments=keep(inputs.appointments),
        open_tasks=keep(inputs.open_tasks),
        pending_matches=keep(inputs.pending_matches),
        tenant_letters=keep(inputs.tenant_letters),
        staff_emails=inputs.staff_emails,
        failed_reminders=keep(inputs.failed_reminders),
    )


def worklist_for(
    session: Session,
    inputs: WorklistInputs,
    settings: Settings,
    run_date: date,
    owner_kind: str,
    owner_id: str,
    owner_name: str,
) -> Worklist:
    if owner_kind == ADVISOR:
        owners = advisor_of_episodes(inputs, settings.advisor().id)
        ids = owners.filter(pl.col("advisor_id") == owner_id)["episode_id"]
    else:
        ids = inputs.episodes.filter(
            (pl.col("routing") == Routing.CASEWORKER) & (pl.col("caseworker_id") == owner_id)
        )["episode_id"]
    owner = f"{owner_kind}:{owner_id}"
    previous = previous_run_date(session, owner, run_date)
    if previous is None:
        previous = run_date - timedelta(days=FIRST_LIST_LOOKBACK_DAYS)
    rows = build_sections(
        restrict(inputs, ids),
        run_date,
        horizon_days=settings.outcomes.eviction_horizon_days,
        previous_run_date=previous,
        include_matches=owner_kind == ADVISOR,
        caseworker_view=owner_kind == CASEWORKER,
        include_staff_emails=owner_kind == ADVISOR and owner_id == settings.advisor().id,
        eviction_margin=settings.booking.eviction_margin_working_days,
        review_urgent_days=settings.booking.review_urgent_days,
        review_book_working_days=settings.booking.review_book_working_days,
    )
    return Worklist(owner_kind, owner_id, owner_name, run_date, rows)


def earliest_since(session: Session, run_date: date) -> date:
    """The earliest "new since" date any owner needs today (bounds what is loaded).

    Each owner's list shows what opened since that owner's last list (someone back from
    two weeks' leave sees two weeks); an owner without one gets the last week.
    """
    last_runs = (
        select(func.max(WorklistRun.for_date).label("last"))
        .where(WorklistRun.for_date < run_date)
        .group_by(WorklistRun.owner)
        .subquery()
    )
    earliest = session.scalar(select(func.min(last_runs.c.last)))
    fallback = run_date - timedelta(days=FIRST_LIST_LOOKBACK_DAYS)
    return min(earliest, fallback) if earliest else fallback


def advisor_worklist(
    session: Session, settings: Settings, run_date: date, advisor_id: str | None = None
) -> Worklist:
    """An advisor's worklist for ``run_date`` (default: the first advisor); reads only.

    An advisor sees the episodes whose latest meeting is with them, and (the first
    advisor) everything not yet booked.
    """
    advisor = settings.advisor(advisor_id)
    return _one_worklist(session, settings, run_date, ADVISOR, advisor.id, advisor.name)


def caseworker_worklist(
    session: Session, settings: Settings, run_date: date, caseworker_id: str
) -> Worklist:
    """The episodes routed to one caseworker, as a worklist; NotFound for an unknown id."""
    worker = session.get(Caseworker, caseworker_id)
    if worker is None:
        raise NotFound(f"unknown caseworker {caseworker_id!r}")
    return _one_worklist(session, settings, run_date, CASEWORKER, worker.id, worker.name)


def _one_worklist(
    session: Session, settings: Settings, run_date: date, kind: str, owner_id: str, name: str
) -> Worklist:
    previous = previous_run_date(session, f"{kind}:{owner_id}", run_date)
    since = previous or run_date - timedelta(days=FIRST_LIST_LOOKBACK_DAYS)
    inputs = load_inputs(session, since, run_date, settings)
    return worklist_for(session, inputs, settings, run_date, kind, owner_id, name)


def record_run(session: Session, worklist: Worklist) -> None:
    """One WorklistRun per owner and date; a rerun updates the counts, never adds a row.

    Insert-or-ignore first, so that two runs writing the same list at once both succeed.
    """
    counts = worklist.counts()
    session.execute(
        insert_or_ignore(session, WorklistRun.__table__).values(
            owner=worklist.owner, for_date=worklist.run_date, counts=counts
        )
    )
    existing = session.scalars(
        select(WorklistRun).where(
            WorklistRun.owner == worklist.owner, WorklistRun.for_date == worklist.run_date
        )
    ).one()
    if existing.counts != counts:
        existing.counts = counts
