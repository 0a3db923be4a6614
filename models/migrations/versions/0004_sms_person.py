"""sms choice per person: the tenant's "no SMS" follows them to later episodes

Revision ID: 0004_sms_person
Revises: 0003_operations

Existing marks (``episode.no_sms``) become rows of ``sms_choice`` under the episode's
keys (its valid personnummer and its tenancy), dated by the episode's last change;
then the column goes. The downgrade marks every episode whose person said no again.
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = '0004_sms_person'
down_revision = '0003_operations'
branch_labels = None
depends_on = None


def _keys(personnummer, valid, tenancy_key):  # noqa: ANN001, ANN202
    keys = []
    if valid and personnummer:
        keys.append(('personnummer', personnummer))
    if tenancy_key:
        keys.append(('tenancy', tenancy_key))
    return keys


def upgrade() -> None:
    choice = op.create_table('sms_choice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_kind', sa.String(length=20), nullable=False),
    sa.Column('key_value', sa.String(length=200), nullable=False),
    sa.Column('no_sms', sa.Boolean(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_choice')),
    sa.UniqueConstraint('key_kind', 'key_value', name=op.f('uq_sms_choice_key_kind'))
    )
    bind = op.get_bind()
    marked = bind.execute(sa.text(
        "SELECT personnummer, personnummer_valid, tenancy_key, updated_at FROM episode "
        "WHERE no_sms = true ORDER BY id"
    )).all()
    rows: dict[tuple[str, str], datetime] = {}
    for personnummer, valid, tenancy_key, updated_at in marked:
        at = updated_at or datetime.now(UTC)
        if isinstance(at, str):  # SQLite without type information
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        for key in _keys(personnummer, valid, tenancy_key):
            rows[key] = max(rows.get(key, at), at)
    if rows:
        op.bulk_insert(choice, [
            {'key_kind': kind, 'key_value': value, 'no_sms': True, 'decided_at': at}
            for (kind, value), at in sorted(rows.items())
        ])
    # In place (SQLite 3.35+): batch mode would copy the episode table others point at.
    op.drop_column('episode', 'no_sms')


def downgrade() -> None:
    op.add_column(
        'episode',
            sa.Column('no_sms', sa.Boolean(), server_default=sa.text('false'), nullable=False)
    )
    bind = op.get_bind()
    bind.execute(sa.text(
        "UPDATE episode SET no_sms = true WHERE EXISTS (SELECT 1 FROM sms_choice c "
        "WHERE c.no_sms = true AND ((c.key_kind = 'tenancy' AND c.key_value = episode.tenancy_key) "
        "OR (c.key_kind = 'personnummer' AND episode.personnummer_valid = true "
        "AND c.key_value = episode.personnummer)))"
    ))
    op.drop_table('sms_choice')
