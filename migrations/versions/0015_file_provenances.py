"""PEP 740 provenance of published files

Revision ID: 0015
Revises: 0014
Create Date: 2027-01-20 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('file_provenances',
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('provenance', sa.Text(), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['files.id'], name=op.f('fk_file_provenances_file_id_files'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('file_id', name=op.f('pk_file_provenances'))
    )


def downgrade() -> None:
    op.drop_table('file_provenances')
