"""upstream pages remember when a background refresh was asked for

Revision ID: 0016
Revises: 0015
Create Date: 2027-02-01 10:00:00

A stale proxied page is served at once and refreshed by the worker
(envelope.upstream.pages); upstream_pages.refresh_requested records the
request, so a burst of requests for one stale page queues one refresh.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('upstream_pages') as batch:
        batch.add_column(sa.Column('refresh_requested', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('upstream_pages') as batch:
        batch.drop_column('refresh_requested')
