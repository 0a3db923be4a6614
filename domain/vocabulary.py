"""The domain's vocabulary: event types, episode states, outcomes, tiers, letter states.

Canonical names follow ``shared/domain.md``. They are stored as plain strings in
the database so that both SQLite and PostgreSQL hold them the same way.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class EventType(StrEnum):
    """What a notice from a housing company or Kronofogden reports."""

    TERMINATION_NOTICE = "termination_notice"
    PAYMENT_ORDER = "payment_order"
    DECISION = "decision"
    EVICTION_SCHEDULED = "eviction_scheduled"
    EVICTION_EXECUTED = "eviction_executed"
    SETTLED = "settled"
    WITHDRAWN = "withdrawn"  # the application to Kronofogden was withdrawn (återkallad)


#: Order of events in the legal chain; an episode's status never moves backwards.
EVENT_RANK: dict[EventType, int] = {
    EventType.TERMINATION_NOTICE: 1,
    EventType.PAYMENT_ORDER: 2,
    EventType.DECISION: 3,
    EventType.EVICTION_SCHEDULED: 4,
    EventType.EVICTION_EXECUTED: 5,
    EventType.SETTLED: 5,
    EventType.WITHDRAWN: 5,
}

#: Swedish labels for clerks and reports.
EVENT_LABEL_SV: dict[EventType, str] = {
    EventType.TERMINATION_NOTICE: "Uppsägning",
    EventType.PAYMENT_ORDER: "Betalningsföreläggande",
    EventType.DECISION: "Utslag",
    EventType.EVICTION_SCHEDULED: "Avhysning bokad",
    EventType.EVICTION_EXECUTED: "Avhysning verkställd",
    EventType.SETTLED: "Skulden reglerad",
    EventType.WITHDRAWN: "Ansökan återkallad",
}


class EpisodeStatus(StrEnum):
    """Where an arrears episode stands. Every change is stored as a transition."""

    TERMINATION_NOTICE = "termination_notice"
    PAYMENT_ORDER = "payment_order"
    DECISION = "decision"
    EVICTION_SCHEDULED = "eviction_scheduled"
    SETTLED = "settled"  # the company reported settlement; outcome rules close it
    EVICTION_EXECUTED = "eviction_executed"  # Kronofogden executed; outcome rules close it
    # The landlord withdrew the application (återkallad): not the same as a paid debt (the
    # tenant may have moved, or the landlord gave up); outcome rules close it as withdrawn.
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"  # an outcome is stored


#: Statuses after which a new termination notice opens a new episode (recurrence).
TERMINAL_STATUSES = frozenset({"settled", "eviction_executed", "withdrawn", "closed"})

#: Statuses of an episode still running (the outcome rules, booking, worklists act on them).
OPEN_STATUSES: tuple[EpisodeStatus, ...] = (
    EpisodeStatus.TERMINATION_NOTICE,
    EpisodeStatus.PAYMENT_ORDER,
    EpisodeStatus.DECISION,
    EpisodeStatus.EVICTION_SCHEDULED,
)


class Outcome(StrEnum):
    """How an episode ended."""

    SETTLED_WITHOUT_INTERVENTION = "settled_without_intervention"
    SETTLED_WITH_SUPPORT = "settled_with_support"
    EVICTED = "evicted"
    MOVED_OUT = "moved_out"
    WITHDRAWN = "withdrawn"
    UNKNOWN = "unknown"


class OutcomeCertainty(StrEnum):
    """A settlement reported by the company is confirmed; one inferred from silence is presumed."""

    CONFIRMED = "confirmed"
    PRESUMED = "presumed"


class Routing(StrEnum):
    """Who acts on an episode: the client's caseworker, or the housing advisor."""

    CASEWORKER = "caseworker"
    ADVISOR = "advisor"
    REVIEW = "review"


class MatchTier(StrEnum):
    CERTAIN = "certain"
    PROBABLE = "probable"
    POSSIBLE = "possible"
    NONE = "none"


class MatchDecision(StrEnum):
    AUTO = "auto"
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    # A pending match replaced by a newer one (a new register snapshot, or a valid
    # personnummer from a later notice): nobody needs to decide it any more.
    SUPERSEDED = "superseded"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


#: Statuses in plain Swedish, for transition reasons and lists.
STATUS_LABEL_SV: dict[str, str] = {
    EpisodeStatus.TERMINATION_NOTICE: "uppsägning",
    EpisodeStatus.PAYMENT_ORDER: "betalningsföreläggande",
    EpisodeStatus.DECISION: "utslag",
    EpisodeStatus.EVICTION_SCHEDULED: "bokad avhysning",
    EpisodeStatus.SETTLED: "reglerad",
    EpisodeStatus.EVICTION_EXECUTED: "verkställd avhysning",
    EpisodeStatus.WITHDRAWN: "återkallad",
    EpisodeStatus.CLOSED: "avslutad",
}

OUTCOME_LABEL_SV: dict[str, str] = {
    Outcome.SETTLED_WITHOUT_INTERVENTION: "reglerad utan insats",
    Outcome.SETTLED_WITH_SUPPORT: "reglerad med stöd",
    Outcome.EVICTED: "avhyst",
    Outcome.MOVED_OUT: "flyttat",
    Outcome.WITHDRAWN: "återkallad",
    Outcome.UNKNOWN: "utfall okänt",
}


#: Who acts on an episode, in plain Swedish (lists and the episode view).
ROUTING_LABEL_SV: dict[str, str] = {
    Routing.CASEWORKER: "handläggare",
    Routing.ADVISOR: "boenderådgivare",
    Routing.REVIEW: "granskas",
}

#: How sure a match is, in plain Swedish (the review list).
TIER_LABEL_SV: dict[str, str] = {
    MatchTier.CERTAIN: "säker",
    MatchTier.PROBABLE: "trolig",
    MatchTier.POSSIBLE: "möjlig",
    MatchTier.NONE: "ingen",
}

#: What became of a meeting, in plain Swedish (the episode view, lists).
APPOINTMENT_STATUS_LABEL_SV: dict[str, str] = {
    AppointmentStatus.BOOKED: "bokad",
    AppointmentStatus.ATTENDED: "hushållet kom",
    AppointmentStatus.NO_SHOW: "hushållet uteblev",
    AppointmentStatus.CANCELLED: "avbokad",
}


class TaskKind(StrEnum):
    """Follow-up task kinds (``Task.kind``): the Malmö routine after a missed meeting."""

    PHONE_CALL = "phone_call"
    HOME_VISIT = "home_visit"


TASK_KIND_LABEL_SV: dict[str, str] = {
    TaskKind.PHONE_CALL: "Ring hushållet",
    TaskKind.HOME_VISIT: "Hembesök",
}


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"  # no longer needed: the household was reached or the episode ended


TASK_STATUS_LABEL_SV: dict[str, str] = {
    TaskStatus.OPEN: "att göra",
    TaskStatus.DONE: "klar",
    TaskStatus.CANCELLED: "behövs inte längre",
}


class Role(StrEnum):
    """A portal user's role: what they may see and do (OSL 26:1)."""

    ADVISOR = "advisor"
    CASEWORKER = "caseworker"
    COMPANY = "company"
    MANAGER = "manager"
    ADMIN = "admin"


ROLE_LABEL_SV: dict[str, str] = {
    Role.ADVISOR: "Boenderådgivare",
    Role.CASEWORKER: "Socialsekreterare",
    Role.COMPANY: "Hyresvärd",
    Role.MANAGER: "Chef",
    Role.ADMIN: "Administratör",
}

#: How sure the advisor's decision on a match is, in plain Swedish (the episode view).
DECISION_LABEL_SV: dict[str, str] = {
    MatchDecision.AUTO: "avgjord automatiskt",
    MatchDecision.PENDING: "väntar på beslut",
    MatchDecision.CONFIRMED: "bekräftad",
    MatchDecision.REJECTED: "avvisad",
}


class LetterKind(StrEnum):
    APPOINTMENT = "appointment"
    APPOINTMENT_CANCELLED = "appointment_cancelled"  # the tenant's time was cancelled
    CASEWORKER_NOTICE = "caseworker_notice"
    ADVISOR_WORKLIST = "advisor_worklist"
    MANAGER_REPORT = "manager_report"
    COMPANY_RECEIPT = "company_receipt"  # a file's receipt, to the company's contact address
    # The print copy of a tenant letter that went by email to an address from the landlord's
    # file (``letters.post_when_email_from_landlord``): the same PDF, ``copy_of_id`` its letter.
    POST_COPY = "post_copy"


class LetterStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # Never sent: its meeting came too close before it could go out; a new version replaced it.
    SUPERSEDED = "superseded"


class Channel(StrEnum):
    EMAIL = "email"
    PRINT = "print"


#: A tenant letter's state in plain Swedish (the episode view).
LETTER_STATUS_LABEL_SV: dict[str, str] = {
    LetterStatus.PENDING: "väntar på utskick",
    LetterStatus.SENDING: "skickas",
    LetterStatus.SENT: "skickat",
    LetterStatus.FAILED: "kunde inte levereras",
    LetterStatus.SUPERSEDED: "ersatt av ett nyare brev",
    "returned": "kom tillbaka",
    "cancelled": "stoppat",
}

#: The tenant letters' kinds in plain Swedish (staff emails are not shown per episode).
LETTER_KIND_LABEL_SV: dict[str, str] = {
    LetterKind.APPOINTMENT: "Kallelse till möte",
    LetterKind.APPOINTMENT_CANCELLED: "Avbokad tid",
    LetterKind.POST_COPY: "Samma brev på papper (e-posten kom från hyresvärden)",
}

CHANNEL_LABEL_SV: dict[str, str] = {Channel.EMAIL: "e-post", Channel.PRINT: "post"}


class NoticeRow(BaseModel):
    """One accepted row of a notice file, normalised to canonical fields."""

    model_config = ConfigDict(frozen=True)

    row_number: int = Field(ge=1)
    event_type: EventType
    event_date: date
    personnummer: str | None = None
    personnummer_valid: bool = False
    tenant_name: str | None = None
    co_tenant_name: str | None = None
    co_tenant_personnummer: str | None = None
    street_address: str | None = None
    apartment: str | None = None
    postal_code: str | None = None
    town: str | None = None
    contract_ref: str | None = None
    debt_amount: Decimal | None = Field(default=None, ge=0)
    monthly_rent: Decimal | None = Field(default=None, ge=0)
    service_date: date | None = None
    eviction_at: datetime | None = None
    email: str | None = None
    phone: str | None = None
    language: str | None = None


class RejectedRow(BaseModel):
    """A row that could not be used, with a reason a clerk understands (Swedish)."""

    model_config = ConfigDict(frozen=True)

    row_number: int
    reason: str
    contract_ref: str | None = None  # the company's own reference: it finds the row by it


class Receipt(BaseModel):
    """What the housing company is told about a file: counts and reasons, nothing else."""

    filename: str
    company_id: str
    content_hash: str
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    already_received: bool = False
    file_error: str | None = None
    rejections: list[RejectedRow] = Field(default_factory=list)
    # How the file was read, when the company should know (lines read as Windows-1252,
    # repaired characters): one plain Swedish line each, no cell values.
    notes: list[str] = Field(default_factory=list)
    received_at: datetime | None = None  # when the file came (UTC)
    contact: str = ""  # whom the company asks about the receipt

    @property
    def balanced(self) -> bool:
        """Every row is accounted for exactly once."""
        return self.accepted + self.rejected + self.duplicates == self.rows_read


#: Meeting reminders (issue 12): their states and channels, as the portal shows them.
REMINDER_STATUS_SV: dict[str, str] = {
    "pending": "väntar på att skickas",
    "sending": "skickas just nu",
    "sent": "skickad",
    "delivered": "levererad",
    "failed": "gick inte fram",
    "superseded": "behövs inte längre",
}
REMINDER_CHANNEL_SV: dict[str, str] = {"sms": "sms", "email": "e-post"}
