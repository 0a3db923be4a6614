"""Errors meant for the operator: one line, no traceback, no personal data."""

import re

_QUOTED = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"")
_UNCLOSED = re.compile(r"[`'\"].*")


def one_line_without_values(error: BaseException, limit: int = 120) -> str:
    """A library's complaint in one line, with quoted values (maybe personal data) cut out.

    Quoted values are cut from the whole message before its first line is taken: a
    quoted cell may span lines (a CSV field with a line break), and cutting the line
    first would leave an unclosed quote with the value after it. Whatever follows a
    quote that is still unclosed is cut too.
    """
    text = _QUOTED.sub("…", str(error).strip())
    line = text.splitlines()[0] if text else type(error).__name__
    return _UNCLOSED.sub("…", line)[:limit]


class KvarboendeError(Exception):
    """A problem the user can act on; the CLI prints it as one line and exits with 2."""


class NotFound(KvarboendeError):
    """The thing asked for does not exist (an entry point may answer 404)."""


class NotAllowed(KvarboendeError):
    """The request is understood but the current state forbids it (already done, too early)."""
