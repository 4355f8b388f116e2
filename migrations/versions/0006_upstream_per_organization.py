"""upstream pages and objects belong to one organization

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00.000000

Both tables are caches of what an upstream answered. Rows written before
this revision do not say which organization's credentials fetched them, so
they cannot be attributed safely: they are dropped, and each organization
fetches its own copy again on first use (stored bytes stay in storage under
their content-addressed keys and are simply written again).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('upstream_pages')
    op.drop_table('upstream_objects')
    op.create_table('upstream_objects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('storage_key', sa.String(length=500), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('cached', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                            name=op.f('fk_upstream_objects_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upstream_objects')),
    sa.UniqueConstraint('organization_id', 'sha256', 'filename', name=op.f('uq_upstream_objects_organization_id'))
    )
    op.create_table('upstream_pages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('upstream_url', sa.String(length=500), nullable=False),
    sa.Column('normalized_name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('etag', sa.String(length=500), nullable=True),
    sa.Column('last_modified', sa.String(length=100), nullable=True),
    sa.Column('fetched', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                            name=op.f('fk_upstream_pages_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upstream_pages')),
    sa.UniqueConstraint('organization_id', 'upstream_url', 'normalized_name',
                        name=op.f('uq_upstream_pages_organization_id'))
    )


def downgrade() -> None:
    # Back to the shared (organization-less) caches; their rows are dropped for the same reason.
    op.drop_table('upstream_pages')
    op.drop_table('upstream_objects')
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
