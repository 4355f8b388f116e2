"""auth epoch: cached credentials are verified again after access narrows

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-15 10:00:00

organizations.auth_epoch is bumped in the transaction that revokes a token,
removes a member or changes a role or a password; the index reads it with
the serial it already reads, so no process answers from a stale credential.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('organizations') as batch:
        batch.add_column(sa.Column('auth_epoch', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('organizations') as batch:
        batch.drop_column('auth_epoch')
