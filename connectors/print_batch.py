"""The daily print batch for the municipality's print and mail service.

One merged PDF with the letters in sending order, each starting on a new sheet for
double-sided printing (a blank page follows a letter with an odd number of pages), and
a manifest CSV that says which pages belong to which letter. Both are written to a
temporary name and renamed, so a batch on disk is always complete. The manifest holds
ids and page numbers only; the addresses are printed on the letters, in the window.
"""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from models.privacy import private_dir

MANIFEST_FIELDS = ("sequence", "letter_id", "idempotency_key", "kind", "first_page", "pages")


@dataclass(frozen=True)
class PrintItem:
    letter_id: int
    idempotency_key: str
    kind: str
    pdf_path: Path


@dataclass(frozen=True)
class PrintBatch:
    name: str
    pdf: Path
    manifest: Path
    letters: int
    pages: int


def batch_paths(print_dir: Path, name: str) -> tuple[Path, Path]:
    """Where the merged PDF and the manifest of a batch live."""
    return print_dir / f"{name}.pdf", print_dir / f"{name}.csv"


def batch_exists(print_dir: Path, name: str) -> bool:
    pdf, manifest = batch_paths(print_dir, name)
    return pdf.exists() and manifest.exists()


def write_print_batch(print_dir: Path, name: str, items: Sequence[PrintItem]) -> PrintBatch:
    """Merge the letters' PDFs in the given order and write the manifest next to it."""
    private_dir(print_dir)
    pdf_path, manifest_path = batch_paths(print_dir, name)
    writer = PdfWriter()
    rows = []
    page = 1
    for sequence, item in enumerate(items, start=1):
        reader = PdfReader(item.pdf_path)
        count = len(reader.pages)
        writer.append(reader)
        rows.append(
            {
                "sequence": sequence,
                "letter_id": item.letter_id,
                "idempotency_key": item.idempotency_key,
                "kind": item.kind,
                "first_page": page,
                "pages": count,
            }
        )
        page += count
        if count % 2:
            # Printed on both sides: every letter starts on a new sheet.
            box = reader.pages[-1].mediabox
            writer.add_blank_page(width=float(box.width), height=float(box.height))
            page += 1
    writer.add_metadata({"/Title": f"Utskick {name}", "/Producer": "kvarboende"})
    buffer = io.BytesIO()
    writer.write(buffer)
    _write_atomically(pdf_path, buffer.getvalue())
    text = io.StringIO()
    table = csv.DictWriter(text, fieldnames=MANIFEST_FIELDS, delimiter=";", lineterminator="\n")
    table.writeheader()
    table.writerows(rows)
    _write_atomically(manifest_path, text.getvalue().encode("utf-8"))
    return PrintBatch(name, pdf_path, manifest_path, len(rows), page - 1)


def _write_atomically(path: Path, data: bytes) -> None:
    # A temporary name of its own, so that two writers never share a half-written file.
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    temporary.write_bytes(data)
    os.replace(temporary, path)
