"""CLI verbs, one module per area; importing this package registers them all."""

from flows.commands import appointments  # noqa: F401
from flows.commands import cases  # noqa: F401
from flows.commands import ingest  # noqa: F401
from flows.commands import report  # noqa: F401
from flows.commands import setup  # noqa: F401
from flows.commands import worklist  # noqa: F401
