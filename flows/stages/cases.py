"""Importing the case register: one dated snapshot per distinct export.

Matching always uses the latest snapshot, and every episode keeps the snapshot it was
matched against, so a later import never rewrites an earlier decision. Children are
counted for their case (relation and birth date only: no name, no personnummer), and
everything else is stored as the case system exported it, normalised.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from connectors.case_register import (
    content_hash,
    read_cases_file,
    read_household_file,
    read_sql,
)
from domain.formatting import local_today
from domain.register import (
    check_case_ids,
    empty_household,
    missing_useful,
    missing_useful_line,
    prepare_cases,
    prepare_household,
)
from models.config import Settings
from models.db import session_scope
from services.cases import latest_snapshot, store_snapshot

log = logging.getLogger(__name__)


def import_register(
    engine: Engine,
    settings: Settings,
    cases_path: Path | None,
    household_path: Path | None = None,
    taken_on: date | None = None,
) -> dict[str, int]:
    """Import a register export (or the configured SQL source) as a new dated snapshot.

    Returns counts only. The same content as the latest snapshot creates nothing and
    returns ``unchanged = 1``.
    """
    taken_on = taken_on or local_today()
    if cases_path is None:
        cases, household = read_sql(settings.cases)
        source = "sql"
    else:
        cases = read_cases_file(Path(cases_path), settings.cases)
        household = (
            read_household_file(Path(household_path), settings.cases)
            if household_path is not None
            else None
        )
        source = Path(cases_path).name + (
            f" + {Path(household_path).name}" if household_path else ""
        )
    digest = content_hash(cases, household)
    with session_scope(engine) as session:
        latest = latest_snapshot(session)
        if latest is not None and latest.content_hash == digest:
            return {
                "snapshot_id": latest.id,
                "unchanged": 1,
                "cases": latest.cases,
                "members": latest.members,
            }
    household = household if household is not None else empty_household()
    check_case_ids(cases)
    missing = missing_useful(cases)
    line = missing_useful_line(missing, cases.height)
    if line:  # field names and counts only
        log.warning("case register import: %s", line)
    cases = prepare_cases(cases, taken_on)
    members = prepare_household(household, taken_on)
    known = cases.select("case_id")
    orphans = members.join(known, on="case_id", how="anti").height
    members = members.join(known, on="case_id", how="semi")

    with session_scope(engine) as session:
        counts = store_snapshot(session, taken_on, source, digest, cases, members, orphans)
    return {**counts, **missing}
