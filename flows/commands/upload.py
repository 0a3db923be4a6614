"""``kvarboende upload-server`` and ``kvarboende companies token``: the HTTP way in."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli import app
from flows.commands.ingest import companies_app
from flows.context import AppContext


@app.command("upload-server")
def upload_server(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default [upload]).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default [upload]).", min=1, max=65535)
    ] = None,
) -> None:
    """Serve the housing companies' upload endpoint (PUT a file, get its receipt)."""
    import uvicorn

    from connectors.upload import create_app
    from flows.stages.setup import prepare_database

    context: AppContext = ctx.obj
    settings = context.settings
    prepare_database(context.engine, settings)
    without = [c.id for c in settings.companies if not c.upload_token_sha256]
    if len(without) == len(settings.companies):
        typer.echo(
            "No company has an upload token yet: run `kvarboende companies token ID` first.",
            err=True,
        )
        raise typer.Exit(2)
    if without:
        typer.echo(f"No upload token (inbox only): {', '.join(without)}", err=True)
    api = create_app(settings, lambda: context.engine)
    uvicorn.run(
        api,
        host=host or settings.upload.host,
        port=port or settings.upload.port,
        log_level="warning",
        access_log=False,  # request paths carry file names; keep them out of logs
    )


@companies_app.command("token")
def companies_token(
    ctx: typer.Context,
    company_id: Annotated[str, typer.Argument(help="The company's id in config.toml.")],
) -> None:
    """Make a new upload token for a company: give it the token, put the digest in config."""
    from connectors.upload import new_token

    company = ctx.obj.settings.company(company_id)
    token, digest = new_token()
    typer.echo(f"Token for {company.name} (give it to the company, it is shown only once):")
    typer.echo(f"  {token}")
    typer.echo("Put this in its [[companies]] entry in config.toml (the old token stops working):")
    typer.echo(f'  upload_token_sha256 = "{digest}"')
