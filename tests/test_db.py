"""The migrations create the same working schema on SQLite and PostgreSQL."""

from datetime import date

from sqlalchemy import inspect, select

from models.db import session_scope
from models.tables import Episode, HousingCompany


def test_migrations_create_schema_and_roundtrip(db_engine) -> None:
    tables = set(inspect(db_engine).get_table_names())
    assert {"notice", "episode", "letter", "audit_log", "alembic_version"} <= tables
    with session_scope(db_engine) as session:
        session.add(HousingCompany(id="bo", name="Bo AB", landlord_type="municipal"))
        session.flush()
        session.add(
            Episode(
                company_id="bo",
                tenancy_key="bo|K1",
                status="termination_notice",
                opened_on=date(2026, 11, 2),
                first_notice_date=date(2026, 11, 2),
            )
        )
    with session_scope(db_engine) as session:
        episode = session.scalars(select(Episode)).one()
        assert episode.opened_on == date(2026, 11, 2)
        assert episode.is_recurrence is False
