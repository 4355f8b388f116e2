"""the upstream cache budget: per organization a maximum size and age of
cached upstream files, and when each was last used

Revision ID: 0025
Revises: 0024
Create Date: 2027-03-01 10:00:00

organizations.upstream_cache_max_bytes and upstream_cache_max_age (seconds)
are NULL (no limit: kept forever, as before). upstream_objects.last_used
starts as the time each was cached; the collector evicts the least recently
used first, found by the (organization_id, last_used) index; the
collector asks whether any row still refers to a key by storage_key.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('organizations') as batch:
        batch.add_column(sa.Column('upstream_cache_max_bytes', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('upstream_cache_max_age', sa.Integer(), nullable=True))
    with op.batch_alter_table('upstream_objects') as batch:
        batch.add_column(sa.Column('last_used', sa.DateTime(), nullable=True))
    op.execute("UPDATE upstream_objects SET last_used = cached")
    with op.batch_alter_table('upstream_objects') as batch:
        batch.alter_column('last_used', existing_type=sa.DateTime(), nullable=False)
    op.create_index('ix_upstream_objects_last_used', 'upstream_objects', ['organization_id', 'last_used'])
    op.create_index('ix_upstream_objects_storage_key', 'upstream_objects', ['storage_key'])


def downgrade() -> None:
    op.drop_index('ix_upstream_objects_storage_key', table_name='upstream_objects')
    op.drop_index('ix_upstream_objects_last_used', table_name='upstream_objects')
    with op.batch_alter_table('upstream_objects') as batch:
        batch.drop_column('last_used')
    with op.batch_alter_table('organizations') as batch:
        batch.drop_column('upstream_cache_max_age')
        batch.drop_column('upstream_cache_max_bytes')
