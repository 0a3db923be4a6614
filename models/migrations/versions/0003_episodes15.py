"""notice files remember the day they were received (the company's reporting rhythm)

Revision ID: 0003_episodes15
Revises: 0002_portal
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_episodes15'
down_revision = "0003_booking12"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (nullable): SQLite's batch mode would copy the table, which its
    # foreign keys forbid once notices point at it.
    op.add_column('notice_file', sa.Column('received_on', sa.Date(), nullable=True))
    # Files stored before this revision: the UTC day of received_at is close enough.
    day = (
        "substr(received_at, 1, 10)"
        if op.get_bind().dialect.name == "sqlite"
        else "CAST(received_at AS DATE)"
    )
    op.execute(f"UPDATE notice_file SET received_on = {day} WHERE received_on IS NULL")


def downgrade() -> None:
    op.drop_column('notice_file', 'received_on')  # SQLite 3.35+ drops a column in place
