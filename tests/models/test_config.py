"""Configuration: the shipped file is valid, the environment overrides it, errors are one line."""

from pathlib import Path

import pytest

from models.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_shipped_config_loads_and_resolves_paths() -> None:
    settings = load_settings(REPO / "config.toml")
    assert settings.database.url.startswith("sqlite:////")
    assert settings.paths.inbox_dir.is_absolute()
    assert {c.id for c in settings.companies} == {"vasbyhem", "hyresvard", "kvartersbo"}
    assert settings.company("vasbyhem").inbox == settings.paths.inbox_dir / "vasbyhem"
    assert settings.advisors[0].hours["mon"]


def test_environment_overrides_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("KVARBOENDE_SMTP_PASSWORD", "hemligt")
    monkeypatch.setenv("KVARBOENDE_SMTP_FROM_ADDRESS", "x@example.se")
    settings = load_settings(REPO / "config.toml")
    assert settings.database.url == "postgresql+psycopg://u@h/db"
    assert settings.smtp.password.get_secret_value() == "hemligt"
    assert settings.smtp.from_address == "x@example.se"
    assert "hemligt" not in repr(settings)


def test_config_path_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    file = tmp_path / "other.toml"
    file.write_text('[municipality]\nname = "Annanby kommun"\n', encoding="utf-8")
    monkeypatch.setenv("KVARBOENDE_CONFIG", str(file))
    assert load_settings().municipality.name == "Annanby kommun"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[smtp]\nport = 'abc'\n", "smtp.port"),
        ("[booking]\npostal_days = -1\n", "booking.postal_days"),
        ("[smtp]\nsecurity = 'maybe'\n", "smtp.security"),
        ("[[advisors]]\nid='a'\nname='A'\nlocation='L'\nhours={mon=['12:00-09:00']}\n", "hours"),
        ("[databse]\nurl='x'\n", "databse"),
        ("[schedules]\ntimezone = 'Mars/Base'\n", "schedules.timezone"),
        ("[smtp\n", "not valid TOML"),
    ],
)
def test_wrong_value_gives_one_line_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    file = tmp_path / "config.toml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(file)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        (
            "postgresql://u@h:5433/db?sslmode=require",
            "postgresql+psycopg://u@h:5433/db?sslmode=require",
        ),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_heroku_style_postgres_urls_use_psycopg(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", url)
    assert load_settings(REPO / "config.toml").database.url == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u:hemligt@h/db", "'mysql' databases are not supported"),
        ("oracle+oracledb://u:hemligt@h/db", "'oracle+oracledb' databases are not supported"),
        ("hemligt", "not a URL"),
        ("postgres://u:hemligt@h:port/db", "not a valid URL"),
    ],
)
def test_unsupported_database_url_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    monkeypatch.setenv("KVARBOENDE_DATABASE_URL", url)
    with pytest.raises(ConfigError) as caught:
        load_settings(REPO / "config.toml")
    message = str(caught.value)
    assert "database.url" in message and expected in message
    assert "sqlite:///path or postgresql+psycopg://user@host/db" in message
    assert "hemligt" not in message and "\n" not in message


def test_register_sql_url_postgres_means_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVARBOENDE_CASES_SQL_URL", "postgres://reader@casedb/viva")
    settings = load_settings(REPO / "config.toml")
    assert settings.cases.sql_url == "postgresql+psycopg://reader@casedb/viva"
