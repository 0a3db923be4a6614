"""Matching notices against the social-services case register, in tiers with reasons.

A wrong match tells a caseworker about a stranger and hides the advisor's letter from
someone who needs it; a missed match sends a letter to a person who already has a
caseworker. So every decision is explained and only strong evidence is auto-accepted:

* **certain**: a valid personnummer/samordningsnummer equal to a client's or an adult
  household member's number (unless neither name nor address agrees at all: numbers
  are reused, so that goes to review).
* **probable**: no exact valid number, but a broken (Luhn-failing) number one digit
  or one adjacent swap away with a name that agrees (typos, swapped order, mojibake
  and å/ä/ö folding allowed) or with a changed surname at the same address and
  apartment. The same birth date with another number is at most possible, even with
  the same name and flat: twins share all that (and a typo in a twin's own number
  makes it neither valid nor near). Auto-accepted only when the score reaches the
  calibrated threshold (``cases.probable_threshold``), and only when no other case is
  as likely.
* **possible**: weaker agreement that a person must confirm (same address and
  apartment with a similar name, also without any number; name and birth date at
  another address; two different valid numbers with the same birth date and home …).
* **none**.

Everything is done on whole polars frames: normalisation with expressions, candidate
pairs from blocking joins (exact number, one-digit/swap variants of broken numbers,
birth date + name token, address + apartment), string similarity with
``rapidfuzz.process.cpdist`` over the pair columns, and the decision as expressions.
No Python loop runs per row, except ftfy on the few strings that look like mojibake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ftfy
import polars as pl
from rapidfuzz import fuzz, process

from domain.vocabulary import MatchDecision, MatchTier, Routing

TIER_RANK = {"certain": 3, "probable": 2, "possible": 1, "none": 0}
#: Default probable threshold; calibrated with bench/matching.py (see its docstring).
DEFAULT_PROBABLE_THRESHOLD = 0.72
#: Name similarity (rapidfuzz token_sort_ratio, 0-100) that counts as the same name.
NAME_STRONG = 85.0
#: Name similarity that counts as the same name written the same way (after normalising).
NAME_IDENTICAL = 95.0
#: Name similarity that counts as a similar name (also when one name token is shared).
NAME_PARTIAL = 70.0
#: The name part's score for a double name with one part left out (a strong name) ...
NAME_DOUBLE = 90.0
#: ... and for a changed surname (a similar name: probable only at the same home).
NAME_SURNAME = 80.0
ADULT_RELATIONS = ("client", "partner", "adult")

_FOLD = {
    "å": "a", "ä": "a", "ö": "o", "æ": "a", "ø": "o", "é": "e", "è": "e", "ê": "e",
    "ë": "e", "á": "a", "à": "a", "â": "a", "ü": "u", "ú": "u", "í": "i", "ï": "i",
    "ó": "o", "ô": "o", "ç": "c", "ñ": "n", "š": "s", "ž": "z", "ß": "ss",
}  # fmt: skip
#: What UTF-8 read as Latin-1/cp1252 leaves behind (å → Ã¥, ö → Ã¶, – → â€“).
_MOJIBAKE = ["Ã", "Â", "â€"]

NOTICE_COLUMNS = (
    "personnummer",
    "tenant_name",
    "co_tenant_personnummer",
    "co_tenant_name",
    "street_address",
    "apartment",
    "postal_code",
)


# --------------------------------------------------------------------------- identity


def _luhn_ok(ten: pl.Expr) -> pl.Expr:
    """Luhn check over a 10-digit string expression (the century is not part of it)."""
    total = pl.lit(0, dtype=pl.Int32)
    for index in range(10):
        digit = ten.str.slice(index, 1).cast(pl.Int32, strict=False)
        if index % 2 == 0:
            doubled = digit * 2
            digit = pl.when(doubled > 9).then(doubled - 9).otherwise(doubled)
        total = total + digit
    return (total % 10) == 0


def add_identity(frame: pl.DataFrame, column: str, today: date, prefix: str) -> pl.DataFrame:
    """Vectorised :func:`domain.identity.normalise`: 12 digits, validity, birth date.

    Adds ``{prefix}_pnr`` (12-digit string or null when the shape is wrong),
    ``{prefix}_valid``, ``{prefix}_coord`` (samordningsnummer) and ``{prefix}_birth``
    (the date in the number, also for numbers whose check digit is wrong: one wrong
    check digit must not hide the birth date from matching). Computed in steps that
    are materialised, because an eager expression would repeat the regex per use.
    """
    t = f"_{prefix}_"
    cleaned = pl.col(column).cast(pl.String).str.replace_all(r"[\s\u00a0]", "")
    frame = frame.with_columns(
        cleaned.str.extract_groups(r"^(\d{2})?(\d{6})([-+]?)(\d{4})$")
        .struct.rename_fields([f"{t}century", f"{t}yymmdd", f"{t}sep", f"{t}tail"])
        .alias(f"{t}groups")
    ).unnest(f"{t}groups")
    year = pl.col(f"{t}yymmdd").str.slice(0, 2).cast(pl.Int32, strict=False)
    year = year + (today.year // 100) * 100
    year = pl.when(year > today.year).then(year - 100).otherwise(year)
    year = pl.when(pl.col(f"{t}sep") == "+").then(year - 100).otherwise(year)
    century = pl.coalesce(f"{t}century", (year // 100).cast(pl.String).str.zfill(2))
    frame = frame.with_columns(
        pl.concat_str([century, pl.col(f"{t}yymmdd"), pl.col(f"{t}tail")]).alias(f"{prefix}_pnr")
    )
    digits = pl.col(f"{prefix}_pnr")
    frame = frame.with_columns(digits.str.slice(6, 2).cast(pl.Int32, strict=False).alias(f"{t}day"))
    day = pl.col(f"{t}day")
    real_day = pl.when(day > 60).then(day - 60).otherwise(day)
    frame = frame.with_columns(
        pl.concat_str([digits.str.slice(0, 6), real_day.cast(pl.String).str.zfill(2)])
        .str.to_date("%Y%m%d", strict=False)
        .alias(f"{prefix}_birth"),
        (day > 60).fill_null(False).alias(f"{prefix}_coord"),
    )
    frame = frame.with_columns(
        (_luhn_ok(digits.str.slice(2, 10)) & pl.col(f"{prefix}_birth").is_not_null())
        .fill_null(False)
        .alias(f"{prefix}_valid")
    )
    return frame.drop(f"{t}century", f"{t}yymmdd", f"{t}sep", f"{t}tail", f"{t}day")


# ------------------------------------------------------------------- names, addresses


def fix_mojibake(series: pl.Series) -> pl.Series:
    """Repair UTF-8 read as Latin-1 (``HÃ¤ggstrÃ¶m``) with ftfy, only where it looks broken."""
    suspicious = series.filter(series.str.contains_any(_MOJIBAKE).fill_null(False)).unique()
    if suspicious.len() == 0:
        return series
    fixed = [ftfy.fix_text(value) for value in suspicious.to_list()]
    return series.replace(suspicious, pl.Series(fixed, dtype=pl.String))


def _folded(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_lowercase().str.replace_many(list(_FOLD), list(_FOLD.values()))


def name_norm(expr: pl.Expr) -> pl.Expr:
    """Lower case, å/ä/ö folded, punctuation and hyphens to spaces: ``anna-karin oberg``."""
    return _folded(expr).str.replace_all(r"[^\p{L}]+", " ").str.strip_chars().fill_null("")


def _tokens(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.split(" ")
        .list.eval(pl.element().filter(pl.element().str.len_chars() >= 2))
        .list.unique()
    )


def add_address(frame: pl.DataFrame, street: str, apartment: str, postal: str) -> pl.DataFrame:
    """Adds street_key, house, apt and postal: the address made comparable.

    ``STORGATAN 12 A, lgh 1102`` and ``Storg. 12A`` give street ``storg``, house ``12a``
    (``Storg. 12`` is house ``12``: another entrance);
    ``lgh 1102`` and ``1102`` give apartment ``1102``; ``123 45`` gives ``12345``.
    """
    frame = frame.with_columns(_folded(pl.col(street).cast(pl.String)).alias("_folded_street"))
    folded = pl.col("_folded_street")
    frame = frame.with_columns(
        folded.str.extract(r"^([^\d]*)", 1)
        .str.replace_all(r"[^\p{L}]+", "")
        .alias("_street_letters"),
        # The house number with its letter: 150B is another entrance than 150.
        folded.str.extract(r"(\d+(?:\s?[a-z]\b)?)", 1).str.replace_all(" ", "").alias("house"),
        pl.coalesce(
            pl.col(apartment).cast(pl.String).str.replace_all(r"\D", ""),
            folded.str.extract(r"lgh\.?\s*(\d+)", 1),
        ).alias("apt"),
        pl.col(postal).cast(pl.String).str.replace_all(r"\D", "").alias("postal"),
    )
    letters = pl.col("_street_letters")
    street_key = (
        letters.str.replace(r"gatan$", "g").str.replace(r"vagen$", "v").str.replace(r"grand$", "gr")
    )

    def empty_to_null(expr: pl.Expr) -> pl.Expr:
        return pl.when(expr.str.len_chars() > 0).then(expr).otherwise(None)

    return frame.with_columns(
        empty_to_null(street_key).alias("street_key"),
        empty_to_null(pl.col("house")).alias("house"),
        empty_to_null(pl.col("apt")).alias("apt"),
        empty_to_null(pl.col("postal")).alias("postal"),
    ).drop("_folded_street", "_street_letters")


# ------------------------------------------------------------------------ preparation


def _ensure(df: pl.DataFrame, columns: tuple[str, ...] | list[str]) -> pl.DataFrame:
    missing = [c for c in columns if c not in df.columns]
    return df.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in missing])


def prepare_notices(notices: pl.DataFrame, today: date) -> pl.DataFrame:
    """One row per identity on a notice (tenant, and co-tenant when given), ready to match.

    ``notices`` needs an integer ``nid`` and the canonical notice columns (missing ones
    are treated as unknown). Returns nid, role, n_pnr, n_valid, n_coord, n_birth,
    n_name, n_tokens, street_key, house, apt, postal.
    """
    df = _ensure(notices, NOTICE_COLUMNS).select(
        "nid", *[pl.col(c).cast(pl.String) for c in NOTICE_COLUMNS]
    )
    df = df.with_columns(
        fix_mojibake(df["tenant_name"]),
        fix_mojibake(df["co_tenant_name"]),
        fix_mojibake(df["street_address"]),
    )
    df = add_address(df, "street_address", "apartment", "postal_code")
    keep = ["nid", "street_key", "house", "apt", "postal"]
    tenant = df.select(
        *keep,
        pl.lit("tenant").alias("role"),
        pl.col("personnummer").alias("raw_pnr"),
        pl.col("tenant_name").alias("raw_name"),
    )
    co_tenant = df.filter(
        pl.col("co_tenant_personnummer").is_not_null() | pl.col("co_tenant_name").is_not_null()
    ).select(
        *keep,
        pl.lit("co_tenant").alias("role"),
        pl.col("co_tenant_personnummer").alias("raw_pnr"),
        pl.col("co_tenant_name").alias("raw_name"),
    )
    both = pl.concat([tenant, co_tenant], how="vertical")
    return (
        add_identity(both, "raw_pnr", today, "n")
        .with_columns(
            name_norm(pl.col("raw_name")).alias("n_name"),
            # Written with ten digits: the century was chosen from the year digits, so a
            # typo there may have chosen the wrong one (see _near_variants).
            pl.col("raw_pnr")
            .cast(pl.String)
            .str.replace_all(r"[\s\u00a0]", "")
            .str.contains(r"^\d{6}[-+]?\d{4}$")
            .fill_null(False)
            .alias("n_ten"),
        )
        .select(
            "nid",
            "role",
            "n_pnr",
            pl.col("n_pnr").cast(pl.Int64, strict=False).alias("n_pnr_int"),
            "n_valid",
            "n_coord",
            "n_birth",
            "n_ten",
            "n_name",
            _tokens(pl.col("n_name")).alias("n_tokens"),
            "street_key",
            "house",
            "apt",
            "postal",
        )
    )


def is_child_expr(relation: str, birth: str, on: date, adult_age: int = 18) -> pl.Expr:
    """A child: relation ``child``, or a birth date less than ``adult_age`` years before ``on``."""
    try:
        cutoff = on.replace(year=on.year - adult_age)
    except ValueError:  # 29 February
        cutoff = on.replace(year=on.year - adult_age, day=28)
    return (pl.col(relation) == "child") | (pl.col(birth) > pl.lit(cutoff)).fill_null(False)


def prepare_register(cases: pl.DataFrame, members: pl.DataFrame, today: date) -> pl.DataFrame:
    """One row per adult person in the register (clients, partners, adult members).

    ``cases``: case_id (int), case_ref, personnummer, name, street_address, apartment,
    postal_code. ``members``: member_id (int), case_id, personnummer, name, relation,
    is_child (bool). Children are never match candidates: they are counted per case.
    Members live at their client's address.
    """
    cases = _ensure(cases, ["personnummer", "name", "street_address", "apartment", "postal_code"])
    cases = cases.with_columns(
        fix_mojibake(cases["name"].cast(pl.String)),
        fix_mojibake(cases["street_address"].cast(pl.String)),
    )
    cases = add_address(cases, "street_address", "apartment", "postal_code")
    address = cases.select("case_id", "street_key", "house", "apt", "postal")
    clients = cases.select(
        "case_id",
        "case_ref",
        pl.lit(None, dtype=pl.Int64).alias("member_id"),
        pl.lit("client").alias("relation"),
        pl.col("personnummer").cast(pl.String).alias("raw_pnr"),
        pl.col("name").cast(pl.String).alias("raw_name"),
        "street_key",
        "house",
        "apt",
        "postal",
    )
    adults = members.filter(~pl.col("is_child") & pl.col("relation").is_in(ADULT_RELATIONS))
    adults = adults.with_columns(fix_mojibake(adults["name"].cast(pl.String)))
    refs = cases.select("case_id", "case_ref")
    member_rows = (
        adults.select(
            pl.col("case_id").cast(cases.schema["case_id"]),
            pl.col("member_id").cast(pl.Int64),
            "relation",
            pl.col("personnummer").cast(pl.String).alias("raw_pnr"),
            pl.col("name").cast(pl.String).alias("raw_name"),
        )
        .join(refs, on="case_id", how="inner")
        .join(address, on="case_id", how="left")
        .select(clients.columns)
    )
    persons = pl.concat([clients, member_rows], how="vertical")
    return (
        add_identity(persons, "raw_pnr", today, "p")
        .with_columns(name_norm(pl.col("raw_name")).alias("p_name"))
        .with_row_index("pid")
        .select(
            pl.col("pid").cast(pl.Int64),
            "case_id",
            "case_ref",
            "member_id",
            "relation",
            "p_pnr",
            pl.col("p_pnr").cast(pl.Int64, strict=False).alias("p_pnr_int"),
            "p_valid",
            "p_birth",
            "p_name",
            _tokens(pl.col("p_name")).alias("p_tokens"),
            pl.col("street_key").alias("p_street_key"),
            pl.col("house").alias("p_house"),
            pl.col("apt").alias("p_apt"),
            pl.col("postal").alias("p_postal"),
        )
    )


@dataclass(frozen=True)
class Children:
    """What is known about an episode's children: how many, any at all, known or not."""

    count: int
    has_children: bool
    known: bool


UNKNOWN_CHILDREN = Children(0, False, False)


def children_after_match(
    register_children: pl.Expr, recorded_known: pl.Expr, recorded_count: pl.Expr
) -> list[pl.Expr]:
    """children_count, has_children, children_known of an episode matched to a case.

    Matched to a case, the household's children are known: the register's count, or
    what a person recorded before (``kvarboende record children``) when that is higher,
    because a child known from either source is a child. A count a person records is
    this rule with nothing from the register (:func:`recorded_children`).
    """
    count = pl.max_horizontal(
        register_children, pl.when(recorded_known).then(recorded_count).otherwise(0)
    )
    return [
        count.alias("children_count"),
        (count > 0).alias("has_children"),
        pl.lit(True).alias("children_known"),
    ]


def children_for(register_children: int, recorded_known: bool, recorded_count: int) -> Children:
    """:func:`children_after_match` for one episode (a match the advisor confirms)."""
    frame = pl.DataFrame(
        {"r": [register_children], "k": [recorded_known], "c": [recorded_count]},
        schema={"r": pl.Int64, "k": pl.Boolean, "c": pl.Int64},
    )
    row = frame.select(children_after_match(pl.col("r"), pl.col("k"), pl.col("c"))).row(0)
    return Children(int(row[0]), bool(row[1]), bool(row[2]))


def recorded_children(count: int) -> Children:
    """A count a person records replaces what was known (it may be lower: 0 is none)."""
    return children_for(0, True, count)


def children_per_case(members: pl.DataFrame) -> pl.DataFrame:
    """case_id and children_count (members flagged is_child), for priority and statistics."""
    return (
        members.filter(pl.col("is_child"))
        .group_by("case_id")
        .agg(pl.len().cast(pl.Int32).alias("children_count"))
    )


# -------------------------------------------------------------------------- candidates


def _ten_digits(identities: pl.DataFrame) -> pl.Expr:
    """Whether an identity's number was written with ten digits (False when not known)."""
    return pl.col("n_ten") if "n_ten" in identities.columns else pl.lit(False)


def _near_variants(identities: pl.DataFrame) -> pl.DataFrame:
    """Every number one digit or one adjacent swap away from a broken number.

    The variants are built on the digits as written. A number written with ten digits
    got its century from its year digits, so a typo there also chose the century: its
    variants are tried in both centuries (``910505`` for a person born 2001 is a typo in
    ``010505``, whose century is 20, not 19).
    """
    broken = identities.filter(pl.col("n_pnr_int").is_not_null() & ~pl.col("n_valid")).select(
        "nid", "role", "n_pnr_int", _ten_digits(identities).alias("_ten")
    )
    if broken.height == 0:
        return broken.with_columns(pl.lit(None, dtype=pl.Int64).alias("p_pnr_int"))
    positions = pl.DataFrame({"k": list(range(10))}, schema={"k": pl.Int64})
    new_digits = pl.DataFrame({"new": list(range(10))}, schema={"new": pl.Int64})
    value = pl.col("n_pnr_int")
    power = pl.lit(10, dtype=pl.Int64).pow(pl.col("k"))
    digit = (value // power) % 10
    substitutions = (
        broken.join(positions, how="cross")
        .join(new_digits, how="cross")
        .filter(pl.col("new") != digit)
        .select("nid", "role", (value + (pl.col("new") - digit) * power).alias("p_pnr_int"))
    )
    swap_positions = pl.DataFrame({"k": list(range(9))}, schema={"k": pl.Int64})
    upper = (value // (power * 10)) % 10
    swaps = (
        broken.join(swap_positions, how="cross")
        .filter(digit != upper)
        .select(
            "nid",
            "role",
            (value + (upper - digit) * power + (digit - upper) * power * 10).alias("p_pnr_int"),
        )
    )
    variants = pl.concat([substitutions, swaps], how="vertical")
    ten = broken.filter(pl.col("_ten")).select("nid", "role")
    if ten.height == 0:
        return variants
    century = pl.col("p_pnr_int") // 10**10
    other = (
        variants.join(ten, on=["nid", "role"], how="semi")
        .filter(century.is_in([19, 20]))
        .with_columns((pl.col("p_pnr_int") % 10**10 + (39 - century) * 10**10).alias("p_pnr_int"))
    )
    return pl.concat([variants, other], how="vertical")


def candidate_pairs(
    identities: pl.DataFrame,
    persons: pl.DataFrame,
    confirmed: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Candidate (nid, role, pid) pairs from the blocking joins, without duplicates.

    Blocks: the exact number; the variants of a broken number; birth date and one
    shared name token (for identities without an exact hit); street, house number and
    apartment (ditto); and previously confirmed (identity key, case) pairs (see
    :func:`identity_key`; ``identities`` then needs its ``n_key`` column).
    """
    key = ["nid", "role", "pid"]
    with_number = persons.filter(pl.col("p_pnr_int").is_not_null()).select("pid", "p_pnr_int")
    exact = identities.filter(pl.col("n_valid")).join(
        with_number, left_on="n_pnr_int", right_on="p_pnr_int", how="inner"
    )
    exact = exact.select(key)
    near = _near_variants(identities).join(with_number, on="p_pnr_int", how="inner").select(key)
    rest = identities.join(exact.select("nid").unique(), on="nid", how="anti")

    n_tokens = (
        rest.filter(pl.col("n_birth").is_not_null())
        .select("nid", "role", "n_birth", pl.col("n_tokens").alias("token"))
        .explode("token")
        .drop_nulls("token")
    )
    p_tokens = (
        persons.filter(pl.col("p_birth").is_not_null())
        .select("pid", "p_birth", pl.col("p_tokens").alias("token"))
        .explode("token")
        .drop_nulls("token")
    )
    by_birth = n_tokens.join(
        p_tokens, left_on=["n_birth", "token"], right_on=["p_birth", "token"], how="inner"
    ).select(key)

    by_address = []
    # The same street is required: postal code, house and flat number alone also pair
    # flats in other streets of the same postal area.
    for left, right in ((("street_key", "house", "apt"), ("p_street_key", "p_house", "p_apt")),):
        n_side = rest.drop_nulls(list(left)).select("nid", "role", *left)
        p_side = persons.drop_nulls(list(right)).select("pid", *right)
        by_address.append(
            n_side.join(p_side, left_on=list(left), right_on=list(right), how="inner").select(key)
        )
    parts = [exact, near, by_birth, *by_address]
    if confirmed is not None and confirmed.height:
        parts.append(
            identities.join(confirmed, on="n_key", how="inner")
            .join(
                persons.filter(pl.col("relation") == "client").select("pid", "case_ref"),
                on="case_ref",
                how="inner",
            )
            .select(key)
        )
    nid = identities.schema["nid"]
    return pl.concat(
        [p.cast({"nid": nid, "role": pl.String, "pid": pl.Int64}) for p in parts],
        how="vertical",
    ).unique(key)


# --------------------------------------------------------------------------- features


def _pnr_distance(pairs: pl.DataFrame) -> pl.DataFrame:
    """Digits that differ between the two numbers, and whether it is one adjacent swap."""
    n, p = pl.col("n_pnr_int"), pl.col("p_pnr_int")
    digits_n = [(n // 10**k) % 10 for k in range(10)]
    digits_p = [(p // 10**k) % 10 for k in range(10)]
    differs = [dn != dp for dn, dp in zip(digits_n, digits_p, strict=True)]
    # A century the number did not write (ten digits) is not a differing digit.
    ten = pl.col("n_ten").fill_null(False) if "n_ten" in pairs.columns else pl.lit(False)
    century = ((n // 10**10) != (p // 10**10)) & ~ten
    count = pl.sum_horizontal([d.cast(pl.Int32) for d in [*differs, century]])
    swap = pl.any_horizontal(
        [
            differs[k]
            & differs[k + 1]
            & (digits_n[k] == digits_p[k + 1])
            & (digits_n[k + 1] == digits_p[k])
            for k in range(9)
        ]
    )
    return pairs.with_columns(
        count.fill_null(99).alias("digits_differ"),
        (swap & (count == 2)).fill_null(False).alias("is_swap"),
    )


def score_pairs(pairs: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Evidence, tier, score and Swedish reasons for every candidate pair (vectorised)."""
    pairs = _pnr_distance(pairs)
    names_n = pairs["n_name"].fill_null("").to_list()
    names_p = pairs["p_name"].fill_null("").to_list()
    if pairs.height:
        similarity = pl.Series(
            "name_sim",
            process.cpdist(
                names_n, names_p, scorer=fuzz.token_sort_ratio, workers=-1, dtype="float32"
            ),
            dtype=pl.Float32,
        )
    else:
        similarity = pl.Series("name_sim", [], dtype=pl.Float32)
    pairs = pairs.with_columns(
        similarity,
        pl.col("n_tokens").list.set_intersection(pl.col("p_tokens")).list.len().alias("shared"),
        pl.col("n_tokens").list.len().alias("n_token_count"),
        pl.col("p_tokens").list.len().alias("_p_token_count"),
    )
    # Two ways one person's name is written that token_sort_ratio scores low (issue 16):
    # a double name with one part left out (every token of the shorter name, at least two,
    # in the longer one), and a changed surname (same first name, another last name).
    fewer = pl.min_horizontal("n_token_count", "_p_token_count")
    first_n = pl.col("n_name").str.extract(r"^(\S+)", 1)
    first_p = pl.col("p_name").str.extract(r"^(\S+)", 1)
    last_n = pl.col("n_name").str.extract(r"(\S+)$", 1)
    last_p = pl.col("p_name").str.extract(r"(\S+)$", 1)
    double = (
        (fewer >= 2)
        & (pl.col("shared") == fewer)
        & (pl.col("n_token_count") != pl.col("_p_token_count"))
    ).fill_null(False)
    surname = (
        (fewer >= 2)
        & (first_n == first_p)
        & (last_n != last_p)
        & (pl.col("name_sim") < NAME_STRONG)
    ).fill_null(False)
    pairs = pairs.with_columns(
        pl.when(double)
        .then(pl.lit("double"))
        .when(surname)
        .then(pl.lit("surname"))
        .otherwise(None)
        .alias("name_rule"),
    ).with_columns(
        # The name part of the score: a left-out double name counts as a strong name, a
        # changed surname as a similar one (enough for a probable match only at the same
        # home, see probable_candidate).
        pl.when(pl.col("name_rule") == "double")
        .then(pl.max_horizontal("name_sim", pl.lit(NAME_DOUBLE, dtype=pl.Float32)))
        .when(pl.col("name_rule") == "surname")
        .then(pl.max_horizontal("name_sim", pl.lit(NAME_SURNAME, dtype=pl.Float32)))
        .otherwise(pl.col("name_sim"))
        .alias("name_eff"),
    )
    apt_same = (pl.col("apt") == pl.col("p_apt")).fill_null(False)
    house_same = (pl.col("house") == pl.col("p_house")).fill_null(False)
    street_same = (pl.col("street_key") == pl.col("p_street_key")).fill_null(False)
    # Another postal code where both are given is another address, even with the same street.
    postal_ok = (pl.col("postal") == pl.col("p_postal")).fill_null(True)
    pairs = pairs.with_columns(
        pl.when(apt_same & house_same & street_same & postal_ok)
        .then(2)
        .when(street_same & house_same)
        .then(1)
        .otherwise(0)
        .alias("addr_level")
    )
    same_number = (pl.col("n_pnr_int") == pl.col("p_pnr_int")).fill_null(False)
    near = (
        pl.col("n_pnr_int").is_not_null()
        & ~pl.col("n_valid")
        & ((pl.col("digits_differ") == 1) | pl.col("is_swap"))
    )
    birth_same = (pl.col("n_birth") == pl.col("p_birth")).fill_null(False)
    evidence = (
        pl.when(pl.col("n_valid") & same_number)
        .then(pl.lit("exact"))
        .when(near)
        .then(pl.lit("near"))
        .when(birth_same)
        .then(pl.lit("birth"))
        .when(pl.col("n_pnr_int").is_null())
        .then(pl.lit("missing"))
        .otherwise(pl.lit("conflict"))
    )
    pairs = pairs.with_columns(evidence.alias("evidence"))
    ev = pl.col("evidence")
    name_absent = pl.col("n_name") == ""
    strong = pl.col("name_eff") >= NAME_STRONG
    identical = pl.col("name_sim") >= NAME_IDENTICAL
    partial = (pl.col("shared") >= 1) | (pl.col("name_eff") >= NAME_PARTIAL)
    home = pl.col("addr_level") == 2
    points = (
        pl.when(ev == "exact")
        .then(0.6)
        .when(ev == "near")
        .then(0.45)
        .when(ev == "birth")
        .then(0.25)
        .when(ev == "missing")
        .then(0.2)
        .otherwise(0.0)
    )
    score = (
        points
        + pl.col("name_eff").cast(pl.Float64) / 100 * 0.3
        + pl.when(home).then(0.1).when(pl.col("addr_level") == 1).then(0.05).otherwise(0.0)
    ).round(3)
    # Only a broken number one digit or one swap away is auto-accepted without an exact
    # number. The same birth date with another number is not: twins share birth date,
    # surname and flat, and a typo in a twin's own number must not make them the other
    # twin (bench/matching.py, hard case "twin"). No number and no birth date: a name
    # and a flat are a lead for the advisor, never auto-accepted.
    probable_candidate = (ev == "near") & (strong | (partial & home))
    possible = (
        (ev == "exact")
        | ((ev == "near") & partial)
        # Same birth date, another number, another home: only an identical name is worth a
        # look (a changed number); similar names born the same day are mostly strangers.
        # A broken number says less, so there a similar name is enough.
        | ((ev == "birth") & (identical | (partial & home) | (strong & ~pl.col("n_valid"))))
        | ((ev == "missing") & partial & home)
        | ((ev == "conflict") & partial & home)
    )
    pairs = pairs.with_columns(score.alias("score"), probable_candidate.alias("probable_cand"))
    tier = (
        pl.when((ev == "exact") & (partial | name_absent | (pl.col("addr_level") >= 1)))
        .then(pl.lit("certain"))
        .when(pl.col("probable_cand") & (pl.col("score") >= threshold))
        .then(pl.lit("probable"))
        .when(possible | pl.col("probable_cand"))
        .then(pl.lit("possible"))
        .otherwise(pl.lit("none"))
    )
    return pairs.with_columns(tier.alias("tier")).with_columns(_reasons().alias("reasons"))


def _reasons() -> pl.Expr:
    """Why: which fields agreed and how, in Swedish, without any personal data."""
    ev = pl.col("evidence")
    coordination = (
        pl.when(pl.col("n_coord")).then(pl.lit(" (samordningsnummer)")).otherwise(pl.lit(""))
    )
    number = (
        pl.when(ev == "exact")
        .then(pl.concat_str([pl.lit("personnumret stämmer"), coordination]))
        .when((ev == "near") & pl.col("is_swap"))
        .then(pl.lit("personnumret har två siffror i omvänd ordning"))
        .when(ev == "near")
        .then(pl.lit("personnumret skiljer på en siffra"))
        .when(ev == "birth")
        .then(pl.lit("samma födelsedatum men annat personnummer"))
        .when(ev == "missing")
        .then(pl.lit("personnummer saknas eller är oläsligt"))
        .otherwise(pl.lit("annat personnummer"))
    )
    similarity = pl.col("name_sim").round(0).cast(pl.Int32).cast(pl.String)
    name = (
        pl.when(pl.col("n_name") == "")
        .then(pl.lit("namn saknas i avin"))
        .when(pl.col("name_sim") >= 99.5)
        .then(pl.lit("namnet stämmer"))
        .when(pl.col("name_sim") >= NAME_STRONG)
        .then(pl.concat_str([pl.lit("namnet liknar ("), similarity, pl.lit(" av 100)")]))
        .when(pl.col("name_rule") == "double")
        .then(pl.lit("samma namn, men ett av dubbelnamnen saknas"))
        .when(pl.col("name_rule") == "surname")
        .then(pl.lit("samma förnamn, annat efternamn (namnbyte?)"))
        .when(pl.col("shared") >= 1)
        .then(
            pl.concat_str(
                [
                    pl.lit("delvis samma namn ("),
                    pl.col("shared").cast(pl.String),
                    pl.lit(" av "),
                    pl.col("n_token_count").cast(pl.String),
                    pl.lit(" namn lika)"),
                ]
            )
        )
        .when(pl.col("name_sim") >= NAME_PARTIAL)
        .then(pl.concat_str([pl.lit("namnet liknar delvis ("), similarity, pl.lit(" av 100)")]))
        .otherwise(pl.lit("namnet avviker"))
    )
    address = (
        pl.when(pl.col("addr_level") == 2)
        .then(pl.lit("samma adress och lägenhet"))
        .when(pl.col("addr_level") == 1)
        .then(pl.lit("samma gatuadress"))
        .otherwise(pl.lit("annan adress"))
    )
    relation = (
        pl.when(pl.col("relation") == "client")
        .then(pl.lit("klient i ärendet"))
        .when(pl.col("relation") == "partner")
        .then(pl.lit("partner i klientens hushåll"))
        .otherwise(pl.lit("vuxen i klientens hushåll"))
    )
    who = (
        pl.when(pl.col("role") == "co_tenant")
        .then(pl.lit("medhyresgästen: "))
        .otherwise(pl.lit(""))
    )
    return pl.concat_str([who, number, pl.lit("; "), name, pl.lit("; "), address,
                          pl.lit("; "), relation])  # fmt: skip


# ----------------------------------------------------------------------------- decide


def identity_key() -> pl.Expr:
    """Who a prepared identity is, for reusing the advisor's decisions on later notices.

    The 12-digit number when there is one (``pnr:…``); without a readable number, the
    normalised name (tokens sorted, so the order does not matter) with the home:
    apartment and postal code (or street and house) (``hem:…``). Null when neither is
    known well enough: then no earlier decision can be tied to it.
    """
    name = pl.col("n_tokens").list.sort().list.join(" ")
    place = pl.coalesce(
        pl.col("postal"), pl.concat_str([pl.col("street_key"), pl.lit(" "), pl.col("house")])
    )
    by_home = (
        pl.when((name != "") & place.is_not_null() & pl.col("apt").is_not_null())
        .then(pl.concat_str([pl.lit("hem:"), name, pl.lit("|"), place, pl.lit("|"), pl.col("apt")]))
        .otherwise(None)
    )
    return (
        pl.when(pl.col("n_pnr").is_not_null())
        .then(pl.concat_str([pl.lit("pnr:"), pl.col("n_pnr")]))
        .otherwise(by_home)
    )


def decision_keys(decisions: pl.DataFrame, today: date) -> pl.DataFrame:
    """Earlier decisions keyed by :func:`identity_key` of the tenant they were made for.

    ``decisions``: personnummer, case_ref, decision (confirmed/rejected), oldest first,
    and when known the tenant's tenant_name, street_address, apartment and postal_code
    (the fallback key for a tenant without a number). Returns n_key, case_ref,
    decision in the same order, without rows that have no key or no case.
    """
    frame = _ensure(decisions, list(NOTICE_COLUMNS)).with_row_index("nid")
    keys = (
        prepare_notices(frame.drop("co_tenant_personnummer", "co_tenant_name"), today)
        .filter(pl.col("role") == "tenant")
        .select("nid", identity_key().alias("n_key"))
    )
    return (
        frame.select("nid", pl.col("case_ref").cast(pl.String), pl.col("decision").cast(pl.String))
        .join(keys, on="nid", how="left")
        .sort("nid")
        .drop_nulls(["n_key", "case_ref"])
        .select("n_key", "case_ref", "decision")
    )


def match_prepared(
    identities: pl.DataFrame,
    persons: pl.DataFrame,
    threshold: float = DEFAULT_PROBABLE_THRESHOLD,
    decisions: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The best candidate per notice: nid, tier, score, reasons, case and person, decision.

    ``decisions`` (n_key, case_ref, decision ∈ confirmed/rejected, oldest first; see
    :func:`decision_keys`) are earlier advisor decisions: a rejected (identity, case)
    pair is never proposed again, a confirmed one is routed to the caseworker whatever
    its tier. ``decision`` in the result is ``confirmed`` (earlier confirmation),
    ``auto`` (certain, probable and none) or ``pending`` (possible: waits for the
    advisor).
    """
    confirmed = rejected = None
    identities = identities.with_columns(identity_key().alias("n_key"))
    if decisions is not None and decisions.height:
        decisions = decisions.select(
            pl.col("n_key").cast(pl.String),
            pl.col("case_ref").cast(pl.String),
            "decision",
        ).unique(["n_key", "case_ref"], keep="last", maintain_order=True)
        confirmed = decisions.filter(pl.col("decision") == "confirmed").select("n_key", "case_ref")
        rejected = decisions.filter(pl.col("decision") == "rejected").select("n_key", "case_ref")
    pairs = candidate_pairs(identities, persons, confirmed)
    pairs = pairs.join(identities, on=["nid", "role"], how="left").join(
        persons, on="pid", how="left"
    )
    if rejected is not None and rejected.height:
        pairs = pairs.join(rejected, on=["n_key", "case_ref"], how="anti")
    scored = score_pairs(pairs, threshold)
    if confirmed is not None and confirmed.height:
        scored = scored.join(
            confirmed.with_columns(pl.lit(True).alias("was_confirmed")),
            on=["n_key", "case_ref"],
            how="left",
        ).with_columns(pl.col("was_confirmed").fill_null(False))
    else:
        scored = scored.with_columns(pl.lit(False).alias("was_confirmed"))
    scored = scored.filter((pl.col("tier") != "none") | pl.col("was_confirmed"))
    rank = pl.col("tier").replace_strict(TIER_RANK, return_dtype=pl.Int32)
    relation_rank = pl.col("relation").replace_strict(
        {"client": 0, "partner": 1, "adult": 2}, default=3, return_dtype=pl.Int32
    )
    scored = scored.with_columns(rank.alias("rank"), relation_rank.alias("relation_rank"))
    # A probable match is only auto-accepted when no other case is about as likely.
    competing = (
        scored.filter(pl.col("rank") >= TIER_RANK["probable"])
        .group_by("nid")
        .agg(pl.col("case_id").n_unique().alias("auto_cases"))
    )
    best = (
        scored.sort(
            ["nid", "was_confirmed", "rank", "score", "relation_rank", "case_id", "role"],
            descending=[False, True, True, True, False, False, False],
        )
        .unique("nid", keep="first", maintain_order=True)
        .join(competing, on="nid", how="left")
    )
    ambiguous = (pl.col("tier") == "probable") & (pl.col("auto_cases").fill_null(0) > 1)
    best = best.with_columns(
        pl.when(ambiguous).then(pl.lit("possible")).otherwise(pl.col("tier")).alias("tier"),
        pl.when(ambiguous)
        .then(pl.concat_str([pl.col("reasons"), pl.lit("; flera ärenden är tänkbara")]))
        .when(pl.col("was_confirmed"))
        .then(pl.concat_str([pl.col("reasons"), pl.lit("; bekräftad tidigare")]))
        .otherwise(pl.col("reasons"))
        .alias("reasons"),
    )
    best = best.with_columns(
        pl.when(pl.col("was_confirmed"))
        .then(pl.lit("confirmed"))
        .when(pl.col("tier") == "possible")
        .then(pl.lit("pending"))
        .otherwise(pl.lit("auto"))
        .alias("decision")
    )
    all_nids = identities.select("nid").unique()
    result = all_nids.join(
        best.select(
            "nid",
            "tier",
            "score",
            "reasons",
            "decision",
            "case_id",
            "case_ref",
            "member_id",
            "relation",
            "role",
            "evidence",
        ),  # fmt: skip
        on="nid",
        how="left",
    )
    return result.with_columns(
        pl.col("tier").fill_null("none"),
        pl.col("score").fill_null(0.0),
        pl.col("reasons").fill_null("ingen träff i registret"),
        pl.col("decision").fill_null("auto"),
    ).sort("nid")


def match_notices(
    notices: pl.DataFrame,
    cases: pl.DataFrame,
    members: pl.DataFrame,
    today: date,
    threshold: float = DEFAULT_PROBABLE_THRESHOLD,
    decisions: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Prepare both sides and match: the one entry point of the pipeline and match-files.

    ``decisions``: earlier advisor decisions as :func:`decision_keys` takes them.
    """
    identities = prepare_notices(notices, today)
    persons = prepare_register(cases, members, today)
    keyed = decision_keys(decisions, today) if decisions is not None else None
    return match_prepared(identities, persons, threshold, keyed)


def routing_expr(tier: str = "tier", decision: str = "decision") -> pl.Expr:
    """Where an episode goes, the one rule: caseworker, review or advisor.

    The advisor when the advisor rejected the match (whatever its tier); the caseworker
    when it is certain, probable or confirmed by the advisor (now or earlier); review
    when it is possible (the advisor confirms or rejects); the advisor otherwise (none:
    a letter is booked). The matching stage applies it to whole frames,
    :func:`routing_for` to one match.
    """
    tier_col, decision_col = pl.col(tier), pl.col(decision)
    to_caseworker = (decision_col == MatchDecision.CONFIRMED.value) | tier_col.is_in(
        [MatchTier.CERTAIN.value, MatchTier.PROBABLE.value]
    )
    return (
        pl.when(decision_col == MatchDecision.REJECTED.value)
        .then(pl.lit(Routing.ADVISOR.value))
        .when(to_caseworker)
        .then(pl.lit(Routing.CASEWORKER.value))
        .when(tier_col == MatchTier.POSSIBLE.value)
        .then(pl.lit(Routing.REVIEW.value))
        .otherwise(pl.lit(Routing.ADVISOR.value))
        .alias("routing")
    )


def routing_for(tier: str, decision: str) -> Routing:
    """:func:`routing_expr` for one match (a decision taken by the advisor, a test)."""
    frame = pl.DataFrame({"tier": [str(tier)], "decision": [str(decision)]})
    return Routing(frame.select(routing_expr())["routing"][0])


def rematch_plan(result: pl.DataFrame) -> pl.DataFrame:
    """What a new match does to an episode matched before (a new register snapshot, or a
    valid personnummer a later notice brought).

    ``result``: the matching result with ``routing`` (:func:`routing_expr`),
    ``current_routing`` and ``has_meeting`` (an appointment booked or held). An episode
    still in review and without a meeting takes the new routing like a first match. One
    already with the advisor (routed, or booked while its review waited) is never moved
    without the advisor: a case found now becomes a pending match for the advisor to
    confirm, and finding nothing again changes nothing. Adds ``store_match`` (a new
    Match row) and overrides ``decision`` and ``routing``; ``moved``: routing changed.
    """
    held = (pl.col("current_routing") == Routing.ADVISOR.value) | pl.col("has_meeting")
    found = pl.col("tier") != MatchTier.NONE.value
    return result.with_columns(
        store_match=~held | found,
        decision=pl.when(held & found)
        .then(pl.lit(MatchDecision.PENDING.value))
        .otherwise(pl.col("decision")),
        routing=pl.when(held).then(pl.col("current_routing")).otherwise(pl.col("routing")),
    ).with_columns(moved=pl.col("routing") != pl.col("current_routing"))
