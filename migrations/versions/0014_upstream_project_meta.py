"""upstream pages keep their project-level keys (PEP 708, PEP 792)

Revision ID: 0014
Revises: 0013
Create Date: 2027-01-20 11:00:00

upstream_pages.project_meta holds what an upstream project page says of the
project as a whole: PEP 708 `tracks` and `alternate-locations`, PEP 792
status and reason. Stored pages lose their validators, so the next request
fetches each page whole (a 304 would keep the old row without these keys).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('upstream_pages') as batch:
        batch.add_column(sa.Column('project_meta', sa.JSON(), nullable=True))
    op.execute("UPDATE upstream_pages SET etag = NULL, last_modified = NULL")


def downgrade() -> None:
    with op.batch_alter_table('upstream_pages') as batch:
        batch.drop_column('project_meta')
