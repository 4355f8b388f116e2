"""the upstream proxy's minimum age: an organization setting, and per page
the upload times and the versions held back

Revision ID: 0020
Revises: 0019
Create Date: 2027-02-15 10:00:00

organizations.upstream_min_age (seconds, 0 = off) holds back upstream files
younger than it; organizations.upstream_held_total counts the versions held.
upstream_pages.upload_times lets a page's held-back files be judged without
reading its files; upstream_pages.held records the versions held at the last
fetch. Rows from before have NULL there and are filled in on their next fetch.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('organizations') as batch:
        batch.add_column(sa.Column('upstream_min_age', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('upstream_held_total', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('upstream_pages') as batch:
        batch.add_column(sa.Column('upload_times', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('held', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('upstream_pages') as batch:
        batch.drop_column('held')
        batch.drop_column('upload_times')
    with op.batch_alter_table('organizations') as batch:
        batch.drop_column('upstream_held_total')
        batch.drop_column('upstream_min_age')
