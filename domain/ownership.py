"""Does a notice file belong to the company it was sent for? (Pure rules, no I/O.)

An export ingested under the wrong company opens second episodes for tenants whose
episodes are open at the right one, lengthens the advisor's eviction list and counts
twice in the statistics. Two signs tell such a file apart, compared with what each
company sent before: the shape of its contract references (``VH-12345`` against
``100234``), and its tenants having open episodes at another company. A tenant who
really moves between companies is one or a few rows: only a file where most tenants,
or the contract references and some tenants, point at one other company is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

#: At least this many of a file's tenants with open episodes at one other company ...
MIN_TENANTS = 3
#: ... and at least this share of its tenants (with a valid personnummer).
TENANT_SHARE = 0.5
#: A file's contract references matching the other company's shapes (and not its own).
PATTERN_SHARE = 0.8
PATTERN_OWN_MAX = 0.2


def ref_shape(expr: pl.Expr) -> pl.Expr:
    """A contract reference's shape: letters kept (upper case), every digit 9: ``vh-123`` ->
    ``VH-999``. Companies number their contracts in their own way."""
    return expr.str.strip_chars().str.to_uppercase().str.replace_all(r"\d", "9")


@dataclass(frozen=True)
class Evidence:
    """What a file has in common with each company's stored notices (counts only)."""

    tenants: int  # distinct valid personnummer in the file (as sampled)
    open_elsewhere: Mapping[str, int]  # company -> file tenants with open episodes there only
    refs: int  # rows with a contract reference
    shape_share: Mapping[str, float]  # company -> share of refs with a shape seen there
    own_company: str


@dataclass(frozen=True)
class Verdict:
    other_company: str
    tenants: int
    open_elsewhere: int
    shape_share_other: float
    shape_share_own: float


def belongs_elsewhere(evidence: Evidence) -> Verdict | None:
    """The other company the file clearly belongs to, or None (it is taken as sent).

    Refused when one other company has (a) at least :data:`MIN_TENANTS` and half of the
    file's tenants with open episodes there and not here, or (b) the file's contract
    reference shapes (80 %, and at most 20 % of this company's) and at least one such
    tenant; never when the references look like this company's own and not the other's.
    """
    own_shape = evidence.shape_share.get(evidence.own_company, 0.0)
    best: Verdict | None = None
    for company, overlap in evidence.open_elsewhere.items():
        if company == evidence.own_company or overlap == 0:
            continue
        other_shape = evidence.shape_share.get(company, 0.0)
        if own_shape >= PATTERN_SHARE and other_shape <= PATTERN_OWN_MAX:
            continue  # the references are this company's own: tenants who moved
        by_tenants = overlap >= MIN_TENANTS and overlap >= TENANT_SHARE * evidence.tenants
        by_refs = (
            evidence.refs > 0 and other_shape >= PATTERN_SHARE and own_shape <= PATTERN_OWN_MAX
        )
        if not (by_tenants or by_refs):
            continue
        verdict = Verdict(company, evidence.tenants, overlap, other_shape, own_shape)
        if best is None or verdict.open_elsewhere > best.open_elsewhere:
            best = verdict
    return best


#: The receipt's reason: no other company's name, no count (those are other companies'
#: tenants); the operator's log names the company id.
WRONG_COMPANY_SV = (
    "filen verkar höra till ett annat bostadsbolag och har inte tagits emot: "
    "kontraktsnumren och hyresgästerna stämmer med ett annat bolags filer, inte med era. "
    "Kontrollera att rätt fil skickades, eller kontakta kommunen om filen är er"
)
