"""upstream proxy

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 18:16:15.696230
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('upstream_objects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('storage_key', sa.String(length=500), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('cached', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upstream_objects')),
    sa.UniqueConstraint('sha256', 'filename', name=op.f('uq_upstream_objects_sha256'))
    )
    op.create_table('upstream_pages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('upstream_url', sa.String(length=500), nullable=False),
    sa.Column('normalized_name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('etag', sa.String(length=500), nullable=True),
    sa.Column('last_modified', sa.String(length=100), nullable=True),
    sa.Column('fetched', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upstream_pages')),
    sa.UniqueConstraint('upstream_url', 'normalized_name', name=op.f('uq_upstream_pages_upstream_url'))
    )
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upstream_url', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('upstream_credentials_sealed', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('reserved_names', sa.JSON(), server_default='[]', nullable=False))




def downgrade() -> None:

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('reserved_names')
        batch_op.drop_column('upstream_credentials_sealed')
        batch_op.drop_column('upstream_url')

    op.drop_table('upstream_pages')
    op.drop_table('upstream_objects')

