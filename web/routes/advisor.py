"""The advisor's pages: the day's worklist, episodes, recordings, matches, new times, search.

Only the advisor role gets through (anyone else: 404, as for a page that does not exist).
Every page calls the application layer (``services``); every view of the worklist, an
episode or a letter and every change is audit-logged with who and from which address.
Forms post with the session's CSRF token and answer with a redirect to the page and a
confirmation in Swedish, so a reload never records anything twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import event
from sqlalchemy.orm import Session

from domain.formatting import (
    STOCKHOLM,
    local_today,
    sv_amount,
    sv_time,
    sv_weekday_date,
    sv_weekday_when,
)
from domain.outcomes import (
    ACTIVITY_LABEL_SV,
    MANUAL_OUTCOMES,
    SETTLED,
    SOURCE_SILENCE,
    ActivityKind,
)
from domain.vocabulary import (
    APPOINTMENT_STATUS_LABEL_SV,
    CHANNEL_LABEL_SV,
    DECISION_LABEL_SV,
    EVENT_LABEL_SV,
    LETTER_KIND_LABEL_SV,
    LETTER_STATUS_LABEL_SV,
    OUTCOME_LABEL_SV,
    REMINDER_CHANNEL_SV,
    REMINDER_STATUS_SV,
    ROUTING_LABEL_SV,
    STATUS_LABEL_SV,
    TASK_KIND_LABEL_SV,
    TASK_STATUS_LABEL_SV,
    TIER_LABEL_SV,
    AppointmentStatus,
    EventType,
    LetterKind,
    Role,
)
from domain.worklist import sv_postal_code
from letters.worklist import CHILDREN_LABEL_SV, SECTION_TITLE_SV
from models.audit import audit
from models.config import Settings
from models.db import as_utc
from models.errors import KvarboendeError, NotAllowed
from models.tables import AuditLog
from services import appointments, episodes, matches, reminders, worklists
from services.letters import appointment_letter_queue, cancellation_letter_queue
from services.users import ActiveSession
from web.advisor_view import days_left, episode_url, sv_short_date, web_action
from web.core import PageNotFound, client_address, portal, render, require_role

log = logging.getLogger(__name__)

router = APIRouter(prefix="/radgivare")
AdvisorUser = Annotated[ActiveSession, Depends(require_role(Role.ADVISOR))]

PAGE_SIZE = 25
#: Rows of one worklist section on a page: the most urgent first, the rest a page further
#: (a section of a thousand rows is read page by page, and the list stays quick to load).
SECTION_PAGE_SIZE = 50
#: Free times offered on the rebooking page (about four weeks of one advisor's slots).
MAX_SLOTS = 120

#: What the advisor records by hand besides the meeting (the form's choices, in order).
RECORD_KINDS: tuple[str, ...] = (
    ActivityKind.CONTACTED,
    ActivityKind.HOME_VISIT,
    ActivityKind.FINANCIAL_ASSISTANCE,
    ActivityKind.NOTE,
)
RECORD_LABEL_SV = {
    ActivityKind.CONTACTED: "Kontakt per telefon",
    ActivityKind.HOME_VISIT: "Hembesök",
    ActivityKind.FINANCIAL_ASSISTANCE: "Ekonomiskt bistånd beviljat",
    ActivityKind.NOTE: "Anteckning",
}
OUTCOME_CHOICE_SV = {SETTLED: "Reglerad (med eller utan stöd avgörs av det registrerade)"} | {
    k: v.capitalize() for k, v in OUTCOME_LABEL_SV.items()
}

MESSAGES = {
    "kom": "Besöket är registrerat: hushållet kom till mötet.",
    "uteblev": "Registrerat att hushållet uteblev. Att ringa (och hembesök för familjer med "
    "barn) kommer på arbetslistan.",
    "contacted": "Kontakten per telefon är registrerad.",
    "home_visit": "Hembesöket är registrerat.",
    "financial_assistance": "Det ekonomiska biståndet är registrerat.",
    "note": "Anteckningen är sparad.",
    "barn": "Antalet barn är registrerat.",
    "inga-sms": (
        "Sparat: hushållet får inga sms. Det gäller också personens senare ärenden. "
        "Påminnelser går med e-post om adress finns."
    ),
    "sms": "Sparat: påminnelser får gå med sms.",
    "epost": (
        "Sparat: brev och påminnelser går till hushållets egen e-postadress, utan kopia på papper."
    ),
    "epost-bort": "Sparat: brev går till hyresvärdens e-postadress, med kopia på papper.",
    "avslutat": "Ärendet är avslutat.",
    "bekraftad": "Träffen är bekräftad. Ärendet går till handläggaren.",
    "avvisad": "Träffen är avvisad. Ärendet går till boenderådgivningen och en kallelse bokas.",
    "ny-tid": "Den nya tiden är bokad. Ett nytt brev till hushållet går med nästa utskick.",
    "avbokad": "Tiden är avbokad. Ett brev om det går till hushållet med nästa utskick.",
}


# --- plumbing ---------------------------------------------------------------------------------


@contextmanager
def _db(request: Request) -> Iterator[Session]:
    """One transaction whose audit entries carry the client's address.

    The services write their audit entries without an address (the terminal has none);
    every entry this request adds gets the browser's address before it is stored.
    """
    address = client_address(request)
    with portal(request).db() as session:

        def stamp(session: Session, _context: object, _instances: object) -> None:
            for item in session.new:
                if isinstance(item, AuditLog) and item.address is None:
                    item.address = address

        event.listen(session, "before_flush", stamp)
        yield session


def _me(active: ActiveSession) -> str:
    return active.user.username


def _now() -> datetime:
    return datetime.now(STOCKHOLM)


def _advisor_id(settings: Settings, active: ActiveSession, wanted: str | None) -> str:
    """The advisor whose list is shown: the one asked for, the user's own, or the first."""
    ids = [a.id for a in settings.advisors]
    for candidate in (wanted, active.user.username):
        if candidate in ids:
            return candidate
    return settings.advisor().id


def _parse_day(text: str | None) -> date | None:
    if not text:
        return local_today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _local(moment: datetime | None) -> str:
    if moment is None:
        return "–"
    local = as_utc(moment).astimezone(STOCKHOLM)  # SQLite hands back naive UTC
    return f"{sv_weekday_date(local.date())} {sv_time(local)}"


def _redirect(url: str, done: str) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}klart={done}", status_code=303)


# --- worklist ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowView:
    episode_id: int | None
    name: str | None
    address: str | None
    phone: str | None
    email: str | None
    deadline: str
    debt: str
    children: str
    days: str
    urgent: bool
    action: Any


@router.get("")
def worklist(request: Request, active: AdvisorUser) -> Response:
    app = portal(request)
    day = _parse_day(request.query_params.get("dag"))
    if day is None:
        message = "Datumet kunde inte läsas. Skriv det som 2026-12-04."
        return render(
            request, "error.html", {"title": "Det gick inte", "message": message}, status_code=400
        )
    advisor_id = _advisor_id(app.settings, active, request.query_params.get("radgivare"))
    paged = request.query_params.get("avsnitt", "")
    page_text = request.query_params.get("sida", "1")
    wanted_page = int(page_text) if page_text.isdigit() and int(page_text) >= 1 else 1
    with _db(request) as session:
        wl = worklists.advisor_worklist(session, app.settings, day, advisor_id)
        parts = []
        for section, frame in wl.sections():
            pages = max(1, -(-frame.height // SECTION_PAGE_SIZE))
            number = min(wanted_page, pages) if section.value == paged else 1
            shown = frame.slice((number - 1) * SECTION_PAGE_SIZE, SECTION_PAGE_SIZE)
            parts.append((section, shown, frame.height, number, pages))
        ids = [int(i) for part in parts for i in part[1]["episode_id"].drop_nulls().to_list()]
        contacts = episodes.episode_contacts(session, ids)
        audit(
            session,
            _me(active),
            "view_worklist",
            "worklist",
            f"advisor:{advisor_id}",
            detail=day.isoformat(),
        )
    sections = []
    for section, frame, total, number, pages in parts:
        rows = []
        for r in frame.iter_rows(named=True):
            eid = r["episode_id"]
            contact = contacts.get(eid) if eid is not None else None
            days, urgent = days_left(
                day, r["deadline_date"], contact.eviction_at if contact else None
            )
            deadline = "–"
            if r["deadline_date"] is not None:
                deadline = ("ca " if r["deadline_estimated"] else "") + sv_short_date(
                    r["deadline_date"]
                )
            rows.append(
                RowView(
                    episode_id=eid,
                    name=r["tenant_name"],
                    address=r["address"],
                    phone=contact.phone if contact else None,
                    email=contact.email if contact else None,
                    deadline=deadline,
                    debt=sv_amount(r["debt_amount"]) if r["debt_amount"] is not None else "–",
                    children=CHILDREN_LABEL_SV[r["has_children"]] if eid is not None else "–",
                    days=days,
                    urgent=urgent,
                    action=web_action(r["section"], r["action"] or "", eid),
                )
            )
        first = (number - 1) * SECTION_PAGE_SIZE
        sections.append(
            {
                "id": section.value,
                "title": SECTION_TITLE_SV[section],
                "rows": rows,
                "total": total,
                "page": number,
                "pages": pages,
                "first": first + 1,
                "last": first + len(rows),
            }
        )
    return render(
        request,
        "advisor_worklist.html",
        {
            "title": "Arbetslista",
            "day": day,
            "day_text": sv_weekday_date(day),
            "is_today": day == local_today(),
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "advisors": app.settings.advisors,
            "advisor_id": advisor_id,
            "advisor_name": wl.owner_name,
            "sections": sections,
            "total": wl.rows.height,
        },
    )


# --- episode ----------------------------------------------------------------------------------


def _episode_page(
    request: Request,
    active: ActiveSession,
    episode_id: int,
    error: str | None = None,
    status: int = 200,
) -> Response:
    with _db(request) as session:
        detail = episodes.show_episode(session, episode_id, by=_me(active))
        contact = episodes.episode_contacts(session, [episode_id])[episode_id]
        meeting = episodes.meeting_to_record(session, episode_id)
        recording = meeting and episodes.meeting_recording(session, episode_id, meeting)
        sent_reminders = reminders.episode_reminders(session, episode_id)
        reminder_choice = reminders.reminder_settings(session, episode_id)
    head = detail.episode
    now = _now()
    meeting_started = meeting is not None and meeting.starts_at <= now
    closed = head.status == "closed"
    may_close = not closed or head.outcome_source == SOURCE_SILENCE
    pending_match = detail.match if detail.match and detail.match.decision == "pending" else None
    booked = [a for a in detail.appointments if a.status == AppointmentStatus.BOOKED]
    place = " ".join(p for p in (sv_postal_code(head.postal_code), head.town) if p)
    address = ", ".join(
        p
        for p in (head.street_address, f"lgh {head.apartment}" if head.apartment else "", place)
        if p
    )
    wanted = request.query_params.get("gora", "")
    # A waiting letter with a newer version after it will not go out: delivery supersedes it.
    replaced = {
        old.id
        for i, old in enumerate(detail.letters)
        if old.status in {"pending", "sending"}
        and old.kind != LetterKind.POST_COPY
        and any(
            new.kind in LETTER_KIND_LABEL_SV and new.kind != LetterKind.POST_COPY
            for new in detail.letters[i + 1 :]
        )
    }
    return render(
        request,
        "advisor_episode.html",
        {
            "title": f"Ärende {episode_id}",
            "d": detail,
            "e": head,
            "contact": contact,
            "address": address,
            "status_sv": STATUS_LABEL_SV.get(head.status, head.status),
            "outcome_sv": OUTCOME_LABEL_SV.get(head.outcome or "", head.outcome),
            "deadline": sv_short_date(head.deadline_date) if head.deadline_date else None,
            "days": days_left(local_today(), head.deadline_date, contact.eviction_at)[0],
            "debt": sv_amount(head.debt_amount) if head.debt_amount is not None else "–",
            "eviction": sv_weekday_when(as_utc(contact.eviction_at))
            if contact.eviction_at
            else None,
            "meeting": meeting,
            "meeting_when": _local(meeting.starts_at) if meeting else "",
            "recording": recording,
            "reminders": sent_reminders,
            "reminder_choice": reminder_choice,
            "meeting_started": meeting_started,
            "booked": booked[-1] if booked else None,
            "replaced": replaced,
            "may_close": may_close,
            "closed": closed,
            "pending_match": pending_match,
            "record_kinds": {k: RECORD_LABEL_SV[ActivityKind(k)] for k in RECORD_KINDS},
            "chosen_kind": wanted if wanted in RECORD_KINDS else ActivityKind.CONTACTED,
            "outcomes": {k: OUTCOME_CHOICE_SV[k] for k in MANUAL_OUTCOMES},
            "today": local_today(),
            "labels": {
                "event": {e.value: EVENT_LABEL_SV[e] for e in EventType},
                "activity": ACTIVITY_LABEL_SV,
                "appointment": APPOINTMENT_STATUS_LABEL_SV,
                "letter_status": LETTER_STATUS_LABEL_SV,
                "letter_kind": LETTER_KIND_LABEL_SV,
                "channel": CHANNEL_LABEL_SV,
                "decision": DECISION_LABEL_SV,
                "tier": TIER_LABEL_SV,
                "routing": ROUTING_LABEL_SV,
                "task": TASK_KIND_LABEL_SV,
                "task_status": TASK_STATUS_LABEL_SV,
                "status": STATUS_LABEL_SV,
                "reminder_status": REMINDER_STATUS_SV,
                "reminder_channel": REMINDER_CHANNEL_SV,
            },
            "when": _local,
            "money": sv_amount,
            "sv_date": sv_short_date,
            "message": MESSAGES.get(request.query_params.get("klart", "")),
            "error": error,
        },
        status_code=status,
    )


@router.get("/arenden/{episode_id:int}")
def episode(request: Request, episode_id: int, active: AdvisorUser) -> Response:
    return _episode_page(request, active, episode_id)


@router.get("/arenden/{episode_id:int}/brev/{letter_id:int}")
def letter_pdf(request: Request, episode_id: int, letter_id: int, active: AdvisorUser) -> Response:
    """The letter's PDF, only as one of this episode's letters (else 404); audit-logged."""
    with _db(request) as session:
        path = episodes.letter_file(session, episode_id, letter_id)
        audit(session, _me(active), "view_letter", "letter", letter_id,
              detail=f"episode={episode_id}", episode_id=episode_id)  # fmt: skip
    return FileResponse(
        path,
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="brev-{letter_id}.pdf"'},
    )


@router.post("/arenden/{episode_id:int}/besok")
def record_meeting(
    request: Request,
    episode_id: int,
    active: AdvisorUser,
    utfall: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Attended or no-show, for the episode's meeting once it has begun.

    A meeting is recorded once: a second recording, the same outcome or the other, is
    refused here and again by the service (two advisors, two tabs), never stored.
    """
    kinds = {"kom": ActivityKind.ATTENDED, "uteblev": ActivityKind.NO_SHOW}
    if utfall not in kinds:
        return _episode_page(
            request, active, episode_id, "Välj om hushållet kom eller uteblev.", 400
        )
    kind = kinds[utfall]
    error = None
    with _db(request) as session:
        meeting = episodes.meeting_to_record(session, episode_id)
        if meeting is None:
            error = "Ärendet har inget bokat möte att registrera."
        elif meeting.starts_at > _now():
            error = (
                f"Mötet är {_local(meeting.starts_at)}. Du kan registrera besöket när "
                "mötet har börjat."
            )
        elif meeting.status != AppointmentStatus.BOOKED:
            label = APPOINTMENT_STATUS_LABEL_SV[AppointmentStatus(meeting.status)]
            error = f"Mötet är redan registrerat ({label}). Det registreras inte en gång till."
        else:
            try:
                episodes.record_activity(
                    session, episode_id, kind, by=_me(active), on_date=local_today()
                )
            except NotAllowed:
                error = "Mötet är redan registrerat. Det registreras inte en gång till."
    if error:
        return _episode_page(request, active, episode_id, error, 409)
    return _redirect(episode_url(episode_id), utfall)


@router.post("/arenden/{episode_id:int}/aktivitet")
def record_other(
    request: Request,
    episode_id: int,
    active: AdvisorUser,
    typ: Annotated[str, Form(max_length=40)] = "",
    datum: Annotated[str, Form(max_length=10)] = "",
    text: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A phone contact, home visit, financial aid or note, on a day up to today."""
    if typ not in RECORD_KINDS:
        return _episode_page(request, active, episode_id, "Välj vad du vill registrera.", 400)
    day = _parse_day(datum)
    if day is None or day > local_today():
        return _episode_page(
            request,
            active,
            episode_id,
            "Datumet ska vara i dag eller tidigare (skriv det som 2026-12-04).",
            400,
        )
    if typ == ActivityKind.NOTE and not text.strip():
        return _episode_page(request, active, episode_id, "Skriv anteckningen.", 400)
    with _db(request) as session:
        episodes.record_activity(
            session,
            episode_id,
            ActivityKind(typ),
            by=_me(active),
            on_date=day,
            text=text.strip() or None,
        )
    return _redirect(episode_url(episode_id), typ)


@router.post("/arenden/{episode_id:int}/barn")
def record_children(
    request: Request,
    episode_id: int,
    active: AdvisorUser,
    antal: Annotated[int, Form(ge=0, le=30)],
) -> Response:
    with _db(request) as session:
        episodes.record_children(session, episode_id, antal, by=_me(active))
    return _redirect(episode_url(episode_id), "barn")


@router.post("/arenden/{episode_id:int}/sms")
def choose_sms(
    request: Request,
    episode_id: int,
    active: AdvisorUser,
    sms: Annotated[Literal["nej", "ja"], Form()],
) -> Response:
    """The tenant does not want SMS (or wants them again): reminders go by email instead."""
    with _db(request) as session:
        reminders.set_no_sms(session, episode_id, sms == "nej", by=_me(active))
    return _redirect(episode_url(episode_id), "inga-sms" if sms == "nej" else "sms")


@router.post("/arenden/{episode_id:int}/epost")
def tenant_email(
    request: Request,
    episode_id: int,
    active: AdvisorUser,
    epost: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """An email address the tenant gave themselves (empty: forget it): letters go there
    first, by email only (no post copy)."""
    try:
        with _db(request) as session:
            episodes.set_tenant_email(session, episode_id, epost or None, by=_me(active))
    except NotAllowed:
        return _episode_page(
            request,
            active,
            episode_id,
            "Skriv en e-postadress som går att skicka till, t.ex. namn@example.se.",
            400,
        )
    return _redirect(episode_url(episode_id), "epost" if epost.strip() else "epost-bort")


@router.post("/arenden/{episode_id:int}/avsluta")
def close(
    request: Request,
    episode_id: int,
    active: AdvisorUser,
    utfall: Annotated[str, Form(max_length=40)] = "",
    text: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if utfall not in MANUAL_OUTCOMES:
        return _episode_page(request, active, episode_id, "Välj ett utfall.", 400)
    error = None
    with _db(request) as session:
        try:
            episodes.close_episode(
                session,
                episode_id,
                utfall,
                by=_me(active),
                on_date=local_today(),
                text=text.strip() or None,
            )
        except NotAllowed:
            error = (
                "Ärendet kunde inte avslutas med det utfallet. Är det redan avslutat, eller "
                "stämmer utfallet inte med det som är registrerat (till exempel reglerad utan "
                "insats fast en kontakt är registrerad)? Välj ”Reglerad” så avgörs det av det "
                "registrerade."
            )
    if error:
        return _episode_page(request, active, episode_id, error, 409)
    return _redirect(episode_url(episode_id), "avslutat")


# --- matches ----------------------------------------------------------------------------------


@router.get("/traffar")
def pending(request: Request, active: AdvisorUser) -> Response:
    with _db(request) as session:
        items = matches.pending_matches(session, by=_me(active))
        households = episodes.episode_contacts(session, [m.episode_id for m in items])
    return render(
        request,
        "advisor_matches.html",
        {
            "title": "Träffar att bekräfta",
            "items": items,
            "households": households,
            "tiers": TIER_LABEL_SV,
            "message": MESSAGES.get(request.query_params.get("klart", "")),
            "error": None,
        },
    )


@router.post("/traffar/{match_id:int}/{choice}")
def decide(
    request: Request,
    match_id: int,
    choice: str,
    active: AdvisorUser,
    tillbaka: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Confirm (→ the caseworker) or reject (→ the advisor books a letter)."""
    if choice not in {"bekrafta", "avvisa"}:
        raise PageNotFound
    error = None
    with _db(request) as session:
        try:
            done = matches.decide(session, match_id, confirm=choice == "bekrafta", by=_me(active))
        except NotAllowed:
            done, error = None, "Träffen är redan avgjord, eller saknar ett ärende att bekräfta."
    code = "bekraftad" if choice == "bekrafta" else "avvisad"
    if error or done is None:
        return render(
            request, "error.html", {"title": "Det gick inte", "message": error}, status_code=409
        )
    if tillbaka == "arende":
        return _redirect(episode_url(done.episode_id), code)
    return _redirect("/radgivare/traffar", code)


# --- new time ---------------------------------------------------------------------------------


def _rebook_page(
    request: Request,
    active: ActiveSession,
    episode_id: int,
    error: str | None = None,
    status: int = 200,
) -> Response:
    app = portal(request)
    options: list[appointments.SlotOption] = []
    refused = None
    with _db(request) as session:
        detail = episodes.show_episode(session, episode_id, by=_me(active))
        try:
            options = appointments.free_slots(session, app.settings, episode_id, local_today())
        except NotAllowed:
            refused = (
                "Ärendet kan inte få en ny tid: det är avslutat eller mötet har redan hållits."
            )
    names = {a.id: a.name for a in app.settings.advisors}
    booked = [a for a in detail.appointments if a.status == AppointmentStatus.BOOKED]
    return render(
        request,
        "advisor_rebook.html",
        {
            "title": f"Ny tid för ärende {episode_id}",
            "e": detail.episode,
            "booked": booked[-1] if booked else None,
            "days": _slot_days(options[:MAX_SLOTS], names),
            "one_place": len({(o.advisor_id, o.location) for o in options}) <= 1,
            "place": f"{options[0].location}, {names.get(options[0].advisor_id, '')}"
            if options
            else "",
            "when": _local,
            "sv_date": sv_short_date,
            "refused": refused,
            "error": error,
        },
        status_code=status,
    )


def _slot_days(
    options: list[appointments.SlotOption], names: dict[str, str]
) -> list[dict[str, Any]]:
    """The free slots grouped per day (a day's times side by side), earliest first."""
    days: dict[date, dict[str, Any]] = {}
    for o in options:
        local = o.starts_at.astimezone(STOCKHOLM)
        day = days.setdefault(
            local.date(),
            {"title": sv_weekday_date(local.date()), "late": False, "short": False, "slots": []},
        )
        day["late"] = day["late"] or not o.before_deadline
        day["short"] = day["short"] or o.short_notice
        day["slots"].append(
            {
                "id": o.slot_id,
                "time": f"{local.hour:02d}.{local.minute:02d}",
                "full": _local(o.starts_at),
                "where": f"{o.location}, {names.get(o.advisor_id, o.advisor_id)}",
            }
        )
    return list(days.values())


@router.get("/arenden/{episode_id:int}/ny-tid")
def rebook_form(request: Request, episode_id: int, active: AdvisorUser) -> Response:
    return _rebook_page(request, active, episode_id)


@router.post("/arenden/{episode_id:int}/ny-tid")
def rebook(
    request: Request,
    episode_id: int,
    active: AdvisorUser,
    tid: Annotated[int | None, Form()] = None,
) -> Response:
    """Move the meeting to the slot the advisor picked; the letter is queued as the CLI does."""
    if tid is None:
        return _rebook_page(request, active, episode_id, "Välj en tid i listan.", 400)
    app = portal(request)
    today = local_today()
    error = None
    with _db(request) as session:
        try:
            appointments.rebook(
                session,
                app.settings,
                episode_id,
                today,
                by=_me(active),
                queue_letter=appointment_letter_queue(app.settings, today),
                slot_id=tid,
            )
        except NotAllowed:
            error = "Den tiden är inte ledig längre. Välj en annan tid i listan."
    if error:
        return _rebook_page(request, active, episode_id, error, 409)
    return _redirect(episode_url(episode_id), "ny-tid")


@router.post("/arenden/{episode_id:int}/avboka")
def cancel(request: Request, episode_id: int, active: AdvisorUser) -> Response:
    app = portal(request)
    error = None
    with _db(request) as session:
        try:
            appointments.cancel(
                session,
                episode_id,
                by=_me(active),
                queue_letter=cancellation_letter_queue(app.settings, local_today()),
            )
        except NotAllowed:
            error = "Ärendet har ingen bokad tid att avboka."
    if error:
        return _episode_page(request, active, episode_id, error, 409)
    return _redirect(episode_url(episode_id), "avbokad")


# --- search -----------------------------------------------------------------------------------


@router.get("/sok")
def search(request: Request, active: AdvisorUser) -> Response:
    """Episodes by name, personnummer (any form), address or episode number; 25 a page."""
    query = request.query_params.get("q", "").strip()[:200]
    page_text = request.query_params.get("sida", "1")
    page = int(page_text) if page_text.isdigit() and int(page_text) >= 1 else 1
    result = None
    if query:
        with _db(request) as session:
            try:
                result = episodes.list_episodes(
                    session,
                    by=_me(active),
                    search=query,
                    limit=PAGE_SIZE,
                    offset=(page - 1) * PAGE_SIZE,
                )
            except KvarboendeError:
                result = None
    pages = 0 if result is None else max(1, -(-result.total // PAGE_SIZE))
    return render(
        request,
        "advisor_search.html",
        {
            "title": "Sök ärende",
            "q": query,
            "result": result,
            "page": page,
            "pages": pages,
            "status_sv": STATUS_LABEL_SV,
            "sv_date": sv_short_date,
            "money": sv_amount,
        },
    )
