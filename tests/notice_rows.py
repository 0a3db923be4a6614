"""Notice files for tests, built from named fields instead of positional ``;`` strings.

A test says ``notice(personnummer=..., event_type="payment_order", debt_amount="14 000")``
and the builder puts each value under its header, so a reader of the test sees which
field holds what, and adding a column to a file never shifts the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from domain.notices import CANONICAL_FIELDS

#: The canonical export format's columns, in order (one list: domain.notices).
CANONICAL_COLUMNS: tuple[str, ...] = CANONICAL_FIELDS


def notice(**fields: object) -> dict[str, str]:
    """One row: the given fields (values as the company would write them), others empty."""
    unknown = set(fields) - set(CANONICAL_COLUMNS)
    if unknown:
        raise TypeError(f"not a canonical column: {', '.join(sorted(unknown))}")
    return {name: "" if value is None else str(value) for name, value in fields.items()}


def notice_csv(
    rows: Iterable[Mapping[str, str]],
    columns: tuple[str, ...] = CANONICAL_COLUMNS,
    separator: str = ";",
    line_end: str = "\n",
) -> str:
    """A notice file's text: the header, then one line per row, fields under their columns."""
    lines = [separator.join(columns)]
    for row in rows:
        missing = set(row) - set(columns)
        if missing:
            raise TypeError(f"row has fields the file has no column for: {sorted(missing)}")
        lines.append(separator.join(row.get(name, "") for name in columns))
    return line_end.join(lines) + line_end
