"""Nothing but the address shows in the C5 envelope's window, whatever the sheet's play.

The positions are read back from the rendered PDF (pypdf): the start and height of
every piece of text, and the bounding box of every drawn path (the help box's frame,
the facts box). The window is 20–105 mm from the left and 45–90 mm from the top of the
A4 sheet; folded once in a C5 envelope the sheet can move (229 − 210) / 2 ≈ 10 mm
sideways and (162 − 148.5) / 2 ≈ 7 mm up or down, so the zone kept free is the window
grown by that play.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream
from test_letters_render import make

from domain.formatting import STOCKHOLM
from letters.render import render_appointment_letter

MM = 72 / 25.4
WINDOW = (20.0, 45.0, 105.0, 90.0)  # left, top, right, bottom in mm from the sheet's top left
PLAY_X, PLAY_Y = 10.0, 7.0
ZONE = (WINDOW[0] - PLAY_X, WINDOW[1] - PLAY_Y, WINDOW[2] + PLAY_X, WINDOW[3] + PLAY_Y)
ADDRESS = ("Åsa Öberg", "Ringvägen 12 lgh 1102", "123 45 Exempelby", "Exempelby kommun, Stor")

Box = tuple[float, float, float, float]


def _multiply(a: list[float], b: list[float]) -> list[float]:
    """PDF matrices [a b c d e f]: a applied first, then b."""
    return [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]


def layout(pdf: bytes) -> tuple[list[tuple[str, Box]], list[Box]]:
    """(text, box) of every text piece and the box of every drawn path, in mm from the top left."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    height = float(page.mediabox.height)
    texts: list[tuple[str, Box]] = []

    def visit(text, cm, tm, font_dict, font_size) -> None:  # noqa: ANN001
        if not text.strip():
            return
        m = _multiply(list(tm), list(cm))
        x, y, size = m[4] / MM, (height - m[5]) / MM, font_size * m[3] / MM
        texts.append((text, (x, y - 0.8 * size, x, y + 0.25 * size)))

    page.extract_text(visitor_text=visit)
    paths: list[Box] = []
    ctm, stack, points = [1.0, 0, 0, 1.0, 0, 0], [], []
    for operands, op in ContentStream(page.get_contents(), None).operations:
        if op == b"q":
            stack.append(ctm)
        elif op == b"Q":
            ctm = stack.pop()
        elif op == b"cm":
            ctm = _multiply([float(v) for v in operands], ctm)
        elif op in (b"m", b"l", b"c", b"v", b"y"):
            for px, py in zip(operands[0::2], operands[1::2], strict=True):
                x = float(px) * ctm[0] + float(py) * ctm[2] + ctm[4]
                y = float(px) * ctm[1] + float(py) * ctm[3] + ctm[5]
                points.append((x / MM, (height - y) / MM))
        elif op == b"re":
            x, y, w, h = (float(v) for v in operands)
            for px, py in ((x, y), (x + w, y + h)):
                points.append(((px * ctm[0] + ctm[4]) / MM, (height - (py * ctm[3] + ctm[5])) / MM))
        elif op in (b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*", b"n") and points:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            paths.append((min(xs), min(ys), max(xs), max(ys)))
            points = []
    return texts, paths


def _overlaps(box: Box, zone: Box) -> bool:
    return box[0] < zone[2] and box[2] > zone[0] and box[1] < zone[3] and box[3] > zone[1]


AFTER = {
    "letter_date": date(2026, 11, 2),
    "deadline": date(2026, 10, 26),
    "eviction_at": datetime(2026, 11, 9, 9, 0, tzinfo=STOCKHOLM),
    "landlord": "Exempelbyhem AB",
}


@pytest.mark.parametrize("language", ["sv", "en", "ar"])
@pytest.mark.parametrize("template", ["appointment", "cancellation"])
@pytest.mark.parametrize("after", [False, True])
def test_only_the_address_comes_near_the_window(language: str, template: str, after: bool) -> None:
    letter = make(template, language)
    if after:
        letter = replace(letter, **AFTER)
    texts, paths = layout(render_appointment_letter(letter))
    address = [box for text, box in texts if any(text.startswith(a) for a in ADDRESS)]
    assert len(address) == 4  # the return line and three address lines, all in the window
    for left, top, _, bottom in address:
        assert WINDOW[0] <= left and WINDOW[1] <= top and bottom <= WINDOW[3]
    intruders = [
        (text, box)
        for text, box in texts
        if not any(text.startswith(a) for a in ADDRESS) and _overlaps(box, ZONE)
    ]
    assert intruders == []
    assert [box for box in paths if _overlaps(box, ZONE)] == []
    # The help box is drawn, right of the window and its play, and seen at the top.
    help_frames = [box for box in paths if box[1] < WINDOW[1] and box[0] > WINDOW[2]]
    assert help_frames and min(box[0] for box in help_frames) >= ZONE[2]
    assert max(box[2] for box in help_frames) <= 210 - 10  # inside the sheet's margin


def test_the_check_sees_a_box_in_the_window() -> None:
    """The geometry reader is not blind: the facts box and body text are found where they are."""
    texts, paths = layout(render_appointment_letter(make()))
    body = [box for text, box in texts if text.startswith("Välkommen")]
    assert body and body[0][1] >= ZONE[3]  # the title starts below the window and its play
    assert _overlaps(body[0], (0, 0, 210, body[0][3] + 1))
    assert any(box[2] - box[0] > 150 for box in paths)  # the full-width facts box
