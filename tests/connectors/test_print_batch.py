"""The print batch: letters merged in order, each on its own sheet, and the manifest."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from pypdf import PdfReader

from connectors.print_batch import PrintItem, batch_exists, write_print_batch
from domain.formatting import STOCKHOLM
from letters.render import AdvisorContact, LetterInput, Sender, render_letters


def _letter(template: str, name: str) -> LetterInput:
    return LetterInput(
        template=template,  # type: ignore[arg-type]
        language="sv",
        reference="1",
        letter_date=date(2026, 11, 2),
        version=1,
        recipient_lines=(name, "Ringvägen 1", "123 45 Exempelby"),
        sender=Sender("Exempelby kommun", "IFO", "Storgatan 1", "08-1", "exempelby.se"),
        advisor=AdvisorContact("Anna", "08-2", "a@x.se", "Medborgarhuset", "Storgatan 1"),
        starts_at=datetime(2026, 11, 9, 9, tzinfo=STOCKHOLM),
        ends_at=datetime(2026, 11, 9, 9, 45, tzinfo=STOCKHOLM),
        deadline=date(2026, 11, 20),
        debt=Decimal("1000"),
    )


def test_batch_keeps_order_pads_for_duplex_and_writes_manifest(tmp_path: Path) -> None:
    letters = [_letter("cancellation", "Första"), _letter("appointment", "Andra")]
    items = []
    for number, pdf in enumerate(render_letters(letters), start=1):
        path = tmp_path / f"{number}.pdf"
        path.write_bytes(pdf)
        items.append(PrintItem(number, f"key:{number}", "appointment", path))
    assert not batch_exists(tmp_path / "print", "2026-11-02-01")
    batch = write_print_batch(tmp_path / "print", "2026-11-02-01", items)
    assert batch_exists(tmp_path / "print", "2026-11-02-01")
    reader = PdfReader(batch.pdf)
    # Each one-page letter gets a blank back side; the second starts on page 3.
    assert len(reader.pages) == batch.pages == 4
    assert "Första" in reader.pages[0].extract_text()
    assert reader.pages[1].extract_text().strip() == ""
    assert "Andra" in reader.pages[2].extract_text()
    assert reader.pages[3].extract_text().strip() == ""
    rows = list(csv.DictReader(io.StringIO(batch.manifest.read_text("utf-8")), delimiter=";"))
    assert [(r["sequence"], r["letter_id"], r["first_page"], r["pages"]) for r in rows] == [
        ("1", "1", "1", "1"),
        ("2", "2", "3", "1"),
    ]
    assert not list((tmp_path / "print").glob("*.part"))
