"""Reading a housing company's notice rows: headers, event words, values, validation.

Every company exports something different. This module turns a frame of raw
strings (as read by :mod:`connectors.notice_files`) into canonical notice rows
(the fields of :class:`domain.vocabulary.NoticeRow`) and rejected rows with a row
number and a reason in plain Swedish. All per-row work is done with polars
expressions so a file of a million rows takes seconds, not minutes.

No I/O, no database: the functions take frames and return frames.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from domain.vocabulary import EventType, NoticeRow
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
        "medkontraktsinnehavare", "cotenant", "cotenantname",
    ),
    "co_tenant_personnummer": (
        "medhyresgästpnr", "medhyresgästpersonnummer", "pnrmedhyresgäst",
        "personnummermedhyresgäst", "personnummer2", "pnr2", "cotenantpersonnummer",
    ),
    "street_address": (
        "adress", "gatuadress", "utdelningsadress", "lägenhetsadress", "address", "street",
    ),
    "apartment": (
        "lghnr", "lgh", "lägenhetsnummer", "lägenhet", "lägenhetsnr", "lghnummer",
        "objektsnummer", "objektnr", "objektsnr", "objekt",
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
    """A header name reduced to lower-case letters and digits: ``"Lgh nr."`` -> ``"lghnr"``."""
    text = unicodedata.normalize("NFC", str(text)).strip().lower()
    return "".join(ch for ch in text if ch.isalnum())


def event_token(text: str) -> str:
    """An event word in lower case with single spaces and no trailing punctuation."""
    text = unicodedata.normalize("NFC", str(text)).strip().lower()
    return re.sub(r"\s+", " ", text).strip(" .:")


def _alias_table() -> dict[str, str]:
    """Normalised header token -> canonical field, built once at import."""
    table: dict[str, str] = {}
    for field_name, aliases in _HEADER_ALIASES.items():
        table[header_token(field_name)] = field_name
        for alias in aliases:
            table.setdefault(header_token(alias), field_name)
    return table


_ALIASES = _alias_table()


def default_event_words() -> dict[str, str]:
    """Event words recognised without configuration, word -> canonical event type."""
    words = {event_token(e.value): e.value for e in EventType}
    for event, aliases in _EVENT_WORDS.items():
        for alias in aliases:
            words[event_token(alias)] = str(event)
    return words


def validate_company_mapping(columns: Mapping[str, str], events: Mapping[str, str]) -> None:
    """Raise NoticeFormatError when a configured mapping names an unknown canonical field."""
    for header, target in columns.items():
        if target not in CANONICAL_FIELDS and target != "ignore":
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

    fields: dict[str, str]  # canonical field -> source header
    unused: list[str] = field(default_factory=list)

    def missing(self) -> list[str]:
        """Required canonical fields without a column."""
        gone = [name for name in REQUIRED_COLUMNS if name not in self.fields]
        if not any(name in self.fields for name in IDENTITY_COLUMNS):
            gone.append(" eller ".join(IDENTITY_COLUMNS))
        return gone


def map_headers(headers: Sequence[str], columns: Mapping[str, str] | None = None) -> HeaderMapping:
    """Map a file's headers to canonical fields: the company's mapping first, then aliases."""
    configured = {header_token(k): v for k, v in (columns or {}).items()}
    fields: dict[str, str] = {}
    unused: list[str] = []
    for header in headers:
        token = header_token(header)
        target = configured.get(token) or _ALIASES.get(token)
        if target is None or target == "ignore" or target in fields:
            unused.append(header)
            continue
        fields[target] = header
    return HeaderMapping(fields=fields, unused=unused)


def header_score(cells: Sequence[str | None], columns: Mapping[str, str] | None = None) -> int:
    """How many cells of a row are recognised header names: finds the header row in a file."""
    configured = {header_token(k) for k in (columns or {})}
    tokens = {header_token(c) for c in cells if c}
    return sum(1 for t in tokens if t in _ALIASES or t in configured)


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
    """Rename mapped source columns to canonical names; absent fields become null strings."""
    exprs = []
    for name in CANONICAL_FIELDS:
        source = mapping.fields.get(name)
        if source is None:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
        else:
            exprs.append(_blank_to_null(pl.col(source).cast(pl.String)).alias(name))
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

    words = default_event_words()
    words.update({event_token(k): v for k, v in options.events.items()})
    for word in _OUT_OF_SCOPE_WORDS:
        words.setdefault(event_token(word), "out_of_scope")
    word_frame = pl.DataFrame(
        {"_event_token": list(words), "_event": list(words.values())},
        schema={"_event_token": pl.String, "_event": pl.String},
    )
    frame = frame.with_columns(
        pl.col("event_type")
        .str.to_lowercase()
        .str.replace_all(r"\s+", " ")
        .str.strip_chars(" .:")
        .alias("_event_token")
    ).join(word_frame, on="_event_token", how="left", maintain_order="left")
    # Any other word about disturbance (störningsanmälan, störande beteende ...) is out of scope.
    frame = frame.with_columns(
        _event=pl.when(pl.col("_event").is_null() & pl.col("_event_token").str.contains("stör"))
        .then(pl.lit("out_of_scope"))
        .otherwise(pl.col("_event"))
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
    event = pl.col("_event")
    reasons: list[pl.Expr] = [
        pl.when(pl.col("event_type").is_null()).then(pl.lit("händelse saknas")),
        pl.when(pl.col("event_type").is_not_null() & event.is_null()).then(
            _quoted("okänd händelse", pl.col("event_type"))
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
                DATE_LIKE,
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
            _quoted_if(DATE_LIKE, label, raw, " kan inte läsas", _unreadable(source, "ett datum"))
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
