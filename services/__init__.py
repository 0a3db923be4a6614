"""The application layer: one module per user task, under every entry point.

The command line (``flows/commands``), the scheduled flows (``flows/stages``) and the web
portal call these functions; each takes a SQLAlchemy session and typed arguments,
checks its own preconditions, raises one-line :class:`models.errors.KvarboendeError`
subclasses, and returns frozen dataclasses. Imports run downward only: services use
``domain``, ``connectors``, ``letters`` and ``models``, never ``flows`` or ``web``.
"""
