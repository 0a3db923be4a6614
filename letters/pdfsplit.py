"""Split a batch PDF into one PDF per letter, fast, by copying objects byte for byte.

Rendering letters one Typst compile per 100 letters is about ten times faster than one
compile per letter, but the batch must then be cut into one file per letter. pypdf
does that correctly but re-parses and re-serialises every object of every page (about
5 ms per letter, more than the compile itself). Typst writes a classic cross-reference
table without object streams, so each object's bytes can be copied as they are: this
module takes, for a range of pages, every object reachable from them, renumbers the
references, and writes a new page tree, catalog and cross-reference table around them.
The page list and the outline (each letter's title marks its first page) are read the
same way. Whenever the batch does not have the simple shape assumed here, the functions
raise :class:`Unsupported` and the caller falls back to pypdf.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_REFERENCE = re.compile(rb"(\d+) 0 R\b")
_PARENT = re.compile(rb"/Parent\s+\d+\s+0\s+R")
_STREAM = re.compile(rb">>\s*stream\r?\n")
_HEADER = b"%PDF-1.7\n%\x80\x80\x80\x80\n"


class Unsupported(Exception):
    """The PDF does not have the simple shape this module handles; use pypdf instead."""


def _xref(pdf: bytes) -> tuple[dict[int, int], bytes]:
    """Object offsets from a classic cross-reference table, and the trailer dictionary."""
    found = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", pdf[-64:])
    if found is None or b"/ObjStm" in pdf or b"/XRefStm" in pdf or b"/Prev" in pdf[-512:]:
        raise Unsupported("no single classic cross-reference table")
    position = int(found.group(1))
    if pdf[position : position + 4] != b"xref":
        raise Unsupported("cross-reference stream")
    position += 4
    offsets: dict[int, int] = {}
    header = re.compile(rb"\s*(\d+) (\d+)\r?\n")
    while True:
        match = header.match(pdf, position)
        if match is None:
            break
        first, count = int(match.group(1)), int(match.group(2))
        position = match.end()
        for index in range(count):
            entry = pdf[position : position + 20]
            if entry[17:18] == b"n":
                if entry[11:16] != b"00000":
                    raise Unsupported("object generations other than 0")
                offsets[first + index] = int(entry[:10])
            position += 20
    trailer = pdf.find(b"trailer", position)
    if trailer < 0:
        raise Unsupported("no trailer")
    return offsets, pdf[trailer : pdf.find(b"startxref", trailer)]


def _ref(head: bytes, key: bytes) -> int:
    match = re.search(rb"/" + key + rb"\s*(\d+) 0 R", head)
    if match is None:
        raise Unsupported(f"no /{key.decode()} reference")
    return int(match.group(1))


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
        end_object = self.pdf.index(b"endobj", body_start)
        # The stream keyword comes before the data, so it lies before the first "endobj"
        # even when the (binary) data happens to contain that word.
        stream = _STREAM.search(self.pdf, body_start, end_object)
        if stream is not None:
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


def letter_pages(pdf: bytes) -> tuple[list[int], list[int]]:
    """The page objects in order, and the index of the page each top-level outline entry
    (each letter's title) points to."""
    offsets, trailer = _xref(pdf)
    return _letter_pages(_Objects(pdf, offsets), trailer)


def _letter_pages(objects: _Objects, trailer: bytes) -> tuple[list[int], list[int]]:
    catalog = objects.parts(_ref(trailer, b"Root"))[0]
    tree = objects.parts(_ref(catalog, b"Pages"))[0]
    kids = re.search(rb"/Kids\s*\[([^\]]*)\]", tree)
    if kids is None:
        raise Unsupported("no page list")
    pages = [int(m.group(1)) for m in _REFERENCE.finditer(kids.group(1))]
    if any(b"/Type/Pages" in objects.parts(p)[0].replace(b" ", b"") for p in pages):
        raise Unsupported("nested page tree")
    index = {number: position for position, number in enumerate(pages)}
    starts: list[int] = []
    item = re.search(rb"/First\s*(\d+) 0 R", objects.parts(_ref(catalog, b"Outlines"))[0])
    number = int(item.group(1)) if item else None
    while number is not None:
        head = objects.parts(number)[0]
        destination = re.search(rb"/Dest\s*(?:(\d+) 0 R|\[\s*(\d+) 0 R)", head)
        if destination is None:
            raise Unsupported("outline entry without a destination")
        if destination.group(1) is not None:
            target = objects.parts(int(destination.group(1)))[0]
            first = _REFERENCE.search(target)
            if first is None:
                raise Unsupported("destination without a page")
            page = int(first.group(1))
        else:
            page = int(destination.group(2))
        starts.append(index[page])
        following = re.search(rb"/Next\s*(\d+) 0 R", head)
        number = int(following.group(1)) if following else None
    return pages, starts


def split_letters(pdf: bytes) -> list[bytes]:
    """One PDF per letter of a batch: a letter runs from its title's page to the next one."""
    offsets, trailer = _xref(pdf)
    objects = _Objects(pdf, offsets)
    pages, starts = _letter_pages(objects, trailer)
    if not starts or starts[0] != 0:
        raise Unsupported("the first page starts no letter")
    bounds = [*starts, len(pages)]
    ranges = zip(bounds, bounds[1:], strict=False)
    return [_write(objects, pages[first:end]) for first, end in ranges]


def split_pages(pdf: bytes, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """One PDF per (first, end) page range, copying the pages' objects unchanged."""
    offsets, trailer = _xref(pdf)
    objects = _Objects(pdf, offsets)
    pages, _ = _letter_pages(objects, trailer)
    return [_write(objects, pages[first:end]) for first, end in ranges]
