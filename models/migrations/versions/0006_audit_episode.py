"""audit episode: which episode an audit entry concerns, for the administrator's filter

Revision ID: 0006_audit_episode
Revises: 0005_post_copy

Existing entries get their episode where it is known: an entry about an episode is its
own; a letter view and a match decision name theirs in the detail ("episode=N"), so
entries whose letter or match retention has since deleted keep it; otherwise the
letter's, meeting's, match's or activity's episode while the row still exists.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_audit_episode'
down_revision = '0005_post_copy'
branch_labels = None
depends_on = None

#: Tables whose rows carry their episode, by the audit log's entity code.
_OWNERS = {
    'letter': 'letter',
    'appointment': 'appointment',
    'match': 'match',
    'activity': 'activity',
}


def _digits(column: str) -> str:
    """SQL true when ``column`` is a whole number that fits an integer (both dialects)."""
    if op.get_bind().dialect.name == 'postgresql':
        test = f"{column} ~ '^[0-9]+$'"
    else:
        test = f"{column} <> '' AND {column} NOT GLOB '*[^0-9]*'"
    return f"({column} IS NOT NULL AND {test} AND length({column}) <= 9)"


def _backfill() -> None:
    execute = op.get_bind().execute
    execute(sa.text(
        "UPDATE audit_log SET episode_id = CAST(entity_id AS INTEGER) "
        f"WHERE entity = 'episode' AND {_digits('entity_id')}"
    ))
    named = "substr(detail, 9)"
    execute(sa.text(
        f"UPDATE audit_log SET episode_id = CAST({named} AS INTEGER) "
        "WHERE entity IN ('letter', 'match') AND episode_id IS NULL "
        f"AND detail LIKE 'episode=%' AND {_digits(named)}"
    ))
    for entity, table in _OWNERS.items():
        execute(sa.text(
            f"UPDATE audit_log SET episode_id = (SELECT o.episode_id FROM {table} o "
            "WHERE o.id = CAST(audit_log.entity_id AS INTEGER)) "
            f"WHERE entity = '{entity}' AND episode_id IS NULL AND {_digits('entity_id')}"
        ))


def upgrade() -> None:
    # In place (SQLite 3.35+): batch mode would copy the table.
    op.add_column('audit_log', sa.Column('episode_id', sa.Integer(), nullable=True))
    _backfill()
    op.create_index(
        'ix_audit_log_episode_id_id', 'audit_log', ['episode_id', 'id'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_audit_log_episode_id_id', table_name='audit_log')
    op.drop_column('audit_log', 'episode_id')
