"""Reading a housing company's notice rows: headers, event words, values, validation.

Every company exports something different. This module turns a frame of raw
strings (as read by :mod:`connectors.notice_files`) into canonical notice rows
(the fields of :class:`domain.vocabulary.NoticeRow`) and rejected rows with a row
number and a reason in plain Swedish. All per-row work is done with polars
expressions so a file of a million rows takes seconds, not minutes.

No I/O, no database: the functions take frames and return frames.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from domain.headers import HeaderTable, plain_token, words
from domain.vocabulary import EVENT_LABEL_SV, EventType, NoticeRow
from models.errors import KvarboendeError

#: Canonical field names, in the order of the canonical notice file.
CANONICAL_FIELDS: tuple[str, ...] = (
    "personnummer",
    "tenant_name",
    "co_tenant_name",
    "co_tenant_personnummer",
    "street_address",
    "apartment",
    "postal_code",
    "town",
    "contract_ref",
    "event_type",
    "event_date",
    "service_date",
    "debt_amount",
    "monthly_rent",
    "eviction_at",
    "email",
    "phone",
    "language",
)

#: Longest text the database keeps per field (models.tables column sizes).
MAX_LENGTH: dict[str, int] = {
    "tenant_name": 200,
    "co_tenant_name": 200,
    "street_address": 200,
    "apartment": 20,
    "postal_code": 10,
    "town": 100,
    "contract_ref": 100,
    "email": 200,
    "phone": 40,
    "language": 10,
}

#: Swedish field names for reasons and for the operator's check output.
FIELD_LABEL_SV: dict[str, str] = {
    "personnummer": "personnummer",
    "tenant_name": "hyresgästens namn",
    "co_tenant_name": "medhyresgästens namn",
    "co_tenant_personnummer": "medhyresgästens personnummer",
    "street_address": "adress",
    "apartment": "lägenhetsnummer",
    "postal_code": "postnummer",
    "town": "ort",
    "contract_ref": "kontraktsnummer",
    "event_type": "händelse",
    "event_date": "datum",
    "service_date": "delgivningsdatum",
    "debt_amount": "skuld",
    "monthly_rent": "månadshyra",
    "eviction_at": "avhysningsdatum",
    "email": "e-post",
    "phone": "telefon",
    "language": "språk",
}

#: Common Swedish (and English) header names, normalised with :func:`header_token`.
_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "personnummer": (
        "personnummer", "personnr", "pnr", "persnr", "personnummersamordningsnummer",
        "samordningsnummer", "idnummer", "hyresgästpnr", "hyresgästpersonnummer",
        "personnummerhyresgäst", "pnrhyresgäst", "ssn",
    ),
    "tenant_name": (
        "hyresgäst", "namn", "hyresgästnamn", "hyresgästensnamn", "kundnamn",
        "kontraktsinnehavare", "hyresgäst1", "namnhyresgäst", "tenant", "name",
    ),
    "co_tenant_name": (
        "medhyresgäst", "medhyresgästnamn", "hyresgäst2", "namnmedhyresgäst",
        "medkontraktsinnehavare", "cotenant", "cotenantname", "medsökande", "namn 2",
        "hyresgäst 2 namn",
    ),
    # A name in two columns: joined into tenant_name / co_tenant_name, first name first.
    "tenant_first_name": (
        "förnamn", "first name", "firstname", "given name", "tilltalsnamn",
        "hyresgäst förnamn", "förnamn hyresgäst", "kund förnamn",
    ),
    "tenant_last_name": (
        "efternamn", "last name", "lastname", "surname", "family name",
        "hyresgäst efternamn", "efternamn hyresgäst", "kund efternamn",
    ),
    "co_tenant_first_name": (
        "medhyresgäst förnamn", "förnamn medhyresgäst", "hyresgäst 2 förnamn",
        "co tenant first name",
    ),
    "co_tenant_last_name": (
        "medhyresgäst efternamn", "efternamn medhyresgäst", "hyresgäst 2 efternamn",
        "co tenant last name",
    ),
    "co_tenant_personnummer": (
        "medhyresgästpnr", "medhyresgästpersonnummer", "pnrmedhyresgäst",
        "personnummermedhyresgäst", "personnummer2", "pnr2", "cotenantpersonnummer",
        "medhyresgäst personnr", "medhyresgäst persnr", "medhyresgäst id", "hyresgäst 2 pnr",
        "hyresgäst2 personnummer", "medsökande pnr", "medsökande personnummer",
        "co tenant ssn", "co tenant pnr", "personnummer 2", "pnr hyresgäst 2",
    ),
    "street_address": (
        "adress", "gatuadress", "utdelningsadress", "lägenhetsadress", "address", "street",
    ),
    "apartment": (
        "lghnr", "lgh", "lägenhetsnummer", "lägenhet", "lägenhetsnr", "lghnummer",
        "objektsnummer", "objektnr", "objektsnr", "objekt", "objekt nummer",
        "lägenhet nummer", "apartment", "flat", "lgh id",
    ),
    "postal_code": ("postnr", "postnummer", "postalcode", "zip"),
    "town": ("ort", "postort", "stad", "town", "city"),
    "contract_ref": (
        "kontraktsnr", "kontraktsnummer", "kontrakt", "kontraktnr", "kontraktsid",
        "avtalsnr", "avtalsnummer", "hyresavtal", "contract", "contractref",
    ),
    "event_type": ("händelse", "händelsetyp", "typ", "åtgärd", "ärendetyp", "event", "eventtype"),
    "event_date": ("datum", "händelsedatum", "date", "eventdate"),
    "service_date": ("delgivningsdatum", "delgiven", "delgivningsdag", "delgivning", "servicedate"),
    "debt_amount": (
        "skuld", "hyresskuld", "skuldbelopp", "belopp", "skuldkr", "skuldsek", "restskuld",
        "obetaldhyra", "debt", "debtamount",
    ),
    "monthly_rent": ("månadshyra", "hyra", "hyrakr", "månadshyrakr", "rent", "monthlyrent"),
    "eviction_at": (
        "avhysningsdatum", "avhysning", "avhysningstid", "avhysningsdag", "datumföravhysning",
        "avhysningsdatumochtid", "evictionat", "evictiondate",
    ),
    "email": ("epost", "epostadress", "email", "mail", "mejl", "emailadress"),
    "phone": ("telefon", "tel", "telefonnummer", "telnr", "mobil", "mobilnummer", "phone"),
    "language": ("språk", "language", "lang"),
}  # fmt: skip

#: The company's own event words (normalised with :func:`event_token`) out of the box.
_EVENT_WORDS: dict[str, tuple[str, ...]] = {
    EventType.TERMINATION_NOTICE: (
        "uppsägning", "uppsagd", "uppsägning hyresskuld", "uppsägning pga hyresskuld",
        "uppsägning på grund av hyresskuld", "underrättelse om uppsägning",
        "meddelande om uppsägning", "uppsägning obetald hyra",
    ),
    EventType.PAYMENT_ORDER: (
        "ansökan bf", "bf", "betalningsföreläggande", "ansökan om betalningsföreläggande",
        "ansökan kfm", "ansökan kronofogden", "ansökan om avhysning", "ansökan avhysning",
        "ansökan", "betalningsföreläggande och handräckning",
    ),
    EventType.DECISION: ("utslag", "utslag kfm", "dom", "beslut"),
    EventType.EVICTION_SCHEDULED: (
        "avhysning bokad", "bokad avhysning", "underrättelse om avhysning",
        "avhysning planerad", "avhysningsdatum",
    ),
    EventType.EVICTION_EXECUTED: (
        "verkställd", "avhysning verkställd", "verkställd avhysning", "avhyst",
        "avhysning genomförd",
    ),
    EventType.SETTLED: (
        "reglerad", "betald", "skulden reglerad", "skuld reglerad", "skulden betald",
        "hyran betald",
    ),
    # A withdrawn application is not a paid debt: the tenant may have moved out, or the
    # landlord gave up. Kept apart so it never counts as "settled without intervention".
    EventType.WITHDRAWN: (
        "återkallad", "ansökan återkallad", "återkallelse", "återkallat", "ansökan återkallat",
        "återkallelse av ansökan",
    ),
}  # fmt: skip

#: Words for notices that are not about rent arrears (out of scope, rejected clearly).
_OUT_OF_SCOPE_WORDS = (
    "störning", "störningar", "störningsuppsägning", "uppsägning störning",
    "uppsägning pga störning", "varning", "varning störning", "rättelseanmaning",
    "andrahandsuthyrning", "uppsägning andrahand",
)  # fmt: skip

#: The fields a file must have a column for.
REQUIRED_COLUMNS = ("event_type", "event_date")
#: At least one of these must have a column (who the notice is about).
IDENTITY_COLUMNS = ("personnummer", "tenant_name")

EARLIEST_DATE = date(2000, 1, 1)
MAX_AMOUNT = 100_000_000.0
#: Events about an unpaid debt: a debt of 0 kr on them is a wrong cell, not a fact
#: (after a decision the eviction can go ahead though the debt is paid, so 0 is kept there).
ARREARS_EVENTS = (EventType.TERMINATION_NOTICE.value, EventType.PAYMENT_ORDER.value)


class NoticeFormatError(KvarboendeError):
    """A whole file cannot be read as notices (no header, a required column missing)."""


def header_token(text: str) -> str:
    """A header name reduced to folded letters and digits: ``"Lgh nr."`` -> ``"lghnr"``."""
    return plain_token(text)


def event_token(text: str) -> str:
    """An event word normalised for comparison (see :func:`domain.headers.words`):
    folded, punctuation as spaces, abbreviations written out, filler words dropped, so
    ``Uppsägning pga hyresskuld``, ``UPPSAGNING - hyresskuld`` and
    ``Uppsägning/hyresskuld`` are one word."""
    return " ".join(words(text))


#: Header aliases, compared by :func:`domain.headers.header_keys`.
_ALIASES = HeaderTable(_HEADER_ALIASES)

#: Fields read from two columns (first and last name), joined with a space.
NAME_PARTS: dict[str, tuple[str, str]] = {
    "tenant_name": ("tenant_first_name", "tenant_last_name"),
    "co_tenant_name": ("co_tenant_first_name", "co_tenant_last_name"),
}
_PART_FIELDS = frozenset(part for parts in NAME_PARTS.values() for part in parts)
#: Fields a company may map several columns to (joined with a space, in the file's order).
JOINABLE_FIELDS = ("tenant_name", "co_tenant_name", "street_address")

#: A bare "Avhysning": a booked eviction only when the row carries its date and time.
BARE_EVICTION = "eviction_bare"
_BARE_EVICTION_WORDS = ("avhysning", "avhysningen", "avhysningar")
#: Key words per event: an unknown text with words of two events is ambiguous.
_EVENT_STEMS: dict[str, tuple[str, ...]] = {
    EventType.TERMINATION_NOTICE: ("uppsagning", "uppsagd", "uppsagt"),
    EventType.PAYMENT_ORDER: ("betalningsforelaggande", "bf", "ansokan"),
    EventType.DECISION: ("utslag", "dom", "beslut"),
    EventType.EVICTION_SCHEDULED: ("bokad", "planerad"),
    EventType.EVICTION_EXECUTED: ("verkstalld", "avhyst", "genomford"),
    EventType.SETTLED: ("reglerad", "betald", "betalt"),
    EventType.WITHDRAWN: ("aterkallad", "aterkallelse", "aterkallat"),
}


def default_event_words() -> dict[str, str]:
    """Event words recognised without configuration, word -> canonical event type."""
    words_ = {event_token(e.value): e.value for e in EventType}
    for event, aliases in _EVENT_WORDS.items():
        for alias in aliases:
            words_[event_token(alias)] = str(event)
    for word in _BARE_EVICTION_WORDS:
        words_[event_token(word)] = BARE_EVICTION
    return words_


def event_words_sv() -> str:
    """The accepted event words, one example per event, for a reason a company reads."""
    examples = [
        "Uppsägning", "Ansökan BF", "Utslag", "Avhysning bokad", "Verkställd avhysning",
        "Reglerad", "Återkallad",
    ]  # fmt: skip
    return ", ".join(examples)


def _ambiguous_events(token: str) -> list[str]:
    """The events whose key words all appear in an unknown event text (two or more: ambiguous)."""
    found = set(token.split())
    return [str(e) for e, stems in _EVENT_STEMS.items() if found & set(stems)]


def event_lookup(values: Sequence[str], events: Mapping[str, str]) -> pl.DataFrame:
    """For each distinct event text: its event (or null) and, when unknown, whether ambiguous.

    ``events`` are the company's own words (they win over the defaults). Columns
    ``event_type`` (the text), ``_event``, ``_event_ambiguous`` (labels or null).
    """
    table = default_event_words()
    for word in _OUT_OF_SCOPE_WORDS:
        table.setdefault(event_token(word), "out_of_scope")
    table.update({event_token(k): v for k, v in events.items()})
    found: list[str | None] = []
    ambiguous: list[str | None] = []
    for value in values:
        token = event_token(value)
        event = table.get(token)
        if event is None and any(w.startswith(("storning", "storand")) for w in token.split()):
            event = "out_of_scope"  # any other word about disturbance (störande beteende ...)
        found.append(event)
        both = _ambiguous_events(token) if event is None else []
        ambiguous.append(
            " eller ".join(EVENT_LABEL_SV[EventType(e)].lower() for e in both)
            if len(both) > 1
            else None
        )
    return pl.DataFrame(
        {"event_type": list(values), "_event": found, "_event_ambiguous": ambiguous},
        schema={"event_type": pl.String, "_event": pl.String, "_event_ambiguous": pl.String},
    )


def validate_company_mapping(columns: Mapping[str, str], events: Mapping[str, str]) -> None:
    """Raise NoticeFormatError when a configured mapping names an unknown canonical field."""
    for header, target in columns.items():
        if target not in CANONICAL_FIELDS and target not in _PART_FIELDS and target != "ignore":
            raise NoticeFormatError(
                f"columns: {header!r} maps to unknown field {target!r} "
                f"(use one of {', '.join(CANONICAL_FIELDS)} or 'ignore')"
            )
    valid_events = {e.value for e in EventType} | {"out_of_scope"}
    for word, target in events.items():
        if target not in valid_events:
            raise NoticeFormatError(
                f"events: {word!r} maps to unknown event type {target!r} "
                f"(use one of {', '.join(sorted(valid_events))})"
            )


@dataclass(frozen=True)
class HeaderMapping:
    """Which source column feeds which canonical field, and what was left unused."""

    fields: dict[str, str]  # canonical field -> source header (the first, when joined)
    unused: list[str] = field(default_factory=list)
    # Fields read from several columns joined with a space (a name in two columns).
    joined: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def sources(self, name: str) -> tuple[str, ...]:
        """The column(s) a field is read from (none: not in the file)."""
        if name in self.joined:
            return self.joined[name]
        return (self.fields[name],) if name in self.fields else ()

    def shown(self, name: str) -> str:
        """``'Förnamn' + 'Efternamn'``: the column(s) of a field as the operator reads them."""
        return " + ".join(self.sources(name))

    def missing(self) -> list[str]:
        """Required canonical fields without a column (all of them, not just the first)."""
        gone = [name for name in REQUIRED_COLUMNS if name not in self.fields]
        if not any(name in self.fields for name in IDENTITY_COLUMNS):
            gone.append(" eller ".join(IDENTITY_COLUMNS))
        if not any(name in self.fields for name in ("contract_ref", "street_address")):
            gone.append("contract_ref eller street_address")
        return gone


def map_headers(headers: Sequence[str], columns: Mapping[str, str] | None = None) -> HeaderMapping:
    """Map a file's headers to canonical fields: the company's mapping first, then aliases.

    Headers are compared after normalising (case, å/ä/ö, punctuation, abbreviations:
    :mod:`domain.headers`). A name in two columns (``Förnamn``, ``Efternamn``) becomes
    one field; several columns the company maps to a name or address are joined in the
    file's order. A second column for any other field is left unused, never merged.
    """
    configured: dict[str, str] = {}
    for header, mapped in (columns or {}).items():
        configured.setdefault(header_token(header), mapped)
    fields: dict[str, str] = {}
    parts: dict[str, list[str]] = {}
    unused: list[str] = []
    for header in headers:
        token = header_token(header)
        target = configured.get(token) if token in configured else _ALIASES.field_of(header)
        if target in _PART_FIELDS or (target in JOINABLE_FIELDS and token in configured):
            parts.setdefault(str(target), []).append(header)
            continue
        if target is None or target == "ignore" or target in fields:
            unused.append(header)
            continue
        fields[target] = header
    joined: dict[str, tuple[str, ...]] = {}
    for name, (first, last) in NAME_PARTS.items():
        if name in parts:  # configured: every column the company named, in the file's order
            continue
        found = parts.pop(first, []) + parts.pop(last, [])
        if name in fields or not found:
            unused.extend(found)
        else:
            parts[name] = found
    for name in list(parts):
        if name in _PART_FIELDS:  # a first name without a name field to join it to
            unused.extend(parts.pop(name))
            continue
        columns_ = parts.pop(name)
        if name in fields:
            columns_ = [fields[name], *columns_]
        fields[name] = columns_[0]
        if len(columns_) > 1:
            joined[name] = tuple(columns_)
    unused.sort(key=list(headers).index)
    return HeaderMapping(fields=fields, unused=unused, joined=joined)


#: Headers that look like a co-tenant, an apartment or a name (folded word starts).
_SIMILAR: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tenant_name": (("tenant_name",), ("namn", "name", "hyresgast", "kund")),
    "co_tenant": (("co_tenant_name", "co_tenant_personnummer"), ("medhyres", "medsok", "cotenant")),
    "apartment": (("apartment",), ("lgh", "lagenhet", "lagh", "objekt", "apart", "flat")),
}


def mapping_notes(mapping: HeaderMapping) -> list[str]:
    """Plain Swedish remarks on what was not read: for ``companies check`` and the receipt.

    No tenant-name column is always said (letters and matching need the name); a
    co-tenant or apartment column only when the file has a header that looks like one.
    """
    notes: list[str] = []
    folded = {header: plain_token(header) for header in mapping.unused}
    for key, (targets, starts) in _SIMILAR.items():
        if key == "co_tenant" and all(t in mapping.fields for t in targets):
            continue
        if key != "co_tenant" and any(t in mapping.fields for t in targets):
            continue
        similar = [h for h, token in folded.items() if any(s in token for s in starts)]
        shown = ", ".join(repr(h) for h in similar)
        if key == "tenant_name":
            notes.append(
                "Ingen kolumn med hyresgästens namn lästes"
                + (f" (rubriken {shown} känns inte igen)" if similar else "")
                + ": raderna tas emot utan namn; skicka namnet i en kolumn som heter Namn "
                "(eller Förnamn och Efternamn)"
            )
        elif similar and key == "apartment":
            notes.append(
                f"Rubriken {shown} liknar lägenhetsnummer men känns inte igen: lägenhetsnumret "
                "lästes inte; döp kolumnen till Lgh nr eller Lägenhetsnummer"
            )
        elif similar and key == "co_tenant":
            notes.append(
                f"Rubriken {shown} liknar medhyresgäst men känns inte igen: uppgiften om "
                "medhyresgästen lästes inte; döp kolumnen till Medhyresgäst (namn) eller "
                "Medhyresgäst personnummer"
            )
    return notes


def ignored_columns_note(mapping: HeaderMapping) -> str | None:
    """``Kolumner som inte används: 'Övrigt', 'Saldo'`` (None when every column is used)."""
    if not mapping.unused:
        return None
    return "Kolumner som inte används: " + ", ".join(repr(h) for h in mapping.unused)


def header_score(cells: Sequence[str | None], columns: Mapping[str, str] | None = None) -> int:
    """How many cells of a row are recognised header names: finds the header row in a file."""
    configured = {header_token(k) for k in (columns or {})}
    cells_ = {str(c) for c in cells if c}
    return sum(1 for c in cells_ if header_token(c) in configured or c in _ALIASES)


def require_columns(mapping: HeaderMapping, headers: Sequence[str], filename: str) -> None:
    """One clear error naming the file, the missing field(s) and the headers found."""
    missing = mapping.missing()
    if missing:
        found = ", ".join(repr(h) for h in headers) or "inga"
        names = ", ".join(f"{FIELD_LABEL_SV.get(m, m)} ({m})" for m in missing)
        raise NoticeFormatError(f"{filename}: kolumn saknas för {names}; rubriker i filen: {found}")


# ---------------------------------------------------------------------------
# Value parsing, as polars expressions over string columns.


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    """Trim (also non-breaking spaces); an empty cell is a missing value."""
    cleaned = expr.str.replace_all(r"[\u00a0\u202f]", " ").str.strip_chars()
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned).otherwise(None)


def parse_amount(expr: pl.Expr) -> pl.Expr:
    """``12 345,50``, ``12345,50``, ``12 345 kr``, ``12345.50``, ``12.345,50`` -> Float64.

    Null when the text is empty or not an amount; the caller tells the two apart.
    """
    text = (
        expr.str.replace_all(r"[\s\u00a0\u202f]", "")
        .str.replace_all("\u2212", "-")
        .str.replace(r"(?i)(kr|sek|:-)\.?$", "")
    )
    european = text.str.contains(r"^-?\d{1,3}(\.\d{3})+(,\d*)?$")
    english = text.str.contains(r"^-?\d{1,3}(,\d{3})+\.\d*$")
    normal = (
        pl.when(european)
        .then(text.str.replace_all(r"\.", "").str.replace(",", "."))
        .when(english)
        .then(text.str.replace_all(",", ""))
        .otherwise(text.str.replace(",", "."))
    )
    return (
        pl.when(normal.str.contains(r"^-?\d+(\.\d*)?$"))
        .then(normal.cast(pl.Float64, strict=False))
        .otherwise(None)
    )


def parse_date(expr: pl.Expr, day_first: bool = False) -> pl.Expr:
    """``2026-11-02``, ``20261102``, ``02.11.2026``, Excel ``2026-11-02 00:00:00``;
    ``2/11/2026`` only when the company writes day first."""
    text = expr.str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]00:00(:00(\.0+)?)?$", "$1")
    candidates = [
        text.str.to_date("%Y-%m-%d", strict=False),
        pl.when(text.str.contains(r"^\d{8}$")).then(text.str.to_date("%Y%m%d", strict=False)),
        text.str.to_date("%d.%m.%Y", strict=False),
    ]
    if day_first:
        candidates += [
            text.str.to_date("%d/%m/%Y", strict=False),
            text.str.to_date("%d-%m-%Y", strict=False),
        ]
    return pl.coalesce(candidates)


def parse_local_datetime(expr: pl.Expr, day_first: bool = False) -> pl.Expr:
    """``2026-12-14 09:00`` (Stockholm time) -> UTC datetime; a bare date means 00:00.

    Also ``14.12.2026 09:00``, ``2026-12-14T09:00``, ``2026-12-14 kl. 09.00`` and
    Excel's ``2026-12-14 09:00:00``. The date part is read by :func:`parse_date`.
    """
    parts = expr.str.extract_groups(
        r"^(\S+?)(?:(?:[ T]+|\s+kl\.?\s*)(\d{1,2})[:.](\d{2})(?::\d{2}(?:\.\d+)?)?)?$"
    )
    day = parse_date(parts.struct.field("1"), day_first)
    hour = parts.struct.field("2").cast(pl.Int64, strict=False).fill_null(0)
    minute = parts.struct.field("3").cast(pl.Int64, strict=False).fill_null(0)
    valid_time = (hour < 24) & (minute < 60)
    local = pl.when(valid_time).then(
        day.cast(pl.Datetime("us")) + pl.duration(hours=hour, minutes=minute)
    )
    return local.dt.replace_time_zone(
        "Europe/Stockholm", ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")


def parse_name(expr: pl.Expr) -> pl.Expr:
    """``Efternamn, Förnamn`` -> ``Förnamn Efternamn``; ALL CAPS becomes Title Case."""
    text = expr.str.replace_all(r"\s+", " ")
    parts = text.str.split_exact(",", 1)
    swapped = pl.concat_str(
        [parts.struct.field("field_1").str.strip_chars(), parts.struct.field("field_0")],
        separator=" ",
    ).str.strip_chars()
    name = pl.when(text.str.contains(",")).then(swapped).otherwise(text)
    return pl.when(name == name.str.to_uppercase()).then(name.str.to_titlecase()).otherwise(name)


def excel_leading_zero(expr: pl.Expr) -> pl.Expr:
    """Put back the leading zeros Excel drops from a personnummer stored as a number.

    People born 2001-2009 lose one zero (9 digits), people born in 2000 two or three
    (``001015…`` -> 8 digits, ``000101…`` -> 7). Only cells of digits alone are padded
    to 10. A 9-digit number can be nothing else; 7 or 8 digits only when the padded
    number has a real month and day (or samordningsnummer day), so that, for example,
    a birth date ``19800101`` is not turned into a made-up number.
    """
    padded = expr.str.zfill(10)
    month = padded.str.slice(2, 2).cast(pl.Int32, strict=False)
    day = padded.str.slice(4, 2).cast(pl.Int32, strict=False)
    plausible = month.is_between(1, 12) & (day.is_between(1, 31) | day.is_between(61, 91))
    return (
        pl.when(expr.str.contains(r"^\d{9}$") | (expr.str.contains(r"^\d{7,8}$") & plausible))
        .then(padded)
        .otherwise(expr)
    )


def normalise_personnummer(expr: pl.Expr, today: date) -> tuple[pl.Expr, pl.Expr]:
    """Vectorised :func:`domain.identity.normalise`: (12 digits or null, valid flag)."""
    cleaned = expr.str.replace_all(r"[\s\u00a0\u202f]", "")
    parts = cleaned.str.extract_groups(r"^(\d{2})?(\d{6})([-+]?)(\d{4})$")
    century_text = parts.struct.field("1")
    yymmdd = parts.struct.field("2")
    plus = parts.struct.field("3") == "+"
    tail = parts.struct.field("4")
    yy = yymmdd.str.slice(0, 2).cast(pl.Int32)
    base = (today.year // 100) * 100 + yy
    full = pl.when(base > today.year).then(base - 100).otherwise(base)
    full = pl.when(plus).then(full - 100).otherwise(full)
    century = pl.coalesce(century_text, (full // 100).cast(pl.String).str.zfill(2))
    digits = pl.when(yymmdd.is_not_null()).then(pl.concat_str([century, yymmdd, tail]))
    # Luhn over the 10-digit form, with integer arithmetic (much faster than slicing).
    number = digits.str.slice(2, 10).cast(pl.Int64, strict=False)
    total = pl.lit(0, dtype=pl.Int64)
    for position in range(10):
        digit = (number // 10 ** (9 - position)) % 10
        if position % 2 == 0:
            doubled = digit * 2
            digit = doubled - 9 * (doubled > 9).cast(pl.Int64)
        total = total + digit
    day = digits.str.slice(6, 2).cast(pl.Int32, strict=False)
    real_day = pl.when(day > 60).then(day - 60).otherwise(day)
    birth = pl.concat_str(
        [digits.str.slice(0, 6), real_day.cast(pl.String).str.zfill(2)]
    ).str.to_date("%Y%m%d", strict=False)
    valid = (digits.is_not_null() & (total % 10 == 0) & birth.is_not_null()).fill_null(False)
    return digits, valid


# ---------------------------------------------------------------------------
# The whole file.


@dataclass(frozen=True)
class ParseOptions:
    """How one company's rows are read (from its config) and the date validation is based on."""

    company_id: str
    columns: Mapping[str, str] = field(default_factory=dict)
    events: Mapping[str, str] = field(default_factory=dict)
    day_first: bool = False
    today: date = field(default_factory=date.today)
    future_days: int = 400  # how far ahead an event or service date may lie
    # How far an eviction may lie after the notice's date (or today, if later): Kronofogden
    # books evictions weeks ahead, so the year 3000 is a typing error, not a date.
    eviction_years_ahead: int = 2


@dataclass
class ParsedNotices:
    """Accepted rows (canonical typed columns plus row_number), rejected rows, rows read."""

    accepted: pl.DataFrame
    rejected: pl.DataFrame  # row_number, reason
    rows_read: int
    mapping: HeaderMapping
    # The rejected rows' contract references (row_number, contract_ref), for the receipt:
    # the company finds the row by its own reference. Never personal data.
    rejected_refs: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={"row_number": pl.Int64, "contract_ref": pl.String}
        )
    )
    repaired_rows: list[int] = field(default_factory=list)  # mojibake fixed (Ã¥ -> å)
    garbled_rows: list[int] = field(default_factory=list)  # still unreadable characters


#: Text fields that go onto letters: classic mojibake in them is repaired.
REPAIRED_FIELDS: tuple[str, ...] = (
    "tenant_name", "co_tenant_name", "street_address", "apartment", "town",
)  # fmt: skip
#: Characters that only appear in text decoded with the wrong encoding.
_MOJIBAKE_HINT = r"[ÃÂ\uFFFD]|â€|ï¿½"
#: What still looks garbled after repair: Ã or Â before a symbol, â€, the replacement mark.
MOJIBAKE = r"[ÃÂ][^\w\s]|â€|\uFFFD|ï¿½"


def repair_mojibake(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    """Repair UTF-8-read-as-Windows-1252 text (``Ã¥`` for ``å``) in the letter fields.

    Returns the frame and two row masks: repaired, and still garbled (for the advisor
    to check before a letter goes out). Only suspicious distinct values go through
    ftfy, so a big clean file costs one regex scan per column.
    """
    import ftfy

    repaired = pl.lit(False)
    changes = []
    for name in REPAIRED_FIELDS:
        column = frame.get_column(name)
        suspects = column.filter(column.str.contains(_MOJIBAKE_HINT)).unique().to_list()
        mapping = {value: ftfy.fix_encoding(value) for value in suspects}
        mapping = {old: new for old, new in mapping.items() if new != old}
        if mapping:
            changes.append(pl.col(name).replace(mapping).alias(name))
            repaired = repaired | pl.col(name).is_in(list(mapping)).fill_null(False)
    repaired_mask = frame.select(repaired.alias("repaired")).to_series()
    frame = frame.with_columns(changes) if changes else frame
    garbled = pl.any_horizontal(
        [pl.col(name).str.contains(MOJIBAKE).fill_null(False) for name in REPAIRED_FIELDS]
    )
    return frame, repaired_mask, frame.select(garbled.alias("garbled")).to_series()


ACCEPTED_SCHEMA: dict[str, pl.DataType] = {
    "row_number": pl.Int64(),
    "event_type": pl.String(),
    "event_date": pl.Date(),
    "personnummer": pl.String(),
    "personnummer_valid": pl.Boolean(),
    "tenant_name": pl.String(),
    "co_tenant_name": pl.String(),
    "co_tenant_personnummer": pl.String(),
    "street_address": pl.String(),
    "apartment": pl.String(),
    "postal_code": pl.String(),
    "town": pl.String(),
    "contract_ref": pl.String(),
    "debt_amount": pl.Float64(),
    "monthly_rent": pl.Float64(),
    "service_date": pl.Date(),
    "eviction_at": pl.Datetime("us", "UTC"),
    "email": pl.String(),
    "phone": pl.String(),
    "language": pl.String(),
}


def _quoted(prefix: str, raw: pl.Expr, suffix: str = "") -> pl.Expr:
    """A reason that quotes the company's own (short) value, e.g. an event word or a date.

    A personnummer in the wrong column is never quoted: reasons are stored and shown.
    """
    shown = raw.str.slice(0, 40).str.replace_all(r"\d{6}(\d{2})?[-+]?\d{4}", "(personnummer)")
    return pl.concat_str([pl.lit(prefix + " '"), shown, pl.lit("'" + suffix)])


#: Cell text that looks like an amount or a date (digits and their separators only):
#: only such text is quoted back in a reason. A name or an address in the wrong column
#: is never repeated, since reasons are stored, printed and sent back in receipts.
AMOUNT_LIKE = r"(?i)^[-\u2212+]?[\d\s\u00a0\u202f.,]*\d[\d\s\u00a0\u202f.,]*(kr|sek|:-)?\.?$"
DATE_LIKE = r"(?i)^[\d\s./:-]*\d[\d\s./:-]*(t[\d:.]+|kl\.?\s*[\d.:]+)?$"
#: A date cell also quoted when it is one short word in lower case (``igår``, ``okänt``):
#: such a word is what the clerk typed for a date, not a name in the wrong column.
DATE_OR_WORD = rf"(?:{DATE_LIKE})|(?:^\p{{Ll}}[\p{{Ll}}\d./:-]{{0,14}}$)"


def _quoted_if(pattern: str, prefix: str, raw: pl.Expr, suffix: str, otherwise: str) -> pl.Expr:
    """:func:`_quoted` when the cell looks like what was expected, else ``otherwise``."""
    return (
        pl.when(raw.str.contains(pattern))
        .then(_quoted(prefix, raw, suffix))
        .otherwise(pl.lit(otherwise))
    )


def _unreadable(source: str, kind: str) -> str:
    """``texten i Skuld kan inte läsas som ett belopp`` (no cell content)."""
    return f"texten i {FIELD_LABEL_SV[source].capitalize()} kan inte läsas som {kind}"


def canonical_frame(raw: pl.DataFrame, mapping: HeaderMapping) -> pl.DataFrame:
    """Rename mapped source columns to canonical names; absent fields become null strings.

    A field read from several columns joins their non-empty cells with a space.
    """
    exprs = []
    for name in CANONICAL_FIELDS:
        sources = mapping.sources(name)
        if not sources:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
        elif len(sources) == 1:
            exprs.append(_blank_to_null(pl.col(sources[0]).cast(pl.String)).alias(name))
        else:
            cells = [_blank_to_null(pl.col(s).cast(pl.String)) for s in sources]
            exprs.append(
                _blank_to_null(pl.concat_str(cells, separator=" ", ignore_nulls=True)).alias(name)
            )
    return raw.select(exprs)


def parse_notices(
    raw: pl.DataFrame,
    options: ParseOptions,
    first_row_number: int = 2,
    ragged: Sequence[int] = (),
    broken: Mapping[int, str] | None = None,
) -> ParsedNotices:
    """Validate every row of a raw string frame; accepted + rejected = rows read.

    ``first_row_number`` is the row number (as a spreadsheet shows it) of the first
    data row, so that reasons point at the row the company sees. Fully empty rows
    are not counted as rows. ``ragged`` are the 0-based rows that had more fields than
    the header (the reader cut them): they are rejected, never used half-read.
    ``broken`` are 0-based rows the reader could not read at all, with the reason.
    """
    validate_company_mapping(options.columns, options.events)
    mapping = map_headers([str(c) for c in raw.columns], options.columns)
    frame = canonical_frame(raw, mapping).with_row_index("row_number", offset=first_row_number)
    too_long = pl.Series("_ragged", [False] * raw.height, dtype=pl.Boolean)
    if ragged:
        too_long = too_long.scatter(list(ragged), True)
    unreadable = pl.Series("_broken", [None] * raw.height, dtype=pl.String)
    if broken:
        unreadable = unreadable.scatter(list(broken), list(broken.values()))
    frame = frame.with_columns(pl.col("row_number").cast(pl.Int64), too_long, unreadable)
    frame = frame.filter(
        pl.col("_ragged")
        | pl.col("_broken").is_not_null()
        | ~pl.all_horizontal([pl.col(c).is_null() for c in CANONICAL_FIELDS])
    )
    rows_read = frame.height
    frame, repaired, garbled = repair_mojibake(frame)
    repaired_rows = frame["row_number"].filter(repaired).to_list()
    garbled_rows = frame["row_number"].filter(garbled).to_list()

    texts = frame.select(pl.col("event_type").unique().drop_nulls()).to_series().to_list()
    frame = frame.join(
        event_lookup(texts, options.events), on="event_type", how="left", maintain_order="left"
    )

    day_first = options.day_first
    earliest = pl.lit(EARLIEST_DATE)
    latest = pl.lit(date.fromordinal(options.today.toordinal() + options.future_days))
    today = options.today
    years = options.eviction_years_ahead
    parsers: list[tuple[str, dict[str, Callable[[pl.Expr], pl.Expr]]]] = [
        ("event_date", {"_event_date": lambda c: parse_date(c, day_first)}),
        ("service_date", {"_service_date": lambda c: parse_date(c, day_first)}),
        ("eviction_at", {"_eviction_at": lambda c: parse_local_datetime(c, day_first)}),
        ("debt_amount", {"_debt": parse_amount}),
        ("monthly_rent", {"_rent": parse_amount}),
        (
            "personnummer",
            {
                "_pnr": lambda c: normalise_personnummer(excel_leading_zero(c), today)[0],
                "_pnr_valid": lambda c: normalise_personnummer(excel_leading_zero(c), today)[1],
            },
        ),
        (
            "co_tenant_personnummer",
            {"_co_pnr": lambda c: normalise_personnummer(excel_leading_zero(c), today)[0]},
        ),
        ("tenant_name", {"_tenant": parse_name}),
        ("co_tenant_name", {"_co_tenant": parse_name}),
    ]
    for column, outputs in parsers:
        frame = _parse_distinct(frame, column, outputs)
    frame = frame.with_columns(pl.col("_pnr_valid").fill_null(False))
    # A bare "Avhysning" is a booked eviction when the row says when (date and time).
    local = pl.col("_eviction_at").dt.convert_time_zone("Europe/Stockholm")
    timed = local.is_not_null() & ((local.dt.hour() > 0) | (local.dt.minute() > 0))
    frame = frame.with_columns(
        _event=pl.when((pl.col("_event") == BARE_EVICTION) & timed)
        .then(pl.lit(EventType.EVICTION_SCHEDULED.value))
        .otherwise(pl.col("_event"))
    )
    event = pl.col("_event")
    reasons: list[pl.Expr] = [
        pl.when(pl.col("event_type").is_null()).then(pl.lit("händelse saknas")),
        pl.when(
            pl.col("event_type").is_not_null()
            & event.is_null()
            & pl.col("_event_ambiguous").is_not_null()
        ).then(
            pl.concat_str(
                [
                    _quoted("händelsen", pl.col("event_type"), " är tvetydig ("),
                    pl.col("_event_ambiguous"),
                    pl.lit("?): skriv en av " + event_words_sv()),
                ]
            )
        ),
        pl.when(
            pl.col("event_type").is_not_null()
            & event.is_null()
            & pl.col("_event_ambiguous").is_null()
        ).then(_quoted("okänd händelse", pl.col("event_type"))),
        pl.when(event == BARE_EVICTION).then(
            _quoted(
                "händelsen",
                pl.col("event_type"),
                " tas emot som bokad avhysning bara när raden har avhysningsdatum och "
                "klockslag; skriv annars en av " + event_words_sv(),
            )
        ),
        pl.when(event == "out_of_scope").then(
            _quoted("händelsen", pl.col("event_type"), " gäller inte hyresskuld och tas inte emot")
        ),
        pl.when(pl.col("event_date").is_null()).then(pl.lit("datum saknas")),
        _date_reason("datumet", "event_date", "_event_date", earliest, latest, day_first),
        _date_reason(
            "delgivningsdatumet", "service_date", "_service_date", earliest, latest, day_first
        ),
        pl.when(pl.col("eviction_at").is_not_null() & pl.col("_eviction_at").is_null()).then(
            _quoted_if(
                DATE_OR_WORD,
                "avhysningsdatumet",
                pl.col("eviction_at"),
                " kan inte läsas",
                _unreadable("eviction_at", "ett datum"),
            )
        ),
        pl.when(
            pl.col("_eviction_at").is_not_null() & (pl.col("_eviction_at").dt.date() < earliest)
        ).then(
            _quoted_if(
                DATE_LIKE,
                "avhysningsdatumet",
                pl.col("eviction_at"),
                " är orimligt",
                "avhysningsdatumet är orimligt",
            )
        ),
        pl.when(
            pl.col("_eviction_at").dt.convert_time_zone("Europe/Stockholm").dt.date()
            > pl.max_horizontal(pl.col("_event_date"), pl.lit(today)).dt.offset_by(f"{years}y")
        ).then(
            _quoted_if(
                DATE_LIKE,
                "avhysningsdatumet",
                pl.col("eviction_at"),
                f" ligger mer än {years} år fram i tiden",
                f"avhysningsdatumet ligger mer än {years} år fram i tiden",
            )
        ),
        pl.when(
            (event == EventType.EVICTION_SCHEDULED.value) & pl.col("eviction_at").is_null()
        ).then(pl.lit("avhysningsdatum saknas för en bokad avhysning")),
        _served_before_notice(event),
        pl.when(pl.col("personnummer").is_null() & pl.col("tenant_name").is_null()).then(
            pl.lit("personnummer och namn saknas")
        ),
        *_name_reasons("namnet", "tenant_name"),
        *_name_reasons("medhyresgästens namn", "co_tenant_name"),
        pl.when(pl.col("contract_ref").is_null() & pl.col("street_address").is_null()).then(
            pl.lit("kontraktsnummer och adress saknas")
        ),
        *_amount_reasons("skulden", "debt_amount", "_debt"),
        pl.when(event.is_in(ARREARS_EVENTS) & (pl.col("_debt") == 0)).then(
            pl.lit(
                "skulden är 0 kr, men uppsägningar och ansökningar om betalningsföreläggande "
                "gäller obetald hyra (lämna rutan tom om skulden inte är känd)"
            )
        ),
        *_amount_reasons("månadshyran", "monthly_rent", "_rent"),
        *[
            pl.when(pl.col(name).str.len_chars() > limit).then(
                pl.lit(f"{FIELD_LABEL_SV[name]} är för lång (högst {limit} tecken)")
            )
            for name, limit in MAX_LENGTH.items()
            if name not in ("tenant_name", "co_tenant_name")
        ],
        pl.when(pl.col("_tenant").str.len_chars() > MAX_LENGTH["tenant_name"]).then(
            pl.lit("namnet är för långt (högst 200 tecken)")
        ),
        pl.when(pl.col("_co_tenant").str.len_chars() > MAX_LENGTH["co_tenant_name"]).then(
            pl.lit("medhyresgästens namn är för långt (högst 200 tecken)")
        ),
    ]
    # A too-long row's values are shifted: only that is worth saying about it.
    frame = frame.with_columns(
        _reason=pl.when(pl.col("_broken").is_not_null())
        .then(pl.col("_broken"))
        .when(pl.col("_ragged"))
        .then(pl.lit("raden har fler fält än rubrikraden (ett avgränsningstecken i ett värde?)"))
        .otherwise(pl.concat_str(reasons, separator="; ", ignore_nulls=True))
    ).with_columns(_reason=pl.when(pl.col("_reason").str.len_chars() > 0).then(pl.col("_reason")))
    rejected = (
        frame.filter(pl.col("_reason").is_not_null())
        .select(
            "row_number",
            reason=pl.col("_reason").str.slice(0, 1).str.to_uppercase()
            + pl.col("_reason").str.slice(1),
        )
        .sort("row_number")
    )
    rejected_refs = (
        frame.filter(pl.col("_reason").is_not_null())
        .select(pl.col("row_number").cast(pl.Int64), pl.col("contract_ref").str.slice(0, 100))
        .sort("row_number")
    )
    email = pl.col("email").str.to_lowercase().str.replace_all(r"\s", "")
    accepted = frame.filter(pl.col("_reason").is_null()).select(
        pl.col("row_number"),
        pl.col("_event").alias("event_type"),
        pl.col("_event_date").alias("event_date"),
        pl.col("_pnr").alias("personnummer"),
        pl.col("_pnr_valid").alias("personnummer_valid"),
        pl.col("_tenant").alias("tenant_name"),
        pl.col("_co_tenant").alias("co_tenant_name"),
        pl.col("_co_pnr").alias("co_tenant_personnummer"),
        pl.col("street_address").str.replace_all(r"\s+", " "),
        pl.col("apartment"),
        pl.when(pl.col("postal_code").str.contains(r"^\d{3} ?\d{2}$"))
        .then(pl.col("postal_code").str.replace(" ", ""))
        .otherwise(pl.col("postal_code"))
        .alias("postal_code"),
        pl.col("town"),
        pl.col("contract_ref"),
        pl.col("_debt").round(2).alias("debt_amount"),
        pl.col("_rent").round(2).alias("monthly_rent"),
        pl.col("_service_date").alias("service_date"),
        pl.col("_eviction_at").alias("eviction_at"),
        pl.when(email.str.contains(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")).then(email).alias("email"),
        pl.col("phone"),
        pl.col("language").str.to_lowercase(),
    )
    accepted = accepted.cast(ACCEPTED_SCHEMA)  # type: ignore[arg-type]
    return ParsedNotices(
        accepted=accepted,
        rejected=rejected,
        rows_read=rows_read,
        mapping=mapping,
        rejected_refs=rejected_refs,
        repaired_rows=repaired_rows,
        garbled_rows=garbled_rows,
    )


def _parse_distinct(
    frame: pl.DataFrame, column: str, outputs: dict[str, Callable[[pl.Expr], pl.Expr]]
) -> pl.DataFrame:
    """Parse each distinct value once and join the results back.

    Files repeat the same dates, amounts and people on many rows, so this is much
    cheaper than parsing every row; a null value gives null results.
    """
    values = frame.select(pl.col(column).unique().drop_nulls())
    table = values.with_columns(**{name: parse(pl.col(column)) for name, parse in outputs.items()})
    return frame.join(table, on=column, how="left", maintain_order="left")


#: A cell that would be a formula in a spreadsheet (``=HYPERLINK(...)``, ``+46...``, ``@``).
FORMULA_START = r"^[=+\-@\t\r]"


def _name_reasons(label: str, source: str) -> list[pl.Expr]:
    """A name that is a formula or has no letter at all is no name (never quoted back)."""
    raw = pl.col(source)
    return [
        pl.when(raw.str.contains(FORMULA_START)).then(
            pl.lit(f"{label} ser ut som en formel (börjar med =, +, - eller @)")
        ),
        pl.when(raw.is_not_null() & ~raw.str.contains(r"\p{L}")).then(
            pl.lit(f"{label} har inga bokstäver")
        ),
    ]


def _date_reason(
    label: str,
    source: str,
    parsed: str,
    earliest: pl.Expr,
    latest: pl.Expr,
    day_first: bool,
) -> pl.Expr:
    """Why a date cell cannot be used: ambiguous, unreadable or implausible."""
    raw = pl.col(source)
    ambiguous = raw.str.contains(r"^\d{1,2}/\d{1,2}/\d{2,4}$") & (not day_first)
    return (
        pl.when(raw.is_not_null() & ambiguous)
        .then(_quoted(label, raw, " är tvetydigt (dag eller månad först?), skriv ÅÅÅÅ-MM-DD"))
        .when(raw.is_not_null() & pl.col(parsed).is_null())
        .then(
            _quoted_if(
                DATE_OR_WORD, label, raw, " kan inte läsas", _unreadable(source, "ett datum")
            )
        )
        .when(pl.col(parsed).is_not_null() & ~pl.col(parsed).is_between(earliest, latest))
        .then(_quoted_if(DATE_LIKE, label, raw, " är orimligt", f"{label} är orimligt"))
    )


def _served_before_notice(event: pl.Expr) -> pl.Expr:
    """A termination notice served before its own date: the 3 weeks to pay run from
    service, so such a deadline would have passed before the notice reached us."""
    served, dated = pl.col("service_date"), pl.col("event_date")
    return pl.when(
        (event == EventType.TERMINATION_NOTICE.value)
        & (pl.col("_service_date") < pl.col("_event_date"))
    ).then(
        pl.concat_str(
            [
                _quoted_if(DATE_LIKE, "delgivningsdatumet", served, "", "delgivningsdatumet"),
                pl.lit(" är före "),
                _quoted_if(DATE_LIKE, "uppsägningens datum", dated, "", "uppsägningens datum"),
                pl.lit(": uppsägningen kan inte ha delgivits innan den skrevs"),
            ]
        )
    )


#: Less than this far from a whole number of öre is float noise (Excel's 0.1 + 0.2), not öre.
_ORE_TOLERANCE = 1e-4


def _amount_reasons(label: str, source: str, parsed: str) -> list[pl.Expr]:
    """Why an amount cell cannot be used: not a number, negative, absurdly big, or finer
    than öre (``0,001`` would otherwise be rounded to 0 kr without a word)."""
    raw, value = pl.col(source), pl.col(parsed)
    return [
        pl.when(raw.is_not_null() & value.is_null()).then(
            _quoted_if(
                AMOUNT_LIKE,
                label,
                raw,
                " är inte ett belopp",
                _unreadable(source, "ett belopp"),
            )
        ),
        pl.when(value < 0).then(pl.lit(f"{label} är negativ")),
        pl.when(value > MAX_AMOUNT).then(pl.lit(f"{label} är orimligt stor")),
        pl.when(((value * 100).round(0) - value * 100).abs() > _ORE_TOLERANCE).then(
            _quoted_if(
                AMOUNT_LIKE,
                label,
                raw,
                " har fler än två decimaler (skriv kronor och ören)",
                f"{label} har fler än två decimaler",
            )
        ),
    ]


def to_notice_rows(accepted: pl.DataFrame) -> list[NoticeRow]:
    """The accepted frame as validated pydantic rows (the model contract; small frames only)."""
    from decimal import Decimal

    rows = []
    for record in accepted.iter_rows(named=True):
        for money in ("debt_amount", "monthly_rent"):
            if record[money] is not None:
                record[money] = Decimal(str(record[money])).quantize(Decimal("0.01"))
        rows.append(NoticeRow.model_validate(record))
    return rows


def event_word_meanings(
    raw: pl.DataFrame, mapping: HeaderMapping, events: Mapping[str, str]
) -> list[tuple[str, int, str]]:
    """(event word as written, rows, meaning in Swedish) for ``companies check``."""
    source = mapping.fields.get("event_type")
    if source is None:
        return []
    counts = (
        raw.select(_blank_to_null(pl.col(source).cast(pl.String)).alias("event_type"))
        .drop_nulls()
        .group_by("event_type")
        .len()
        .sort("event_type")
    )
    looked = event_lookup(counts["event_type"].to_list(), events)
    result = []
    for (word, rows), event, ambiguous in zip(
        counts.iter_rows(), looked["_event"], looked["_event_ambiguous"], strict=True
    ):
        if event == BARE_EVICTION:
            meaning = (
                "bokad avhysning (eviction_scheduled) när raden har avhysningsdatum och "
                "klockslag, annars avvisas raden"
            )
        elif event == "out_of_scope":
            meaning = "gäller inte hyresskuld: avvisas"
        elif event is not None:
            meaning = f"{EVENT_LABEL_SV[EventType(event)]} ({event})"
        elif ambiguous is not None:
            meaning = f"tvetydig ({ambiguous}): avvisas"
        else:
            meaning = "okänd: avvisas (mappa ordet under events i config.toml)"
        result.append((str(word), int(rows), meaning))
    return result
