"""web portal: users, sessions, login attempts, API tokens; receipt row details; audit address

Revision ID: 0002_portal
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_portal'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portal_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('company_id', sa.String(length=40), nullable=True),
    sa.Column('caseworker_id', sa.String(length=40), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=60), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['housing_company.id'], name=op.f('fk_portal_user_company_id_housing_company')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_user')),
    sa.UniqueConstraint('username', name=op.f('uq_portal_user_username'))
    )
    op.create_table('portal_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['portal_user.id'], name=op.f('fk_portal_session_user_id_portal_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_session')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_portal_session_token_sha256'))
    )
    op.create_index(op.f('ix_portal_session_user_id'), 'portal_session', ['user_id'], unique=False)
    op.create_table('login_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempt'))
    )
    op.create_index('ix_login_attempt_username_at', 'login_attempt', ['username', 'at'], unique=False)
    op.create_index('ix_login_attempt_address_at', 'login_attempt', ['address', 'at'], unique=False)
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.String(length=40), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=60), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['housing_company.id'], name=op.f('fk_api_token_company_id_housing_company')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_api_token_token_sha256'))
    )
    op.create_index(op.f('ix_api_token_company_id'), 'api_token', ['company_id'], unique=False)
    with op.batch_alter_table('row_rejection') as batch:
        batch.add_column(sa.Column('contract_ref', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('repeats_file_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('repeats_row', sa.Integer(), nullable=True))
    with op.batch_alter_table('audit_log') as batch:
        batch.add_column(sa.Column('address', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_log') as batch:
        batch.drop_column('address')
    with op.batch_alter_table('row_rejection') as batch:
        batch.drop_column('repeats_row')
        batch.drop_column('repeats_file_id')
        batch.drop_column('contract_ref')
    op.drop_index(op.f('ix_api_token_company_id'), table_name='api_token')
    op.drop_table('api_token')
    op.drop_index('ix_login_attempt_address_at', table_name='login_attempt')
    op.drop_index('ix_login_attempt_username_at', table_name='login_attempt')
    op.drop_table('login_attempt')
    op.drop_index(op.f('ix_portal_session_user_id'), table_name='portal_session')
    op.drop_table('portal_session')
    op.drop_table('portal_user')
