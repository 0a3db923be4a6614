"""What every command needs: the settings and the database, loaded once and lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from domain.formatting import local_today
from models.config import Settings, load_settings
from models.db import make_engine
from models.errors import KvarboendeError


def parse_date(text: str | None, option: str = "--date") -> date | None:
    """An option's YYYY-MM-DD value, or None when it was not given; a one-line error if bad."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise KvarboendeError(f"{option}: {text!r} is not a date like 2026-11-23") from None


def day_or_today(text: str | None, option: str = "--date") -> date:
    """The option's date, or today in Stockholm (the default run date of every command)."""
    return parse_date(text, option) or local_today()


@dataclass
class AppContext:
    config_file: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file)
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database.url, self.settings.database.echo)
        return self._engine
