"""Issue 15: empty municipality contact settings used in letters stop init and the daily run.

A letter printed "Ring  eller läs mer på ." when they were unset.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main
from models.config import Settings, missing_contact_settings

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.toml"


def test_missing_contact_settings_names_the_empty_keys() -> None:
    settings = Settings()
    assert missing_contact_settings(settings) == [
        "municipality.phone",
        "municipality.website",
        "municipality.email",
    ]
    settings.municipality.phone = "08-123 456 00"
    settings.municipality.website = "  "
    settings.municipality.email = "socialtjansten@exempelby.se"
    assert missing_contact_settings(settings) == ["municipality.website"]


def _config_without_phone(tmp_path: Path) -> Path:
    text = REPO_CONFIG.read_text(encoding="utf-8")
    assert 'phone = "08-123 456 00"' in text
    config = tmp_path / "config.toml"
    config.write_text(text.replace('phone = "08-123 456 00"', 'phone = ""', 1), encoding="utf-8")
    return config


@pytest.mark.parametrize("command", [["init"], ["run", "daily", "--date", "2026-11-23"]])
def test_init_and_the_daily_run_refuse_an_empty_phone(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    database = tmp_path / "kvarboende.db"
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", f"sqlite:///{database}")
    assert main(["--config", str(_config_without_phone(tmp_path)), *command]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "municipality.phone empty" in err
    assert not database.exists()  # refused before anything was created
