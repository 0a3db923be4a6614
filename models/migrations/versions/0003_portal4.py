"""portal speed: indexes for the caseworker's list and the audit log (filters, pages, retention)

Revision ID: 0003_portal4
Revises: 0002_portal
"""

from alembic import op

revision = "0003_portal4"
down_revision = "0002_portal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_episode_caseworker_id_status", "episode", ["caseworker_id", "status"], unique=False
    )
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor", "id"], unique=False)
    op.create_index("ix_audit_log_entity_id_id", "audit_log", ["entity_id", "id"], unique=False)
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_index("ix_audit_log_entity_id_id", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_id", table_name="audit_log")
    op.drop_index("ix_episode_caseworker_id_status", table_name="episode")
