"""project status markers (PEP 792)

Revision ID: 0013
Revises: 0012
Create Date: 2027-01-20 10:00:00

projects.status is one of active, archived, quarantined, deprecated
(envelope.models.ProjectStatus), every existing project active;
projects.status_reason is the optional free text shown beside it.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

STATUSES = ('active', 'archived', 'quarantined', 'deprecated')


def upgrade() -> None:
    with op.batch_alter_table('projects') as batch:
        batch.add_column(sa.Column(
            'status', sa.Enum(*STATUSES, name='projectstatus', native_enum=False, length=16),
            nullable=False, server_default='active',
        ))
        batch.add_column(sa.Column('status_reason', sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('projects') as batch:
        batch.drop_column('status_reason')
        batch.drop_column('status')
