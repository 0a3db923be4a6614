"""The ``kvarboende`` command: every verb calls the same plain functions the flows use.

Errors the operator can act on (configuration, unreadable files, an unreachable
database) are printed as one line and exit with status 2, never as a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from flows.context import AppContext
from models.errors import KvarboendeError
from models.privacy import mask, protect_process

app = typer.Typer(
    name="kvarboende",
    help="Kvarboende: early warning and follow-up of rent arrears and evictions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main_callback(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Configuration file (default ./config.toml, or KVARBOENDE_CONFIG).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Kvarboende turns housing companies' notices into action within a day."""
    ctx.obj = AppContext(config_file=config)


_mounted = False


def _register_commands() -> None:
    """Mount each command module's verbs on ``app``, once.

    Imported here, not at module level, so ``kvarboende --version``-style paths and the
    error handling below stay importable even when a command module fails to import.
    """
    global _mounted
    if _mounted:
        return
    from flows.commands import COMMAND_MODULES

    for module in COMMAND_MODULES:
        app.add_typer(module.app)
    _mounted = True


def database_problem(exc: SQLAlchemyError) -> str:
    """One line for a database error, without SQL, parameters or credentials."""
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else ""
    lowered = text.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return "the database is not initialised: run `kvarboende init` first"
    if "file is not a database" in lowered or "disk image is malformed" in lowered:
        return f"the SQLite file in database.url cannot be used: {text}"
    if isinstance(exc, OperationalError):
        return f"cannot use the database ({type(getattr(exc, 'orig', exc)).__name__}): {text}"
    return f"database error ({type(getattr(exc, 'orig', exc)).__name__}); see the server log"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    protect_process()
    _register_commands()
    try:
        # Without standalone mode click returns a command's ``typer.Exit(code)`` as the value.
        code = app(args=argv, standalone_mode=False)
    except KvarboendeError as exc:
        typer.secho(f"kvarboende: {mask(str(exc))}", err=True, fg=typer.colors.RED)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        typer.secho(f"kvarboende: {where}{exc.strerror or exc}", err=True, fg=typer.colors.RED)
        return 2
    except SQLAlchemyError as exc:
        typer.secho(f"kvarboende: {database_problem(exc)}", err=True, fg=typer.colors.RED)
        return 2
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001 - usage errors (typer ships its own click)
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            return exit_code
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
