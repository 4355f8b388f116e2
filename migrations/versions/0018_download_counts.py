"""download counts per file, day and credential

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 21:30:00

Usage where decisions are made: how often each file was downloaded, by
which token, summed per day off the request path (envelope.usage).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'download_counts',
        sa.Column('file_id', sa.Integer(), sa.ForeignKey('files.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('day', sa.Date(), primary_key=True),
        sa.Column('token_id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.Integer(), primary_key=True),
        sa.Column('downloads', sa.Integer(), nullable=False),
        sa.Column('bytes', sa.BigInteger(), nullable=False),
    )
    op.create_index('ix_download_counts_day', 'download_counts', ['day'])


def downgrade() -> None:
    op.drop_index('ix_download_counts_day', table_name='download_counts')
    op.drop_table('download_counts')
