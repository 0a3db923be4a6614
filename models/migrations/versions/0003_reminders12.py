"""reminders: the reminder outbox (SMS and email the working day before a meeting); no SMS

Revision ID: 0003_reminders12
Revises: 0002_portal
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_reminders12'
down_revision = '0003_portal4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('recipient', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('gateway_id', sa.String(length=200), nullable=True),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_token', sa.String(length=120), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], name=op.f('fk_reminder_appointment_id_appointment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['episode_id'], ['episode.id'], name=op.f('fk_reminder_episode_id_episode')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_reminder_idempotency_key'))
    )
    op.create_index(op.f('ix_reminder_appointment_id'), 'reminder', ['appointment_id'], unique=False)
    op.create_index(op.f('ix_reminder_episode_id'), 'reminder', ['episode_id'], unique=False)
    op.create_index('ix_reminder_status_next_attempt_at', 'reminder', ['status', 'next_attempt_at'], unique=False)
    op.add_column(
        'episode',
            sa.Column('no_sms', sa.Boolean(), server_default=sa.text('false'), nullable=False)
    )


def downgrade() -> None:
    op.drop_index('ix_reminder_status_next_attempt_at', table_name='reminder')
    op.drop_index(op.f('ix_reminder_episode_id'), table_name='reminder')
    op.drop_index(op.f('ix_reminder_appointment_id'), table_name='reminder')
    op.drop_table('reminder')
    # In place (SQLite 3.35+): batch mode would copy the episode table others point at.
    op.drop_column('episode', 'no_sms')
