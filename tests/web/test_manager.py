"""The manager's pages: the statistics report in the portal, a period picker, downloads.

Nothing personal anywhere: the report is built from anonymous counts only.
"""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from staff_helpers import TENANTS, make_staff, personnummer

from flows.stages.statistics import refresh_stat_facts_for
from models.db import session_scope
from models.tables import AuditLog


@pytest.fixture
def staff(portal):
    staff = make_staff(portal)
    refresh_stat_facts_for(portal.engine, portal.settings, ["2026-10", "2026-11"])
    return staff


def _personal(text: str) -> list[str]:
    values = [TENANTS[1][0], TENANTS[2][0], TENANTS[1][1], personnummer(1), personnummer(2)]
    return [value for value in values if value in text]


def test_manager_sees_the_report_of_a_month_in_the_portal(portal, staff) -> None:
    client, _ = portal.login("chef")
    assert client.get("/").headers["location"] == "/chef"
    page = client.get("/chef?manad=2026-11")
    assert page.status_code == 200
    text = page.text
    assert "november 2026" in text
    assert "Från underrättelse till avhysning" in text and "<svg" in text
    assert 'name="manad"' in text and 'name="ar"' in text
    for fmt in ("pdf", "xlsx", "json"):
        assert f'href="/chef/rapport.{fmt}?manad=2026-11"' in text
    assert _personal(text) == []
    # The CSP stays strict: the report's own inline <style> is not on the page.
    assert "<style" not in text and " style=" not in text and "<script" not in text
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    with session_scope(portal.engine) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "view_report")).first()
        assert entry is not None
        assert (entry.actor, entry.entity_id, entry.address) == ("chef", "2026-11", "testclient")


def test_manager_picks_a_year_and_a_bad_period_is_one_clear_line(portal, staff) -> None:
    client, _ = portal.login("chef")
    year = client.get("/chef?ar=2026")
    assert year.status_code == 200 and "2026" in year.text
    assert 'href="/chef/rapport.pdf?ar=2026"' in year.text
    for query in ("manad=2026-13", "manad=nov", "ar=tjugo", "ar=1066"):
        bad = client.get(f"/chef?{query}")
        assert bad.status_code == 400, query
        assert "Välj en månad (till exempel 2026-03) eller ett år" in bad.text
        assert "Traceback" not in bad.text


def test_manager_downloads_pdf_xlsx_and_json(portal, staff) -> None:
    client, _ = portal.login("chef")
    pdf = client.get("/chef/rapport.pdf?manad=2026-11")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == 'attachment; filename="statistik-2026-11.pdf"'
    xlsx = client.get("/chef/rapport.xlsx?manad=2026-11")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    cells = " ".join(str(c.value) for s in book.worksheets for r in s.iter_rows() for c in r)
    assert _personal(cells) == []
    data = client.get("/chef/rapport.json?ar=2026")
    assert data.status_code == 200
    assert _personal(data.text) == []
    assert isinstance(json.loads(data.text), dict)
    assert client.get("/chef/rapport.exe?manad=2026-11").status_code == 404
    with session_scope(portal.engine) as session:
        formats = session.scalars(
            select(AuditLog.detail).where(AuditLog.action == "download_report")
        ).all()
        assert sorted(formats) == ["json", "pdf", "xlsx"]


def test_manager_on_an_episode_url_gets_404(portal, staff) -> None:
    client, _ = portal.login("chef")
    for url in (
        f"/handlaggare/arenden/{staff.mine}",
        "/handlaggare",
        "/foretag",
        "/foretag/kvitton/1",
        "/admin",
    ):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert _personal(answer.text) == []


def test_other_roles_get_404_on_the_report(portal, staff) -> None:
    for username in ("handlaggare1", "bolag-a"):
        client, _ = portal.login(username)
        assert client.get("/chef").status_code == 404
        assert client.get("/chef/rapport.pdf?manad=2026-11").status_code == 404
