"""organization quotas and monthly index request counts

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 22:00:00

Limits an administrator sets per organization (storage, monthly download
bytes, members; envelope.quotas), directly or through a named plan
(envelope.plans), and index requests per organization and month, counted
off the request path (envelope.usage).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'plans',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.String(64), nullable=False, unique=True),
        sa.Column('storage_bytes', sa.BigInteger(), nullable=True),
        sa.Column('download_bytes', sa.BigInteger(), nullable=True),
        sa.Column('members', sa.Integer(), nullable=True),
    )
    op.create_table(
        'org_quotas',
        sa.Column('organization_id', sa.Integer(), sa.ForeignKey('organizations.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('storage_bytes', sa.BigInteger(), nullable=True),
        sa.Column('download_bytes', sa.BigInteger(), nullable=True),
        sa.Column('members', sa.Integer(), nullable=True),
        sa.Column('plan_id', sa.Integer(), sa.ForeignKey('plans.id', ondelete='RESTRICT'), nullable=True),
        sa.Column('warned', sa.JSON(), nullable=False, server_default='{}'),
    )
    op.create_table(
        'request_counts',
        sa.Column('organization_id', sa.Integer(), sa.ForeignKey('organizations.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('month', sa.String(7), primary_key=True),
        sa.Column('requests', sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('request_counts')
    op.drop_table('org_quotas')
    op.drop_table('plans')
