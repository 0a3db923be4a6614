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


def _old_entry(connection, action: str, entity: str, entity_id: object, detail: str = "") -> None:  # noqa: ANN001
    """An audit entry as the release before 0006 wrote it (no episode column)."""
    from sqlalchemy import text

    connection.execute(
        text(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, detail) "
            "VALUES (CURRENT_TIMESTAMP, 'radgivare', :action, :entity, :entity_id, :detail)"
        ),
        {
            "action": action,
            "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id),
            "detail": detail or None,
        },
    )


def test_the_audit_episode_migration_fills_in_the_episode_of_existing_entries(db_engine) -> None:
    """Upgrading to 0006 gives existing entries their episode where it is known: their own,
    the one a letter view or match decision names, or that of the letter, meeting or
    activity they are about; other entries and odd ids are left without one."""
    from datetime import UTC, datetime

    from alembic import command

    from models.db import alembic_config, upgrade
    from models.tables import Activity, Appointment, AppointmentSlot, AuditLog, Letter

    with session_scope(db_engine) as session:
        session.add(HousingCompany(id="bo", name="Bo AB", landlord_type="municipal"))
        session.flush()
        first, second = (
            Episode(company_id="bo", tenancy_key=f"bo|K{n}", status="termination_notice",
                    opened_on=date(2026, 11, 2), first_notice_date=date(2026, 11, 2))
            for n in (1, 2)
        )  # fmt: skip
        session.add_all([first, second])
        start = datetime(2026, 11, 10, 9, tzinfo=UTC)
        slot = AppointmentSlot(advisor_id="a1", location="Torget 1", starts_at=start,
                               ends_at=start, booked=1)  # fmt: skip
        session.add(slot)
        session.flush()
        meeting = Appointment(episode_id=first.id, slot_id=slot.id, status="booked")
        letter = Letter(idempotency_key="k", episode_id=second.id, kind="appointment",
                        channel="print", status="sent", created_on=date(2026, 11, 2))  # fmt: skip
        note = Activity(episode_id=second.id, kind="note", on_date=date(2026, 11, 3), by="r")
        session.add_all([meeting, letter, note])
        session.flush()
        ids = (first.id, second.id, meeting.id, letter.id, note.id)
    one, two, meeting_id, letter_id, note_id = ids
    command.downgrade(alembic_config(db_engine), "0005_post_copy")
    gone = 999_999  # a letter or match retention has deleted since
    entries = [
        ("read_episode", "episode", one, "", one),
        ("list_episodes", "episode", None, "3 rows", None),
        ("odd", "episode", "x12", "", None),
        ("huge", "episode", "12345678901234", "", None),
        ("view_letter", "letter", letter_id, f"episode={two}", two),
        ("view_letter", "letter", gone, f"episode={one}", one),
        ("outbox.list", "letter", None, "queued", None),
        ("appointment.rebook", "appointment", meeting_id, "", one),
        ("appointment.cancel", "appointment", gone, "", None),
        ("match.reject", "match", gone, f"episode={two}", two),
        ("noted", "activity", note_id, "", two),
        ("upload", "notice_file", one, "", None),
        ("write_worklist", "worklist", "advisor:a1", "", None),
    ]
    with db_engine.begin() as connection:
        for action, entity, entity_id, detail, _ in entries:
            _old_entry(connection, action, entity, entity_id, detail)
    upgrade(db_engine)
    with session_scope(db_engine) as session:
        found = session.execute(
            select(AuditLog.action, AuditLog.entity, AuditLog.episode_id).order_by(AuditLog.id)
        ).all()
    assert [tuple(row) for row in found] == [(a, e, ep) for a, e, _, _, ep in entries]
