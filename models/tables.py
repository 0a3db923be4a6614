"""SQLAlchemy 2 tables of kvarboende.

One schema for SQLite (the embedded default) and PostgreSQL. Enumerations from
:mod:`domain.vocabulary` are stored as short strings. Personal data lives only in the
columns that need it (notices, episodes, the case-register snapshot); the audit log
and the statistics facts hold ids and counts only.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(12, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    if TYPE_CHECKING:
        # Every model here is mapped to a Table; SQLAlchemy declares the wider FromClause.
        __table__: ClassVar[Table]


def _now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)


TZ = DateTime(timezone=True)


class HousingCompany(Base):
    __tablename__ = "housing_company"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    landlord_type: Mapped[str] = mapped_column(String(20))


class NoticeFile(Base):
    """A file received from a housing company; ingested once per content hash."""

    __tablename__ = "notice_file"
    __table_args__ = (UniqueConstraint("company_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("housing_company.id"))
    filename: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    # The business day the file was received (the run date): the company's reporting rhythm
    # (days between files, lag from event to receipt) is measured on it.
    received_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))  # ingested | rejected
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    file_error: Mapped[str | None] = mapped_column(Text)
    archive_path: Mapped[str | None] = mapped_column(String(500))
    encoding: Mapped[str | None] = mapped_column(String(20))
    # Set when retention deleted the archived file; the row and its counts stay.
    archive_deleted_on: Mapped[date | None] = mapped_column(Date)

    rejections: Mapped[list[RowRejection]] = relationship(
        back_populates="file", order_by="RowRejection.row_number"
    )


class RowRejection(Base):
    """A rejected row of a notice file: row number and a reason in Swedish, no row content."""

    __tablename__ = "row_rejection"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("notice_file.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default="rejected")  # rejected | duplicate
    # The company's own contract reference of the row (it knows it already), and for a
    # duplicate the file and row it repeats, so the receipt can point at the original.
    contract_ref: Mapped[str | None] = mapped_column(String(100))
    repeats_file_id: Mapped[int | None] = mapped_column(Integer)
    repeats_row: Mapped[int | None] = mapped_column(Integer)

    file: Mapped[NoticeFile] = relationship(back_populates="rejections")


class Episode(Base):
    """One tenancy's arrears episode (ärende), from its first notice to its outcome."""

    __tablename__ = "episode"
    __table_args__ = (
        Index("ix_episode_tenancy_key_status", "tenancy_key", "status"),
        Index("ix_episode_personnummer", "personnummer"),
        Index("ix_episode_caseworker_id_status", "caseworker_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("housing_company.id"))
    tenancy_key: Mapped[str] = mapped_column(String(200))
    contract_ref: Mapped[str | None] = mapped_column(String(100))
    personnummer: Mapped[str | None] = mapped_column(String(12))
    personnummer_valid: Mapped[bool] = mapped_column(Boolean, default=False)
    tenant_name: Mapped[str | None] = mapped_column(String(200))
    co_tenant_name: Mapped[str | None] = mapped_column(String(200))
    co_tenant_personnummer: Mapped[str | None] = mapped_column(String(12))
    street_address: Mapped[str | None] = mapped_column(String(200))
    apartment: Mapped[str | None] = mapped_column(String(20))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    town: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))  # from the landlord's notice file
    phone: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(10))
    # An email address the tenant gave the advisor themselves: letters and reminders use
    # it before the landlord's, and a letter to it needs no post copy. Ingest never sets it.
    tenant_email: Mapped[str | None] = mapped_column(String(200))

    status: Mapped[str] = mapped_column(String(30))
    opened_on: Mapped[date] = mapped_column(Date)
    first_notice_date: Mapped[date] = mapped_column(Date)
    service_date: Mapped[date | None] = mapped_column(Date)
    deadline_date: Mapped[date | None] = mapped_column(Date)
    # True when deadline_date is an estimate (termination notice without a service date):
    # the letter must then not state it as the legal last day.
    deadline_estimated: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    debt_amount: Mapped[Decimal | None] = mapped_column(Money)
    monthly_rent: Mapped[Decimal | None] = mapped_column(Money)
    eviction_at: Mapped[datetime | None] = mapped_column(TZ)
    reached_payment_order: Mapped[bool] = mapped_column(Boolean, default=False)

    routing: Mapped[str | None] = mapped_column(String(20))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("register_case.id"), index=True)
    caseworker_id: Mapped[str | None] = mapped_column(String(40))
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("case_snapshot.id"), index=True)
    matched_at: Mapped[datetime | None] = mapped_column(TZ)
    # Whether the tenant's personnummer was valid when the episode was last matched: a
    # later notice that brings a valid one makes an unmatched or reviewed episode match again.
    matched_with_personnummer: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # False/0 while nobody knows (statistics count only known children); children_known
    # says whether has_children is a fact: from the register case or recorded by a person.
    has_children: Mapped[bool] = mapped_column(Boolean, default=False)
    children_count: Mapped[int] = mapped_column(Integer, default=0)
    children_known: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=text("false"),  # bulk inserts leave it out
    )
    # The day the caseworker was last told (one email per caseworker and day) about it.
    caseworker_notified_on: Mapped[date | None] = mapped_column(Date)

    previous_episode_id: Mapped[int | None] = mapped_column(ForeignKey("episode.id"), index=True)
    is_recurrence: Mapped[bool] = mapped_column(Boolean, default=False)

    outcome: Mapped[str | None] = mapped_column(String(40))
    outcome_certainty: Mapped[str | None] = mapped_column(String(20))
    outcome_date: Mapped[date | None] = mapped_column(Date)
    outcome_source: Mapped[str | None] = mapped_column(String(100))
    follow_up_date: Mapped[date | None] = mapped_column(Date)
    last_event_date: Mapped[date | None] = mapped_column(Date)

    created_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=_now, onupdate=_now)

    transitions: Mapped[list[EpisodeTransition]] = relationship(
        back_populates="episode", order_by="EpisodeTransition.id"
    )


class Notice(Base):
    """One accepted notice row; stored once per natural key."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    natural_key: Mapped[str] = mapped_column(String(64), unique=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("notice_file.id"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    company_id: Mapped[str] = mapped_column(ForeignKey("housing_company.id"))
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episode.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(30))
    event_date: Mapped[date] = mapped_column(Date)
    contract_ref: Mapped[str | None] = mapped_column(String(100))
    personnummer: Mapped[str | None] = mapped_column(String(12))
    personnummer_valid: Mapped[bool] = mapped_column(Boolean, default=False)
    tenant_name: Mapped[str | None] = mapped_column(String(200))
    co_tenant_name: Mapped[str | None] = mapped_column(String(200))
    co_tenant_personnummer: Mapped[str | None] = mapped_column(String(12))
    street_address: Mapped[str | None] = mapped_column(String(200))
    apartment: Mapped[str | None] = mapped_column(String(20))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    town: Mapped[str | None] = mapped_column(String(100))
    debt_amount: Mapped[Decimal | None] = mapped_column(Money)
    monthly_rent: Mapped[Decimal | None] = mapped_column(Money)
    service_date: Mapped[date | None] = mapped_column(Date)
    eviction_at: Mapped[datetime | None] = mapped_column(TZ)
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(10))
    received_at: Mapped[datetime] = mapped_column(TZ, default=_now)


class EpisodeTransition(Base):
    """Every status change of an episode, with time and reason."""

    __tablename__ = "episode_transition"

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(TZ, default=_now)
    effective_date: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id"), index=True)

    episode: Mapped[Episode] = relationship(back_populates="transitions")


class CaseSnapshot(Base):
    """One dated import of the social-services case register."""

    __tablename__ = "case_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    imported_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    taken_on: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    cases: Mapped[int] = mapped_column(Integer, default=0)
    members: Mapped[int] = mapped_column(Integer, default=0)


class Caseworker(Base):
    """A social-services caseworker (socialsekreterare) who receives routed episodes."""

    __tablename__ = "caseworker"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))


class RegisterCase(Base):
    """A client case in a register snapshot."""

    __tablename__ = "register_case"
    __table_args__ = (
        UniqueConstraint("snapshot_id", "case_ref"),
        Index("ix_register_case_personnummer", "personnummer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("case_snapshot.id", ondelete="CASCADE"))
    case_ref: Mapped[str] = mapped_column(String(60))
    personnummer: Mapped[str | None] = mapped_column(String(12))
    name: Mapped[str | None] = mapped_column(String(200))
    street_address: Mapped[str | None] = mapped_column(String(200))
    apartment: Mapped[str | None] = mapped_column(String(20))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    unit: Mapped[str | None] = mapped_column(String(100))
    caseworker_id: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(10))


class HouseholdMember(Base):
    """A member of a client's household; children are counted, little else kept of them."""

    __tablename__ = "household_member"
    __table_args__ = (Index("ix_household_member_personnummer", "personnummer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("case_snapshot.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(
        ForeignKey("register_case.id", ondelete="CASCADE"), index=True
    )
    personnummer: Mapped[str | None] = mapped_column(String(12))
    name: Mapped[str | None] = mapped_column(String(200))
    relation: Mapped[str] = mapped_column(String(30))
    birth_date: Mapped[date | None] = mapped_column(Date)
    is_child: Mapped[bool] = mapped_column(Boolean, default=False)


class Match(Base):
    """A matching decision between an episode and a register case, with its reasons."""

    __tablename__ = "match"

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), index=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("case_snapshot.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("register_case.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("household_member.id"), index=True)
    case_ref: Mapped[str | None] = mapped_column(String(60))
    tier: Mapped[str] = mapped_column(String(20))
    score: Mapped[float] = mapped_column(default=0.0)
    reasons: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(20))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(TZ)
    created_at: Mapped[datetime] = mapped_column(TZ, default=_now)


class AppointmentSlot(Base):
    """A bookable time at an advisor's meeting place; never booked beyond capacity."""

    __tablename__ = "appointment_slot"
    __table_args__ = (UniqueConstraint("advisor_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    advisor_id: Mapped[str] = mapped_column(String(40))
    location: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(TZ)
    ends_at: Mapped[datetime] = mapped_column(TZ)
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class Appointment(Base):
    __tablename__ = "appointment"
    __table_args__ = (
        # At most one active appointment per episode, even with two booking runs at once.
        Index(
            "uq_appointment_active_episode",
            "episode_id",
            unique=True,
            sqlite_where=text("status IN ('booked', 'attended')"),
            postgresql_where=text("status IN ('booked', 'attended')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("appointment_slot.id"))
    status: Mapped[str] = mapped_column(String(20))
    before_deadline: Mapped[bool] = mapped_column(Boolean, default=True)
    # Fewer working days between the letter and the meeting than booking.min_lead_days_*
    # wanted: the deadline (or a booked eviction) forced it; the worklist says so.
    short_notice: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    booked_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=_now, onupdate=_now)


class Letter(Base):
    """The outbox: one row per letter, delivered exactly once by email or print."""

    __tablename__ = "letter"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episode.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer, default=1)
    language: Mapped[str] = mapped_column(String(10), default="sv")
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)  # staff emails: counts and links only
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(200))
    print_batch: Mapped[str | None] = mapped_column(String(100))
    created_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    sent_at: Mapped[datetime | None] = mapped_column(TZ)
    # Delivery bookkeeping: when to try again after a temporary failure, who holds the
    # letter while it is in flight, and whether it needs a person's eye (moved to print
    # after a permanent email failure).
    next_attempt_at: Mapped[datetime | None] = mapped_column(TZ)
    claim_token: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None] = mapped_column(TZ)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    # A post copy (kind ``post_copy``): the letter it copies (no foreign key, so that the
    # column can be added in place on SQLite; both rows go with their episode).
    copy_of_id: Mapped[int | None] = mapped_column(Integer, index=True)


class Reminder(Base):
    """The reminders' outbox: one row per meeting and channel, sent exactly once.

    ``recipient`` is the E.164 mobile number or the email address; ``body`` the text
    (who expects the tenant, when, where, a phone number: never the debt).
    """

    __tablename__ = "reminder"
    __table_args__ = (Index("ix_reminder_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), index=True)
    # Deleted with its appointment (retention deletes appointments before other rows).
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointment.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))  # sms | email
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # pending | sending | sent | delivered | failed | superseded
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    gateway_id: Mapped[str | None] = mapped_column(String(200))
    created_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    sent_at: Mapped[datetime | None] = mapped_column(TZ)
    delivered_at: Mapped[datetime | None] = mapped_column(TZ)
    failed_at: Mapped[datetime | None] = mapped_column(TZ)
    next_attempt_at: Mapped[datetime | None] = mapped_column(TZ)
    claim_token: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None] = mapped_column(TZ)


class SmsChoice(Base):
    """A tenant's "no SMS" choice, kept for the person, not for one episode.

    A person is found across episodes as recurrence finds them: by a valid personnummer,
    or by the tenancy (the same contract). Marking an episode writes one row per key
    it has (``personnummer`` when valid, ``tenancy`` always); an episode follows the
    newest row of any of its keys, so a tenant who said no last year gets no SMS on a
    new episode, and "SMS allowed" on any episode of the person undoes it for all.
    Retention deletes a row when no episode with its key is left.
    """

    __tablename__ = "sms_choice"
    __table_args__ = (UniqueConstraint("key_kind", "key_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_kind: Mapped[str] = mapped_column(String(20))  # personnummer | tenancy
    key_value: Mapped[str] = mapped_column(String(200))
    no_sms: Mapped[bool] = mapped_column(Boolean)
    decided_at: Mapped[datetime] = mapped_column(TZ, default=_now)


class Activity(Base):
    """Something the advisor or caseworker did or recorded for an episode."""

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    text: Mapped[str | None] = mapped_column(Text)
    on_date: Mapped[date] = mapped_column(Date)
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(TZ, default=_now)


class Task(Base):
    """A follow-up task (phone call, home visit); created once per episode, kind and round."""

    __tablename__ = "task"
    __table_args__ = (UniqueConstraint("episode_id", "kind", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id"))
    kind: Mapped[str] = mapped_column(String(30))
    round: Mapped[int] = mapped_column(Integer, default=1)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    done_at: Mapped[datetime | None] = mapped_column(TZ)


class WorklistRun(Base):
    """When a worklist was last produced, so 'new since the last worklist' is a query."""

    __tablename__ = "worklist_run"
    __table_args__ = (UniqueConstraint("owner", "for_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(60))
    for_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)


class AuditLog(Base):
    """Who read or changed what: actor, action and entity ids only, never personal data."""

    __tablename__ = "audit_log"
    __table_args__ = (
        # The administrator's filters (newest first) and retention's delete by age.
        Index("ix_audit_log_actor_id", "actor", "id"),
        Index("ix_audit_log_entity_id_id", "entity_id", "id"),
        Index("ix_audit_log_episode_id_id", "episode_id", "id"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(TZ, default=_now, server_default=func.now())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    # The episode the entry concerns (its own, or its letter's, meeting's, match's), so
    # the administrator finds everything about one episode. No foreign key: the log
    # outlives the episodes retention deletes.
    episode_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)
    # The client's network address for actions taken through the web portal.
    address: Mapped[str | None] = mapped_column(String(64))


class StatFact(Base):
    """Anonymous monthly counts that outlive retention; the report reads these."""

    __tablename__ = "stat_fact"
    __table_args__ = (UniqueConstraint("month", "metric", "dimension"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    metric: Mapped[str] = mapped_column(String(60))
    dimension: Mapped[str] = mapped_column(String(60), default="")
    value: Mapped[float] = mapped_column(default=0.0)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=_now, onupdate=_now)


class PortalUser(Base):
    """A person who logs in to the web portal, with one role and what it is bound to.

    A company user sees only ``company_id``'s files; a caseworker only the episodes
    routed to ``caseworker_id``. Passwords are stored as argon2 hashes only.
    """

    __tablename__ = "portal_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # advisor|caseworker|company|manager|admin
    company_id: Mapped[str | None] = mapped_column(ForeignKey("housing_company.id"))
    caseworker_id: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    created_by: Mapped[str | None] = mapped_column(String(60))
    last_login_at: Mapped[datetime | None] = mapped_column(TZ)


class PortalSession(Base):
    """A logged-in browser: only the SHA-256 of its cookie token is stored."""

    __tablename__ = "portal_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("portal_user.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    last_seen_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    ended_at: Mapped[datetime | None] = mapped_column(TZ)
    address: Mapped[str | None] = mapped_column(String(64))


class LoginAttempt(Base):
    """One login attempt; recent failures per account and per address lock further tries."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(TZ, default=_now)
    success: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    """A housing company's API token for systems; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("housing_company.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    created_by: Mapped[str | None] = mapped_column(String(60))
    revoked_at: Mapped[datetime | None] = mapped_column(TZ)
    last_used_at: Mapped[datetime | None] = mapped_column(TZ)


class JobRun(Base):
    """One run of a scheduled job (daily, inbox, delivery ...): when, how it ended, per stage.

    The run history the alerts and ``kvarboende doctor`` read: a stage failing on
    consecutive runs, a scheduled run that never happened, the last successful daily
    run. Ids, states and error types only, never personal data.
    """

    __tablename__ = "job_run"
    __table_args__ = (Index("ix_job_run_job_started_at", "job", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    run_date: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    finished_at: Mapped[datetime | None] = mapped_column(TZ)
    # running, completed, failed, skipped (not a working day; another run had the job)
    state: Mapped[str] = mapped_column(String(20), default="running")
    # stage name -> ok, failed or busy (another run held it)
    stages: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(String(200))  # the error's type, no text
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    # Set when a Prefect deployment (a schedule) started the run: only then are runs expected.
    deployment_id: Mapped[str | None] = mapped_column(String(64))


class OperationsAlert(Base):
    """An alert to the operators, stored once per key so that it is emailed once.

    Unsent alerts are emailed by the next run (one email per kind), so an SMTP outage
    delays an alert but does not lose it. ``detail`` holds ids and counts only.
    """

    __tablename__ = "operations_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZ, default=_now)
    sent_at: Mapped[datetime | None] = mapped_column(TZ)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
