"""Old import path of :func:`services.outbox.enqueue` (the worklist stage and the monthly
report still import it from here; they move to ``services.outbox`` with their own split)."""

from services.outbox import enqueue

__all__ = ["enqueue"]
