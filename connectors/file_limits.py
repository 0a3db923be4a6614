"""Size checks on a notice file before any reader sees it (decompression bombs, giant cells).

The Rust-backed XLSX reader trusts what the package says: a sheet cell at
``XFD1048576`` makes it allocate hundreds of GB (the process aborts, no ``except``
helps), a declared shared-string count of 2**64 panics, a million columns or 6 GB of
sheet XML take the machine's memory. So every XLSX is first walked here with the
standard library's streaming XML parser over ``zipfile.open`` (never more than one
row in memory): real uncompressed sizes, the sheet's ``dimension``, the largest cell
reference actually present, rows, columns, the longest cell and shared string. A CSV
gets the same treatment for its size, rows and line length. The limits are far above
any real notice file; beyond them the file is rejected with one Swedish line.

Both the inbox and the upload endpoint reach this through
:func:`connectors.notice_files.read_notice_bytes`.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO
from xml.etree.ElementTree import Element, ParseError, iterparse

from domain.notices import NoticeFormatError

_MB = 1024 * 1024
_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")
_SHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.I)
#: A declared shared-string count may exceed the real one by this much (sloppy writers);
#: beyond it the reader would reserve memory for strings that are not there.
SHARED_STRING_SLACK = 100_000


@dataclass(frozen=True)
class FileLimits:
    """Caps on one notice file (``[files]`` in config.toml); defaults far above real files."""

    max_csv_mb: int = 500
    max_uncompressed_mb: int = 200
    max_rows: int = 2_000_000
    max_columns: int = 200
    max_cell_chars: int = 32_767  # Excel's own limit for one cell
    max_line_chars: int = 100_000


class _TooBig(Exception):
    """Raised inside the walk; turned into a NoticeFormatError with the reason."""


def column_number(letters: str) -> int:
    """``A`` -> 1, ``Z`` -> 26, ``AA`` -> 27, ``XFD`` -> 16384."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _cell_ref(ref: str) -> tuple[int, int] | None:
    """(row, column) of a reference like ``B12``; None when it is no cell reference."""
    match = _CELL_REF.match(ref.strip())
    if match is None:
        return None
    return int(match.group(2)), column_number(match.group(1))


def _local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rsplit("}", 1)[-1]


@dataclass
class _Budget:
    """Uncompressed bytes the walk may still read: the real bytes count, not declared sizes."""

    left: int


class _CountingReader(io.RawIOBase):
    """A zip member read through the budget."""

    def __init__(self, source: IO[bytes], budget: _Budget) -> None:
        """Wrap ``source``; reading past the budget raises :class:`_TooBig`."""
        self.source, self.budget = source, budget

    def readable(self) -> bool:
        """A readable stream (io protocol)."""
        return True

    def read(self, size: int = -1) -> bytes:
        """Read through the budget."""
        data = self.source.read(size)
        self.budget.left -= len(data)
        if self.budget.left < 0:
            raise _TooBig("uncompressed")
        return data


def _events(package: zipfile.ZipFile, name: str, budget: _Budget) -> Iterator[tuple[str, Element]]:
    """Start and end events of one XML part, streamed within the byte budget."""
    with package.open(name) as member:
        yield from iterparse(_CountingReader(member, budget), events=("start", "end"))


def check_csv(data: bytes, limits: FileLimits) -> None:
    """A CSV within the size, row and line-length caps, else NoticeFormatError."""
    if len(data) > limits.max_csv_mb * _MB:
        raise NoticeFormatError(
            f"filen är större än {limits.max_csv_mb} MB (dela upp den i flera filer)"
        )
    start, line, size = 0, 0, len(data)
    while start < size:
        end = data.find(b"\n", start)
        end = size if end < 0 else end
        line += 1
        # Bytes are at least as many as characters: only a long byte run needs a closer look.
        if end - start > limits.max_line_chars and (
            len(data[start:end].decode("utf-8", "replace")) > limits.max_line_chars
        ):
            raise NoticeFormatError(
                f"rad {line} är längre än {limits.max_line_chars} tecken "
                "(filen är troligen inte en export av aviseringar)"
            )
        if line > limits.max_rows + 1:  # one header row
            raise NoticeFormatError(f"filen har fler än {limits.max_rows} rader")
        start = end + 1


def check_xlsx(data: bytes, limits: FileLimits) -> None:
    """An XLSX package within every cap, else NoticeFormatError (one Swedish line)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            _check_package(package, limits)
    except NoticeFormatError:
        raise
    except _TooBig as exc:
        raise NoticeFormatError(_too_big_message(str(exc), limits)) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ParseError, KeyError, ValueError, OSError):
        raise NoticeFormatError("filen kan inte läsas som XLSX (paketet är trasigt)") from None
    except RuntimeError:  # an encrypted member: Excel's password protection
        raise NoticeFormatError("filen kan inte läsas som XLSX (den är lösenordsskyddad)") from None


def _too_big_message(what: str, limits: FileLimits) -> str:
    """The receipt line for a cap that was exceeded."""
    if what == "uncompressed":
        return (
            f"arbetsboken är större än {limits.max_uncompressed_mb} MB när den packas upp "
            "(dela upp den i flera filer)"
        )
    if what == "rows":
        return f"bladet har fler än {limits.max_rows} rader"
    if what == "columns":
        return f"bladet har fler än {limits.max_columns} kolumner"
    if what == "cell":
        return f"en cell har mer än {limits.max_cell_chars} tecken"
    if what == "shared":
        return "arbetsbokens lista över texter är felaktig (uppgivet antal stämmer inte)"
    return f"arbetsboken är för stor ({what})"


def _check_package(package: zipfile.ZipFile, limits: FileLimits) -> None:
    """Declared sizes first (cheap), then every sheet and the shared strings, streamed."""
    budget = limits.max_uncompressed_mb * _MB
    if sum(info.file_size for info in package.infolist()) > budget:
        raise _TooBig("uncompressed")
    names = package.namelist()
    remaining = _Budget(budget)
    for name in names:
        if name.lower() == "xl/sharedstrings.xml":
            _check_shared_strings(package, name, remaining, limits)
    for name in names:
        if _SHEET_PART.match(name):
            _check_sheet(package, name, remaining, limits)


def _check_shared_strings(
    package: zipfile.ZipFile, name: str, budget: _Budget, limits: FileLimits
) -> None:
    """Longest shared string, and the declared count against the real one."""
    declared = 0
    actual = 0
    root: Element | None = None
    for event, element in _events(package, name, budget):
        tag = _local(element.tag)
        if event == "start" and tag == "sst":
            root = element
            for attribute in ("count", "uniqueCount"):
                value = element.get(attribute)
                if value is not None:
                    declared = max(declared, _as_int(value))
        elif event == "end" and tag == "si":
            actual += 1
            if sum(len(text) for text in element.itertext()) > limits.max_cell_chars:
                raise _TooBig("cell")
            element.clear()
            if root is not None and len(root) and root[0] is element:
                del root[0]  # a finished string leaves memory
    if declared > actual + SHARED_STRING_SLACK:
        raise _TooBig("shared")


def _as_int(text: str) -> int:
    """A count attribute; absurd or broken values count as absurd."""
    try:
        return int(text.strip())
    except ValueError:
        return 2**63


def _check_sheet(package: zipfile.ZipFile, name: str, budget: _Budget, limits: FileLimits) -> None:
    """Dimension, cell references, row and column counts and cell lengths of one sheet."""
    row_number = 0
    column = 0
    parent: Element | None = None
    for event, element in _events(package, name, budget):
        tag = _local(element.tag)
        if event == "start":
            if tag == "dimension":
                _check_dimension(element.get("ref", ""), limits)
            elif tag == "sheetData":
                parent = element
            elif tag == "row":
                reference = element.get("r")
                row_number = _as_int(reference) if reference else row_number + 1
                column = 0
                if row_number > limits.max_rows + 1:
                    raise _TooBig("rows")
            elif tag == "c":
                column = _check_cell(element.get("r"), row_number, column, limits)
            continue
        if tag in ("v", "t", "f") and element.text and len(element.text) > limits.max_cell_chars:
            raise _TooBig("cell")
        if tag == "is" and sum(len(t) for t in element.itertext()) > limits.max_cell_chars:
            raise _TooBig("cell")
        if tag == "row":
            element.clear()
            if parent is not None and len(parent) and parent[0] is element:
                del parent[0]  # a finished row leaves memory


def _check_dimension(ref: str, limits: FileLimits) -> None:
    """The sheet's declared used range (``A1:O1200``) within the caps."""
    for part in ref.split(":"):
        cell = _cell_ref(part)
        if cell is None:
            continue
        if cell[0] > limits.max_rows + 1:
            raise _TooBig("rows")
        if cell[1] > limits.max_columns:
            raise _TooBig("columns")


def _check_cell(ref: str | None, row_number: int, previous: int, limits: FileLimits) -> int:
    """The column of a cell (from its reference, else the next one); caps checked."""
    if ref:
        cell = _cell_ref(ref)
        if cell is None:
            raise _TooBig("columns") if len(ref) > 12 else ValueError("cell reference")
        if cell[0] > limits.max_rows + 1:
            raise _TooBig("rows")
        column = cell[1]
    else:
        column = previous + 1
    if column > limits.max_columns:
        raise _TooBig("columns")
    return column
