"""post copy: the email address the tenant gave; a letter's print copy

Revision ID: 0005_post_copy
Revises: 0004_sms_person
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_post_copy'
down_revision = '0004_sms_person'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place (SQLite 3.35+ drops them in place too): batch mode would copy the tables.
    op.add_column('episode', sa.Column('tenant_email', sa.String(length=200), nullable=True))
    op.add_column('letter', sa.Column('copy_of_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_letter_copy_of_id'), 'letter', ['copy_of_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_letter_copy_of_id'), table_name='letter')
    op.drop_column('letter', 'copy_of_id')
    op.drop_column('episode', 'tenant_email')
