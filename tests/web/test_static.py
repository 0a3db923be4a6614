"""The portal's stylesheet is well formed: one unclosed block hid every later rule."""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).resolve().parents[2] / "web" / "static" / "portal.css"


def test_every_block_of_the_stylesheet_closes_where_it_should() -> None:
    """A ``@media`` block left open swallows the rules after it (they then apply only on
    a phone): depth never goes below zero, and ends at zero."""
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(encoding="utf-8"), flags=re.S)
    depth = 0
    for line_number, line in enumerate(text.splitlines(), start=1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"portal.css line {line_number}: a }} too many"
        if line.startswith("@media"):
            assert depth == 1, f"portal.css line {line_number}: @media inside another block"
    assert depth == 0, "portal.css: a block is never closed"
