"""The Prefect flows run the same stages; their parameters and artifacts hold no personal data."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from connectors.demo_files import write_notice_files, write_register
from domain.synthetic import generate
from flows.stages.cases import import_register
from flows.stages.setup import prepare_database
from models.config import load_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def deployed_config(tmp_path: Path, db_url: str, smtp_server, monkeypatch) -> Path:
    """config.toml copied into tmp_path (so every relative folder lands there)."""
    config = tmp_path / "config.toml"
    shutil.copy(REPO / "config.toml", config)
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", db_url)
    monkeypatch.setenv("KVARBOENDE_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("KVARBOENDE_SMTP_START_LOCAL", "false")
    return config


def test_daily_flow_runs_stages_and_keeps_artifacts_anonymous(
    prefect_harness, deployed_config: Path, db_engine, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    from flows.daily import daily_flow

    settings = load_settings(deployed_config)
    municipality = generate(3, date(2026, 9, 1), 5, 80)
    cases, household = write_register(municipality, tmp_path / "register-export")
    deliveries = write_notice_files(municipality, tmp_path / "source")
    first_day = min(deliveries)
    prepare_database(db_engine, settings)
    import_register(db_engine, settings, cases, household, taken_on=first_day)
    for company_id, path in deliveries[first_day]:
        inbox = settings.company(company_id).inbox
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, inbox / path.name)

    counts = daily_flow(run_date=first_day.isoformat(), config_file=str(deployed_config))

    assert counts["ingest"]
    assert sum(counts["ingest"].values()) > 0
    assert set(counts) == {
        "ingest", "match", "outcomes", "follow_up", "booking", "letters", "worklists", "delivery",
        "reminders",
    }  # fmt: skip

    import asyncio

    async def artifacts() -> list[str]:
        async with get_client() as client:
            found = await client.read_artifacts()
            return [str(a.data) for a in found if a.key == "daily-counts"]

    texts = asyncio.run(artifacts())
    assert texts
    published = "\n".join(texts)
    for pnr, name, street in municipality.notices.select(
        "personnummer", "tenant_name", "street_address"
    ).iter_rows():
        assert pnr not in published and pnr[2:8] not in published
        assert name not in published and street not in published


def test_delivery_flow_sends_a_waiting_staff_email_between_daily_runs(
    prefect_harness, deployed_config: Path, db_engine, smtp_server
) -> None:
    """The every-15-minutes delivery deployment retries what the daily run could not send."""
    from flows.daily import delivery_flow
    from flows.stages.outbox import enqueue
    from models.db import session_scope

    settings = load_settings(deployed_config)
    prepare_database(db_engine, settings)
    with session_scope(db_engine) as session:
        enqueue(
            session,
            key="caseworker_notice:cw1:flow",
            kind="caseworker_notice",
            channel="email",
            created_on=date.today(),
            recipient="karin@exempelby.se",
            subject="3 nya ärenden",
            body="Tre nya ärenden väntar på dig.\n",
        )

    assert delivery_flow(config_file=str(deployed_config))["sent_email"] == 1
    assert delivery_flow(config_file=str(deployed_config))["sent_email"] == 0
    assert len(smtp_server.handler.messages) == 1


def test_deployments_schedule_the_outbox_every_quarter_hour_in_office_hours(
    deployed_config: Path,
) -> None:
    from flows.deployments import deployments

    settings = load_settings(deployed_config)
    by_name = {d.name: d for d in deployments(settings, str(deployed_config))}
    assert set(by_name) == {"daily", "inbox", "delivery", "monthly-report", "retention"}
    (schedule,) = by_name["delivery"].schedules
    assert schedule.schedule.cron == "*/15 7-17 * * 1-5"
    assert schedule.schedule.timezone == "Europe/Stockholm"
    crons = {name: [s.schedule.cron for s in d.schedules] for name, d in by_name.items()}
    assert crons == {
        "daily": ["30 6 * * 1-5"],
        "inbox": ["*/15 7-17 * * 1-5"],
        "delivery": ["*/15 7-17 * * 1-5"],
        "monthly-report": ["0 7 1 * *"],
        "retention": [],  # run by the operator in January
    }
    # One run at a time per deployment; the 15-minute jobs drop a run that would overlap.
    limits = {name: d.concurrency_options.collision_strategy for name, d in by_name.items()}
    assert all(d.concurrency_limit == 1 for d in by_name.values())
    assert limits["inbox"] == "CANCEL_NEW" and limits["daily"] == "ENQUEUE"

    # The nightly register import exists only when the case system is read by SQL.
    settings.cases.sql_url = "sqlite:///cases.db"
    names = {d.name for d in deployments(settings, str(deployed_config))}
    assert "cases-import" in names
