"""``kvarboende doctor``: one line per check, with what to do when it fails."""

from __future__ import annotations

import typer

from flows.context import AppContext

app = typer.Typer()
"""This module's verbs; ``flows.cli`` mounts it on the ``kvarboende`` command."""


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check that this installation can run unattended; exit 0 only when nothing fails.

    Configuration, database and migrations, SMTP login (nothing sent), SMS gateway,
    folders and their permissions, Prefect server and schedules, the case register's
    age, the last successful daily run, disk space. Checks that do not apply here are
    skipped with the reason.
    """
    from services.doctor import FAIL, SKIP, run_checks

    context: AppContext = ctx.obj
    report = run_checks(context.config_file)
    colours = {FAIL: typer.colors.RED, SKIP: typer.colors.YELLOW}
    for check in report.checks:
        line = f"{check.status:>4}  {check.name:<22} {check.detail}"
        if check.status == FAIL and check.todo:
            line += f"  -> {check.todo}"
        typer.secho(line, fg=colours.get(check.status))
    failed = sum(check.status == FAIL for check in report.checks)
    typer.echo("All checks passed." if report.ok else f"{failed} check(s) failed.")
    raise typer.Exit(0 if report.ok else 1)
