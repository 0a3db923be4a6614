"""Reading housing companies' notice files (CSV or XLSX bytes) into a frame of strings.

Companies send whatever their system or Excel produces. This connector finds out,
without guessing lossily: the encoding (strict UTF-8 with or without BOM, then
Windows-1252; never a lossy decode that would break å, ä, ö), the separator
(``;``, ``,`` or tab), and the header row (possibly below a title). Every cell is
returned as a string; :mod:`domain.notices` parses the values.

A mostly UTF-8 file with a few Windows-1252 lines (one row pasted from another
program) is decoded line by line, and the receipt names those lines. No reader sees
a file before :mod:`connectors.file_limits` checked its size, and any failure of a
reader, a Rust panic included, becomes a one-line rejection of that file only.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from connectors.file_limits import FileLimits, check_csv, check_xlsx
from domain.notices import NoticeFormatError, header_score
from models.errors import one_line_without_values

SEPARATORS = (";", ",", "\t")
HEADER_SEARCH_ROWS = 30
HEAD_BYTES = 64 * 1024  # the header is looked for in the first rows only
CHUNK_BYTES = 8 * 1024 * 1024
_SEPARATOR_NAMES = {";": "semikolon", ",": "komma", "\t": "tabb"}


@dataclass
class RawTable:
    """A file as a frame of strings, and how it was read (for receipts and ``companies check``)."""

    frame: pl.DataFrame
    file_format: str  # csv | xlsx
    encoding: str | None  # utf-8, utf-8-sig, cp1252 (CSV only)
    separator: str | None  # CSV only
    header_row: int  # 1-based row number of the header
    sheet: str | None = None  # XLSX only
    ragged: list[int] = field(default_factory=list)  # frame rows with more fields than headers
    broken: dict[int, str] = field(default_factory=dict)  # frame row -> why it cannot be read
    cp1252_lines: list[int] = field(default_factory=list)  # file lines read as Windows-1252

    @property
    def first_data_row(self) -> int:
        """Row number of the first data row (right below the header)."""
        return self.header_row + 1

    def describe(self) -> str:
        """One line for the operator: how the file was read."""
        if self.file_format == "xlsx":
            return f"XLSX, blad {self.sheet!r}, rubrikrad {self.header_row}"
        sep = _SEPARATOR_NAMES.get(self.separator or "", repr(self.separator))
        return f"CSV, teckenkodning {self.encoding}, avgränsare {sep}, rubrikrad {self.header_row}"


def is_xlsx(data: bytes) -> bool:
    """XLSX files are ZIP archives."""
    return data[:4] == b"PK\x03\x04"


def _head_lines(text: str, limit: int = HEADER_SEARCH_ROWS) -> list[str]:
    """The first lines of a text (without line endings): where a header is looked for."""
    lines: list[str] = []
    start = 0
    while len(lines) < limit and start < len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        lines.append(text[start:end].rstrip("\r"))
        start = end + 1
    return lines


def _split(line: str, separator: str) -> list[str]:
    """One line split on a separator, honouring quotes (for header detection only)."""
    try:
        return next(csv.reader([line], delimiter=separator, quotechar='"'), [])
    except csv.Error:
        return line.split(separator)


def find_header(
    lines: list[str], columns: Mapping[str, str] | None = None
) -> tuple[str, int] | None:
    """(separator, 0-based line index) of the most header-like line among the first ones."""
    best: tuple[int, int, str, int] | None = None  # (score, cells, separator, index)
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        for separator in SEPARATORS:
            cells = _split(line, separator)
            if len(cells) < 2:
                continue
            score = header_score(cells, columns)
            if score < 2:
                continue
            candidate = (score, len(cells), separator, index)
            if best is None or candidate[:2] > best[:2]:
                best = candidate
    if best is None:
        return None
    return best[2], best[3]


def to_utf8(data: bytes) -> tuple[bytes, str]:
    """(UTF-8 bytes without BOM, detected encoding): see :func:`to_utf8_lines`."""
    body, encoding, _ = to_utf8_lines(data)
    return body, encoding


def to_utf8_lines(data: bytes) -> tuple[bytes, str, list[int]]:
    """(UTF-8 bytes without BOM, encoding, 1-based lines read as Windows-1252).

    Strict UTF-8 first (with or without BOM), in chunks so a big file is never a str.
    A file that is UTF-8 except for some lines (non-ASCII UTF-8 elsewhere proves the
    rest is UTF-8) is decoded line by line: decoding it whole as Windows-1252 would
    turn every å, ä, ö of the UTF-8 lines into mojibake. Otherwise the whole file is
    Windows-1252. Never a lossy decode.
    """
    body, encoding = (
        (data[3:], "utf-8-sig") if data.startswith(b"\xef\xbb\xbf") else (data, "utf-8")
    )
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        for start in range(0, len(body), CHUNK_BYTES):
            decoder.decode(body[start : start + CHUNK_BYTES], final=False)
        decoder.decode(b"", final=True)
        return body, encoding, []
    except UnicodeDecodeError:
        pass
    mixed = _mixed_lines(body)
    if mixed is not None:
        return mixed[0], "utf-8+cp1252", mixed[1]
    try:
        parts = [
            data[start : start + CHUNK_BYTES].decode("cp1252").encode("utf-8")
            for start in range(0, len(data), CHUNK_BYTES)
        ]
    except UnicodeDecodeError:
        raise NoticeFormatError(
            "filen är varken UTF-8 eller Windows-1252 (teckenkodningen känns inte igen)"
        ) from None
    return b"".join(parts), "cp1252", []


def _mixed_lines(body: bytes) -> tuple[bytes, list[int]] | None:
    """Line by line: UTF-8 lines as they are, the others from Windows-1252.

    None when no line has non-ASCII UTF-8 (then nothing shows the file is UTF-8) or
    when some line is not Windows-1252 either.
    """
    lines = body.split(b"\n")
    odd: list[int] = []
    utf8_seen = False
    for number, line in enumerate(lines, start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_seen = True
        except UnicodeDecodeError:
            try:
                lines[number - 1] = line.decode("cp1252").encode("utf-8")
            except UnicodeDecodeError:
                return None
            odd.append(number)
    if not utf8_seen:
        return None
    return b"\n".join(lines), odd


def read_csv_utf8(data: bytes, encoding: str, columns: Mapping[str, str] | None = None) -> RawTable:
    """Read UTF-8 CSV bytes with a detected separator and header line; all cells as strings."""
    head = codecs.getincrementaldecoder("utf-8")("replace").decode(data[:HEAD_BYTES])
    lines = _head_lines(head)
    if not any(line.strip() for line in lines):
        raise NoticeFormatError("filen är tom")
    found = find_header(lines, columns)
    if found is None:
        raise NoticeFormatError(
            "ingen rubrikrad hittades (väntade rubriker som Personnummer, Händelse, Datum)"
        )
    separator, index = found
    position = 0
    for _ in range(index):
        position = data.index(b"\n", position) + 1
    body = data[position:] if position else data
    ragged: list[int] = []
    broken: dict[int, str] = {}
    try:
        frame = pl.read_csv(
            body,
            separator=separator,
            quote_char='"',
            infer_schema=False,
            truncate_ragged_lines=False,
            raise_if_empty=False,
        )
    except (pl.exceptions.PolarsError, ValueError):
        # Too many fields, a stray or unclosed quote: polars only says "could not parse
        # as dtype str". Read line by line to name the lines and keep the others.
        frame, ragged, broken = _read_careful(body, separator, index + 1)
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return RawTable(
        frame=frame,
        file_format="csv",
        encoding=encoding,
        separator=separator,
        header_row=index + 1,
        ragged=ragged,
        broken=broken,
    )


#: A quoted value may hold line breaks; a quote still open after this many lines is broken.
MAX_CONTINUATION_LINES = 10
UNCLOSED_QUOTE = 'ett citattecken (") öppnas men stängs aldrig'
BAD_QUOTE = 'ett citattecken (") står fel i ett värde'


def _parse_record(text: str, separator: str) -> tuple[list[str] | None, str | None]:
    """One record's fields, or None and why (an unclosed or misplaced quote)."""
    try:
        return next(csv.reader([text], delimiter=separator, quotechar='"', strict=True), []), None
    except csv.Error as exc:
        return None, UNCLOSED_QUOTE if "end of data" in str(exc) else BAD_QUOTE


def _read_careful(
    body: bytes, separator: str, header_line: int
) -> tuple[pl.DataFrame, list[int], dict[int, str]]:
    """The careful path, line by line with Python's csv reader.

    A quoted value may span lines (it is joined with the next lines while that gives a
    complete record of the header's width); a line that still cannot be read becomes an
    empty row with its reason, and rows with more fields than the header are noted:
    both are rejected with their line number while the other rows go in. When no row,
    or more than a tenth of the rows, can be read the file is rejected, naming the first
    unreadable line.
    """
    lines = [line.removesuffix("\r") for line in body.decode("utf-8").split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    fields, problem = _parse_record(lines[0] if lines else "", separator)
    if fields is None:
        raise NoticeFormatError(f"rad {header_line} (rubrikraden) kan inte läsas: {problem}")
    headers = _unique_headers(tuple(fields))
    width = len(headers)
    rows: list[list[str]] = []
    ragged: list[int] = []
    broken: dict[int, str] = {}
    first_broken_line: int | None = None
    first_problem: str | None = None
    position = 1
    while position < len(lines):
        record, problem = _parse_record(lines[position], separator)
        used = 1
        if record is None:
            for extra in range(1, MAX_CONTINUATION_LINES + 1):
                if position + extra >= len(lines):
                    break
                joined = "\n".join(lines[position : position + extra + 1])
                candidate, _ = _parse_record(joined, separator)
                if candidate is not None and len(candidate) == width:
                    record, used = candidate, extra + 1
                    break
        if record is None:
            broken[len(rows)] = f"raden kan inte läsas: {problem or UNCLOSED_QUOTE}"
            if first_broken_line is None:
                first_broken_line, first_problem = header_line + position, problem
            record = []
        elif len(record) > width:
            ragged.append(len(rows))
        rows.append((record + [""] * width)[:width])
        position += used
    if broken and (len(broken) == len(rows) or len(broken) > max(10, len(rows) // 10)):
        raise NoticeFormatError(
            f"rad {first_broken_line} kan inte läsas: {first_problem or UNCLOSED_QUOTE} "
            f"(sammanlagt {len(broken)} rader som inte kan läsas)"
        )
    columns = list(zip(*rows, strict=True)) if rows else [()] * width
    frame = pl.DataFrame(
        {name: list(values) for name, values in zip(headers, columns, strict=True)},
        schema={name: pl.String for name in headers},
    )
    return frame, ragged, broken


def read_xlsx_bytes(
    data: bytes, sheet: str | None = None, columns: Mapping[str, str] | None = None
) -> RawTable:
    """Read a sheet (the first unless configured) with fastexcel; find the header row."""
    try:
        import fastexcel

        reader = fastexcel.read_excel(data)
        names = reader.sheet_names
        if not names:
            raise NoticeFormatError("arbetsboken har inga blad")
        if sheet is not None and sheet not in names:
            raise NoticeFormatError(
                f"bladet {sheet!r} finns inte (blad i filen: {', '.join(map(repr, names))})"
            )
        sheet_name = sheet or names[0]
        grid = pl.read_excel(
            data,
            engine="calamine",
            sheet_name=sheet_name,
            has_header=False,
            drop_empty_rows=False,  # keep blank rows so row numbers match what Excel shows
            read_options={"dtypes": "string"},
        )
    except NoticeFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure means an unreadable workbook
        raise NoticeFormatError(
            f"filen kan inte läsas som XLSX ({one_line_without_values(exc)})"
        ) from None
    except BaseException as exc:  # a Rust panic (pyo3 PanicException) is a BaseException
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise NoticeFormatError(_panic_message("XLSX")) from None
    if grid.height == 0:
        raise NoticeFormatError("bladet är tomt")
    best: tuple[int, int] | None = None
    for index, row in enumerate(grid.head(HEADER_SEARCH_ROWS).iter_rows()):
        score = header_score([str(c) for c in row if c is not None], columns)
        if score >= 2 and (best is None or score > best[0]):
            best = (score, index)
    if best is None:
        raise NoticeFormatError(
            "ingen rubrikrad hittades (väntade rubriker som Personnummer, Händelse, Datum)"
        )
    index = best[1]
    headers = _unique_headers(grid.row(index))
    frame = grid.slice(index + 1).rename(dict(zip(grid.columns, headers, strict=True)))
    # The reader starts at the first row with a value; count the empty rows above it so
    # that row numbers in receipts are the ones the company sees in Excel.
    skipped = first_used_row(data, names.index(sheet_name)) - 1
    return RawTable(
        frame=frame,
        file_format="xlsx",
        encoding=None,
        separator=None,
        header_row=index + 1 + skipped,
        sheet=sheet_name,
    )


_SHEET_TAG = re.compile(r"<(?:\w+:)?sheet\b[^>]*>")
_ROW = re.compile(r"<(?:\w+:)?row\b[^>]*?\br=\"(\d+)\"[^>]*?(?:/>|>(.*?)</(?:\w+:)?row>)", re.S)
_HAS_VALUE = re.compile(r"<(?:\w+:)?(?:v|t)\b[^>]*>[^<]")


def first_used_row(data: bytes, sheet_index: int) -> int:
    """The 1-based Excel row of the first cell with a value in a sheet (1 if unknown).

    Read from the sheet's XML (the first 256 kB is enough: empty rows above the data
    are short). Any surprise in the package means 1, never an error.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            workbook = package.read("xl/workbook.xml").decode("utf-8", "replace")
            relations = package.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
            tag = _SHEET_TAG.findall(workbook)[sheet_index]
            rid = re.search(r'\bid="([^"]+)"', tag, re.I)
            if rid is None:
                return 1
            for relation in re.findall(r"<(?:\w+:)?Relationship\b[^>]*>", relations):
                if f'Id="{rid.group(1)}"' in relation:
                    target = re.search(r'Target="([^"]+)"', relation)
                    break
            else:
                return 1
            if target is None:
                return 1
            name = target.group(1).lstrip("/")
            name = name if name.startswith("xl/") else f"xl/{name}"
            with package.open(name) as sheet_xml:
                head = sheet_xml.read(256 * 1024).decode("utf-8", "replace")
    except (KeyError, IndexError, OSError, zipfile.BadZipFile):
        return 1
    for match in _ROW.finditer(head):
        if match.group(2) and _HAS_VALUE.search(match.group(2)):
            return int(match.group(1))
    return 1


def _unique_headers(cells: tuple[object, ...]) -> list[str]:
    """Header names from a row: blanks get a position name, repeats a suffix."""
    seen: dict[str, int] = {}
    headers = []
    for position, cell in enumerate(cells):
        name = str(cell).strip() if cell is not None and str(cell).strip() else f"kolumn_{position}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        headers.append(name)
    return headers


def _panic_message(kind: str) -> str:
    """The receipt line when a reader crashed inside (its message may quote cell values)."""
    return f"filen kan inte läsas som {kind} (läsaren kraschade på filens innehåll)"


def read_notice_bytes(
    data: bytes,
    *,
    sheet: str | None = None,
    columns: Mapping[str, str] | None = None,
    limits: FileLimits | None = None,
) -> RawTable:
    """Read CSV or XLSX bytes into strings; NoticeFormatError (one line, Swedish) if unusable.

    The size guard runs first, and no failure of a reader (a Rust panic is a
    ``BaseException``) gets past this function other than as a NoticeFormatError.
    """
    limits = limits or FileLimits()
    if not data.strip():
        raise NoticeFormatError("filen är tom")
    kind = "XLSX" if is_xlsx(data) else "CSV"
    try:
        if kind == "XLSX":
            check_xlsx(data, limits)
            return read_xlsx_bytes(data, sheet, columns)
        if b"\x00" in data[:4096]:
            raise NoticeFormatError("filen är varken CSV eller XLSX")
        check_csv(data, limits)
        utf8, encoding, cp1252_lines = to_utf8_lines(data)
        raw = read_csv_utf8(utf8, encoding, columns)
        raw.cp1252_lines = cp1252_lines
        return raw
    except NoticeFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure means an unreadable file
        raise NoticeFormatError(
            f"filen kan inte läsas som {kind} ({one_line_without_values(exc)})"
        ) from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise NoticeFormatError(_panic_message(kind)) from None


def read_notice_file(
    path: Path,
    *,
    sheet: str | None = None,
    columns: Mapping[str, str] | None = None,
    limits: FileLimits | None = None,
) -> RawTable:
    """Read a notice file from disk (see :func:`read_notice_bytes`)."""
    return read_notice_bytes(path.read_bytes(), sheet=sheet, columns=columns, limits=limits)
