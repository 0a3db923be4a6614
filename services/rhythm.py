"""The housing companies' reporting rhythms, measured on the files they delivered.

The rule is :mod:`domain.rhythm`; this reads what it needs: per company, file day and
event date, how many notices (a few thousand rows even for years of files).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.rhythm import DELIVERIES_SCHEMA, ReportingRhythm, measure_rhythms
from models.config import Settings
from models.tables import Notice, NoticeFile

#: Files older than this before the newest one do not count for the rhythm.
LOOKBACK_DAYS = 400


def load_deliveries(session: Session) -> pl.DataFrame:
    """``company_id, received_on, event_date, notices`` of the ingested recent files."""
    f, n = NoticeFile.__table__.c, Notice.__table__.c
    newest = session.scalar(select(func.max(f.received_on)).where(f.status == "ingested"))
    if newest is None:
        return pl.DataFrame(schema=DELIVERIES_SCHEMA)
    rows = session.execute(
        select(f.company_id, f.received_on, n.event_date, func.count())
        .join(Notice.__table__, n.file_id == f.id)
        .where(
            f.status == "ingested",
            f.received_on.is_not(None),
            f.received_on >= newest - timedelta(days=LOOKBACK_DAYS),
        )
        .group_by(f.company_id, f.received_on, n.event_date)
    ).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema=DELIVERIES_SCHEMA,
        orient="row",
    )


def company_rhythms(session: Session, settings: Settings) -> dict[str, ReportingRhythm]:
    """Every company's rhythm: configured ``reporting_interval_days`` or measured."""
    configured = {c.id: c.reporting_interval_days for c in settings.companies}
    return measure_rhythms(load_deliveries(session), configured)
