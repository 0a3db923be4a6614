"""Reading housing companies' notice files (CSV or XLSX bytes) into a frame of strings.

Companies send whatever their system or Excel produces. This connector finds out,
without guessing lossily: the encoding (strict UTF-8 with or without BOM, then
Windows-1252; never a lossy decode that would break å, ä, ö), the separator
(``;``, ``,`` or tab), and the header row (possibly below a title). Every cell is
returned as a string; :mod:`domain.notices` parses the values.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from domain.notices import NoticeFormatError, header_score

SEPARATORS = (";", ",", "\t")
HEADER_SEARCH_ROWS = 30
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

    @property
    def first_data_row(self) -> int:
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


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): strict UTF-8 (BOM removed), else Windows-1252, else an error."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise NoticeFormatError(
            "filen är varken UTF-8 eller Windows-1252 (teckenkodningen känns inte igen)"
        ) from None


def _head_lines(text: str, limit: int = HEADER_SEARCH_ROWS) -> list[str]:
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


def read_csv_text(text: str, encoding: str, columns: Mapping[str, str] | None = None) -> RawTable:
    """Read CSV text with a detected separator and header line; all cells as strings."""
    lines = _head_lines(text)
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
        position = text.index("\n", position) + 1
    body = text[position:].encode("utf-8")
    try:
        frame = pl.read_csv(
            body,
            separator=separator,
            quote_char='"',
            infer_schema=False,
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
    except (pl.exceptions.PolarsError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NoticeFormatError(f"filen kan inte läsas som CSV ({first[:120]})") from None
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return RawTable(
        frame=frame,
        file_format="csv",
        encoding=encoding,
        separator=separator,
        header_row=index + 1,
    )


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
            read_options={"dtypes": "string"},
        )
    except NoticeFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure means an unreadable workbook
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NoticeFormatError(f"filen kan inte läsas som XLSX ({first[:120]})") from None
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
    return RawTable(
        frame=frame,
        file_format="xlsx",
        encoding=None,
        separator=None,
        header_row=index + 1,
        sheet=sheet_name,
    )


def _unique_headers(cells: tuple[object, ...]) -> list[str]:
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


def read_notice_bytes(
    data: bytes,
    *,
    sheet: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> RawTable:
    """Read CSV or XLSX bytes into strings; NoticeFormatError (one line, Swedish) if unusable."""
    if not data.strip():
        raise NoticeFormatError("filen är tom")
    if is_xlsx(data):
        return read_xlsx_bytes(data, sheet, columns)
    if b"\x00" in data[:4096]:
        raise NoticeFormatError("filen är varken CSV eller XLSX")
    text, encoding = decode(data)
    return read_csv_text(text, encoding, columns)


def read_notice_file(
    path: Path, *, sheet: str | None = None, columns: Mapping[str, str] | None = None
) -> RawTable:
    """Read a notice file from disk (see :func:`read_notice_bytes`)."""
    return read_notice_bytes(path.read_bytes(), sheet=sheet, columns=columns)
