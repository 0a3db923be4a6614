"""CLI verbs, one module per area. Each module owns a ``typer.Typer`` named ``app``;
``flows.cli`` mounts them, so no command module imports the entry point (no import loop)."""

from flows.commands import (
    appointments,
    cases,
    demo,
    doctor,
    ingest,
    report,
    retention,
    run,
    setup,
    upload,
    worklist,
)

COMMAND_MODULES = (
    setup,
    doctor,
    run,
    ingest,
    cases,
    appointments,
    worklist,
    report,
    retention,
    upload,
    demo,
)
"""In the order their verbs appear in ``kvarboende --help``."""
