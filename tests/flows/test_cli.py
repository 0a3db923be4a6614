"""The command line: --help everywhere, one-line errors, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from flows.cli import _register_commands, app, main

_register_commands()


def _all_command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command: object, prefix: list[str]) -> None:
        paths.append(prefix)
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*prefix, name])

    walk(root, [])
    return paths


def test_the_required_verbs_exist() -> None:
    verbs = {" ".join(path) for path in _all_command_paths()}
    for required in (
        "init", "demo", "demo-data", "ingest", "cases import", "run daily", "worklist",
        "report", "serve",
    ):  # fmt: skip
        assert required in verbs


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p) or "root")
def test_every_command_has_help(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage" in out


def test_bad_config_is_one_line_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[smtp]\nport = 'abc'\n", encoding="utf-8")
    assert main(["--config", str(bad), "init"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "smtp.port" in err and "Traceback" not in err


def test_serve_without_prefect_server_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    repo_config = Path(__file__).resolve().parents[2] / "config.toml"
    assert main(["--config", str(repo_config), "serve"]) == 2
    assert "prefect server start" in capsys.readouterr().err


def test_run_daily_rejects_a_bad_date(capsys: pytest.CaptureFixture[str]) -> None:
    repo_config = Path(__file__).resolve().parents[2] / "config.toml"
    assert main(["--config", str(repo_config), "run", "daily", "--date", "2026-13-01"]) == 2
    assert "2026-13-01" in capsys.readouterr().err


def test_uninitialised_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    config = tmp_path / "config.toml"
    shutil.copy(Path(__file__).resolve().parents[2] / "config.toml", config)
    assert main(["--config", str(config), "worklist", "--date", "2026-11-23"]) == 2
    err = capsys.readouterr().err.strip()
    assert "kvarboende init" in err and "\n" not in err


def test_usage_error_is_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "bogus", "1"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "bogus" in err


def test_unwritable_output_folder_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    repo_config = Path(__file__).resolve().parents[2] / "config.toml"
    assert main(["--config", str(repo_config), "demo-data", "--out", "/proc/kvarboende"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kvarboende: /proc/kvarboende") and "Traceback" not in err


def test_unreadable_register_names_no_personal_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "cases.csv"
    bad.write_text('case_id;personnummer;name\nC1;198001011234;Kalle "Anka\n', encoding="utf-8")
    repo_config = Path(__file__).resolve().parents[2] / "config.toml"
    assert main(["--config", str(repo_config), "cases", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cases.csv" in err
    assert "198001011234" not in err and "Kalle" not in err and "Anka" not in err


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real console script in its own process: what the operator sees, tracebacks too."""
    script = Path(sys.executable).with_name("kvarboende")
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u:hemligt@db.example/kvarboende", "'mysql' databases are not supported"),
        # postgres:// is read as psycopg: the answer is about the (closed) port, not the driver.
        ("postgres://u:hemligt@127.0.0.1:1/kvarboende", "cannot reach the database"),
    ],
)
def test_database_url_problems_are_one_line(url: str, expected: str) -> None:
    repo_config = Path(__file__).resolve().parents[2] / "config.toml"
    done = _cli("--config", str(repo_config), "init", env={"KVARBOENDE_DATABASE_URL": url})
    err = done.stderr.strip()
    assert done.returncode == 2, err
    assert err.count("\n") == 0 and "Traceback" not in err
    assert expected in err and "hemligt" not in err


def test_a_file_that_is_not_sqlite_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_database = tmp_path / "kvarboende.db"
    not_a_database.write_text("personnummer;namn\n" * 200, encoding="utf-8")
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", f"sqlite:///{not_a_database}")
    repo_config = Path(__file__).resolve().parents[2] / "config.toml"
    assert main(["--config", str(repo_config), "init"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "database.url" in err and "file is not a database" in err


def test_register_sql_source_without_its_driver_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A case system on MySQL is allowed, but its driver is not installed here."""
    monkeypatch.setenv("KVARBOENDE_CASES_SQL_URL", "mysql://reader:hemligt@casedb/viva")
    monkeypatch.setenv("KVARBOENDE_CASES_SQL_QUERY", "select 1")
    repo_config = Path(__file__).resolve().parents[2] / "config.toml"
    assert main(["--config", str(repo_config), "cases", "import"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cases.sql_url" in err and "MySQLdb" in err
    assert "hemligt" not in err


def test_serve_with_a_bad_cron_schedule_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    monkeypatch.setenv("KVARBOENDE_SCHEDULES_DAILY", "61 6 * * 1-5")
    repo_config = Path(__file__).resolve().parents[2] / "config.toml"
    assert main(["--config", str(repo_config), "serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "schedules.daily" in err and "'61 6 * * 1-5'" in err


def test_upload_server_port_out_of_range_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    text = (Path(__file__).resolve().parents[2] / "config.toml").read_text(encoding="utf-8")
    token = 'id = "vasbyhem"\nupload_token_sha256 = "' + "a" * 64 + '"'
    config.write_text(text.replace('id = "vasbyhem"', token, 1), encoding="utf-8")
    assert main(["--config", str(config), "upload-server", "--port", "99999"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--port" in err and "65535" in err
