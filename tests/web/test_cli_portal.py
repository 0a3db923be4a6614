"""The portal's commands: the first administrator, company tokens, the demo's logins."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from flows.cli import main
from flows.context import AppContext
from models.db import session_scope
from models.tables import ApiToken, PortalUser
from services import users

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.toml"


@pytest.fixture
def cli_db(db_url: str, db_engine, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", db_url)
    return db_url


def test_users_add_reads_the_password_from_stdin(
    cli_db: str, db_engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("första-lösenordet\n"))
    code = main(["--config", str(REPO_CONFIG), "users", "add", "Admin", "--role", "admin",
                 "--password-stdin"])  # fmt: skip
    assert code in (0, None)
    assert "Account admin (admin) created." in capsys.readouterr().out
    with session_scope(db_engine) as session:
        users.login(session, "admin", "första-lösenordet", address="127.0.0.1")

    monkeypatch.setattr("sys.stdin", io.StringIO("första-lösenordet\n"))
    bad = main(["--config", str(REPO_CONFIG), "users", "add", "x9", "--role", "kung",
                "--password-stdin"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert bad == 2 and "\n" not in err and "Okänd roll" in err


def test_companies_token_is_stored_as_a_digest(
    cli_db: str, db_engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(REPO_CONFIG), "companies", "token", "vasbyhem"]) in (0, None)
    token = capsys.readouterr().out.splitlines()[1].strip()
    with db_engine.connect() as connection:
        stored = connection.scalar(select(ApiToken.token_sha256))
    assert stored == users.token_digest(token) and token not in stored


def test_demo_logins_cover_every_role(cli_db: str, db_engine) -> None:
    from flows.commands.upload import create_demo_logins
    from flows.stages.setup import prepare_database

    context = AppContext(config_file=REPO_CONFIG)
    prepare_database(db_engine, context.settings)
    logins = create_demo_logins(context)
    with db_engine.connect() as connection:
        roles = set(connection.scalars(select(PortalUser.role)))
    assert {"admin", "advisor", "manager", "company"} <= roles  # caseworker: when routed
    for _, username, password in logins:
        with session_scope(db_engine) as session:
            users.login(session, username, password, address="127.0.0.1")
