"""Personal data never reaches logs, error texts or Prefect's database, also when a stage fails.

The failing stage is a real one in shape: it writes a notice row twice, so the
database refuses the second (SQLite quotes the statement's parameters, PostgreSQL
the key's value in its DETAIL), and it logs a warning naming the tenant as careless
code would. The test then reads back what Prefect stored: the flow run's and task
runs' state messages and every log line of the run.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from models.config import Settings
from models.privacy import mask, masked_errors
from models.tables import HousingCompany, Notice, NoticeFile

REPO = Path(__file__).resolve().parents[2]  # not from conftest: tests/web has one too

PNR = "198112189876"
EMAIL = "marta.raderasson@example.se"
#: Any written form of the test's personnummer, and any email address.
LEAKS = re.compile(r"(19)?811218[-+ ]?9876|[\w.+-]+@[\w-]+\.[\w.-]+")


@pytest.mark.parametrize(
    "written",
    [
        "19811218-9876",
        "811218-9876",
        "811218+9876",
        "8112189876",
        "198112189876",
        "19811278-9876",  # samordningsnummer: day + 60
        "8112789876",
        EMAIL,
        "Anna.Öberg+hyra@bostad.example.com",
    ],
)
def test_every_written_form_is_masked(written: str) -> None:
    masked = mask(f"row 3: ({written!r}, 'x') and [{written}].")
    assert written not in masked
    assert "row 3:" in masked and "'x'" in masked


def test_numbers_that_are_not_personal_stay() -> None:
    text = "2026-11-02 episode 12345 hash 3f2a1234abcd sqlite:///data/k.db kvarboende@db"
    assert mask(text) == text


def test_a_masked_error_keeps_its_type_name_and_frames() -> None:
    def fail() -> None:
        raise ValueError(f"bad row for {PNR} <{EMAIL}>")

    with pytest.raises(Exception) as caught, masked_errors():
        fail()
    assert str(caught.value) == "ValueError: bad row for <personnummer> <<address>>"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert caught.traceback[-1].name == "fail"


def failing_stage(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Store the same notice twice: the database refuses and quotes the tenant's data."""
    logging.getLogger("flows.stages.ingest").warning("row for %s (%s) looks odd", PNR, EMAIL)
    received = datetime(2026, 11, 2, 8, tzinfo=UTC)
    row = {
        "natural_key": f"vasbyhem|{PNR}|{EMAIL}"[:64],
        "row_number": 2,
        "company_id": "vasbyhem",
        "event_type": "payment_order",
        "event_date": run_date,
        "personnummer": PNR,
        "tenant_name": "Märta Raderasson",
        "email": EMAIL,
        "received_at": received,
    }
    with engine.begin() as connection:
        connection.execute(
            insert(HousingCompany).values(id="vasbyhem", name="Väsbyhem", landlord_type="municipal")
        )
        file_id = connection.execute(
            insert(NoticeFile)
            .values(
                company_id="vasbyhem",
                filename="a.csv",
                content_hash="0" * 64,
                status="ingested",
                received_at=received,
            )
            .returning(NoticeFile.id)
        ).scalar_one()
        connection.execute(insert(Notice), [{**row, "file_id": file_id}] * 2)
    return {"never": 1}


@pytest.fixture
def deployed_config(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config.toml"
    shutil.copy(REPO / "config.toml", config)
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", db_url)
    monkeypatch.setenv("KVARBOENDE_SMTP_START_LOCAL", "false")
    return config


async def _stored_texts(flow_run_id) -> list[str]:
    """Everything Prefect stored about the run: state messages and log lines."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    await APILogHandler.aflush()
    async with get_client() as client:
        run = await client.read_flow_run(flow_run_id)
        task_runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
        states = await client.read_flow_run_states(flow_run_id)
    texts = [run.state.message or ""] + [s.message or "" for s in states]
    texts += [t.state.message or "" for t in task_runs if t.state]
    texts += [log.message for log in logs]
    return texts


def test_a_failing_stage_leaves_no_personal_data_in_prefect(
    prefect_harness,
    deployed_config: Path,
    db_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import flows.daily as daily

    monkeypatch.setattr(daily, "DAILY_STAGES", (("ingest", failing_stage, False),))
    state = daily.daily_flow(
        run_date="2026-11-02", config_file=str(deployed_config), return_state=True
    )
    assert state.is_failed()
    texts = asyncio.run(_stored_texts(state.state_details.flow_run_id))
    stored = "\n".join(texts)
    # The failure is there, named, with the values masked ...
    assert "IntegrityError" in stored and "Traceback" in stored
    # ... and nothing personal: not in Prefect's database, not on the console.
    assert LEAKS.findall(stored) == []
    assert "Märta" not in stored
    printed = "".join(capfd.readouterr())
    assert "IntegrityError" in printed and "looks odd" in printed
    assert LEAKS.findall(printed) == [] and "Märta" not in printed


def test_log_records_are_masked_in_every_handler() -> None:
    import io

    from models.privacy import install_log_masking

    install_log_masking()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("connectors.somewhere")
    logger.addHandler(handler)
    try:
        logger.warning("row for %s <%s>", PNR, EMAIL)
        logger.warning("broken format %d", PNR)  # logging would print the arguments
        try:
            raise ValueError(f"[parameters: ('{PNR}', '{EMAIL}')]")
        except ValueError:
            logger.exception("stage failed for 811218-9876")
        logger.warning("nothing personal %s", 42)
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "row for <personnummer> <<address>>" in written
    assert "ValueError: [parameters: ('<personnummer>', '<address>')]" in written
    assert "nothing personal 42" in written
    assert LEAKS.findall(written) == []
