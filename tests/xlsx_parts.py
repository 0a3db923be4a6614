"""Hand-written XLSX packages for the size-guard tests (tiny zips, nothing handed to a reader)."""

from __future__ import annotations

import io
import zipfile

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
    'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="http://'
    'schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="Blad1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
    'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>'
)
HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>Personnummer</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>Händelse</t></is></c>'
    '<c r="C1" t="inlineStr"><is><t>Datum</t></is></c></row>'
)


def xlsx(
    rows: str = HEADER_ROW,
    *,
    dimension: str = "A1:C1",
    shared: str = '<sst xmlns="{main}" count="0" uniqueCount="0"/>',
) -> bytes:
    """A workbook of one sheet whose ``sheetData`` is ``rows`` (hand-written XML)."""
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">'
        f'<dimension ref="{dimension}"/><sheetData>{rows}</sheetData></worksheet>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", _CONTENT_TYPES)
        package.writestr("_rels/.rels", _RELS)
        package.writestr("xl/workbook.xml", _WORKBOOK)
        package.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        package.writestr("xl/worksheets/sheet1.xml", sheet)
        package.writestr("xl/sharedStrings.xml", shared.format(main=MAIN))
    return buffer.getvalue()


def far_cell_bomb() -> bytes:
    """2 kB: one cell at XFD1048576 (the reader would allocate about 512 GB and abort)."""
    return xlsx(HEADER_ROW + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')


def wide_bomb(columns: int = 1_000_000) -> bytes:
    """A row of a million cells without references (the reader would not finish)."""
    return xlsx(HEADER_ROW + '<row r="2">' + "<c><v>1</v></c>" * columns + "</row>")


def big_cell_bomb() -> bytes:
    """14 kB: a 1 MiB cell value."""
    value = "x" * (1 << 20)
    return xlsx(
        HEADER_ROW + f'<row r="2"><c r="A2" t="inlineStr"><is><t>{value}</t></is></c></row>'
    )


def shared_count_bomb() -> bytes:
    """A shared-string table declaring 2**64-1 strings: the reader panics (capacity overflow)."""
    shared = (
        '<sst xmlns="{main}" count="18446744073709551615" uniqueCount="18446744073709551615">'
        "<si><t>Personnummer</t></si></sst>"
    )
    rows = '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
    return xlsx(rows, dimension="A1", shared=shared)


def size_bomb(megabytes: int) -> bytes:
    """A sheet of ``megabytes`` MB of XML that packs to a few kB."""
    filler = '<row r="2"><c r="A2"><v>1</v></c></row>'
    padding = " " * (megabytes * 1024 * 1024)
    return xlsx(HEADER_ROW + padding + filler)
