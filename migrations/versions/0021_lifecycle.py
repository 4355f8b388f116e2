"""storage lifecycle: retention policies and the blob collector's candidates

Revision ID: 0021
Revises: 0020
Create Date: 2027-03-01 10:00:00

retention_policies: per organization (project_id NULL) or per project, how
many development/pre-releases to keep and the age past which they go.
blob_candidates: storage keys whose file was deleted, for the collector
(docs/lifecycle.md).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'retention_policies',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('organization_id', sa.Integer(), sa.ForeignKey('organizations.id', ondelete='CASCADE'), nullable=False),
        sa.Column('project_id', sa.Integer(), sa.ForeignKey('projects.id', ondelete='CASCADE'), nullable=True),
        sa.Column('keep_prereleases', sa.Integer(), nullable=True),
        sa.Column('max_age_days', sa.Integer(), nullable=True),
        sa.Column('include_downloaded', sa.Boolean(), nullable=False),
        sa.Column('updated', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('organization_id', 'project_id'),
    )
    op.create_index('ix_retention_policies_organization_id', 'retention_policies', ['organization_id'])
    op.create_table(
        'blob_candidates',
        sa.Column('storage_key', sa.String(512), primary_key=True),
        sa.Column('marked', sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('blob_candidates')
    op.drop_index('ix_retention_policies_organization_id', table_name='retention_policies')
    op.drop_table('retention_policies')
