"""The advisor's worklist in the portal: the same advice as the file, buttons instead of
commands (pure functions, no database)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from domain.worklist import staff_email_label
from web.advisor_view import days_left, web_action

DOMAIN = Path(__file__).resolve().parents[2] / "domain" / "worklist.py"


def test_each_command_in_the_worklist_texts_becomes_a_button() -> None:
    children = web_action(
        "appointments",
        "Möte i dag kl. 09.00, Mottagningen: ta emot hushållet och registrera besöket; fråga om "
        "barn bor där och registrera svaret (antal barn på ärendesidan 81)",
        81,
    )
    assert children.text.endswith("fråga om barn bor där och registrera svaret")
    assert [b.code for b in children.buttons] == ["besok", "barn", "arende"]
    assert children.buttons[1].href == "/radgivare/arenden/81#barn"

    match = web_action(
        "matches_to_confirm",
        "Bekräfta eller avvisa träff 7 (trolig) på ärendesidan",
        12,
    )
    assert match.text == "Bekräfta eller avvisa träffen (trolig)"
    assert match.buttons[0].href == "/radgivare/arenden/12#traff"

    rebook = web_action(
        "delivery_problems",
        "Brevet hinner inte fram före mötet och ingen ny tid var ledig: boka en tid "
        "(Ny tid på ärendesidan 5) och ring hushållet",
        5,
    )
    assert rebook.text.endswith("boka en tid och ring hushållet")
    assert rebook.buttons[0].href == "/radgivare/arenden/5/ny-tid"

    what, instead = staff_email_label("caseworker_notice", "caseworker_notice:hs1:2026-12-04")
    staff = web_action("delivery_problems", f"{what} kunde inte skickas: {instead}", None)
    assert staff.text.endswith("säg till handläggaren att läsa sin lista i portalen")
    assert staff.buttons == ()

    visit = web_action("no_show_tasks", "Gör hembesök senast 4 december (barnfamilj)", 3)
    assert visit.buttons[0].href == "/radgivare/arenden/3?gora=home_visit#registrera"


def test_every_command_the_domain_writes_is_one_the_portal_knows() -> None:
    """No worklist text tells the advisor to type a command; one that slips in is dropped."""
    commands = set(re.findall(r"kvarboende ([a-z]+ [a-z|-]+)", DOMAIN.read_text("utf-8")))
    assert commands == set()
    leftover = web_action("past_follow_up", "Gör något: kvarboende episodes close 4", 4)
    assert "kvarboende" not in leftover.text


def test_days_left_counts_to_the_eviction_first_then_the_deadline() -> None:
    today = date(2026, 12, 4)
    assert days_left(today, date(2026, 12, 20), None) == ("16 dagar kvar att betala", False)
    assert days_left(today, date(2026, 12, 5), None) == ("1 dag kvar att betala", True)
    assert days_left(today, date(2026, 12, 4), None) == ("Sista dagen att betala är i dag", True)
    assert days_left(today, date(2026, 12, 1), None)[0] == (
        "Sista dagen att betala passerade för 3 dagar sedan"
    )
    eviction = datetime(2026, 12, 9, 8, 0, tzinfo=UTC)
    assert days_left(today, date(2026, 12, 1), eviction) == ("5 dagar till avhysningen", True)
    assert days_left(today, None, None) == ("", False)
