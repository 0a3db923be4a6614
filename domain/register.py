"""The case register as data: relations, children, case ids, normalised numbers.

Pure polars functions shared by the import stage and the stateless ``match-files``
command, so that both read a register export the same way.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from domain.matching import add_identity, is_child_expr
from models.errors import KvarboendeError


class RegisterError(KvarboendeError):
    """The register export cannot be used; one line naming the problem, never the data."""


#: Relation words case systems use, mapped to partner / adult / child. A word not in
#: the list is guessed from the birth date (under 18: child, else adult) and counted.
RELATIONS = {
    "partner": "partner", "make": "partner", "maka": "partner", "sambo": "partner",
    "registrerad partner": "partner", "reg partner": "partner", "äkta make": "partner",
    "äkta maka": "partner", "hustru": "partner", "fru": "partner", "spouse": "partner",
    "child": "child", "barn": "child", "son": "child", "dotter": "child",
    "styvbarn": "child", "styvson": "child", "styvdotter": "child", "fosterbarn": "child",
    "fosterson": "child", "fosterdotter": "child", "bonusbarn": "child",
    "adoptivbarn": "child", "minderårig": "child", "child_alternating": "child",
    "växelvis boende barn": "child", "växelvis boende": "child",
    "adult": "adult", "vuxen": "adult", "vuxet barn": "adult", "förälder": "adult",
    "mor": "adult", "far": "adult", "mamma": "adult", "pappa": "adult",
    "syskon": "adult", "bror": "adult", "syster": "adult", "kusin": "adult",
    "mormor": "adult", "morfar": "adult", "farmor": "adult", "farfar": "adult",
    "barnbarn": "adult", "släkting": "adult", "inneboende": "adult", "annan": "adult",
    "övrig": "adult", "övrigt": "adult", "annan vuxen": "adult",
}  # fmt: skip


def empty_household() -> pl.DataFrame:
    return pl.DataFrame(
        schema={c: pl.String for c in ("case_id", "personnummer", "name", "relation", "birth_date")}
    )


def check_case_ids(cases: pl.DataFrame) -> None:
    """Every case has an id, and each id appears once: the id is how members find their case."""
    without = cases.with_row_index("row", offset=1).filter(pl.col("case_id").is_null())
    if without.height:
        rows = ", ".join(str(r) for r in without["row"].head(5).to_list())
        raise RegisterError(
            f"ärenderegistret: {without.height} ärende(n) utan ärende-id (case_id) (rad {rows})"
        )
    duplicated = cases.group_by("case_id").len().filter(pl.col("len") > 1)
    if duplicated.height:
        example = duplicated.sort("case_id")["case_id"][0]
        raise RegisterError(
            f"ärenderegistret: {duplicated.height} ärende-id (case_id) finns mer än en gång "
            f"(t.ex. {example!r})"
        )


def prepare_cases(cases: pl.DataFrame, taken_on: date) -> pl.DataFrame:
    """Cases with the personnummer normalised to 12 digits (kept even when invalid)."""
    return add_identity(cases, "personnummer", taken_on, "n").with_columns(
        pl.coalesce("n_pnr", pl.col("personnummer")).str.slice(0, 12).alias("personnummer"),
        pl.col("n_valid").alias("valid"),
    )


def relation_key(expr: pl.Expr) -> pl.Expr:
    """A relation word made comparable: lower case, no dots, single spaces (``Reg. partner``)."""
    return (
        expr.cast(pl.String)
        .str.to_lowercase()
        .str.replace_all(r"[._]+", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def prepare_household(household: pl.DataFrame, taken_on: date) -> pl.DataFrame:
    """Members with relation mapped, birth date known and children stripped to the minimum.

    An unknown or empty relation word never stops the import: the member is guessed
    from the birth date (under 18: child, else, or with no birth date, adult) and
    flagged ``relation_guessed`` so the import can count them. Under 18 is a child
    whatever the relation says.
    """
    raw = relation_key(pl.col("relation"))
    mapped = raw.replace_strict(
        {key.replace("_", " "): value for key, value in RELATIONS.items()},
        default=None,
        return_dtype=pl.String,
    )
    frame = add_identity(household, "personnummer", taken_on, "n").with_columns(
        mapped.alias("relation_mapped"),
        pl.coalesce(
            pl.col("birth_date").cast(pl.String).str.to_date("%Y-%m-%d", strict=False),
            pl.col("n_birth"),
        ).alias("birth"),
    )
    # Only used where relation_mapped is null, so this is the birth date alone.
    under_age = is_child_expr("relation_mapped", "birth", taken_on)
    frame = frame.with_columns(
        pl.col("relation_mapped").is_null().alias("relation_guessed"),
        pl.coalesce(
            "relation_mapped", pl.when(under_age).then(pl.lit("child")).otherwise(pl.lit("adult"))
        ).alias("relation"),
    ).with_columns(is_child_expr("relation", "birth", taken_on).alias("is_child"))
    return frame.select(
        "case_id",
        pl.when(pl.col("is_child"))
        .then(None)
        .otherwise(pl.coalesce("n_pnr", pl.col("personnummer")).str.slice(0, 12))
        .alias("personnummer"),
        pl.when(pl.col("is_child")).then(None).otherwise(pl.col("name")).alias("name"),
        pl.when(pl.col("is_child")).then(pl.lit("child")).otherwise("relation").alias("relation"),
        pl.col("birth").alias("birth_date"),
        "is_child",
        pl.col("n_valid").alias("valid"),
        "relation_guessed",
    )


#: Fields matching uses beyond the personnummer: without them matches are lost quietly.
USEFUL_FIELDS: dict[str, str] = {
    "name": "namn",
    "street_address": "adress",
    "apartment": "lägenhetsnummer",
}


def missing_useful(cases: pl.DataFrame) -> dict[str, int]:
    """``without_<field>``: how many cases lack each field matching uses (counts only)."""
    counts = cases.select(
        [pl.col(name).is_null().sum().alias(f"without_{name}") for name in USEFUL_FIELDS]
    ).row(0, named=True)
    return {key: int(value) for key, value in counts.items()}


def missing_useful_line(counts: dict[str, int], total: int) -> str | None:
    """One line per import naming what matching will miss: None when nothing is missing."""
    parts = []
    for name, label in USEFUL_FIELDS.items():
        without = counts.get(f"without_{name}", 0)
        if not without:
            continue
        if without == total:
            parts.append(
                f"{label} saknas för alla {total} ärenden (ingen kolumn känns igen: "
                f'mappa den under [cases] columns, t.ex. {name} = "Rubrik")'
            )
        else:
            parts.append(f"{label} saknas för {without} av {total} ärenden")
    if not parts:
        return None
    return "Matchningen blir sämre: " + "; ".join(parts) + "."
