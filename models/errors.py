"""Errors meant for the operator: one line, no traceback, no personal data."""

import re

_QUOTED = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"")


def one_line_without_values(error: BaseException, limit: int = 120) -> str:
    """A library's complaint in one line, with quoted values (maybe personal data) cut out."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return _QUOTED.sub("…", line)[:limit]


class KvarboendeError(Exception):
    """A problem the user can act on; the CLI prints it as one line and exits with 2."""
