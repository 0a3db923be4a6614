"""Personal data stays where it belongs: out of logs and error texts, and in private files.

Two rules for the whole process, installed by every entry point (the CLI, the Prefect
flows, the upload server) with :func:`protect_process`:

* **Masking.** Every written form of a personnummer or samordningsnummer (10 or 12
  digits, with or without ``-``/``+``) and every email address is replaced before a
  log record reaches any handler: the console, Prefect's API (its database keeps the
  logs) or a file. Error texts that Prefect stores as a run's state message are masked
  by :func:`masked_errors`. Database drivers quote the offending values (SQLAlchemy's
  ``[parameters: ...]``, PostgreSQL's ``DETAIL: Key (...)=(...)``), so failures are
  the usual way such data would leak.
* **Private files.** The database, the archive, letters, print batches, worklists,
  the local mail folder and register exports all hold sensitive personal data
  (OSL 26:1), so everything the process creates is readable by its owner only: the
  umask becomes 077, and folders are created 0700 whatever the umask
  (:func:`private_dir`).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from models.errors import KvarboendeError

PERSONNUMMER_MASK = "<personnummer>"
EMAIL_MASK = "<address>"

#: YYMMDD or YYYYMMDD (day + 60 for a samordningsnummer), an optional - or + (or a
#: space), then four digits; never part of a longer run of digits.
_PERSONNUMMER = re.compile(
    r"(?<!\d)(?:1[89]|20)?\d{2}(?:0[1-9]|1[0-2])(?:[0-3]\d|[6-9]\d)[-+ ]?\d{4}(?!\d)"
)
#: An address with a dotted domain (``kvarboende@db`` in a database URL is a login, not mail).
_EMAIL = re.compile(r"[\w.!#$%&*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")

PRIVATE_UMASK = 0o077
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
#: The project's own loggers (Prefect's are reached through their handlers).
PROJECT_LOGGERS = ("flows", "services", "connectors", "models", "domain", "letters")


def mask(text: str) -> str:
    """The text with every personnummer, samordningsnummer and email address replaced."""
    return _PERSONNUMMER.sub(PERSONNUMMER_MASK, _EMAIL.sub(EMAIL_MASK, text))


# ----------------------------------------------------------------------------- logging


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a record in place: its message, and its traceback rendered now and masked.

    A record without personal data is left as it is (formatters such as uvicorn's read
    ``args``). Otherwise the message is replaced by its masked text, and a traceback is
    rendered here (``exc_text``) with ``exc_info`` dropped, so no handler can render
    the unmasked exception again later.
    """
    if getattr(record, "_kvarboende_masked", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string: logging would print the args
        message = f"{record.msg} {record.args!r}"
        record.msg, record.args = mask(message), ()
    if (masked := mask(message)) != message:
        record.msg, record.args = masked, ()
    if record.exc_info and record.exc_info[0] is not None:
        rendered = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if (masked := mask(rendered)) != rendered:
            record.exc_text, record.exc_info = masked, None
    elif record.exc_text:
        record.exc_text = mask(record.exc_text)
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    record._kvarboende_masked = True
    return record


class PersonalDataFilter(logging.Filter):
    """A logging filter that masks personal data in every record it sees (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_FILTER = PersonalDataFilter()


def _masking_factory(
    previous: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    """Wrap logging's record factory so every record is masked as it is made."""

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(previous(*args, **kwargs))

    factory._kvarboende = True  # type: ignore[attr-defined]
    return factory


def _add_filter(targets: Iterable[logging.Filterer]) -> None:
    for target in targets:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)


def install_log_masking() -> None:
    """Mask personal data in every log record of this process.

    The record factory masks each record as it is made, whichever logger or handler
    gets it, also after Prefect reconfigures its handlers; the filter on the root
    handler, the project's loggers and Prefect's loggers and handlers covers records
    built by hand.
    """
    current = logging.getLogRecordFactory()
    if not getattr(current, "_kvarboende", False):
        logging.setLogRecordFactory(_masking_factory(current))
    names = ("prefect", "prefect.flow_runs", "prefect.task_runs", *PROJECT_LOGGERS)
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in names)]
    _add_filter(loggers)
    _add_filter(handler for logger in loggers for handler in logger.handlers)
    if not getattr(sys.excepthook, "_kvarboende", False):
        sys.excepthook = _masked_excepthook


def _masked_excepthook(
    kind: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """An uncaught exception's traceback on stderr, masked."""
    sys.stderr.write(mask("".join(traceback.format_exception(kind, exc, tb))))


_masked_excepthook._kvarboende = True  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- errors


class MaskedError(KvarboendeError):
    """An error whose text had personal data masked; names the original error's type."""


def masked_exception(exc: BaseException) -> MaskedError:
    """A MaskedError with the exception's first line, masked (the type name kept)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    name = type(exc).__name__
    return MaskedError(mask(f"{name}: {first}" if first else name))


@contextmanager
def masked_errors() -> Iterator[None]:
    """Re-raise any exception as a MaskedError, keeping its traceback's frames.

    Prefect stores a failed run's exception text as the state message and may pickle
    the exception as its result: the chained original (with the values the database
    quoted) is dropped, so neither holds personal data.
    """
    try:
        yield
    except MaskedError:
        raise
    except Exception as exc:
        raise masked_exception(exc).with_traceback(exc.__traceback__) from None


# ----------------------------------------------------------------------------- files


def private_umask() -> int:
    """Make every file and folder the process creates private; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def private_dir(path: Path | str) -> Path:
    """Create the folder and any missing parents as 0700 (mode given, not left to the umask)."""
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def write_private(path: Path, data: bytes) -> Path:
    """Write a file only its owner can read, atomically (a reader never sees half a file).

    Through a temporary name of this writer's own (process id and a random part), so
    two runs writing the same file at once never share a half-written one; the last
    rename wins with a whole file. The one atomic writer of the program (letters,
    print batches, worklists, retention's files).
    """
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, PRIVATE_FILE_MODE)  # the mode is given, not left to the umask
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def make_private(path: Path | str, mode: int | None = None) -> bool:
    """Take group and other access away from an existing file or folder of ours.

    Returns whether anything changed. Someone else's file (or a missing one) is left.
    """
    path = Path(path)
    try:
        info = path.stat()
    except OSError:
        return False
    if info.st_uid != os.getuid():
        return False
    wanted = mode if mode is not None else (info.st_mode & 0o700)
    if info.st_mode & 0o777 == wanted:
        return False
    os.chmod(path, wanted)
    return True


def secure_paths(paths: Iterable[Path | str]) -> int:
    """Make existing data folders private (an installation from before this rule).

    Only the folders themselves change: a 0700 folder already closes what is inside.
    Returns how many were changed.
    """
    return sum(make_private(p, PRIVATE_DIR_MODE) for p in paths if Path(p).is_dir())


def data_folders(data_dir: Path, configured: Iterable[Path]) -> list[Path]:
    """The data folder, every configured folder, and the folders between them (``data/out``)."""
    folders = {data_dir}
    for path in configured:
        folders.add(path)
        folders.update(p for p in path.parents if p != data_dir and p.is_relative_to(data_dir))
    return sorted(folders)


def protect_process() -> None:
    """Everything an entry point does first: private umask and masked logs and errors."""
    private_umask()
    install_log_masking()
