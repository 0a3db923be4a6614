"""The advisor's daily worklist: eight sections, most urgent first, one action per row.

Pure polars over frames the stage loads (no database, no files), so ordering and
wording are tested directly. Every row carries the episode id, the tenant's name and
address, the deadline to pay, the debt, whether there are children (yes, no, or
unknown: ``has_children`` is null when nobody knows), and the one action due, in
plain Swedish.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

import polars as pl

from domain.formatting import MONTHS_SV, WEEKDAYS_SV
from domain.notices import MOJIBAKE
from domain.vocabulary import OPEN_STATUSES, OUTCOME_LABEL_SV, STATUS_LABEL_SV, TIER_LABEL_SV
from domain.working_days import roll_to_working_day, subtract_working_days


class Section(StrEnum):
    """The worklist's sections, in the order of the issue (most urgent first)."""

    # Match reviews whose deadline (or eviction) is close: above everything else, since
    # until the advisor decides nobody but the fallback booking reaches the household.
    URGENT_REVIEWS = "urgent_reviews"
    EVICTIONS = "evictions"
    APPOINTMENTS = "appointments"
    NO_SHOW_TASKS = "no_show_tasks"
    NEW_EPISODES = "new_episodes"
    MATCHES_TO_CONFIRM = "matches_to_confirm"
    DELIVERY_PROBLEMS = "delivery_problems"
    PAST_FOLLOW_UP = "past_follow_up"


SECTION_ORDER: tuple[Section, ...] = tuple(Section)

#: The columns every worklist row has, in display order.
ROW_SCHEMA: dict[str, pl.DataType] = {
    "section": pl.String(),
    "episode_id": pl.Int64(),
    "tenant_name": pl.String(),
    "address": pl.String(),
    "deadline_date": pl.Date(),
    "debt_amount": pl.Float64(),
    "has_children": pl.Boolean(),  # null: not known (not in the register, nobody asked)
    "action": pl.String(),
    # Not a column of its own: the deadline reads "ca 2026-10-12" when it is our estimate.
    "deadline_estimated": pl.Boolean(),
}

EPISODES_SCHEMA: dict[str, pl.DataType] = {
    "episode_id": pl.Int64(),
    "tenant_name": pl.String(),
    "street_address": pl.String(),
    "apartment": pl.String(),
    "postal_code": pl.String(),
    "town": pl.String(),
    "deadline_date": pl.Date(),
    "deadline_estimated": pl.Boolean(),  # no service date: the deadline is our estimate
    "debt_amount": pl.Float64(),
    "has_children": pl.Boolean(),  # null: not known
    "status": pl.String(),
    "outcome": pl.String(),
    "routing": pl.String(),
    "caseworker_id": pl.String(),
    "caseworker_name": pl.String(),
    "opened_on": pl.Date(),
    "eviction_at": pl.Datetime("us", "Europe/Stockholm"),
    "follow_up_date": pl.Date(),
    "last_event_date": pl.Date(),
}

APPOINTMENTS_SCHEMA: dict[str, pl.DataType] = {
    "appointment_id": pl.Int64(),
    "episode_id": pl.Int64(),
    "status": pl.String(),
    "before_deadline": pl.Boolean(),
    "starts_at": pl.Datetime("us", "Europe/Stockholm"),
    "short_notice": pl.Boolean(),  # less lead time after the letter than wanted
    "location": pl.String(),
    "advisor_id": pl.String(),
}

TASKS_SCHEMA: dict[str, pl.DataType] = {
    "episode_id": pl.Int64(),
    "kind": pl.String(),
    "round": pl.Int64(),
    "due_date": pl.Date(),
}

MATCHES_SCHEMA: dict[str, pl.DataType] = {
    "match_id": pl.Int64(),
    "episode_id": pl.Int64(),
    "tier": pl.String(),
    "score": pl.Float64(),
}

LETTERS_SCHEMA: dict[str, pl.DataType] = {
    "letter_id": pl.Int64(),
    "episode_id": pl.Int64(),
    "status": pl.String(),
    "flagged": pl.Boolean(),  # the email failed and the letter went to print instead
    "channel": pl.String(),
    # Due: a letter goes out in the run that queued it. The day its meeting's letter was
    # first dated: one dated again (not sent on its date) still shows since when it waits.
    "created_on": pl.Date(),
    "problem": pl.String(),  # domain.delivery.problem_of(last_error)
}

#: Letter statuses that mean the household did not get the letter.
UNDELIVERED_LETTER_STATUSES: tuple[str, ...] = ("failed", "returned")

#: Letter statuses that mean the letter has not gone out yet.
WAITING_LETTER_STATUSES: tuple[str, ...] = ("pending", "sending")

#: Emails to staff (``Letter.kind``): counts and links, no paper form.
STAFF_EMAIL_KINDS: tuple[str, ...] = (
    "caseworker_notice",
    "advisor_worklist",
    "manager_report",
    "company_receipt",
)

STAFF_EMAILS_SCHEMA: dict[str, pl.DataType] = {
    "letter_id": pl.Int64(),
    "kind": pl.String(),
    "key": pl.String(),  # the outbox key: says whose email it was (no personal data)
    "status": pl.String(),
    "created_on": pl.Date(),
    "problem": pl.String(),
}

#: Why an email did not go out, in words for the worklist.
PROBLEM_SV: dict[str, str] = {
    "no_answer": "e-postservern svarade inte",
    "deferred": "e-postservern bad om nya försök för länge",
    "refused": "adressen nekades",
}

#: Meeting reminders that failed, for a meeting still booked (services.reminders).
REMINDERS_SCHEMA: dict[str, pl.DataType] = {
    "reminder_id": pl.Int64(),
    "episode_id": pl.Int64(),
    "channel": pl.String(),  # sms | email
    "starts_at": pl.Datetime("us", "UTC"),
    "too_close": pl.Boolean(),  # never sent: the meeting came too close first
}

#: Letters to tenants (``Letter.kind``); only the latest one per episode matters.
TENANT_LETTER_KINDS: tuple[str, ...] = ("appointment", "appointment_cancelled")


@dataclass(frozen=True)
class WorklistInputs:
    """The frames one worklist is built from (already limited to one owner's episodes)."""

    episodes: pl.DataFrame
    appointments: pl.DataFrame
    open_tasks: pl.DataFrame
    pending_matches: pl.DataFrame
    tenant_letters: pl.DataFrame
    # Staff emails not sent by their day or finally failed (the first advisor's list).
    staff_emails: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=STAFF_EMAILS_SCHEMA)
    )
    # Meeting reminders (SMS or email) that failed, for a meeting still booked.
    failed_reminders: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=REMINDERS_SCHEMA)
    )


def _sv_day(column: str | pl.Expr) -> pl.Expr:
    """``14 december`` (day and month: the year is obvious on a daily list)."""
    col = pl.col(column) if isinstance(column, str) else column
    months = {i + 1: name for i, name in enumerate(MONTHS_SV)}
    return pl.format("{} {}", col.dt.day(), col.dt.month().replace_strict(months))


def _sv_weekday_day(column: str | pl.Expr) -> pl.Expr:
    """``måndag 14 december``."""
    col = pl.col(column) if isinstance(column, str) else column
    weekdays = {i + 1: name for i, name in enumerate(WEEKDAYS_SV)}
    return pl.format("{} {}", col.dt.weekday().replace_strict(weekdays), _sv_day(col))


def _sv_clock(column: str) -> pl.Expr:
    """``kl. 09.30`` from a Stockholm timestamp."""
    return pl.format("kl. {}", pl.col(column).dt.strftime("%H.%M"))


def _sv_eviction_when(column: str = "eviction_at") -> pl.Expr:
    """``måndag 14 december kl. 09.00``; only the day when the time is 00:00.

    A company that reports the eviction day without its time is stored at local
    midnight: printing "kl. 00.00" would invent a time nobody gave.
    """
    day = _sv_weekday_day(column)
    return (
        pl.when(pl.col(column).dt.strftime("%H:%M") == "00:00")
        .then(day)
        .otherwise(pl.format("{} {}", day, _sv_clock(column)))
    )


def postal_code_expr(column: str = "postal_code") -> pl.Expr:
    """``194 53`` as letters and envelopes write it (ingest stores ``19453``); else as given."""
    code = pl.col(column).str.replace_all(r"\s", "")
    return (
        pl.when(code.str.contains(r"^\d{5}$"))
        .then(pl.format("{} {}", code.str.slice(0, 3), code.str.slice(3)))
        .otherwise(pl.col(column))
    )


def sv_postal_code(value: str | None) -> str | None:
    """:func:`postal_code_expr` for one value (the episode view prints one address)."""
    if value is None:
        return None
    code = "".join(value.split())
    return f"{code[:3]} {code[3:]}" if len(code) == 5 and code.isdigit() else value


def address_expr() -> pl.Expr:
    """``Storgatan 3, lgh 1102, 123 45 Exempelby`` with unknown parts left out."""
    street = pl.col("street_address")
    apartment = pl.format("lgh {}", pl.col("apartment"))
    place = pl.concat_str([postal_code_expr(), "town"], separator=" ", ignore_nulls=True)
    place = pl.when(place == "").then(None).otherwise(place)
    full = pl.concat_str([street, apartment, place], separator=", ", ignore_nulls=True)
    return pl.when(full == "").then(None).otherwise(full)


def _rows(frame: pl.DataFrame, section: Section, action: pl.Expr) -> pl.DataFrame:
    """Project a section's frame (joined with episodes) onto the row schema.

    An empty section is the empty frame at once: polars plans the address and action
    expressions even for no rows (about a millisecond a section, on every worklist view).
    """
    if frame.is_empty():
        return pl.DataFrame(schema=ROW_SCHEMA)
    return frame.select(
        section=pl.lit(section.value),
        episode_id="episode_id",
        tenant_name="tenant_name",
        address=address_expr(),
        deadline_date="deadline_date",
        debt_amount="debt_amount",
        has_children="has_children",
        action=action,
        deadline_estimated=pl.col("deadline_estimated").fill_null(False),
    ).cast(ROW_SCHEMA)  # type: ignore[arg-type]


def children_rank() -> pl.Expr:
    """0 with children, 1 not known, 2 without: a household nobody asked may have children."""
    children = pl.col("has_children")
    return pl.when(children.is_null()).then(1).when(children).then(0).otherwise(2)


def _children_first(frame: pl.DataFrame, *then: str) -> pl.DataFrame:
    """Households with children first (nollvisionen), then those not known, then by ``then``."""
    return frame.sort([children_rank(), *then], nulls_last=True)


def _ask_about_children() -> pl.Expr:
    """What to add to a contact task when nobody knows whether children live there."""
    return (
        pl.when(pl.col("has_children").is_null())
        .then(
            pl.format(
                "; fråga om barn bor där och registrera svaret (antal barn på ärendesidan {})",
                pl.col("episode_id"),
            )
        )
        .otherwise(pl.lit(""))
    )


def _closed_note() -> pl.Expr:
    """`` (Ärendet avslutat: reglerad)`` for an episode that is no longer open, else empty."""
    label = pl.coalesce(
        pl.col("outcome").replace_strict(OUTCOME_LABEL_SV, default=None, return_dtype=pl.String),
        pl.col("status").replace_strict(STATUS_LABEL_SV, default=None, return_dtype=pl.String),
        pl.col("status"),
    )
    return (
        pl.when(pl.col("status").is_in(OPEN_STATUSES))
        .then(pl.lit(""))
        .otherwise(pl.format(" (Ärendet avslutat: {})", label))
    )


def eviction_rows(
    episodes: pl.DataFrame, run_date: date, horizon_days: int, caseworker_view: bool = False
) -> pl.DataFrame:
    """Section 1: evictions booked within the horizon, households with children first.

    Episodes routed to a caseworker stay on the advisor's list: a child must never be
    evicted because a hand-over was not followed up. On the caseworker's own list
    (``caseworker_view``) the episode is theirs, so the action is addressed to them.
    """
    last = run_date + timedelta(days=horizon_days)
    day = pl.col("eviction_at").dt.date()
    due = episodes.filter(
        pl.col("status").is_in(OPEN_STATUSES)
        & pl.col("eviction_at").is_not_null()
        & (day >= run_date)
        & (day <= last)
    )
    due = _children_first(due, "eviction_at", "episode_id")
    when = _sv_eviction_when("eviction_at")
    action = (
        pl.when((pl.col("routing") == "caseworker") & pl.lit(not caseworker_view))
        .then(
            pl.format(
                "Avhysning {}: kontrollera att handläggaren ({}) har kontakt med hushållet",
                when,
                pl.coalesce("caseworker_name", "caseworker_id", pl.lit("okänd")),
            )
        )
        .otherwise(pl.format("Avhysning {}: kontakta hushållet och hyresvärden i dag", when))
    )
    return _rows(due, Section.EVICTIONS, action)


def appointment_rows(
    episodes: pl.DataFrame, appointments: pl.DataFrame, run_date: date
) -> pl.DataFrame:
    """Section 2: booked meetings today and on the next working day, in time order.

    Whatever the episode's status: a tenant who settled or whose episode closed still
    holds the letter with the time and may come, so the meeting stays on the list (with
    the episode's status) and its slot stays booked.
    """
    next_day = roll_to_working_day(run_date + timedelta(days=1))
    day = pl.col("starts_at").dt.date()
    booked = appointments.filter(
        (pl.col("status") == "booked") & ((day == run_date) | (day == next_day))
    ).join(episodes, on="episode_id", how="inner")
    booked = booked.sort(["starts_at", "episode_id"])
    label = pl.when(day == run_date).then(pl.lit("i dag")).otherwise(_sv_weekday_day("starts_at"))
    # The join named the episode's status ``status_right``; the notes read ``status``.
    booked = booked.drop("status").rename({"status_right": "status"})
    is_open = pl.col("status").is_in(OPEN_STATUSES)
    # Every short-notice booking shows here the day before, whoever made it (a first
    # booking, a review booked as unknown, a rebooking by the delivery or the advisor).
    short = pl.col("short_notice").fill_null(False)
    action = pl.format(
        "Möte {} {}, {}: ta emot hushållet och registrera besöket{}{}{}",
        label,
        _sv_clock("starts_at"),
        pl.col("location").fill_null("mottagningen"),
        pl.when(short).then(pl.lit(SHORT_NOTICE_NOTE_SV)).otherwise(pl.lit("")),
        pl.when(is_open).then(_ask_about_children()).otherwise(pl.lit("")),
        _closed_note(),
    )
    return pl.concat(
        [
            _rows(booked, Section.APPOINTMENTS, action),
            unrecorded_meeting_rows(episodes, appointments, run_date),
        ]
    )


def unrecorded_meeting_rows(
    episodes: pl.DataFrame, appointments: pl.DataFrame, run_date: date
) -> pl.DataFrame:
    """Meetings whose day has passed and that nobody recorded: "register: came / did not come".

    From the next working day on, until the advisor records attendance (the attendance
    form on the episode page): a meeting left "booked" would never start the no-show
    follow-up, and the silence rule never closes an episode while it waits. Only open
    episodes: once the debt is settled or the episode closed, a meeting that has passed
    is no longer asked about (today's and the next working day's still are, above).
    """
    passed = (
        appointments.filter(
            (pl.col("status") == "booked") & (pl.col("starts_at").dt.date() < run_date)
        )
        .join(episodes.filter(pl.col("status").is_in(OPEN_STATUSES)), on="episode_id", how="inner")
        .sort(["starts_at", "episode_id"])
    )
    action = pl.format(
        "Mötet {} {} har passerat utan registrering: registrera om hushållet kom eller "
        "uteblev (närvaro på ärendesidan {})",
        _sv_weekday_day("starts_at"),
        _sv_clock("starts_at"),
        pl.col("episode_id"),
    )
    return _rows(passed, Section.APPOINTMENTS, action)


def task_rows(episodes: pl.DataFrame, tasks: pl.DataFrame, run_date: date) -> pl.DataFrame:
    """Section 3: open phone-call and home-visit tasks after missed meetings, by due date.

    A task whose due date has passed says so (``försenad``): on 2 November, "call by
    30 October" is not a plan but a miss. A call to a household nobody knows about
    asks whether children live there, since the home visit depends on it.
    """
    open_tasks = tasks.join(episodes, on="episode_id", how="inner").sort(
        [pl.col("due_date"), children_rank(), pl.col("episode_id"), pl.col("kind")]
    )
    due = pl.col("due_date")
    late = pl.when(due < pl.lit(run_date)).then(pl.lit(" – försenad")).otherwise(pl.lit(""))
    action = (
        pl.when(pl.col("kind") == "home_visit")
        .then(
            pl.format(
                "Gör hembesök senast {}{} (barnfamilj som uteblev och inte nåtts per telefon)",
                _sv_day("due_date"),
                late,
            )
        )
        .otherwise(
            pl.format(
                "Ring hushållet senast {}{} (uteblev från mötet){}",
                _sv_day("due_date"),
                late,
                _ask_about_children(),
            )
        )
    )
    return _rows(open_tasks, Section.NO_SHOW_TASKS, action)


def new_episode_rows(
    episodes: pl.DataFrame,
    appointments: pl.DataFrame,
    run_date: date,
    previous_run_date: date | None,
    caseworker_view: bool = False,
) -> pl.DataFrame:
    """Section 4: episodes opened since the last worklist, with where they were routed.

    On a caseworker's own list every episode is routed to them: the action says what
    they do, not who it was handed to.
    """
    opened = pl.col("opened_on") <= run_date
    if previous_run_date is not None:
        opened &= pl.col("opened_on") > previous_run_date
    # The latest meeting that is or was on: a new episode whose meeting has already
    # taken place (booked and held the same week) says so, not "no time booked".
    booked = (
        appointments.filter(pl.col("status").is_in(["booked", "attended", "no_show"]))
        .sort(["episode_id", "starts_at"])
        .unique(subset="episode_id", keep="last", maintain_order=True)
        .select(
            "episode_id",
            "starts_at",
            pl.col("status").alias("meeting_status"),
            pl.col("short_notice").fill_null(False).alias("meeting_short_notice"),
        )
    )
    new = _children_first(
        episodes.filter(opened).join(booked, on="episode_id", how="left"),
        "deadline_date",
        "episode_id",
    )
    slot = pl.format("{} {}", _sv_weekday_day("starts_at"), _sv_clock("starts_at"))
    routing = pl.col("routing")
    action = (
        pl.when((routing == "caseworker") & pl.lit(caseworker_view))
        .then(
            pl.lit("Nytt ärende hos dig (känt hos socialtjänsten): kontakta hushållet om skulden")
        )
        .when(routing == "caseworker")
        .then(
            pl.format(
                "Känt ärende: överlämnat till handläggare {}",
                pl.coalesce("caseworker_name", "caseworker_id", pl.lit("(okänd)")),
            )
        )
        .when((routing == "advisor") & (pl.col("meeting_status") == "attended"))
        .then(pl.format("Kom till mötet {}", slot))
        .when((routing == "advisor") & (pl.col("meeting_status") == "no_show"))
        .then(pl.format("Uteblev från mötet {}", slot))
        .when(
            (routing == "advisor")
            & pl.col("starts_at").is_not_null()
            & pl.col("meeting_short_notice")
            & (pl.col("meeting_status") == "booked")
        )
        .then(pl.format("Kallelse till möte {}{}", slot, pl.lit(SHORT_NOTICE_NOTE_SV)))
        .when((routing == "advisor") & pl.col("starts_at").is_not_null())
        .then(pl.format("Kallelse till möte {}", slot))
        .when(routing == "advisor")
        .then(pl.lit("Kallelse: mötestid ännu inte bokad"))
        .when(routing == "review")
        .then(pl.lit("Möjlig träff i registret: bekräfta eller avvisa (avsnittet Träffar)"))
        .otherwise(pl.lit("Ännu inte matchat mot registret"))
    )
    return _rows(new, Section.NEW_EPISODES, pl.concat_str([action, garbled_text_note()]))


#: Added to a meeting booked with less lead time after the letter than wanted: because
#: the deadline or the eviction forced it, or because the advisor chose that time (then
#: usually agreed on the phone). Either way the letter may arrive late: a call settles it.
SHORT_NOTICE_NOTE_SV = (
    " – kort varsel: mötet ligger närmare brevet än den vanliga tiden mellan brev och "
    "möte, så brevet kan komma sent; ring och påminn om mötet"
)


#: Added to a new episode whose name or address still looks garbled after repair.
GARBLED_NOTE_SV = (
    " – Kontrollera namn och adress: tecknen ser felkodade ut i hyresvärdens fil "
    "(t.ex. Ã¥ i stället för å). Be hyresvärden rätta filen; ring hushållet om "
    "brevet kan ha fått fel adress."
)


def garbled_text_note() -> pl.Expr:
    """The advisor's note when the tenant's name or address still looks like mojibake.

    Ingest repairs classic mojibake (``Ã¥`` for ``å``); what still looks garbled went
    onto the letter as it was, so the advisor checks it (:data:`domain.notices.MOJIBAKE`).
    """
    garbled = pl.any_horizontal(
        [
            pl.col(name).str.contains(MOJIBAKE).fill_null(False)
            for name in ("tenant_name", "street_address")
        ]
    )
    return pl.when(garbled).then(pl.lit(GARBLED_NOTE_SV)).otherwise(pl.lit(""))


def match_rows(episodes: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
    """Section 5: suggested matches waiting for a person to confirm or reject them."""
    pending = matches.join(episodes, on="episode_id", how="inner").sort(
        [children_rank(), pl.col("score"), pl.col("match_id")], descending=[False, True, False]
    )
    action = pl.format(
        "Bekräfta eller avvisa träff {} ({}) på ärendesidan",
        pl.col("match_id"),
        pl.col("tier").replace(TIER_LABEL_SV),
    )
    return _rows(pending, Section.MATCHES_TO_CONFIRM, action)


def delivery_problem_rows(
    episodes: pl.DataFrame, appointments: pl.DataFrame, letters: pl.DataFrame, run_date: date
) -> pl.DataFrame:
    """Section 6: letters that never arrived, and meetings booked after the deadline to pay.

    Only each episode's latest tenant letter counts: a failed letter followed by a new
    version that went out is no longer a problem. A letter still waiting after the day
    it was queued (an email outage) is one too. Only open episodes: once the debt is
    settled or the episode closed there is nobody to chase about a letter or a late time.
    """
    episodes = episodes.filter(pl.col("status").is_in(OPEN_STATUSES))
    latest = letters.sort(["episode_id", "letter_id"]).unique(
        subset="episode_id", keep="last", maintain_order=True
    )
    waiting = pl.col("status").is_in(WAITING_LETTER_STATUSES) & (
        pl.col("created_on").fill_null(run_date) < run_date
    )
    failed = _children_first(
        latest.filter(
            pl.col("status").is_in(UNDELIVERED_LETTER_STATUSES)
            | pl.col("flagged").fill_null(False)
            | waiting
        ).join(episodes, on="episode_id", how="inner"),
        "episode_id",
        "letter_id",
    )
    problem = pl.col("problem")
    failed_rows = _rows(
        failed,
        Section.DELIVERY_PROBLEMS,
        pl.when(pl.col("status") == "returned")
        .then(pl.lit("Brevet kom tillbaka: kontrollera adressen och ring hushållet"))
        .when((pl.col("status") == "failed") & (problem == "meeting_passed"))
        .then(
            pl.format(
                "Brevet hinner inte fram före mötet och ingen ny tid var ledig: boka en tid "
                "(Ny tid på ärendesidan {}) och ring hushållet",
                pl.col("episode_id"),
            )
        )
        .when(pl.col("status") == "failed")
        .then(pl.lit("Brevet kunde inte levereras: ring hushållet eller skicka det igen"))
        .when(waiting)
        .then(
            pl.format(
                "Brevet har inte gått iväg (väntar sedan {}): det går med posten i tid om "
                "mejlet inte fungerar; ring hushållet om mötet",
                _sv_day("created_on"),
            )
        )
        .when(problem.is_in(["no_answer", "deferred"]))
        .then(
            pl.lit(
                "E-posten fungerade inte i tid, brevet gick med posten: ring hushållet och "
                "påminn om mötet"
            )
        )
        .otherwise(
            pl.lit("Mejlet studsade, brevet går med posten: ring hushållet och rätta e-posten")
        ),
    )
    late = _children_first(
        appointments.filter(
            (pl.col("status") == "booked")
            & ~pl.col("before_deadline").fill_null(True)
            & (pl.col("starts_at").dt.date() >= run_date)
        ).join(episodes, on="episode_id", how="inner"),
        "starts_at",
        "episode_id",
    )
    late_rows = _rows(late, Section.DELIVERY_PROBLEMS, late_meeting_action(run_date))
    return pl.concat([failed_rows, late_rows])


def reminder_problem_rows(episodes: pl.DataFrame, reminders: pl.DataFrame) -> pl.DataFrame:
    """Section 6 too: a meeting reminder that did not reach the household: phone instead."""
    failed = _children_first(
        reminders.with_columns(
            pl.col("starts_at").dt.convert_time_zone("Europe/Stockholm").alias("starts_at")
        )
        .sort("reminder_id")
        .unique(subset="episode_id", keep="last", maintain_order=True)
        .join(episodes.filter(pl.col("status").is_in(OPEN_STATUSES)), on="episode_id"),
        "starts_at",
        "episode_id",
    )
    when = pl.format("{} {}", _sv_weekday_day("starts_at"), _sv_clock("starts_at"))
    channel = pl.col("channel").replace_strict({"sms": "sms", "email": "e-post"}, default="sms")
    action = (
        pl.when(pl.col("too_close"))
        .then(pl.format("Påminnelsen hann inte gå iväg före mötet {}: ring hushållet", when))
        .otherwise(
            pl.format(
                "Påminnelsen om mötet {} gick inte fram med {}: ring hushållet och påminn",
                when,
                channel,
            )
        )
    )
    return _rows(failed, Section.DELIVERY_PROBLEMS, action)


def late_meeting_action(run_date: date) -> pl.Expr:
    """What to do about a meeting booked after the deadline to pay, in plain Swedish.

    An earlier time is offered only when one can still help: the deadline lies ahead.
    When the deadline had passed before the landlord's notice reached us (or has passed
    since), no earlier time exists; the advisor phones about the meeting and asks the
    landlord whether it accepts payment or a payment plan anyway.
    """
    deadline = pl.col("deadline_date")
    meeting = _sv_day("starts_at")
    arrived_late = deadline < pl.col("opened_on")
    return (
        pl.when(arrived_late)
        .then(
            pl.format(
                "Underrättelsen kom efter sista dagen att betala ({}), så det finns ingen tid "
                "före den: ring hushållet om mötet {} och fråga hyresvärden om de godtar "
                "betalning eller en avbetalningsplan ändå",
                _sv_day("deadline_date"),
                meeting,
            )
        )
        .when(deadline < pl.lit(run_date))
        .then(
            pl.format(
                "Sista dagen att betala ({}) har passerat: ring hushållet om mötet {} och "
                "fråga hyresvärden om de godtar betalning eller en avbetalningsplan ändå",
                _sv_day("deadline_date"),
                meeting,
            )
        )
        .otherwise(
            pl.format(
                "Mötet {} ligger efter sista dagen att betala ({}): ring och erbjud en "
                "tidigare tid om någon blir ledig (Ny tid på ärendesidan {}), annars hjälp "
                "hushållet att betala före sista dagen",
                meeting,
                _sv_day("deadline_date"),
                pl.col("episode_id"),
            )
        )
    )


def staff_email_label(kind: str, key: str) -> tuple[str, str]:
    """Which staff email it was and what to do instead, from its kind and outbox key."""
    parts = key.split(":")
    if kind == "caseworker_notice" and len(parts) >= 2:
        return (
            f"Mejlet till handläggare {parts[1]} om nya ärenden",
            "säg till handläggaren att läsa sin lista (i portalen, sidan Mina ärenden)",
        )
    if kind == "advisor_worklist" and len(parts) >= 4:
        return (
            f"Mejlet om arbetslistan {parts[3]} till rådgivare {parts[2]}",
            "listan finns ändå i mappen för arbetslistor",
        )
    if kind == "manager_report" and len(parts) >= 2:
        return (
            f"Månadsrapporten {parts[1]} till cheferna",
            "skicka rapporten från mappen för rapporter",
        )
    if kind == "company_receipt" and len(parts) >= 3:
        return (
            f"Kvittot för fil {parts[2]} till bostadsbolaget {parts[1]}",
            "bolaget ser kvittot när det loggar in i portalen; kontrollera kontaktadressen",
        )
    return "Ett mejl till personalen", "kontrollera vad som skulle skickas"


def staff_email_rows(staff: pl.DataFrame, run_date: date) -> pl.DataFrame:
    """Staff emails that finally failed or still wait after their day: one row each.

    They concern no household, so the episode columns are empty. Never silent: an
    email given up after a day of retries is here with what to do instead.
    """
    rows = []
    for row in staff.sort("letter_id").iter_rows(named=True):
        waiting = row["status"] in WAITING_LETTER_STATUSES
        if waiting and (row["created_on"] is None or row["created_on"] >= run_date):
            continue
        what, instead = staff_email_label(row["kind"], row["key"] or "")
        day = _sv_date_text(row["created_on"])
        if waiting:
            action = f"{what} ({day}) har inte gått iväg än; nya försök görs automatiskt"
        else:
            reason = PROBLEM_SV.get(row["problem"] or "", "okänt fel")
            action = (
                f"{what} ({day}) kunde inte skickas ({reason}): {instead}; "
                "be IT kontrollera e-postservern"
            )
        rows.append(
            {
                "section": Section.DELIVERY_PROBLEMS.value,
                "action": action,
                "deadline_estimated": False,
            }
        )
    return pl.DataFrame(rows, schema=ROW_SCHEMA)


def _sv_date_text(day: date | None) -> str:
    if day is None:
        return "okänt datum"
    return f"{day.day} {MONTHS_SV[day.month - 1]}"


def follow_up_rows(episodes: pl.DataFrame, run_date: date) -> pl.DataFrame:
    """Section 7: open episodes with no news past their follow-up date."""
    due = _children_first(
        episodes.filter(
            pl.col("status").is_in(OPEN_STATUSES)
            & pl.col("follow_up_date").is_not_null()
            & (pl.col("follow_up_date") <= run_date)
        ),
        "follow_up_date",
        "episode_id",
    )
    eviction_passed = pl.col("eviction_at").is_not_null() & (
        pl.col("eviction_at").dt.date() < run_date
    )
    action = (
        pl.when(eviction_passed)
        .then(
            pl.format(
                "Avhysningsdagen {} har passerat utan besked: fråga hyresvärden hur det gick",
                _sv_day(pl.col("eviction_at")),
            )
        )
        .otherwise(
            pl.format(
                "Inget nytt sedan {}: fråga hyresvärden om skulden är betald",
                _sv_day(pl.coalesce("last_event_date", "opened_on")),
            )
        )
    )
    return _rows(due, Section.PAST_FOLLOW_UP, action)


def _mapped_dates(column: pl.Series, rule: Callable[[date], date]) -> dict[date, date]:
    """``rule`` for each distinct date of a column (a working-day rule, per day not row)."""
    return {day: rule(day) for day in column.drop_nulls().unique().to_list()}


def urgent_review_rows(
    episodes: pl.DataFrame,
    matches: pl.DataFrame,
    appointments: pl.DataFrame,
    run_date: date,
    urgent_days: int,
    book_working_days: int,
) -> pl.DataFrame:
    """Section 0: match reviews whose last day to pay (or eviction) is ``urgent_days`` away.

    Until the advisor decides, only the fallback booking (``book_working_days`` working
    days before that day, as unknown to social services) reaches the household; the row
    says which of the two happens when, or that the letter has gone.
    """
    pending = matches.join(episodes, on="episode_id", how="inner").filter(
        pl.col("status").is_in(OPEN_STATUSES)
    )
    limit = pl.min_horizontal(pl.col("deadline_date"), pl.col("eviction_at").dt.date())
    pending = pending.with_columns(limit_date=limit).filter(
        pl.col("limit_date").is_not_null()
        & (pl.col("limit_date") <= run_date + timedelta(days=urgent_days))
    )
    booked = (
        appointments.filter(pl.col("status") == "booked")
        .sort(["episode_id", "starts_at"])
        .unique(subset="episode_id", keep="last", maintain_order=True)
        .select("episode_id", "starts_at")
    )
    pending = _children_first(pending.join(booked, on="episode_id", how="left"), "limit_date")
    fallback = _mapped_dates(
        pending["limit_date"], lambda day: subtract_working_days(day, book_working_days)
    )
    fallback_day = pl.col("limit_date").replace_strict(fallback, default=None, return_dtype=pl.Date)
    what = (
        pl.when(
            pl.col("deadline_date").is_not_null()
            & (pl.col("limit_date") == pl.col("deadline_date"))
        )
        .then(pl.format("Sista dagen att betala är {}", _sv_day("limit_date")))
        .otherwise(pl.format("Avhysning {}", _sv_day("limit_date")))
    )
    decide = pl.format(
        "bekräfta eller avvisa träff {} ({}) på ärendesidan i dag",
        pl.col("match_id"),
        pl.col("tier").replace(TIER_LABEL_SV),
    )
    then = (
        pl.when(pl.col("starts_at").is_not_null())
        .then(
            pl.format(
                " (hushållet är redan kallat till möte {} {} som okänt för socialtjänsten)",
                _sv_weekday_day("starts_at"),
                _sv_clock("starts_at"),
            )
        )
        .when(fallback_day > run_date)
        .then(
            pl.format(
                " (annars kallas hushållet {} som okänt för socialtjänsten)",
                _sv_weekday_day(fallback_day),
            )
        )
        .otherwise(pl.lit(" (hushållet kallas i dag som okänt för socialtjänsten)"))
    )
    return _rows(pending, Section.URGENT_REVIEWS, pl.format("{}: {}{}", what, decide, then))


def eviction_booking_rows(
    episodes: pl.DataFrame, appointments: pl.DataFrame, run_date: date, margin: int
) -> pl.DataFrame:
    """Meetings that cannot help before a booked eviction, for section 6.

    An open advisor episode never booked because no free time lies ``margin`` working
    days before its eviction; a booked meeting that lies after that day (the eviction
    came later, or was moved earlier).
    """
    ahead = episodes.filter(
        pl.col("status").is_in(OPEN_STATUSES)
        & pl.col("eviction_at").is_not_null()
        & (pl.col("eviction_at").dt.date() >= run_date)
    )
    last = _mapped_dates(
        ahead["eviction_at"].dt.date(), lambda day: subtract_working_days(day, margin)
    )
    ahead = ahead.with_columns(
        last_day=pl.col("eviction_at")
        .dt.date()
        .replace_strict(last, default=None, return_dtype=pl.Date)
    )
    never = _children_first(
        ahead.filter(
            (pl.col("routing") == "advisor")
            & ~pl.col("episode_id").is_in(appointments["episode_id"].implode())
        ),
        "eviction_at",
        "episode_id",
    )
    never_rows = _rows(
        never,
        Section.DELIVERY_PROBLEMS,
        pl.format(
            "Ingen ledig mötestid minst {} arbetsdagar före avhysningen {}: ring hushållet "
            "och hyresvärden i dag",
            pl.lit(margin),
            _sv_eviction_when("eviction_at"),
        ),
    )
    too_late = _children_first(
        appointments.filter(
            (pl.col("status") == "booked") & (pl.col("starts_at").dt.date() >= run_date)
        )
        .join(ahead, on="episode_id", how="inner")
        .filter(pl.col("starts_at").dt.date() > pl.col("last_day")),
        "starts_at",
        "episode_id",
    )
    late_rows = _rows(
        too_late,
        Section.DELIVERY_PROBLEMS,
        pl.format(
            "Mötet {} ligger för nära avhysningen {}: ring och erbjud en tidigare tid",
            _sv_day("starts_at"),
            _sv_eviction_when("eviction_at"),
        ),
    )
    return pl.concat([never_rows, late_rows])


def build_sections(
    inputs: WorklistInputs,
    run_date: date,
    *,
    horizon_days: int,
    previous_run_date: date | None,
    include_matches: bool = True,
    caseworker_view: bool = False,
    include_staff_emails: bool = False,
    eviction_margin: int | None = None,
    review_urgent_days: int | None = None,
    review_book_working_days: int = 5,
) -> pl.DataFrame:
    """Every row of one worklist, sections in the issue's order, each section sorted.

    ``previous_run_date`` is the date of this owner's last worklist before ``run_date``
    (None: never), so that "new episodes" is the same on a rerun of the same date.
    ``caseworker_view``: the list is a caseworker's own, so actions are addressed to them.
    ``include_staff_emails``: this list (the first advisor's) also shows staff emails
    that could not be sent. ``eviction_margin`` (``booking.eviction_margin_working_days``):
    flag meetings that could not be booked, or lie, that close to a booked eviction.
    ``review_urgent_days``: match reviews this close to their deadline come first (with
    ``review_book_working_days``, when the household is booked anyway). None: not shown.
    """
    episodes = inputs.episodes
    if "deadline_estimated" not in episodes.columns:  # frames built before the flag existed
        episodes = episodes.with_columns(deadline_estimated=pl.lit(False))
    episodes = episodes.cast(EPISODES_SCHEMA)  # type: ignore[arg-type]
    appointments = inputs.appointments
    if "short_notice" not in appointments.columns:  # frames built before the flag existed
        appointments = appointments.with_columns(short_notice=pl.lit(False))
    appointments = appointments.cast(APPOINTMENTS_SCHEMA)  # type: ignore[arg-type]
    matches = inputs.pending_matches.cast(MATCHES_SCHEMA)  # type: ignore[arg-type]
    urgent = pl.DataFrame(schema=ROW_SCHEMA)
    if include_matches and review_urgent_days is not None:
        urgent = urgent_review_rows(
            episodes, matches, appointments, run_date, review_urgent_days, review_book_working_days
        )
        matches = matches.filter(~pl.col("episode_id").is_in(urgent["episode_id"].implode()))
    parts = [
        urgent,
        eviction_rows(episodes, run_date, horizon_days, caseworker_view),
        appointment_rows(episodes, appointments, run_date),
        task_rows(episodes, inputs.open_tasks.cast(TASKS_SCHEMA), run_date),  # type: ignore[arg-type]
        new_episode_rows(episodes, appointments, run_date, previous_run_date, caseworker_view),
        match_rows(episodes, matches) if include_matches else pl.DataFrame(schema=ROW_SCHEMA),
        delivery_problem_rows(
            episodes,
            appointments,
            inputs.tenant_letters.cast(LETTERS_SCHEMA),  # type: ignore[arg-type]
            run_date,
        ),
        reminder_problem_rows(episodes, inputs.failed_reminders.cast(REMINDERS_SCHEMA)),  # type: ignore[arg-type]
        eviction_booking_rows(episodes, appointments, run_date, eviction_margin)
        if eviction_margin is not None and not caseworker_view
        else pl.DataFrame(schema=ROW_SCHEMA),
        staff_email_rows(inputs.staff_emails.cast(STAFF_EMAILS_SCHEMA), run_date)  # type: ignore[arg-type]
        if include_staff_emails
        else pl.DataFrame(schema=ROW_SCHEMA),
        follow_up_rows(episodes, run_date),
    ]
    return pl.concat(parts, how="vertical")


def section_counts(rows: pl.DataFrame) -> dict[str, int]:
    """Rows per section, every section present (zero when empty), in the issue's order."""
    counts = dict(rows.group_by("section").len().iter_rows())
    return {section.value: int(counts.get(section.value, 0)) for section in SECTION_ORDER}


def split_sections(rows: pl.DataFrame) -> list[tuple[Section, pl.DataFrame]]:
    """The rows per section, in order; the row order within a section is kept."""
    return [(s, rows.filter(pl.col("section") == s.value)) for s in SECTION_ORDER]


#: Who a worklist is for (``Worklist.owner_kind``).
ADVISOR, CASEWORKER = "advisor", "caseworker"


@dataclass(frozen=True)
class Worklist:
    """One owner's worklist for one date: rows in section order, plus who it is for."""

    owner_kind: str  # advisor | caseworker
    owner_id: str
    owner_name: str
    run_date: date
    rows: pl.DataFrame

    @property
    def owner(self) -> str:
        """The key of ``WorklistRun.owner`` and of the outbox: ``advisor:radgivare1``."""
        return f"{self.owner_kind}:{self.owner_id}"

    @property
    def file_stem(self) -> str:
        """A safe file name for this owner: ``radgivare-radgivare1``."""
        prefix = "radgivare" if self.owner_kind == ADVISOR else "handlaggare"
        return f"{prefix}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', self.owner_id)}"

    def counts(self) -> dict[str, int]:
        """Rows per section, every section, in order."""
        return section_counts(self.rows)

    def sections(self) -> list[tuple[Section, pl.DataFrame]]:
        """The sections in the issue's order with their rows."""
        return split_sections(self.rows)
