"""operations: job run history and operators' alerts

Revision ID: 0003_operations
Revises: 0002_portal
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_operations'
down_revision = "0003_episodes15"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=40), nullable=False),
    sa.Column('run_date', sa.Date(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('stages', sa.JSON(), nullable=False),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.Column('deployment_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run'))
    )
    op.create_index('ix_job_run_job_started_at', 'job_run', ['job', 'started_at'], unique=False)
    op.create_table('operations_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operations_alert')),
    sa.UniqueConstraint('key', name=op.f('uq_operations_alert_key'))
    )


def downgrade() -> None:
    op.drop_table('operations_alert')
    op.drop_index('ix_job_run_job_started_at', table_name='job_run')
    op.drop_table('job_run')
