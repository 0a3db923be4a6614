"""Reading the social-services case register: export files (CSV/XLSX) or a SQL source.

Every case system exports differently, so the columns are mapped in config.toml
(``[cases] columns`` and ``household_columns``: canonical name = the export's
header). The result is always a frame of strings with the canonical column names;
the import stage normalises the values. Error messages are one Swedish line (as the
notice files' are) naming files, fields and headers, never the data in them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import polars as pl
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from domain.headers import HeaderTable, plain_token
from domain.register import RegisterError
from models.config import RegisterConfig
from models.errors import one_line_without_values

CASE_COLUMNS = (
    "case_id",
    "personnummer",
    "name",
    "street_address",
    "apartment",
    "postal_code",
    "unit",
    "caseworker_id",
    "caseworker_name",
    "caseworker_email",
    "language",
)
CASE_REQUIRED = ("case_id", "personnummer")
HOUSEHOLD_COLUMNS = ("case_id", "personnummer", "name", "relation", "birth_date")
HOUSEHOLD_REQUIRED = ("case_id", "relation")
#: Swedish names of the canonical fields, for error messages the staff can act on.
FIELD_LABEL_SV = {
    "case_id": "ärende-id", "personnummer": "personnummer", "name": "namn",
    "street_address": "gatuadress", "apartment": "lägenhetsnummer", "postal_code": "postnummer",
    "unit": "enhet", "caseworker_id": "handläggare", "caseworker_name": "handläggarens namn",
    "caseworker_email": "handläggarens e-post", "language": "språk", "relation": "relation",
    "birth_date": "födelsedatum",
}  # fmt: skip


#: Headers case systems use, recognised without configuration (compared as in
#: :mod:`domain.headers`: case, å/ä/ö, punctuation and abbreviations do not matter).
#: ``first_name`` and ``last_name`` are joined into ``name``.
CASE_ALIASES: dict[str, tuple[str, ...]] = {
    "case_id": (
        "ärendenr", "ärendenummer", "ärende id", "ärende", "aktnr", "aktnummer", "akt",
        "personakt", "case", "case no", "case number",
    ),
    "personnummer": (
        "pnr", "personnr", "klient pnr", "klientens personnummer", "klient personnummer",
        "ssn", "samordningsnummer", "idnummer", "person id",
    ),
    "name": ("namn", "klientnamn", "klientens namn", "fullständigt namn", "full name"),
    "first_name": ("förnamn", "first name", "given name", "tilltalsnamn", "klient förnamn"),
    "last_name": ("efternamn", "last name", "surname", "family name", "klient efternamn"),
    "street_address": (
        "adress", "gatuadress", "folkbokföringsadress", "bostadsadress", "address", "street",
    ),
    "apartment": ("lgh", "lgh nr", "lägenhetsnummer", "lägenhet", "lägenhetsnr", "apartment"),
    "postal_code": ("postnr", "postnummer", "zip", "postal code"),
    "unit": ("enhet", "sektion", "avdelning", "team", "unit"),
    "caseworker_id": (
        "handläggare", "handläggar id", "handläggarsignatur", "signatur", "caseworker",
    ),
    "caseworker_name": (
        "handläggarnamn", "handläggarens namn", "handläggare namn", "caseworker name",
    ),
    "caseworker_email": (
        "handläggare epost", "handläggarens epost", "handläggare mejl", "caseworker email",
    ),
    "language": ("språk", "language"),
    "relation": ("relation", "relationstyp", "roll", "relation till klient", "hushållsroll"),
    "birth_date": ("födelsedatum", "född", "födelsedag", "birth date", "date of birth"),
}  # fmt: skip
_CASE_HEADERS = HeaderTable(CASE_ALIASES)
#: Fields read from two columns when the export has no single one.
NAME_PARTS = {"name": ("first_name", "last_name")}


def _decode(raw: bytes, path: Path) -> str:
    """Strict UTF-8 (with or without BOM) first, then Windows-1252: never a lossy read."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            raise RegisterError(
                f"{path.name}: filen är varken UTF-8- eller Windows-1252-text"
            ) from None


def read_table(path: Path) -> pl.DataFrame:
    """All cells as strings, from CSV (; , or tab separated) or XLSX."""
    if not path.exists():
        raise RegisterError(f"{path}: filen finns inte")
    if path.suffix.lower() in {".xlsx", ".xlsm", ".xls"}:
        try:
            frame = pl.read_excel(path, engine="calamine", infer_schema_length=0)
        except Exception as exc:  # noqa: BLE001 - any reader failure is one line
            raise RegisterError(
                f"{path.name}: kalkylarket går inte att läsa ({type(exc).__name__})"
            ) from None
        return frame.with_columns(pl.all().cast(pl.String))
    content = _decode(path.read_bytes(), path)
    header = content.split("\n", 1)[0]
    separator = max((";", ",", "\t"), key=header.count)
    try:
        return pl.read_csv(
            content.encode("utf-8"),
            separator=separator,
            infer_schema=False,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise RegisterError(
            f"{path.name}: ingen läsbar CSV-fil ({one_line_without_values(exc)})"
        ) from None


def missing_columns_message(
    source: str,
    missing: list[str],
    mapping: Mapping[str, str | list[str]],
    headers: list[str],
    found_in: str = "rubriker i filen",
) -> str:
    """One Swedish line: the file, each missing field (and its mapped header), the headers found.

    Worded like the notice files' (``domain.notices.require_columns``), so that staff
    read the same kind of message whichever file was wrong.
    """
    names = []
    for field in missing:
        label = f"{FIELD_LABEL_SV.get(field, field)} ({field}"
        configured = mapping.get(field, field)
        if configured != field:
            shown = (
                " + ".join(repr(h) for h in configured)
                if isinstance(configured, list)
                else repr(configured)
            )
            label += f", rubriken {shown} enligt config.toml"
        names.append(label + ")")
    found = ", ".join(repr(h) for h in headers) or "inga"
    return f"{source}: kolumn saknas för {', '.join(names)}; {found_in}: {found}"


def resolve_headers(
    headers: list[str], mapping: Mapping[str, str | list[str]], columns: tuple[str, ...]
) -> dict[str, list[str]]:
    """Canonical field -> the export's header(s), from config.toml first, then recognised.

    A field configured as a list of headers is read from all of them, joined with a
    space (``name = ["Förnamn", "Efternamn"]``). An unconfigured field is recognised by
    its usual headers; a name in two columns (first name, last name) becomes ``name``.
    A configured header that is not in the file leaves the field missing (never guessed).
    """
    by_token = {plain_token(h): h for h in reversed(headers)}
    found: dict[str, list[str]] = {}
    used: set[str] = set()
    for field, configured in mapping.items():
        wanted = configured if isinstance(configured, list) else [configured]
        present = [by_token[plain_token(w)] for w in wanted if plain_token(w) in by_token]
        if len(present) == len(wanted):
            found[field] = present
            used.update(present)
    recognised: dict[str, list[str]] = {}
    for header in headers:
        known_as = _CASE_HEADERS.field_of(header)
        if known_as is not None and header not in used and known_as not in mapping:
            recognised.setdefault(known_as, []).append(header)
    for field in (*columns, "first_name", "last_name"):
        if field in recognised and field not in found:
            found[field] = recognised[field][:1]
    for field, parts in NAME_PARTS.items():
        if field in columns and field not in found and all(p in found for p in parts):
            found[field] = [found[p][0] for p in parts]
    return {field: heads for field, heads in found.items() if field in columns}


def _canonical(
    frame: pl.DataFrame,
    mapping: Mapping[str, str | list[str]],
    columns: tuple[str, ...],
    required: tuple[str, ...],
    source: str,
    found_in: str = "rubriker i filen",
) -> pl.DataFrame:
    """Take the mapped or recognised headers as canonical fields, check the required ones,
    add the rest empty."""
    frame = frame.rename({c: c.strip().lstrip("\ufeff") for c in frame.columns})
    headers = list(frame.columns)
    sources = resolve_headers(headers, mapping, columns)
    missing = [c for c in required if c not in sources]
    if missing:
        raise RegisterError(missing_columns_message(source, missing, mapping, headers, found_in))

    def cell(header: str) -> pl.Expr:
        text = pl.col(header).cast(pl.String).str.strip_chars()
        return pl.when(text.str.len_chars() > 0).then(text)

    exprs = []
    for name in columns:
        heads = sources.get(name)
        if not heads:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
        elif len(heads) == 1:
            exprs.append(cell(heads[0]).alias(name))
        else:
            joined = pl.concat_str([cell(h) for h in heads], separator=" ", ignore_nulls=True)
            exprs.append(pl.when(joined.str.len_chars() > 0).then(joined).alias(name))
    frame = frame.select(exprs)
    # A spreadsheet that stored YYMMDDNNNC as a number dropped the leading zero of people
    # born 2000-2009: nine bare digits get it back (the Luhn check still decides validity).
    number = pl.col("personnummer")
    return frame.with_columns(
        pl.when(number.str.contains(r"^\d{9}$"))
        .then(number.str.zfill(10))
        .otherwise(number)
        .alias("personnummer")
    )


def read_cases_file(path: Path, config: RegisterConfig) -> pl.DataFrame:
    """The cases export as canonical string columns."""
    return _canonical(read_table(path), config.columns, CASE_COLUMNS, CASE_REQUIRED, path.name)


def read_household_file(path: Path, config: RegisterConfig) -> pl.DataFrame:
    """The household-members export as canonical string columns."""
    return _canonical(
        read_table(path),
        config.household_columns,
        HOUSEHOLD_COLUMNS,
        HOUSEHOLD_REQUIRED,
        path.name,
    )


_SQL_FOUND = "kolumner i frågans svar"


def _query(url: str, query: str) -> pl.DataFrame:
    try:
        engine = create_engine(url, hide_parameters=True)
        try:
            with engine.connect() as connection:
                result = connection.execute(text(query))
                names = list(result.keys())
                rows = result.fetchall()
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        kind = type(getattr(exc, "orig", None) or exc).__name__
        raise RegisterError(f"ärenderegistrets SQL-källa gick inte att läsa ({kind})") from None
    except ImportError as exc:  # the URL names a database whose driver is not installed
        raise RegisterError(
            "ärenderegistrets SQL-källa gick inte att läsa: drivrutinen "
            f"{exc.name or ''} för databasen i cases.sql_url är inte installerad"
        ) from None
    data = {
        name: [None if row[i] is None else str(row[i]) for row in rows]
        for i, name in enumerate(names)
    }
    return pl.DataFrame(data, schema={name: pl.String for name in names})


def read_sql(config: RegisterConfig) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Cases (and household members, when a query is configured) from the case system."""
    if not config.sql_url or not config.sql_query:
        raise RegisterError(
            "ingen registerfil angiven och ingen SQL-källa inställd "
            "(cases.sql_url, cases.sql_query i config.toml)"
        )
    cases = _canonical(
        _query(config.sql_url, config.sql_query),
        config.columns,
        CASE_COLUMNS,
        CASE_REQUIRED,
        "cases.sql_query",
        _SQL_FOUND,
    )
    household = None
    if config.sql_household_query:
        household = _canonical(
            _query(config.sql_url, config.sql_household_query),
            config.household_columns,
            HOUSEHOLD_COLUMNS,
            HOUSEHOLD_REQUIRED,
            "cases.sql_household_query",
            _SQL_FOUND,
        )
    return cases, household


def content_hash(cases: pl.DataFrame, household: pl.DataFrame | None) -> str:
    """SHA-256 of the canonical content: the same register exported twice hashes the same."""
    digest = hashlib.sha256()
    digest.update(cases.sort(cases.columns, nulls_last=True).write_csv().encode("utf-8"))
    if household is not None:
        ordered = household.sort(household.columns, nulls_last=True)
        digest.update(b"\x00household\x00")
        digest.update(ordered.write_csv().encode("utf-8"))
    return digest.hexdigest()
