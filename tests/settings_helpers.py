"""Test settings built from the repository's config.toml (a module of its own, so that
tests in any folder import it by name: ``conftest`` is ambiguous with tests/web's)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build_settings(tmp_path: Path, db_url: str, **overrides: object):
    """The repository's config.toml with the database and every folder moved under tmp_path."""
    from models.config import load_settings

    settings = load_settings(REPO / "config.toml")
    settings.database.url = db_url
    for name in type(settings.paths).model_fields:
        default = getattr(type(settings.paths)(), name)
        setattr(settings.paths, name, tmp_path / default)
    for company in settings.companies:
        company.inbox = settings.paths.inbox_dir / company.id
    settings.smtp.start_local = False
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings
