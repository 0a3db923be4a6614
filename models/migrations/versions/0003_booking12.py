"""booking: appointments booked with less than the wanted lead time (short notice)

Revision ID: 0003_booking12
Revises: 0002_portal
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_booking12"
down_revision = "0002_portal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appointment") as batch:
        batch.add_column(
            sa.Column(
                "short_notice", sa.Boolean(), nullable=False, server_default=sa.text("false")
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("appointment") as batch:
        batch.drop_column("short_notice")
