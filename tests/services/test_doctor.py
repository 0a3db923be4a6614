"""``kvarboende doctor``: every check passes on a healthy installation and names the fix
when it fails. Real SMTP (aiosmtpd), a real HTTP server, SQLite and PostgreSQL."""

from __future__ import annotations

import http.server
import os
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from flows.stages.setup import prepare_database
from models.db import session_scope, upgrade
from services import operations as ops

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def healthy(settings, db_engine, smtp_server, tmp_path: Path, monkeypatch):
    """A prepared installation: folders, a register snapshot, a successful daily run."""
    from register_helpers import write_register

    from flows.stages.cases import import_register

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    settings.smtp.port = smtp_server.port
    settings.smtp.start_local = False
    settings.operations.min_free_disk_mb = 1
    prepare_database(db_engine, settings)
    (tmp_path / "register").mkdir()
    cases, household = write_register(tmp_path / "register")
    import_register(db_engine, settings, cases, household)
    with session_scope(db_engine) as session:
        ops.finish_run(session, ops.start_run(session, "daily", date.today()), ops.COMPLETED)
    return settings


def _by_name(checks) -> dict[str, object]:
    return {check.name: check for check in checks}


def test_a_healthy_installation_passes_with_expected_skips(healthy) -> None:
    from services.doctor import FAIL, PASS, SKIP, check_all

    checks = _by_name(check_all(healthy))
    assert {c.status for c in checks.values()} <= {PASS, SKIP}, [
        (c.name, c.detail) for c in checks.values() if c.status == FAIL
    ]
    assert checks["smtp"].status == PASS and "nothing sent" in checks["smtp"].detail
    assert checks["sms gateway"].status == SKIP
    assert checks["prefect"].status == SKIP and "PREFECT_API_URL" in checks["prefect"].detail
    # Names the revision the database is at: the newest migration.
    head = sorted((ROOT / "models" / "migrations" / "versions").glob("0*.py"))[-1].stem
    assert checks["database"].status == PASS and head in checks["database"].detail
    assert checks["daily run"].status == PASS and checks["case register"].status == PASS
    assert any(name.startswith("folder inbox") for name in checks)


def test_each_failure_names_what_to_do(healthy, db_engine, smtp_server) -> None:
    from services.doctor import FAIL, check_all

    os.chmod(healthy.paths.letters_dir, 0o755)
    healthy.smtp.port = 1  # nothing listens
    later = datetime.now(UTC) + timedelta(days=30)
    checks = _by_name(check_all(healthy, now=later))
    failed = {name for name, c in checks.items() if c.status == FAIL}
    assert failed == {"folder letters", "smtp", "case register", "daily run"}
    assert "chmod" in checks["folder letters"].todo and "0755" in checks["folder letters"].detail
    assert "KVARBOENDE_SMTP_PASSWORD" in checks["smtp"].todo
    assert "cases import" in checks["case register"].todo
    assert "kvarboende run daily" in checks["daily run"].todo
    assert not smtp_server.messages  # the SMTP check sends nothing


def test_a_database_of_the_previous_release_asks_for_init(settings, tmp_path: Path) -> None:
    from models.db import make_engine
    from services.doctor import FAIL, check_database

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade(engine, "0002_portal")
    engine.dispose()
    settings.database.url = url
    check = check_database(settings)
    assert check.status == FAIL and "0002_portal" in check.detail
    assert "kvarboende init" in check.todo


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_sms_gateway_is_checked_when_sms_goes_over_http() -> None:
    from services.doctor import FAIL, PASS, SKIP, check_sms

    server = http.server.HTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        assert (
            check_sms(SimpleNamespace(sms=SimpleNamespace(transport="http", base_url=url))).status
            == PASS
        )
    finally:
        server.shutdown()
        server.server_close()
    down = check_sms(SimpleNamespace(sms=SimpleNamespace(transport="http", base_url=url)))
    assert down.status == FAIL and "base_url" in down.todo
    # The demo writes SMS to a folder; "none" sends none: nothing to reach.
    for transport in ("file", "none"):
        sms = SimpleNamespace(transport=transport, base_url="https://api.46elks.com")
        assert check_sms(SimpleNamespace(sms=sms)).status == SKIP
    lost = check_sms(SimpleNamespace(sms=SimpleNamespace(transport="http", base_url="")))
    assert lost.status == FAIL and "base_url" in lost.todo


def test_prefect_deployments_and_their_schedules_are_checked(
    prefect_harness, healthy, monkeypatch, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    from flows.deployments import deployments
    from services.doctor import FAIL, PASS, check_prefect

    api = PREFECT_API_URL.value()
    monkeypatch.setenv("PREFECT_API_URL", api)
    # The harness is shared by the session: start from a server without deployments.
    for found in httpx.post(f"{api}/deployments/filter", json={}, timeout=30).json():
        httpx.delete(f"{api}/deployments/{found['id']}", timeout=30).raise_for_status()
    missing = check_prefect(healthy)
    assert missing.status == FAIL and "daily not deployed" in missing.detail
    assert "kvarboende serve" in missing.todo
    for deployment in deployments(healthy, str(tmp_path / "config.toml")):
        deployment.apply()
    assert check_prefect(healthy).status == PASS
    healthy.schedules.daily = "0 6 * * 1-5"  # the configuration changed, not redeployed
    changed = check_prefect(healthy)
    assert changed.status == FAIL and "expected '0 6 * * 1-5'" in changed.detail
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    assert check_prefect(healthy).status == FAIL


def test_the_command_exits_0_only_when_nothing_fails(tmp_path: Path, monkeypatch) -> None:
    from flows.cli import main

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text('[database]\nurl = "sqlite:///data/k.db"\n')
    assert main(["doctor"]) == 1  # not initialised, no register, no daily run
    (tmp_path / "config.toml").write_text('[smtp]\nport = "abc"\n')
    assert main(["doctor"]) == 1
