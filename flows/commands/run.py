"""``kvarboende run daily`` and ``kvarboende serve``."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.context import AppContext, day_or_today

app = typer.Typer()
"""This module's verbs; ``flows.cli`` mounts it on the ``kvarboende`` command."""

run_app = typer.Typer(help="Run a job once, now, without a Prefect server.", no_args_is_help=True)
app.add_typer(run_app, name="run")


@run_app.command("daily")
def run_daily_command(
    ctx: typer.Context,
    day: Annotated[
        str | None, typer.Option("--date", help="Run date YYYY-MM-DD (default today).")
    ] = None,
    with_prefect: Annotated[
        bool,
        typer.Option("--with-prefect", help="Run as a Prefect flow run (slower; shows in the UI)."),
    ] = False,
) -> None:
    """Run the daily pipeline once: ingest, match, route, book, letters, worklists, delivery."""
    from models.config import require_contact_settings

    context: AppContext = ctx.obj
    require_contact_settings(context.settings)
    run_date = day_or_today(day)
    if with_prefect:
        from flows.daily import daily_flow

        counts = daily_flow(run_date=run_date.isoformat(), config_file=_config_arg(context))
    else:
        from flows.pipeline import run_daily
        from flows.stages.setup import prepare_database

        prepare_database(context.engine, context.settings)
        counts = run_daily(context.engine, context.settings, run_date)
    for stage, values in counts.items():
        shown = ", ".join(f"{key} {value}" for key, value in values.items()) or "nothing to do"
        typer.echo(f"{stage:>10}: {shown}")


def _config_arg(context: AppContext) -> str | None:
    return str(context.config_file) if context.config_file else None


@run_app.command("inbox")
def run_inbox_command(
    ctx: typer.Context,
    day: Annotated[
        str | None, typer.Option("--date", help="Run date YYYY-MM-DD (default today).")
    ] = None,
) -> None:
    """The 15-minute run once: new inbox files through match, booking, letters, delivery."""
    from flows.pipeline import run_inbox

    context: AppContext = ctx.obj
    counts = run_inbox(context.engine, context.settings, day_or_today(day))
    for stage, values in counts.items():
        shown = ", ".join(f"{key} {value}" for key, value in values.items()) or "nothing to do"
        typer.echo(f"{stage:>10}: {shown}")


@app.command()
def deploy(
    ctx: typer.Context,
    pool: Annotated[str, typer.Option("--pool", help="The Prefect work pool (type process).")],
) -> None:
    """Register every deployment with a work pool, for `prefect worker`s on several hosts."""
    from flows.deployments import deploy_to_pool
    from models.config import config_path

    context: AppContext = ctx.obj
    config = str(config_path(context.config_file).resolve())
    names = deploy_to_pool(context.settings, config, pool)
    typer.echo(f"Deployed to work pool {pool}: {', '.join(names)}")


@app.command()
def serve(ctx: typer.Context) -> None:
    """Serve every scheduled deployment (daily, inbox, delivery, monthly report ...)."""
    from flows.deployments import serve_all
    from models.config import config_path

    context: AppContext = ctx.obj
    serve_all(context.settings, str(config_path(context.config_file).resolve()))
