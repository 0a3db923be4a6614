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
    with op.batch_alter_table('notice_file') as batch:
        batch.add_column(sa.Column('received_on', sa.Date(), nullable=True))
    # Files stored before this revision: the UTC day of received_at is close enough.
    day = (
        "substr(received_at, 1, 10)"
        if op.get_bind().dialect.name == "sqlite"
        else "CAST(received_at AS DATE)"
    )
    op.execute(f"UPDATE notice_file SET received_on = {day} WHERE received_on IS NULL")


def downgrade() -> None:
    with op.batch_alter_table('notice_file') as batch:
        batch.drop_column('received_on')
