"""CLI verbs, one module per area; importing this package registers them all."""

from flows.commands import (
    appointments,  # noqa: F401
    cases,  # noqa: F401
    demo,  # noqa: F401
    doctor,  # noqa: F401
    ingest,  # noqa: F401
    report,  # noqa: F401
    retention,  # noqa: F401
    run,  # noqa: F401
    setup,  # noqa: F401
    upload,  # noqa: F401
    worklist,  # noqa: F401
)
