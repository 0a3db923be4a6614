"""``kvarboende init``: create or upgrade the database schema."""

from __future__ import annotations

import typer

from flows.context import AppContext
from flows.stages.setup import create_folders, sync_companies
from models.config import require_contact_settings
from models.db import redacted, upgrade

app = typer.Typer()
"""This module's verbs; ``flows.cli`` mounts it on the ``kvarboende`` command."""


@app.command()
def init(ctx: typer.Context) -> None:
    """Apply the database migrations, register the housing companies, create the folders."""
    context: AppContext = ctx.obj
    require_contact_settings(context.settings)
    upgrade(context.engine)
    sync_companies(context.engine, context.settings)
    create_folders(context.settings)
    typer.echo(f"Database ready: {redacted(context.settings.database.url)}")
