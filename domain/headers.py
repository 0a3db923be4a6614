"""Recognising a column header or a word whatever an export tool did to its spelling.

Export tools and people write the same header in many ways: ``Lägenhetsnummer``,
``LAGENHETSNR``, ``Lgh. nr``, ``lagenhets_nr``, ``Medhyresgäst personnr``. Before
comparing, a text is normalised: lower case, å/ä/ö (and é, ü) written without their
marks, punctuation and ``_`` as spaces, usual abbreviations written out (``pnr`` ->
``personnummer``, ``lgh`` -> ``lägenhet``) and filler words (``för``, ``på``) dropped.
A header is then compared by three keys: its letters and digits as written, the same
with the abbreviations written out, and those words in sorted order (``Pnr
medhyresgäst`` = ``Medhyresgäst pnr``). A key that two different fields share is
ambiguous and recognises nothing: a header is never guessed.

Pure functions, no I/O: used by :mod:`domain.notices` (housing companies' files) and
:mod:`connectors.case_register` (the case register).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

#: Abbreviations export tools use, written out (after :func:`fold`).
ABBREVIATIONS: dict[str, str] = {
    "pnr": "personnummer", "persnr": "personnummer", "personnr": "personnummer",
    "persnummer": "personnummer", "pers": "personnummer", "ssn": "personnummer",
    "nr": "nummer", "no": "nummer", "num": "nummer", "lgh": "lagenhet", "lagenhets": "lagenhet",
    "lagh": "lagenhet", "hyresg": "hyresgast", "hg": "hyresgast", "medhyresg": "medhyresgast",
    "medhg": "medhyresgast", "tel": "telefon", "tfn": "telefon", "kontr": "kontrakt",
    "kontrakts": "kontrakt", "avtals": "avtal", "adr": "adress", "fnamn": "fornamn",
    "enamn": "efternamn", "avh": "avhysning", "avhysnings": "avhysning",
    "uppsagn": "uppsagning", "upps": "uppsagning", "bet": "betald", "kfm": "kronofogden",
}  # fmt: skip

#: Words that join a reason or a relation to the word that matters.
FILLER_WORDS = frozenset(
    {"for", "pa", "av", "om", "till", "i", "pga", "p", "g", "a", "grund", "the", "of", "on",
     "due", "to", "ang", "angaende", "avseende", "enl", "enligt", "med", "gallande"}
)  # fmt: skip


def fold(text: object) -> str:
    """Lower case without diacritics: ``"Lägenhet"`` -> ``"lagenhet"``."""
    decomposed = unicodedata.normalize("NFKD", str(text).strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: object, *, fillers: bool = False) -> list[str]:
    """The words of a text after :func:`fold`, abbreviations written out.

    Fillers are dropped unless ``fillers``; a word glued to digits (``hyresgäst2``)
    stays one word.
    """
    found = [w for w in re.split(r"[^0-9a-z]+", fold(text)) if w]
    written = [ABBREVIATIONS.get(w, w) for w in found]
    if fillers:
        return written
    kept = [w for w in written if w not in FILLER_WORDS]
    return kept or written


def plain_token(text: object) -> str:
    """Letters and digits only, folded: ``"Lgh. nr"`` -> ``"lghnr"``."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def header_keys(text: object) -> tuple[str, ...]:
    """The keys a header is compared by: as written, written out, words sorted."""
    spelled = words(text)
    keys = [plain_token(text), "".join(spelled), " ".join(sorted(spelled))]
    return tuple(dict.fromkeys(k for k in keys if k))


class HeaderTable:
    """Header keys -> field, built from a field's list of aliases; ambiguous keys dropped."""

    def __init__(self, aliases: Mapping[str, Iterable[str]]) -> None:
        seen: dict[str, set[str]] = {}
        for field_name, names in aliases.items():
            for name in (field_name, *names):
                for key in header_keys(name):
                    seen.setdefault(key, set()).add(field_name)
        self._table = {key: next(iter(f)) for key, f in seen.items() if len(f) == 1}

    def field_of(self, header: object) -> str | None:
        """The field a header names, or None (unknown or ambiguous)."""
        for key in header_keys(header):
            found = self._table.get(key)
            if found is not None:
                return found
        return None

    def __contains__(self, header: object) -> bool:
        return self.field_of(header) is not None
