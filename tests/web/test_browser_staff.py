"""End to end in a real headless Chromium: a caseworker sees only their episode and records
that they acted; a manager opens the statistics report. Screenshots in tests/out/screenshots/.
"""

from __future__ import annotations

import pytest
from staff_helpers import PASSWORD, TENANTS, make_staff
from test_browser import _login, _shot, browser, server  # noqa: F401 - fixtures

from flows.stages.statistics import refresh_stat_facts_for


def test_caseworker_sees_only_their_episode(
    browser,  # noqa: F811
    server: str,  # noqa: F811
    portal,
    request: pytest.FixtureRequest,
) -> None:
    staff = make_staff(portal)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="sv-SE")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _login(page, server, "handlaggare1")
    page.wait_for_url(f"{server}/handlaggare")
    assert page.get_by_role("heading", level=1).inner_text() == "Mina ärenden"
    table = page.get_by_role("table").inner_text()
    assert TENANTS[1][0] in table and TENANTS[2][0] not in table
    _shot(page, "20-caseworker-list", request)

    page.get_by_role("link", name=f"Ärende {staff.mine}").click()
    assert TENANTS[1][0] in page.get_by_role("heading", level=1).inner_text()
    assert "Uppsägning" in page.get_by_role("table").inner_text()
    page.get_by_label("Anteckning (frivillig)").fill("Ringt hushållet, bistånd söks")
    page.get_by_role("button", name="Jag har agerat").click()
    assert "Sparat" in page.get_by_role("status").inner_text()
    _shot(page, "21-caseworker-episode", request)

    answer = page.goto(f"{server}/handlaggare/arenden/{staff.theirs}")
    assert answer is not None and answer.status == 404
    assert TENANTS[2][0] not in page.content()
    _shot(page, "22-caseworker-other-episode", request)

    page.goto(f"{server}/handlaggare")
    page.get_by_role("link", name="(Socialsekreterare)").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Mitt konto"
    page.get_by_label("Nuvarande lösenord").fill(PASSWORD)
    page.get_by_label("Nytt lösenord", exact=True).fill("ett nytt långt lösenord")
    page.get_by_label("Nytt lösenord en gång till").fill("ett nytt långt lösenord")
    page.get_by_role("button", name="Byt lösenord").click()
    assert page.get_by_role("status").inner_text() == "Ditt lösenord är bytt."
    _shot(page, "26-own-password-changed", request)

    phone = browser.new_context(
        viewport={"width": 375, "height": 740}, is_mobile=True, locale="sv-SE"
    )
    mobile = phone.new_page()
    _login(mobile, server, "handlaggare1", "ett nytt långt lösenord")
    _shot(mobile, "23-caseworker-list-phone", request)
    mobile.get_by_role("link", name=f"Ärende {staff.mine}").click()
    _shot(mobile, "23b-caseworker-episode-phone", request)
    phone.close()
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_manager_opens_the_report(
    browser,  # noqa: F811
    server: str,  # noqa: F811
    portal,
    request: pytest.FixtureRequest,
) -> None:
    make_staff(portal)
    refresh_stat_facts_for(portal.engine, portal.settings, ["2026-10", "2026-11"])
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="sv-SE")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _login(page, server, "chef")
    page.wait_for_url(f"{server}/chef")
    page.get_by_label("Månad", exact=True).fill("2026-11")
    page.get_by_role("button", name="Visa månaden").click()
    page.wait_for_url(f"{server}/chef?manad=2026-11")
    assert "november 2026" in page.get_by_role("heading", level=1).inner_text()
    assert page.locator("svg[data-chart]").count() == 3
    content = page.content()
    for name, street in TENANTS.values():
        assert name not in content and street not in content
    _shot(page, "24-manager-report", request)

    with page.expect_download() as download:
        page.get_by_role("link", name="PDF").click()
    assert download.value.suggested_filename == "statistik-2026-11.pdf"

    page.get_by_label("Helt år").fill("2026")
    page.get_by_role("button", name="Visa året").click()
    page.wait_for_url(f"{server}/chef?ar=2026")
    phone = browser.new_context(
        viewport={"width": 375, "height": 740}, is_mobile=True, locale="sv-SE"
    )
    mobile = phone.new_page()
    _login(mobile, server, "chef")
    mobile.goto(f"{server}/chef?manad=2026-11")
    _shot(mobile, "25-manager-report-phone", request)
    phone.close()
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
