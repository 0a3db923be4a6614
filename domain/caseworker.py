"""The caseworker's list: which section an episode routed to them belongs in.

Like the advisor's worklist, most urgent first: an eviction within the horizon, then the
last day to pay close at hand (or just passed), then new episodes, then those the
caseworker has acted on since the latest notice, then the rest. Pure functions.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum


class CaseworkerSection(StrEnum):
    EVICTION = "eviction"
    DEADLINE = "deadline"
    NEW = "new"
    ACTED = "acted"
    OTHER = "other"


#: The sections in the order the list shows them.
CASEWORKER_SECTIONS: tuple[CaseworkerSection, ...] = tuple(CaseworkerSection)

CASEWORKER_SECTION_TITLE_SV = {
    CaseworkerSection.EVICTION: "Avhysning snart",
    CaseworkerSection.DEADLINE: "Sista dag att betala snart eller nyss passerad",
    CaseworkerSection.NEW: "Nya ärenden",
    CaseworkerSection.ACTED: "Du har agerat",
    CaseworkerSection.OTHER: "Övriga öppna ärenden",
}

CASEWORKER_SECTION_HINT_SV = {
    CaseworkerSection.EVICTION: "Kronofogden har bokat avhysning. Kontakta hushållet och "
    "hyresvärden i dag, särskilt om barn bor där.",
    CaseworkerSection.DEADLINE: "Hushållet kan behålla bostaden genom att betala senast "
    "sista dagen. Kontakta hushållet om skulden. Har dagen passerat: hör med hyresvärden "
    "om en avbetalningsplan.",
    CaseworkerSection.NEW: "Kom till dig den senaste veckan.",
    CaseworkerSection.ACTED: "Du har registrerat en åtgärd efter det senaste beskedet från "
    "hyresvärden. Ett nytt besked flyttar upp ärendet igen.",
    CaseworkerSection.OTHER: "Inget brådskande datum just nu.",
}

#: "Soon" for the last day to pay, how long a passed one stays in that section, and "new".
DEADLINE_SOON_DAYS = 7
DEADLINE_PASSED_DAYS = 14
NEW_DAYS = 7


def caseworker_section(
    today: date,
    *,
    eviction_day: date | None,
    deadline: date | None,
    opened_on: date,
    last_event_date: date | None,
    acted_on: date | None,
    horizon_days: int,
) -> CaseworkerSection:
    """The section of one open episode on its caseworker's list on ``today``.

    An eviction within ``horizon_days`` stays on top even when the caseworker has acted;
    otherwise having acted since the latest notice moves the episode to "acted" (a newer
    notice brings it back).
    """
    if eviction_day is not None and today <= eviction_day <= today + timedelta(horizon_days):
        return CaseworkerSection.EVICTION
    if acted_on is not None and (last_event_date is None or acted_on >= last_event_date):
        return CaseworkerSection.ACTED
    if deadline is not None and (
        today - timedelta(DEADLINE_PASSED_DAYS) <= deadline <= today + timedelta(DEADLINE_SOON_DAYS)
    ):
        return CaseworkerSection.DEADLINE
    if opened_on >= today - timedelta(NEW_DAYS):
        return CaseworkerSection.NEW
    return CaseworkerSection.OTHER
