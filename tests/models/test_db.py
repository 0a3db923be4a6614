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


def test_migrations_match_the_tables(db_engine) -> None:
    """Every column and table in models/tables.py exists in the migrated schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from models.tables import Base

    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    structural = [
        diff
        for diff in differences
        if isinstance(diff, tuple) and diff[0] in {"add_table", "add_column", "remove_column"}
    ]
    assert structural == []
