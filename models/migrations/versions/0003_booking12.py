"""booking: appointments booked at short notice; whether an episode was matched with a
valid personnummer (re-matching when a later notice brings one)

Revision ID: 0003_booking12
Revises: 0002_portal
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_booking12"
down_revision = "0003_reminders12"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "appointment",
            sa.Column(
                "short_notice", sa.Boolean(), nullable=False, server_default=sa.text("false")
            )
    )
    op.add_column(
        "episode",
            sa.Column(
                "matched_with_personnummer",
                sa.Boolean(),
                nullable=False,
                server_default=sa.text("false"),
            )
    )
    # Episodes matched before: as they were matched (no re-match merely for upgrading).
    op.execute(
        "UPDATE episode SET matched_with_personnummer = personnummer_valid "
        "WHERE matched_at IS NOT NULL"
    )


def downgrade() -> None:
    # In place (SQLite 3.35+): batch mode would copy tables that foreign keys point at.
    op.drop_column("episode", "matched_with_personnummer")
    op.drop_column("appointment", "short_notice")
