"""stored readmes: a release's README is rendered once and stored

Rows from before this revision keep readme_status NULL; the worker's
reconciler queues them for rendering, a batch per pass, so this migration
renders nothing however many releases there are.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

STATUSES = ('none', 'pending', 'rendering', 'rendered', 'too_large', 'failed')


def upgrade() -> None:
    with op.batch_alter_table('releases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description_html', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column(
            'readme_status', sa.Enum(*STATUSES, name='readmestatus', native_enum=False, length=16), nullable=True
        ))
        batch_op.add_column(sa.Column('readme_queued', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('releases', schema=None) as batch_op:
        batch_op.drop_column('readme_queued')
        batch_op.drop_column('readme_status')
        batch_op.drop_column('description_html')
