"""How the advisor's pages present the worklist: actions as buttons, days left, labels.

The worklist rows (``domain.worklist``) are worded for the file the advisor prints, and a
few of them point at a form of the episode page ("antal barn på ärendesidan 81"). In the
portal that pointer becomes the button that opens the form (an action code and a link).
Pure functions, so the wording is tested without a browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from domain.formatting import MONTHS_SV, STOCKHOLM
from domain.worklist import Section

#: The pointers to forms the worklist's texts contain, and what the portal says instead.
_CHILDREN_COMMAND = re.compile(r" \(antal barn på ärendesidan \d+\)")
_MATCH_COMMAND = re.compile(r"träff (\d+) \(([^)]*)\) på ärendesidan")
_REBOOK_COMMAND = re.compile(r" \(Ny tid på ärendesidan \d+\)")
_CASEWORKER_LIST = re.compile(r" \(i portalen, sidan Mina ärenden\)")
#: Anything else that looks like a command (a future wording): left out, never shown.
_ANY_COMMAND = re.compile(r"[:;]? ?\(?kvarboende [^);]*\)?")


@dataclass(frozen=True)
class Button:
    """A link that opens the form doing the row's action (``code`` names the action)."""

    code: str
    label: str
    href: str


@dataclass(frozen=True)
class WebAction:
    """A row's advice in words, without commands, and its buttons (the first is the main one)."""

    text: str
    buttons: tuple[Button, ...]


def episode_url(episode_id: int) -> str:
    return f"/radgivare/arenden/{episode_id}"


def _form(episode_id: int, anchor: str, what: str | None = None) -> str:
    query = f"?gora={what}" if what else ""
    return f"{episode_url(episode_id)}{query}#{anchor}"


def web_action(section: str, text: str, episode_id: int | None) -> WebAction:
    """The portal's version of one worklist row's action: words and buttons, no command."""
    ask_children = bool(_CHILDREN_COMMAND.search(text))
    rebook = bool(_REBOOK_COMMAND.search(text))
    words = _CHILDREN_COMMAND.sub("", text)
    words = _MATCH_COMMAND.sub(r"träffen (\2)", words)
    words = _REBOOK_COMMAND.sub("", words)
    words = _CASEWORKER_LIST.sub(" i portalen", words)
    words = _ANY_COMMAND.sub("", words).strip()
    if episode_id is None:  # a staff email: nothing to open
        return WebAction(words, ())
    main = _main_button(section, words, episode_id, rebook)
    extra = (Button("barn", "Registrera barn", _form(episode_id, "barn")),) if ask_children else ()
    opened = Button("arende", "Öppna ärendet", episode_url(episode_id))
    tail = (opened,) if main.code != "arende" else ()
    return WebAction(words, (main, *extra, *tail))


def _main_button(section: str, words: str, episode_id: int, rebook: bool) -> Button:
    if section == Section.APPOINTMENTS:
        return Button("besok", "Registrera besöket", _form(episode_id, "besok"))
    if section == Section.NO_SHOW_TASKS:
        if words.startswith("Gör hembesök"):
            return Button(
                "hembesok", "Registrera hembesök", _form(episode_id, "registrera", "home_visit")
            )
        return Button("samtal", "Registrera samtal", _form(episode_id, "registrera", "contacted"))
    if section == Section.MATCHES_TO_CONFIRM or "bekräfta eller avvisa" in words:
        return Button("traff", "Granska träffen", _form(episode_id, "traff"))
    if section == Section.DELIVERY_PROBLEMS and (rebook or "tidigare tid" in words):
        return Button("ny-tid", "Boka ny tid", f"{episode_url(episode_id)}/ny-tid")
    if section in (Section.EVICTIONS, Section.DELIVERY_PROBLEMS):
        return Button("kontakt", "Registrera kontakt", _form(episode_id, "registrera", "contacted"))
    if section == Section.PAST_FOLLOW_UP:
        return Button("avsluta", "Avsluta med utfall", _form(episode_id, "avsluta"))
    return Button("arende", "Öppna ärendet", episode_url(episode_id))


def days_left(
    run_date: date, deadline: date | None, eviction_at: datetime | None
) -> tuple[str, bool]:
    """``12 dagar till avhysningen`` or ``5 dagar kvar att betala``; True when urgent.

    The eviction counts first while it lies ahead (it is the harder date); then the last
    day to pay. Urgent: a week or less, or the day has passed.
    """
    if eviction_at is not None:
        day = eviction_at.astimezone(STOCKHOLM).date()
        n = (day - run_date).days
        if n >= 0:
            return ("Avhysning i dag" if n == 0 else f"{_days(n)} till avhysningen", n <= 7)
    if deadline is None:
        return "", False
    n = (deadline - run_date).days
    if n > 0:
        return f"{_days(n)} kvar att betala", n <= 7
    if n == 0:
        return "Sista dagen att betala är i dag", True
    return f"Sista dagen att betala passerade för {_days(-n)} sedan", True


def _days(n: int) -> str:
    return "1 dag" if n == 1 else f"{n} dagar"


def sv_short_date(value: date) -> str:
    """``4 december 2026``."""
    return f"{value.day} {MONTHS_SV[value.month - 1]} {value.year}"
