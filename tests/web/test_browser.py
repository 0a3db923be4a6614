"""End to end in a real headless Chromium: the portal served by uvicorn on a free port.

A company logs in, uploads a file with the file field and sees its receipt; a company user
who types an admin URL is refused; the administrator creates an account and a token. Each
page is saved as a screenshot in tests/out/screenshots/ (looked at by people, not asserted).
Needs Debian's ``chromium`` package (``.ci/run`` installs it); without it these tests skip,
except in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from portal_helpers import PASSWORD, sample_file

CHROMIUM = os.environ.get("KVARBOENDE_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SHOTS = Path(__file__).resolve().parents[1] / "out" / "screenshots"


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set KVARBOENDE_CHROMIUM)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    reason = _browser_missing()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the browser tests must run)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--lang=sv-SE"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(portal) -> Iterator[str]:
    """The portal on a free loopback port, served by uvicorn in a thread."""
    import uvicorn

    from web.app import create_app

    port = _free_port()
    config = uvicorn.Config(
        create_app(portal.settings, portal.engine), host="127.0.0.1", port=port,
        log_level="warning", access_log=False,
    )  # fmt: skip
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uvicorn_server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the portal did not start within 20 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)


def _shot(page, name: str, request: pytest.FixtureRequest) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    kind = request.node.callspec.params.get("db", "db")
    page.screenshot(path=str(SHOTS / f"{name}-{kind}.png"), full_page=True)
    # WCAG 1.4.10 (reflow): a wide table scrolls inside its own box, never the whole page.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page is {overflow} px wider than the window"


def _login(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/logga-in")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()


def test_company_uploads_a_file_and_sees_its_receipt(
    browser, server: str, portal, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="sv-SE")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{server}/logga-in")
    _shot(page, "01-login", request)
    _login(page, server, "bolag-a", "fel-lösenord")
    assert page.get_by_role("alert").inner_text() == "Fel användarnamn eller lösenord."
    assert (
        page.get_by_label("Användarnamn").input_value() == "bolag-a"
    )  # kept: retype only the password
    _shot(page, "02-login-wrong-password", request)

    _login(page, server, "bolag-a")
    page.wait_for_url(f"{server}/foretag")
    assert page.get_by_role("heading", level=1).inner_text() == "Filer och kvitton"
    _shot(page, "03-company-files-empty", request)

    upload = tmp_path / "uppsägningar november.csv"
    upload.write_bytes(sample_file())
    page.get_by_label("Välj filer (CSV eller Excel)").set_input_files(str(upload))
    page.get_by_role("button", name="Skicka").click()
    page.wait_for_url(f"{server}/foretag/kvitton/*")
    assert (
        "Kvitto för uppsägningar november.csv" in page.get_by_role("heading", level=1).inner_text()
    )
    table = page.get_by_role("table").inner_text()
    assert "K-BAD" in table and "Personnummer och namn saknas" in table
    assert "rad 2 i samma fil" in table
    _shot(page, "04-company-receipt", request)

    with page.expect_download() as download:
        page.get_by_role("link", name="Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")

    page.get_by_role("link", name="← Alla filer").click()
    assert "uppsägningar november.csv" in page.get_by_role("table").inner_text()
    _shot(page, "05-company-files", request)

    answer = page.goto(f"{server}/admin")
    assert answer is not None and answer.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Sidan finns inte"
    _shot(page, "06-company-on-admin-url", request)

    phone = browser.new_context(
        viewport={"width": 375, "height": 740}, is_mobile=True, locale="sv-SE"
    )
    mobile = phone.new_page()
    _login(mobile, server, "bolag-a")
    mobile.get_by_role("link", name="Visa kvitto").first.click()
    _shot(mobile, "07-company-receipt-phone", request)
    phone.close()

    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url(f"{server}/logga-in?utloggad=1")
    assert page.get_by_role("status").inner_text() == "Du är utloggad."
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_admin_creates_an_account_and_a_token(
    browser, server: str, portal, request: pytest.FixtureRequest
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="sv-SE")
    page = context.new_page()
    _login(page, server, "admin")
    page.wait_for_url(f"{server}/admin")
    page.get_by_label("Användarnamn").fill("ny.chef")
    page.get_by_label("Namn (visas i portalen)").fill("Chefen")
    page.get_by_role("region", name="Nytt konto").get_by_label("Roll").select_option("manager")
    page.get_by_label("Första lösenord").fill("ett-långt-lösenord")
    page.get_by_role("button", name="Skapa konto").click()
    assert page.get_by_role("status").inner_text() == "Kontot är skapat."
    assert "ny.chef" in page.get_by_role("table").inner_text()
    _shot(page, "08-admin-accounts", request)

    page.get_by_role("link", name="Bostadsbolag och nycklar").click()
    page.get_by_role("button", name=f"Skapa nyckel för {portal.settings.companies[0].name}").click()
    token = page.get_by_label("Nyckel", exact=True).input_value()
    assert len(token) > 30
    _shot(page, "09-admin-token-issued", request)

    page.get_by_role("link", name="Granskningslogg").click()
    assert "Nyckel skapad" in page.get_by_role("table").inner_text()
    _shot(page, "10-admin-audit-log", request)
    context.close()


def test_advisor_sees_the_new_episode_opens_the_letter_records_and_rebooks(
    browser, server: str, portal, request: pytest.FixtureRequest
) -> None:
    from advisor_helpers import meeting_begins, new_episode
    from register_helpers import add_episode

    from domain.formatting import local_today
    from flows.stages.matching import match_episodes

    first, _ = new_episode(portal, seed=1)
    second, pnr = new_episode(portal, seed=2, name="Per Ek")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="sv-SE")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _login(page, server, "radgivare")
    page.wait_for_url(f"{server}/radgivare")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Arbetslista")
    new = page.locator("section", has=page.get_by_role("heading", name="Nya ärenden"))
    assert "Eva Berg" in new.inner_text() and "Per Ek" in new.inner_text()
    assert "kvarboende " not in page.content()
    _shot(page, "11-advisor-worklist", request)

    new.get_by_role("link", name=f"Öppna ärendet för ärende {first}").click()
    page.wait_for_url(f"{server}/radgivare/arenden/{first}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Ärende {first}: Eva Berg"
    _shot(page, "12-advisor-episode", request)
    link = page.get_by_role("link", name=re.compile("Öppna brevet.*Kallelse till möte, e-post"))
    letter = page.context.request.get(f"{server}{link.get_attribute('href')}")
    assert letter.status == 200 and letter.body().startswith(b"%PDF")

    page.get_by_role("link", name="Boka om eller avboka").click()
    page.wait_for_url(f"{server}/radgivare/arenden/{first}/ny-tid")
    _shot(page, "13-advisor-rebook", request)
    choice = page.get_by_role("radio").nth(2)
    label = page.locator(f"label[for='{choice.get_attribute('id')}']")
    chosen = label.locator(".sr-only").text_content()
    label.click()
    assert choice.is_checked()
    page.get_by_role("button", name="Boka den valda tiden").click()
    page.wait_for_url(f"{server}/radgivare/arenden/{first}?klart=ny-tid")
    assert "Den nya tiden är bokad" in page.get_by_role("status").inner_text()
    assert chosen and chosen in page.locator("#besok").locator("..").inner_text()
    _shot(page, "14-advisor-rebooked", request)

    meeting_begins(portal.engine, second)
    page.goto(f"{server}/radgivare/sok")
    page.get_by_label("Namn, personnummer, adress eller ärendenummer").fill(f"{pnr[2:8]}-{pnr[8:]}")
    page.get_by_role("button", name="Sök").click()
    assert "1 ärende hittades." in page.get_by_role("status").inner_text()
    _shot(page, "15-advisor-search", request)
    page.get_by_role("link", name=str(second), exact=True).click()
    page.get_by_role("button", name="Hushållet kom").click()
    page.wait_for_url(f"{server}/radgivare/arenden/{second}?klart=kom")
    assert "Besöket är registrerat" in page.get_by_role("status").inner_text()
    _shot(page, "16-advisor-attended", request)

    review = add_episode(
        portal.engine, "k4", None, "Omar Alizadeh", street_address="Björkvägen 3",
        apartment="1001", postal_code="12346",
    )  # fmt: skip
    match_episodes(portal.engine, portal.settings, local_today())
    page.get_by_role("link", name="Träffar att bekräfta").click()
    assert "Björkvägen" in page.get_by_role("table").inner_text()
    _shot(page, "17-advisor-matches", request)
    page.get_by_role("button", name=f"Bekräfta träffen för ärende {review}").click()
    assert "Träffen är bekräftad" in page.get_by_role("status").inner_text()

    phone = browser.new_context(
        viewport={"width": 375, "height": 740}, is_mobile=True, locale="sv-SE"
    )
    mobile = phone.new_page()
    _login(mobile, server, "radgivare")
    mobile.wait_for_url(f"{server}/radgivare")
    _shot(mobile, "18-advisor-worklist-phone", request)
    mobile.goto(f"{server}/radgivare/arenden/{second}")
    _shot(mobile, "19-advisor-episode-phone", request)
    phone.close()
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_company_user_on_an_advisor_url_is_refused(
    browser, server: str, portal, request: pytest.FixtureRequest
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="sv-SE")
    page = context.new_page()
    _login(page, server, "bolag-a")
    page.wait_for_url(f"{server}/foretag")
    answer = page.goto(f"{server}/radgivare")
    assert answer is not None and answer.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Sidan finns inte"
    context.close()
