"""Episodes (ärenden): find, read, record what happened, close.

The advisor's and caseworker's daily verbs, shared by ``kvarboende episodes|record``
and the web portal. Every read of personal data and every recording is audit-logged
with who; audit entries hold ids only, free text stays in the Activity row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from domain.addresses import usable_email
from domain.caseworker import (
    CASEWORKER_SECTION_HINT_SV,
    CASEWORKER_SECTION_TITLE_SV,
    CASEWORKER_SECTIONS,
    CaseworkerSection,
    caseworker_section,
)
from domain.identity import normalise
from domain.matching import Children, recorded_children
from domain.outcomes import (
    INTERVENTION_KINDS,
    INTERVENTION_LABEL_SV,
    INTERVENTIONS_SCHEMA,
    MANUAL_OUTCOMES,
    SETTLED,
    SETTLED_OUTCOMES,
    SOURCE_ADVISOR,
    SOURCE_SILENCE,
    ActivityKind,
    manual_settled_outcome,
)
from domain.vocabulary import (
    OUTCOME_LABEL_SV,
    AppointmentStatus,
    EpisodeStatus,
    EventType,
    Outcome,
    OutcomeCertainty,
    Routing,
    TaskKind,
    TaskStatus,
)
from models.audit import audit
from models.db import id_in, lower_text
from models.errors import KvarboendeError, NotAllowed, NotFound
from models.tables import (
    Activity,
    Appointment,
    AppointmentSlot,
    Episode,
    EpisodeTransition,
    Letter,
    Match,
    Notice,
    Task,
)
from services._common import as_utc, get_episode, local_date, stockholm_dates

#: Tasks a recording completes: a call reached them, a visit was made, they came.
TASKS_DONE_BY: dict[str, tuple[str, ...]] = {
    ActivityKind.CONTACTED: (TaskKind.PHONE_CALL,),
    ActivityKind.HOME_VISIT: (TaskKind.PHONE_CALL, TaskKind.HOME_VISIT),
    ActivityKind.ATTENDED: (TaskKind.PHONE_CALL, TaskKind.HOME_VISIT),
}

#: Recordings that set the status of the episode's meeting.
MEETING_KINDS: dict[str, AppointmentStatus] = {
    ActivityKind.ATTENDED: AppointmentStatus.ATTENDED,
    ActivityKind.NO_SHOW: AppointmentStatus.NO_SHOW,
}

#: The longest episode number a search box takes as a number (not a personnummer).
_EPISODE_NUMBER = re.compile(r"^#?(\d{1,9})$")


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpisodeSummary:
    """One row of the episode list. ``has_children`` is None when nobody knows."""

    id: int
    status: str
    routing: str | None
    caseworker_id: str | None
    tenant_name: str | None
    street_address: str | None
    opened_on: date
    deadline_date: date | None
    deadline_estimated: bool
    debt_amount: Decimal | None
    has_children: bool | None
    is_recurrence: bool
    outcome: str | None
    outcome_certainty: str | None
    outcome_date: date | None


@dataclass(frozen=True)
class EpisodePage:
    """A page of the list and how many episodes the filters match in all."""

    items: tuple[EpisodeSummary, ...]
    total: int
    offset: int
    limit: int | None


@dataclass(frozen=True)
class EpisodeHead:
    """The episode itself: household, address, deadline, routing, children, outcome."""

    id: int
    company_id: str
    tenant_name: str | None
    co_tenant_name: str | None
    street_address: str | None
    apartment: str | None
    postal_code: str | None
    town: str | None
    status: str
    routing: str | None
    caseworker_id: str | None
    opened_on: date
    deadline_date: date | None
    deadline_estimated: bool
    debt_amount: Decimal | None
    has_children: bool
    children_count: int
    children_known: bool
    eviction_at: datetime | None
    is_recurrence: bool
    previous_episode_id: int | None
    follow_up_date: date | None
    outcome: str | None
    outcome_certainty: str | None
    outcome_date: date | None
    outcome_source: str | None


@dataclass(frozen=True)
class NoticeRow:
    id: int
    event_type: str
    event_date: date
    debt_amount: Decimal | None
    service_date: date | None
    eviction_at: datetime | None
    file_id: int
    row_number: int


@dataclass(frozen=True)
class LetterRow:
    """A letter or email of the episode; ``pdf_available``: its PDF file is there to open."""

    id: int
    kind: str
    version: int
    channel: str
    status: str
    created_on: date
    pdf_path: str | None
    pdf_available: bool


@dataclass(frozen=True)
class AppointmentRow:
    id: int
    slot_id: int
    starts_at: datetime  # UTC
    location: str
    advisor_id: str
    status: str
    before_deadline: bool
    short_notice: bool = False  # less lead time after its letter than wanted


@dataclass(frozen=True)
class MatchRow:
    """The episode's match with the case register and why (the reasons in words)."""

    id: int
    tier: str
    score: float
    decision: str
    reasons: str
    case_ref: str | None
    decided_by: str | None


@dataclass(frozen=True)
class ActivityRow:
    id: int
    on_date: date
    kind: str
    by: str
    text: str | None


@dataclass(frozen=True)
class TaskRow:
    kind: str
    round: int
    due_date: date
    status: str


@dataclass(frozen=True)
class TransitionRow:
    at: datetime  # UTC
    from_status: str | None
    to_status: str
    effective_date: date | None
    reason: str


@dataclass(frozen=True)
class EpisodeDetail:
    """Everything recorded about one episode, oldest first."""

    episode: EpisodeHead
    notices: tuple[NoticeRow, ...]
    letters: tuple[LetterRow, ...]
    appointments: tuple[AppointmentRow, ...]
    match: MatchRow | None
    activities: tuple[ActivityRow, ...]
    tasks: tuple[TaskRow, ...]
    transitions: tuple[TransitionRow, ...]


@dataclass(frozen=True)
class RecordedActivity:
    """What a recording stored: the activity, and the meeting it updated (if any)."""

    activity_id: int
    appointment_id: int | None
    appointment_status: str | None


@dataclass(frozen=True)
class MeetingRecording:
    """Who recorded a meeting's outcome, and when (``at`` UTC; ``on_date`` the day given)."""

    kind: str
    on_date: date
    at: datetime
    by: str


@dataclass(frozen=True)
class RecordedChildren:
    episode_id: int
    children_count: int


@dataclass(frozen=True)
class ClosedEpisode:
    """What :func:`close_episode` did: the status before, the outcome stored, and why."""

    previous_status: str
    outcome: str
    reason: str


# --- list -------------------------------------------------------------------------------------


def search_condition(text: str, today: date | None = None) -> ColumnElement[bool] | None:
    """Episodes a free-text search means: number, personnummer, name or address.

    Up to nine digits are an episode number (or a contract number), compared whole.

    A personnummer matches however it is written (``YYMMDD-NNNC``, ten or twelve digits,
    with or without a dash): it is compared on its last ten digits, so the century a
    ten-digit number leaves open does not matter. Names and addresses match on a part,
    in any case (Å and å alike). Blank text: no condition.
    """
    query = " ".join(text.split())
    if not query:
        return None
    number = _EPISODE_NUMBER.match(query)
    if number:  # an episode number (or the company's contract number), not part of a text
        return or_(Episode.id == int(number.group(1)), Episode.contract_ref == query)
    conditions: list[ColumnElement[bool]] = []
    identity = normalise(query, today)
    if identity.digits:
        tail = identity.digits[2:]
        conditions += [
            Episode.personnummer.like(f"__{tail}"),
            Episode.co_tenant_personnummer.like(f"__{tail}"),
        ]
    lowered = query.lower()
    conditions += [
        lower_text(column).contains(lowered, autoescape=True)
        for column in (
            Episode.tenant_name,
            Episode.co_tenant_name,
            Episode.street_address,
            Episode.contract_ref,
        )
    ]
    return or_(*conditions)


def check_statuses(statuses: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The statuses, or a one-line error naming the ones allowed."""
    known = {str(s) for s in EpisodeStatus}
    for value in statuses:
        if value not in known:
            raise KvarboendeError(
                f"unknown status {value!r}, use one of {', '.join(sorted(known))}"
            )
    return tuple(statuses)


def list_episodes(
    session: Session,
    *,
    by: str,
    statuses: tuple[str, ...] | list[str] = (),
    caseworker_id: str | None = None,
    search: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> EpisodePage:
    """Episodes by id, filtered by status, caseworker and a free-text search; one page.

    ``caseworker_id`` gives the episodes routed to that caseworker only. The read is
    audit-logged with the row count (who looked, not what they saw).
    """
    if limit is not None and limit < 1:
        raise KvarboendeError(f"limit must be 1 or more, not {limit}")
    if offset < 0:
        raise KvarboendeError(f"offset must be 0 or more, not {offset}")
    where: list[ColumnElement[bool]] = []
    if statuses:
        where.append(Episode.status.in_(check_statuses(statuses)))
    if caseworker_id is not None:
        where.append(
            and_(Episode.routing == Routing.CASEWORKER, Episode.caseworker_id == caseworker_id)
        )
    if search:
        condition = search_condition(search)
        if condition is not None:
            where.append(condition)
    total = session.scalar(select(func.count()).select_from(Episode).where(*where)) or 0
    query = select(Episode).where(*where).order_by(Episode.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    items = tuple(_summary(e) for e in session.scalars(query))
    audit(session, by, "list_episodes", "episode", None, f"{len(items)} rows")
    return EpisodePage(items, int(total), offset, limit)


def _summary(e: Episode) -> EpisodeSummary:
    return EpisodeSummary(
        id=e.id,
        status=e.status,
        routing=e.routing,
        caseworker_id=e.caseworker_id,
        tenant_name=e.tenant_name,
        street_address=e.street_address,
        opened_on=e.opened_on,
        deadline_date=e.deadline_date,
        deadline_estimated=bool(e.deadline_estimated),
        debt_amount=e.debt_amount,
        has_children=bool(e.has_children) if e.children_known else None,
        is_recurrence=bool(e.is_recurrence),
        outcome=e.outcome,
        outcome_certainty=e.outcome_certainty,
        outcome_date=e.outcome_date,
    )


def check_routed_to(session: Session, episode_id: int, caseworker_id: str) -> None:
    """NotFound unless the episode is routed to this caseworker (OSL 26:1: a caseworker
    sees their own households only); checked before anything of the episode is read."""
    found = session.scalar(
        select(Episode.id).where(
            Episode.id == episode_id,
            Episode.routing == Routing.CASEWORKER,
            Episode.caseworker_id == caseworker_id,
        )
    )
    if found is None:
        raise NotFound(f"episode {episode_id} not found")


# --- show -------------------------------------------------------------------------------------


def show_episode(session: Session, episode_id: int, *, by: str) -> EpisodeDetail:
    """Everything recorded about one episode; NotFound if there is none.

    The read is audit-logged (who looked at which episode), because the answer holds
    the tenant's personal data.
    """
    e = get_episode(session, episode_id)
    head = EpisodeHead(
        **{name: getattr(e, name) for name in EpisodeHead.__dataclass_fields__},
    )
    notices = tuple(
        NoticeRow(
            n.id,
            n.event_type,
            n.event_date,
            n.debt_amount,
            n.service_date,
            None if n.eviction_at is None else as_utc(n.eviction_at),
            n.file_id,
            n.row_number,
        )  # fmt: skip
        for n in session.scalars(
            select(Notice)
            .where(Notice.episode_id == episode_id)
            .order_by(Notice.event_date, Notice.id)
        )
    )
    letters = tuple(
        LetterRow(
            letter.id,
            letter.kind,
            letter.version,
            letter.channel,
            letter.status,
            letter.created_on,
            letter.pdf_path,
            letter.pdf_path is not None and Path(letter.pdf_path).is_file(),
        )
        for letter in session.scalars(
            select(Letter).where(Letter.episode_id == episode_id).order_by(Letter.id)
        )
    )
    appointments = tuple(
        AppointmentRow(
            a.id,
            a.slot_id,
            as_utc(starts),
            location,
            advisor,
            a.status,
            bool(a.before_deadline),
            bool(a.short_notice),
        )  # fmt: skip
        for a, starts, location, advisor in session.execute(
            select(
                Appointment,
                AppointmentSlot.starts_at,
                AppointmentSlot.location,
                AppointmentSlot.advisor_id,
            )
            .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .where(Appointment.episode_id == episode_id)
            .order_by(AppointmentSlot.starts_at, Appointment.id)
        )
    )
    match = session.scalars(
        select(Match).where(Match.episode_id == episode_id).order_by(Match.id.desc()).limit(1)
    ).first()
    activities = tuple(
        ActivityRow(a.id, a.on_date, a.kind, a.by, a.text)
        for a in session.scalars(
            select(Activity)
            .where(Activity.episode_id == episode_id)
            .order_by(Activity.on_date, Activity.id)
        )
    )
    tasks = tuple(
        TaskRow(t.kind, t.round, t.due_date, t.status)
        for t in session.scalars(
            select(Task).where(Task.episode_id == episode_id).order_by(Task.round, Task.kind)
        )
    )
    transitions = tuple(
        TransitionRow(as_utc(t.at), t.from_status, t.to_status, t.effective_date, t.reason)
        for t in session.scalars(
            select(EpisodeTransition)
            .where(EpisodeTransition.episode_id == episode_id)
            .order_by(EpisodeTransition.id)
        )
    )
    audit(session, by, "read_episode", "episode", episode_id)
    return EpisodeDetail(
        episode=head,
        notices=notices,
        letters=letters,
        appointments=appointments,
        match=None
        if match is None
        else MatchRow(
            match.id,
            match.tier,
            float(match.score),
            match.decision,
            match.reasons,
            match.case_ref,
            match.decided_by,
        ),  # fmt: skip
        activities=activities,
        tasks=tasks,
        transitions=transitions,
    )


# --- record -----------------------------------------------------------------------------------


def _meeting_to_record(
    session: Session, episode_id: int, kind: ActivityKind, on_date: date
) -> Appointment:
    """The meeting an attended / no-show recording is about, after checking it may be.

    The latest booked, attended or missed meeting of the episode; it must have taken
    place by ``on_date`` (nobody attends a meeting that is still to come), and a meeting
    is recorded once: a second recording of the same meeting, the same or the other
    outcome, is refused. Two clicks or two advisors would otherwise store two activity
    rows, and a no-show turned into attended after its follow-up tasks were planned
    would leave the worklist and the statistics telling two stories.
    """
    row = session.execute(
        select(Appointment, AppointmentSlot.starts_at)
        .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
        .where(
            Appointment.episode_id == episode_id,
            Appointment.status.in_(
                [AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED, AppointmentStatus.NO_SHOW]
            ),
        )
        .order_by(AppointmentSlot.starts_at.desc(), Appointment.id.desc())
        .limit(1)
        .with_for_update(of=Appointment)
    ).first()
    if row is None:
        raise NotAllowed(f"episode {episode_id} has no booked appointment")
    appointment, starts_at = row
    meeting_day = local_date(starts_at)
    if meeting_day > on_date:
        raise NotAllowed(
            f"episode {episode_id}: the meeting is on {meeting_day.isoformat()}, "
            f"it cannot be recorded on {on_date.isoformat()}"
        )
    if appointment.status != AppointmentStatus.BOOKED:
        recorded = "attended" if appointment.status == AppointmentStatus.ATTENDED else "missed"
        raise NotAllowed(
            f"episode {episode_id}: the meeting on {meeting_day.isoformat()} is already "
            f"recorded as {recorded}; a meeting is recorded once"
        )
    return appointment


def record_activity(
    session: Session,
    episode_id: int,
    kind: ActivityKind,
    *,
    by: str,
    on_date: date,
    text: str | None = None,
) -> RecordedActivity:
    """Store what the advisor or caseworker did.

    ``attended`` and ``no_show`` also set the status of the episode's latest meeting
    (see :func:`_meeting_to_record` for when that is refused). Contact recordings
    complete the matching open tasks. Every recording is audit-logged with who; the
    free text stays in the Activity row only, never in the audit log.
    """
    episode = get_episode(session, episode_id, for_update=True)
    appointment = None
    if kind in MEETING_KINDS:
        appointment = _meeting_to_record(session, episode.id, kind, on_date)
        appointment.status = MEETING_KINDS[kind]
        audit(session, by, f"appointment_{appointment.status}", "appointment", appointment.id,
              episode_id=episode.id)  # fmt: skip
    activity = Activity(
        episode_id=episode.id, kind=str(kind), text=text or None, on_date=on_date, by=by
    )
    session.add(activity)
    session.flush()
    done_kinds = TASKS_DONE_BY.get(kind, ())
    if done_kinds:
        session.execute(
            update(Task)
            .where(
                Task.episode_id == episode.id,
                Task.status == TaskStatus.OPEN,
                Task.kind.in_(done_kinds),
            )
            .values(status=TaskStatus.DONE, done_at=datetime.now(UTC))
        )
    audit(session, by, f"record_{kind}", "episode", episode.id, f"activity {activity.id}")
    return RecordedActivity(
        activity.id,
        None if appointment is None else appointment.id,
        None if appointment is None else str(appointment.status),
    )


def set_children(episode: Episode, children: Children) -> None:
    """Write what is known about the children on the episode (its three columns)."""
    episode.children_count = children.count
    episode.has_children = children.has_children
    episode.children_known = children.known


def record_children(session: Session, episode_id: int, count: int, *, by: str) -> RecordedChildren:
    """Record how many children live in the household (0: none); audit-logged with who.

    For households not known to social services nobody knows until someone asks: the
    advisor records it at the meeting, the phone call or the home visit. From then on
    children-first booking and the home visit after a no-show use it, and the worklist
    shows yes or no instead of "unknown". The count stays out of the audit entry.
    """
    if count < 0:
        raise KvarboendeError(f"--count must be 0 or more (0: no children), not {count}")
    episode = get_episode(session, episode_id)
    set_children(episode, recorded_children(count))
    audit(session, by, "record_children", "episode", episode.id)
    return RecordedChildren(episode.id, count)


@dataclass(frozen=True)
class TenantEmail:
    episode_id: int
    address: str | None  # None: cleared, letters use the landlord's address again


def set_tenant_email(
    session: Session, episode_id: int, address: str | None, *, by: str
) -> TenantEmail:
    """Record (or clear, with None) an email address the tenant gave themselves.

    Letters and reminders then go to it before the landlord's address, and a letter to
    it gets no post copy. Audit-logged without the address. An address that cannot be
    delivered to is refused with a one-line error.
    """
    cleaned = None
    if address is not None and address.strip():
        cleaned = usable_email(address)
        if cleaned is None:
            raise NotAllowed("not a usable email address (e.g. namn@example.se)")
    episode = get_episode(session, episode_id)
    episode.tenant_email = cleaned
    audit(
        session,
        by,
        "episode.tenant_email",
        "episode",
        episode.id,
        detail="set" if cleaned else "cleared",
    )
    return TenantEmail(episode.id, cleaned)


# --- close ------------------------------------------------------------------------------------


def candidate_condition() -> ColumnElement[bool]:
    """Episodes the outcome rules may act on: not closed, or closed by silence and since
    reported on.

    Closed-by-silence episodes without a settlement, execution or withdrawal notice are
    left out, so the daily work does not grow with the years of history.
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


def load_interventions(session: Session, episode_id: int | None = None) -> pl.DataFrame:
    """Intervening activities and attended meetings of episodes the rules may act on.

    With ``episode_id``: of that one episode, whatever its status (a manual close).
    An attended meeting counts as an intervention on its day, like a recorded one.
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
    recorded = pl.DataFrame([tuple(r) for r in rows], schema=INTERVENTIONS_SCHEMA, orient="row")
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


def close_episode(
    session: Session,
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
    episode = get_episode(session, episode_id, for_update=True)
    previous = episode.status
    if previous == EpisodeStatus.CLOSED and episode.outcome_source != SOURCE_SILENCE:
        raise NotAllowed(
            f"episode {episode_id} is already closed ({episode.outcome}, {episode.outcome_source})"
        )
    support = None
    if outcome == SETTLED or outcome in SETTLED_OUTCOMES:
        try:
            outcome, support = manual_settled_outcome(
                outcome, load_interventions(session, episode.id), on_date
            )
        except ValueError as exc:
            raise NotAllowed(f"episode {episode_id}: {exc}") from None
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
        .where(Task.episode_id == episode.id, Task.status == TaskStatus.OPEN)
        .values(status=TaskStatus.CANCELLED, done_at=datetime.now(UTC))
    )
    audit(session, by, "close_episode", "episode", episode.id, f"outcome {outcome}")
    return ClosedEpisode(previous, outcome, reason)


# --- small reads for the portal ---------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """Who the household is, how to reach it, and when its eviction is booked (UTC)."""

    tenant_name: str | None
    street_address: str | None
    phone: str | None
    email: str | None  # from the landlord's file
    eviction_at: datetime | None
    tenant_email: str | None = None  # given by the tenant themselves


def episode_contacts(session: Session, episode_ids: list[int]) -> dict[int, Contact]:
    """Phone, email and eviction time of many episodes in one query (a worklist's rows).

    Not audit-logged here: the caller logs the view of the page that shows them.
    """
    if not episode_ids:
        return {}
    rows = session.execute(
        select(
            Episode.id,
            Episode.tenant_name,
            Episode.street_address,
            Episode.phone,
            Episode.email,
            Episode.eviction_at,
            Episode.tenant_email,
        ).where(id_in(Episode.id, sorted(set(episode_ids))))
    )
    return {
        i: Contact(name, street, phone, email, None if at is None else as_utc(at), own)
        for i, name, street, phone, email, at, own in rows
    }


def meeting_to_record(session: Session, episode_id: int) -> AppointmentRow | None:
    """The meeting an attended / no-show recording would be about (see ``_meeting_to_record``),
    without locking: the portal shows the form only when the meeting has begun and says
    why not otherwise; :func:`record_activity` checks again when it records."""
    row = session.execute(
        select(Appointment, AppointmentSlot)
        .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
        .where(
            Appointment.episode_id == episode_id,
            Appointment.status.in_(
                [AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED, AppointmentStatus.NO_SHOW]
            ),
        )
        .order_by(AppointmentSlot.starts_at.desc(), Appointment.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    a, slot = row
    return AppointmentRow(
        a.id, a.slot_id, as_utc(slot.starts_at), slot.location, slot.advisor_id, a.status,
        bool(a.before_deadline), bool(a.short_notice),
    )  # fmt: skip


def meeting_recording(
    session: Session, episode_id: int, meeting: AppointmentRow
) -> MeetingRecording | None:
    """Who recorded the episode's recorded meeting and on which day, for the page to show
    instead of the attendance buttons; None while the meeting is booked (or, for rows from
    before activities were stored, when no recording is found).

    A meeting is recorded once, so the episode's latest activity of the meeting's outcome
    is its recording.
    """
    kinds = {status: kind for kind, status in MEETING_KINDS.items()}
    kind = kinds.get(AppointmentStatus(meeting.status))
    if kind is None:
        return None
    a = session.scalars(
        select(Activity)
        .where(Activity.episode_id == episode_id, Activity.kind == kind)
        .order_by(Activity.id.desc())
        .limit(1)
    ).first()
    return None if a is None else MeetingRecording(a.kind, a.on_date, as_utc(a.at), a.by)


def letter_file(session: Session, episode_id: int, letter_id: int) -> Path:
    """The PDF of one of the episode's letters; NotFound when the letter is another
    episode's, has no PDF, or its file is gone (the same answer: nothing to open)."""
    letter = session.get(Letter, letter_id)
    if letter is None or letter.episode_id != episode_id or not letter.pdf_path:
        raise NotFound(f"letter {letter_id} of episode {episode_id} not found")
    path = Path(letter.pdf_path)
    if not path.is_file():
        raise NotFound(f"the PDF of letter {letter_id} is missing")
    return path


@dataclass(frozen=True)
class CaseworkerRow:
    """One open episode on its caseworker's list."""

    id: int
    status: str
    tenant_name: str | None
    street_address: str | None
    opened_on: date
    deadline_date: date | None
    deadline_estimated: bool
    debt_amount: Decimal | None
    eviction_at: datetime | None
    has_children: bool | None
    acted_on: date | None


@dataclass(frozen=True)
class CaseworkerGroup:
    """One section of the caseworker's list, most urgent first within it."""

    section: CaseworkerSection
    title: str
    hint: str
    rows: tuple[CaseworkerRow, ...]


def _group_order(section: CaseworkerSection, row: CaseworkerRow) -> tuple[Any, ...]:
    children_first = 0 if row.has_children else 1 if row.has_children is None else 2
    if section == CaseworkerSection.EVICTION:
        return (children_first, row.eviction_at, row.id)
    if section == CaseworkerSection.DEADLINE:
        return (children_first, row.deadline_date, row.id)
    if section == CaseworkerSection.NEW:
        return (-row.opened_on.toordinal(), row.id)
    if section == CaseworkerSection.ACTED:
        return (-(row.acted_on or date.min).toordinal(), row.id)
    return (row.deadline_date or date.max, row.id)


def caseworker_overview(
    session: Session, caseworker_id: str, today: date, *, by: str, horizon_days: int
) -> list[CaseworkerGroup]:
    """The open episodes routed to this caseworker (and nobody else's), in the sections of
    :mod:`domain.caseworker`, each with its rows in order; audit-logged (a count only)."""
    acted = (
        select(Activity.episode_id, func.max(Activity.on_date).label("acted_on"))
        .where(Activity.kind == ActivityKind.CASEWORKER_ACTED)
        .group_by(Activity.episode_id)
        .subquery()
    )
    found = session.execute(
        select(Episode, acted.c.acted_on)
        .outerjoin(acted, acted.c.episode_id == Episode.id)
        .where(
            Episode.routing == "caseworker",
            Episode.caseworker_id == caseworker_id,
            Episode.status.in_([s.value for s in EpisodeStatus if s != EpisodeStatus.CLOSED]),
        )
    ).all()
    groups: dict[CaseworkerSection, list[CaseworkerRow]] = {s: [] for s in CASEWORKER_SECTIONS}
    for e, acted_on in found:
        eviction_at = as_utc(e.eviction_at) if e.eviction_at else None
        row = CaseworkerRow(
            id=e.id,
            status=e.status,
            tenant_name=e.tenant_name,
            street_address=e.street_address,
            opened_on=e.opened_on,
            deadline_date=e.deadline_date,
            deadline_estimated=bool(e.deadline_estimated),
            debt_amount=e.debt_amount,
            eviction_at=eviction_at,
            has_children=bool(e.has_children) if e.children_known else None,
            acted_on=acted_on,
        )
        section = caseworker_section(
            today,
            eviction_day=local_date(eviction_at) if eviction_at else None,
            deadline=e.deadline_date,
            opened_on=e.opened_on,
            last_event_date=e.last_event_date,
            acted_on=acted_on,
            horizon_days=horizon_days,
        )
        groups[section].append(row)
    audit(session, by, "view_caseworker_list", "episode", None, f"{len(found)} rows")
    return [
        CaseworkerGroup(
            section,
            CASEWORKER_SECTION_TITLE_SV[section],
            CASEWORKER_SECTION_HINT_SV[section],
            tuple(sorted(rows, key=partial(_group_order, section))),
        )
        for section, rows in groups.items()
    ]
