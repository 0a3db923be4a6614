"""More than one machine, as the README lays it out: a real Prefect server process on
PostgreSQL, a process work pool, two worker processes, the project's database on
PostgreSQL. Both workers run a job that ingests at the same moment (the daily job on
one, the 15-minute inbox job on the other, as when a daily run is still going at
07:00); every file is ingested once and every letter queued once.

Slow (a server and two workers start): marked ``slow``, outside ``pytest -m "not
slow"``; ``make test`` and CI run it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

import httpx
import pytest
from conftest import PG_URL, make_test_database, require_postgres
from sqlalchemy import create_engine, func, select, text

from connectors.demo_files import write_notice_files, write_register
from domain.synthetic import generate
from flows.stages.cases import import_register
from flows.stages.setup import prepare_database
from models.config import load_settings
from models.db import session_scope
from models.tables import Appointment, JobRun, Letter, Notice, NoticeFile

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START_TIMEOUT = 240


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(api: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"Prefect server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"Prefect server did not answer in {START_TIMEOUT} s: {log.read_text()[-3000:]}")


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def _trigger(api: str, deployment: str, queue: str, parameters: dict) -> str:
    found = httpx.get(f"{api}/deployments/name/{deployment}", timeout=10)
    found.raise_for_status()
    created = httpx.post(
        f"{api}/deployments/{found.json()['id']}/create_flow_run",
        json={"parameters": parameters, "work_queue_name": queue},
        timeout=10,
    )
    created.raise_for_status()
    return created.json()["id"]


def _wait_final(api: str, run_ids: list[str], timeout: float = 600) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        for run_id in run_ids:
            run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()
            states[run_id] = (run.get("state") or {}).get("type", "")
        if all(s in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} for s in states.values()):
            return states
        time.sleep(2)
    pytest.fail(f"flow runs not finished in {timeout} s: {states}")


def test_two_workers_on_a_prefect_server_ingest_each_file_once_and_letter_once(
    tmp_path: Path, smtp_server
) -> None:
    require_postgres()
    url, engine, cleanup = make_test_database("postgresql", tmp_path)
    prefect_db = f"prefect_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{prefect_db}"'))
    processes: list[subprocess.Popen] = []
    logs: list[Path] = []
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    pg = PG_URL.split("://", 1)[1].rsplit("/", 1)[0]
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://{pg}/{prefect_db}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",  # only the runs we trigger
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "DO_NOT_TRACK": "1",
        "KVARBOENDE_DATABASE_URL": url,
        "KVARBOENDE_SMTP_PORT": str(smtp_server.port),
        "KVARBOENDE_SMTP_START_LOCAL": "false",
        "KVARBOENDE_OPERATIONS_ALERT_EMAILS": '["drift@exempelby.se"]',
    }

    def start(name: str, args: list[str]) -> subprocess.Popen:
        log = tmp_path / f"{name}.log"
        logs.append(log)
        handle = log.open("w")
        process = subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    try:
        server = start("server", [str(BIN / "prefect"), "server", "start", "--host",
                                  "127.0.0.1", "--port", str(port), "--no-ui"])  # fmt: skip
        config = tmp_path / "config.toml"
        shutil.copy(REPO / "config.toml", config)
        settings = load_settings(config)
        town = generate(7, date(2026, 9, 1), 10, 150)
        cases, household = write_register(town, tmp_path / "register-export")
        deliveries = write_notice_files(town, tmp_path / "source")
        day = min(deliveries)
        prepare_database(engine, settings)
        import_register(engine, settings, cases, household, taken_on=day)
        copied = []
        for later in sorted(deliveries)[:3]:  # three days' files arrive at once
            for company_id, path in deliveries[later]:
                inbox = settings.company(company_id).inbox
                target = inbox / f"{later.isoformat()}-{path.name}"
                shutil.copy2(path, target)
                copied.append(target)
        assert len(copied) >= 3
        _wait_healthy(api, server, logs[0])

        _run([str(BIN / "prefect"), "work-pool", "create", "kvarboende", "--type", "process"], env)
        out = _run([str(BIN / "kvarboende"), "--config", str(config), "deploy", "--pool",
                    "kvarboende"], env)  # fmt: skip
        assert "daily" in out and "inbox" in out
        for n in (1, 2):
            start(f"worker{n}", [str(BIN / "prefect"), "worker", "start", "--pool",
                                 "kvarboende", "--work-queue", f"host{n}", "--name",
                                 f"host{n}"])  # fmt: skip
        time.sleep(5)
        parameters = {"run_date": day.isoformat(), "config_file": str(config)}
        runs = [
            _trigger(api, "kvarboende-daily/daily", "host1", parameters),
            _trigger(api, "kvarboende-inbox/inbox", "host2", parameters),
        ]
        states = _wait_final(api, runs)
        worker_logs = "\n".join(p.read_text()[-4000:] for p in logs[1:])
        assert set(states.values()) == {"COMPLETED"}, worker_logs

        # Every file was taken once; every notice stored once; every letter queued once.
        assert not [p for p in copied if p.exists()]
        with session_scope(engine) as session:
            files = session.scalar(select(func.count()).select_from(NoticeFile))
            hashes = session.scalars(select(NoticeFile.content_hash)).all()
            notices = session.scalar(select(func.count()).select_from(Notice))
            accepted = session.scalar(select(func.sum(NoticeFile.rows_accepted)))
            appointments = session.scalars(select(Appointment.episode_id)).all()
            letters = session.execute(select(Letter.kind, Letter.appointment_id)).all()
            recorded = session.execute(select(JobRun.job, JobRun.flow_run_id, JobRun.state)).all()
            deployed = session.scalars(select(JobRun.deployment_id)).all()
        assert files == len(set(hashes))  # one row per content
        assert files <= len(copied) and notices == accepted and notices > 0
        assert appointments and len(appointments) == len(set(appointments))
        per_appointment = Counter(a for kind, a in letters if kind == "appointment")
        assert per_appointment and set(per_appointment.values()) == {1}
        assert {(job, state) for job, _, state in recorded} == {
            ("daily", "completed"), ("inbox", "completed")
        }  # fmt: skip
        assert {flow_run for _, flow_run, _ in recorded} == set(runs)
        assert all(deployed)  # started by deployments: missed runs are watched from now on
        ran_on = {
            httpx.get(f"{api}/flow_runs/{r}", timeout=10).json()["work_queue_name"] for r in runs
        }
        assert ran_on == {"host1", "host2"}

        # The doctor sees the server and every deployment with its schedule.
        done = subprocess.run(
            [str(BIN / "kvarboende"), "--config", str(config), "doctor"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        (line,) = [x for x in done.stdout.splitlines() if " prefect " in f" {x} "]
        assert line.strip().startswith("ok"), done.stdout
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{prefect_db}" WITH (FORCE)'))
        admin.dispose()
        cleanup()
