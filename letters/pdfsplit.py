"""Split a batch PDF into one PDF per letter, fast, by copying objects byte for byte.

Rendering letters one Typst compile per 100 letters is about ten times faster than one
compile per letter, but the batch must then be cut into one file per letter. pypdf
does that correctly but re-parses and re-serialises every object of every page (about
5 ms per letter, more than the compile itself). Typst writes a classic cross-reference
table without object streams, so each object's bytes can be copied as they are: this
module takes, for a range of pages, every object reachable from them, renumbers the
references, and writes a new page tree, catalog and cross-reference table around them.
pypdf is still used to read the page list and the outline; whenever the batch does not
have the simple shape assumed here, the caller falls back to pypdf (:func:`supported`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pypdf import PdfReader

_REFERENCE = re.compile(rb"(\d+) 0 R\b")
_PARENT = re.compile(rb"/Parent\s+\d+\s+0\s+R")
_STREAM = re.compile(rb">>\s*stream\r?\n")
_HEADER = b"%PDF-1.7\n%\x80\x80\x80\x80\n"


def supported(pdf: bytes, reader: PdfReader) -> bool:
    """True when the PDF has only a classic xref table, generation 0 and no object streams."""
    return (
        b"/ObjStm" not in pdf
        and b"/XRefStm" not in pdf
        and set(reader.xref) <= {0, 65535}  # 65535: only the free head of the list
        and not reader.xref_objStm
    )


class _Objects:
    """Raw bytes of the source objects, split into dictionary part and the rest."""

    def __init__(self, pdf: bytes, offsets: dict[int, int]) -> None:
        self.pdf = pdf
        self.offsets = offsets
        self._cache: dict[int, tuple[bytes, bytes]] = {}

    def parts(self, number: int) -> tuple[bytes, bytes]:
        """(head, tail): ``head`` holds every reference (the dictionary), ``tail`` the stream."""
        cached = self._cache.get(number)
        if cached is not None:
            return cached
        start = self.offsets[number]
        body_start = self.pdf.index(b"obj", start) + 3
        stream = _STREAM.search(self.pdf, body_start)
        end_object = self.pdf.index(b"endobj", body_start)
        if stream is not None and stream.start() < end_object:
            # A stream's data may contain the text "endobj": find the end after the data.
            data_end = self.pdf.index(b"endstream", stream.end())
            end_object = self.pdf.index(b"endobj", data_end)
            head = self.pdf[body_start : stream.start() + 2]
            tail = self.pdf[stream.start() + 2 : end_object]
        else:
            head, tail = self.pdf[body_start:end_object], b""
        self._cache[number] = (head, tail)
        return head, tail


def _closure(objects: _Objects, pages: Sequence[int]) -> list[int]:
    """Every object reachable from the pages, not following /Parent; in first-seen order."""
    seen: dict[int, None] = {}
    todo = list(pages)
    while todo:
        number = todo.pop()
        if number in seen:
            continue
        seen[number] = None
        head, _ = objects.parts(number)
        if number in pages:
            head = _PARENT.sub(b"", head)
        todo.extend(int(m.group(1)) for m in _REFERENCE.finditer(head))
    return sorted(seen)


def _write(objects: _Objects, pages: Sequence[int]) -> bytes:
    numbers = _closure(objects, pages)
    renumber = {old: new for new, old in enumerate(numbers, start=1)}
    tree = len(numbers) + 1
    catalog = tree + 1
    out = bytearray(_HEADER)
    offsets: list[int] = []

    def ref(match: re.Match[bytes]) -> bytes:
        return b"%d 0 R" % renumber[int(match.group(1))]

    page_set = set(pages)
    for old in numbers:
        head, tail = objects.parts(old)
        if old in page_set:
            head = _REFERENCE.sub(ref, _PARENT.sub(b"", head))
            head = head.replace(b"<<", b"<</Parent %d 0 R " % tree, 1)
        else:
            head = _REFERENCE.sub(ref, head)
        offsets.append(len(out))
        out += b"%d 0 obj" % renumber[old] + head + tail + b"endobj\n"
    kids = b" ".join(b"%d 0 R" % renumber[p] for p in pages)
    offsets.append(len(out))
    out += b"%d 0 obj\n<</Type /Pages /Kids [%s] /Count %d>>\nendobj\n" % (tree, kids, len(pages))
    offsets.append(len(out))
    out += b"%d 0 obj\n<</Type /Catalog /Pages %d 0 R>>\nendobj\n" % (catalog, tree)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f\r\n" % (catalog + 1)
    for offset in offsets:
        out += b"%010d 00000 n\r\n" % offset
    out += b"trailer\n<</Size %d /Root %d 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (
        catalog + 1,
        catalog,
        xref,
    )
    return bytes(out)


def split_pages(pdf: bytes, reader: PdfReader, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """One PDF per (first, end) page range, copying the pages' objects unchanged."""
    page_numbers = [page.indirect_reference.idnum for page in reader.pages]  # type: ignore[union-attr]
    objects = _Objects(pdf, dict(reader.xref[0]))
    return [_write(objects, page_numbers[first:end]) for first, end in ranges]
