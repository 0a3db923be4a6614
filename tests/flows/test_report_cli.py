"""``kvarboende report``: files in every format, one-line errors, the audit entry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import stats_fixtures as fx
from sqlalchemy import select

from flows.cli import _register_commands, main
from models.db import session_scope
from models.tables import AuditLog, StatFact

_register_commands()
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path, db, monkeypatch: pytest.MonkeyPatch) -> Path:
    url, _engine = db
    path = tmp_path / "config.toml"
    shutil.copy(REPO / "config.toml", path)
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", url)
    return path


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_report_writes_every_format_under_reports_dir(
    config: Path, db, capsys: pytest.CaptureFixture[str]
) -> None:
    _url, engine = db
    with session_scope(engine) as session:
        fx.build_vasby(session)
    for fmt in ("html", "pdf", "xlsx", "json"):
        assert main(["--config", str(config), "report", "--year", "2006", "--format", fmt]) == 0
        path = config.parent / "data" / "out" / "reports" / f"statistik-2006.{fmt}"
        assert path.stat().st_size > 0
        assert f"Report written: {path}" in capsys.readouterr().out
    data = json.loads((config.parent / "data/out/reports/statistik-2006.json").read_text("utf-8"))
    assert data["episodes_opened"] == 407 and data["previous_period"]["evictions_executed"] == 16
    out = config.parent / "elsewhere" / "oktober.json"
    assert main(["--config", str(config), "report", "--month", "2006-10", "--format", "json",
                 "--out", str(out), "--no-refresh"]) == 0  # fmt: skip
    assert json.loads(out.read_text("utf-8"))["episodes_opened"] == 34
    with session_scope(engine) as session:
        assert session.scalars(select(StatFact.month).distinct()).all()
        actions = session.scalars(select(AuditLog.action)).all()
    assert actions.count("report.write") == 5


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "args",
    [
        ["--month", "2026-13"],
        ["--month", "oktober"],
        ["--year", "2006", "--month", "2006-01"],
        [],
        ["--year", "20066"],
    ],
)
def test_bad_period_is_one_line(
    config: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "report", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kvarboende: ") and "\n" not in err and "Traceback" not in err


def test_report_on_an_uninitialised_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    shutil.copy(REPO / "config.toml", path)
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert main(["--config", str(path), "report", "--month", "2026-10"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "kvarboende init" in err
