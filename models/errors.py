"""Errors meant for the operator: one line, no traceback, no personal data."""


class KvarboendeError(Exception):
    """A problem the user can act on; the CLI prints it as one line and exits with 2."""
