"""The monthly Prefect flow writes the report and emails the PDF to the managers, once."""

from __future__ import annotations

import asyncio
import shutil
from datetime import date
from pathlib import Path

import pytest
import stats_fixtures as fx

from domain import statistics as st
from flows.stages.statistics import refresh_stat_facts_for
from models.config import load_settings
from models.db import session_scope

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_monthly_flow_writes_reports_and_emails_managers_once(
    prefect_harness, db, smtp_server, tmp_path: Path, monkeypatch
) -> None:
    from prefect.client.orchestration import get_client

    from flows.monthly_report import monthly_report_flow, refresh_window

    url, engine = db
    config = tmp_path / "config.toml"
    shutil.copy(REPO / "config.toml", config)
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", url)
    monkeypatch.setenv("KVARBOENDE_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("KVARBOENDE_SMTP_START_LOCAL", "false")
    settings = load_settings(config)
    with session_scope(engine) as session:
        fx.build_vasby(session)
    refresh_stat_facts_for(
        engine, settings, st.month_range("2005-01", "2006-12"), today=date(2007, 1, 2)
    )

    result = monthly_report_flow(month="2006-10", config_file=str(config))

    assert result["month"] == "2006-10"
    window = refresh_window(settings, "2006-10")
    assert window == st.month_range("2006-05", "2006-10")  # 90 days of follow-up and margin
    assert result["refresh"]["months_frozen"] == len(window)  # twenty years old: kept
    pdf, html = Path(result["files"]["pdf"]), Path(result["files"]["html"])
    assert pdf.read_bytes().startswith(b"%PDF") and html.name == "statistik-2006-10.html"
    assert result["emails"] == {"queued": 1, "already_queued": 0}
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "socialchef@exempelby.se"
    assert "oktober 2006" in message["Subject"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Nya ärenden: 34" in body
    assert f"{settings.web.link('/chef?manad=2006-10')}\n" in body  # the portal's report page
    attachments = [part.get_content() for part in message.iter_attachments()]
    assert any(isinstance(a, bytes) and a.startswith(b"%PDF") for a in attachments)
    # Staff get the report under its own name, not a tenant letter's generic "brev.pdf".
    names = [part.get_filename() for part in message.iter_attachments()]
    assert names == ["statistik-2006-10.pdf"]

    again = monthly_report_flow(month="2006-10", config_file=str(config))
    assert again["emails"] == {"queued": 0, "already_queued": 1}
    assert len(smtp_server.messages) == 1

    async def artifacts() -> list[str]:
        async with get_client() as client:
            found = await client.read_artifacts()
            return [str(a.data) for a in found if a.key == "monthly-statistics"]

    texts = asyncio.run(artifacts())
    assert texts and "| Nya ärenden | 34 |" in texts[-1]
