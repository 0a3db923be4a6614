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
from models.privacy import data_folders, secure_paths


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


def secure_data_folders(settings: Settings) -> int:
    """Close the configured data folders that an older version left open (0755 -> 0700).

    The companies' inbox folders are left as the operator set them: an SFTP account
    other than the program's may have to write there.
    """
    paths = settings.paths
    inboxes = {paths.inbox_dir, *(c.inbox for c in settings.companies if c.inbox is not None)}
    configured = [getattr(paths, name) for name in type(paths).model_fields]
    folders = data_folders(paths.data_dir, [p for p in configured if p not in inboxes])
    return secure_paths(folders)


@dataclass
class AppContext:
    config_file: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file)
            secure_data_folders(self._settings)
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database.url, self.settings.database.echo)
        return self._engine
