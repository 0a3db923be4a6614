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


#: Relation words case systems use, mapped to partner / adult / child.
RELATIONS = {
    "partner": "partner", "make": "partner", "maka": "partner", "sambo": "partner",
    "registrerad partner": "partner", "spouse": "partner",
    "adult": "adult", "vuxen": "adult", "vuxet barn": "adult", "förälder": "adult",
    "child": "child", "barn": "child", "minderårig": "child", "child_alternating": "child",
    "växelvis boende barn": "child",
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
        raise RegisterError(f"case register: {without.height} case(s) without case_id (row {rows})")
    duplicated = cases.group_by("case_id").len().filter(pl.col("len") > 1)
    if duplicated.height:
        example = duplicated.sort("case_id")["case_id"][0]
        raise RegisterError(
            f"case register: {duplicated.height} case_id value(s) appear more than once "
            f"(e.g. {example!r})"
        )


def prepare_cases(cases: pl.DataFrame, taken_on: date) -> pl.DataFrame:
    """Cases with the personnummer normalised to 12 digits (kept even when invalid)."""
    return add_identity(cases, "personnummer", taken_on, "n").with_columns(
        pl.coalesce("n_pnr", pl.col("personnummer")).str.slice(0, 12).alias("personnummer"),
        pl.col("n_valid").alias("valid"),
    )


def prepare_household(household: pl.DataFrame, taken_on: date) -> pl.DataFrame:
    """Members with relation mapped, birth date known and children stripped to the minimum."""
    relation = pl.col("relation").str.to_lowercase().str.strip_chars()
    frame = add_identity(household, "personnummer", taken_on, "n").with_columns(
        relation.replace_strict(RELATIONS, default=None).alias("relation_mapped"),
        relation.alias("relation_raw"),
    )
    unknown = frame.filter(pl.col("relation_mapped").is_null())["relation_raw"].unique()
    if unknown.len():
        shown = ", ".join(repr(v) for v in unknown.drop_nulls().sort().head(5).to_list())
        raise RegisterError(
            f"household register: unknown relation value(s) {shown or 'empty'}; "
            "use partner, adult or child"
        )
    frame = frame.with_columns(
        pl.coalesce(
            pl.col("birth_date").str.to_date("%Y-%m-%d", strict=False), pl.col("n_birth")
        ).alias("birth"),
        pl.col("relation_mapped").alias("relation"),
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
    )
