"""``kvarboende web`` (the portal; ``upload-server`` is its old name), ``users``, tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from flows.commands.ingest import companies_app
from flows.context import AppContext
from models.db import session_scope

app = typer.Typer()
"""This module's verbs; ``flows.cli`` mounts it on the ``kvarboende`` command."""

users_app = typer.Typer(help="Accounts in the web portal.", no_args_is_help=True)
app.add_typer(users_app, name="users")

DEMO_PASSWORD = "demo-kvarboende"  # the demo's own database only; printed by `kvarboende demo`


def _serve(context: AppContext, host: str | None, port: int | None) -> None:
    import uvicorn

    from flows.stages.setup import prepare_database
    from web.app import create_app

    settings = context.settings
    prepare_database(context.engine, settings)
    portal = create_app(settings, context.engine)
    host = host or settings.web.host
    port = port or settings.web.port
    typer.echo(f"Kvarboende portal on http://{host}:{port}/ (stop with Ctrl+C)")
    uvicorn.run(
        portal,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # request paths carry file names and ids; keep them out of logs
        # With [web] trusted_proxies the portal reads X-Forwarded-For itself (only from
        # those proxies) and keeps the proxy's address for the single sign-on check.
        proxy_headers=not settings.web.trusted_proxies,
    )


@app.command("web")
def web(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default [web]).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default [web]).")] = None,
) -> None:
    """Serve the web portal: pages per role and the companies' upload API."""
    _serve(ctx.obj, host, port)


@app.command("upload-server")
def upload_server(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default [web]).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default [web]).", min=1, max=65535)
    ] = None,
) -> None:
    """The same as `kvarboende web` (the portal serves the upload API too)."""
    _serve(ctx.obj, host, port)


@companies_app.command("token")
def companies_token(
    ctx: typer.Context,
    company_id: Annotated[str, typer.Argument(help="The company's id in config.toml.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
) -> None:
    """Issue an API token for a company (shown once; only its SHA-256 is stored)."""
    from flows.stages.setup import prepare_database
    from models.audit import current_actor
    from services.companies import issue_token

    context: AppContext = ctx.obj
    company = context.settings.company(company_id)
    prepare_database(context.engine, context.settings)
    with session_scope(context.engine) as session:
        issued = issue_token(session, company.id, by=current_actor(), label=label)
    typer.echo(f"Token for {company.name} (give it to the company, it is shown only once):")
    typer.echo(f"  {issued.token}")
    typer.echo("Revoke it in the portal (Administratör > Bostadsbolag och nycklar).")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name (a-z, digits, . _ @ -).")],
    role: Annotated[str, typer.Option(help="advisor, caseworker, company, manager or admin.")],
    company: Annotated[str | None, typer.Option(help="Company id (role company).")] = None,
    caseworker: Annotated[str | None, typer.Option(help="Caseworker id (role caseworker).")] = None,
    name: Annotated[str, typer.Option(help="Name shown in the portal.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a portal account (the first administrator is made this way)."""
    from flows.stages.setup import prepare_database
    from models.audit import current_actor
    from services.users import create_user

    context: AppContext = ctx.obj
    prepare_database(context.engine, context.settings)
    password = _read_password(password_stdin)
    with session_scope(context.engine) as session:
        user = create_user(
            session, username, password, role, company_id=company, caseworker_id=caseworker,
            display_name=name, created_by=current_actor(),
        )  # fmt: skip
    typer.echo(f"Account {user.username} ({user.role}) created.")


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """Every portal account with its role and binding."""
    from services.users import list_users

    context: AppContext = ctx.obj
    with session_scope(context.engine) as session:
        accounts = list_users(session)
    for user in accounts:
        bound = user.company_id or user.caseworker_id or ""
        state = "" if user.active else "  (deactivated)"
        typer.echo(f"{user.username:<24} {user.role:<11} {bound}{state}")


def create_demo_logins(context: AppContext) -> list[tuple[str, str, str]]:
    """One login per role on the demo database: (role label, user name, password)."""
    from domain.vocabulary import ROLE_LABEL_SV
    from services.demo import first_routed_caseworker
    from services.users import create_user

    settings = context.settings
    logins: list[tuple[str, str, str, str | None, str | None]] = [
        ("admin", "admin", "Administratör", None, None),
        ("advisor", "radgivare", "Boenderådgivare", None, None),
        ("manager", "chef", "Chef", None, None),
    ]
    with session_scope(context.engine) as session:
        caseworker = first_routed_caseworker(session)
        if caseworker:
            logins.append(("caseworker", "handlaggare", "Socialsekreterare", None, caseworker))
        if settings.companies:
            first = settings.companies[0]
            logins.append(("company", f"bolag-{first.id}", first.name, first.id, None))
        for role, username, name, company_id, caseworker_id in logins:
            create_user(
                session, username, DEMO_PASSWORD, role, company_id=company_id,
                caseworker_id=caseworker_id, display_name=name, created_by="demo",
            )  # fmt: skip
    return [(ROLE_LABEL_SV[role], username, DEMO_PASSWORD) for role, username, *_ in logins]
