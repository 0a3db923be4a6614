"""Database setup shared by ``kvarboende init``, the demo and the tests."""

from __future__ import annotations

from sqlalchemy import Engine

from models.config import Settings
from models.db import session_scope, upgrade
from models.privacy import private_dir
from services import setup


def sync_companies(engine: Engine, settings: Settings) -> int:
    """Insert or update the configured housing companies; returns how many there are."""
    with session_scope(engine) as session:
        return setup.sync_companies(session, settings)


def create_folders(settings: Settings) -> None:
    """Create the data folders and the companies' inboxes, 0700 (existing ones are left)."""
    paths = settings.paths
    for folder in (
        paths.archive_dir, paths.rejected_dir, paths.letters_dir, paths.print_dir,
        paths.worklist_dir, paths.reports_dir, paths.mail_dir, paths.register_dir,
        *(company.inbox or paths.inbox_dir / company.id for company in settings.companies),
    ):  # fmt: skip
        private_dir(folder)


def prepare_database(engine: Engine, settings: Settings) -> None:
    """Migrate to the latest schema, register the companies, create the folders: ``init``."""
    upgrade(engine)
    sync_companies(engine, settings)
    create_folders(settings)
