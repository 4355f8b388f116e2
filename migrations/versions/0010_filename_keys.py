"""filename keys: a file's identity in any spelling of its filename

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00

files.filename_key and deleted_filenames.filename_key hold
envelope.names.filename_key(...) so that immutability and the burned-filename
list compare 'Billing-1.0.0-py3-none-any.whl' and 'billing-1.0-py3-none-any.whl'
as the one file they are. Existing rows are backfilled here, in Python, with
packaging's parsing (the same function new uploads use).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

KEY_LENGTH = 300  # envelope.models.packaging.FILENAME_KEY_LENGTH at this revision


def _key(filename: str) -> str:
    """filename_key of a stored filename, or the filename itself should one
    stored before today's checks no longer parse."""
    from envelope.errors import InvalidDistribution
    from envelope.names import filename_key, parse_filename

    try:
        return filename_key(parse_filename(filename))[:KEY_LENGTH]
    except InvalidDistribution:
        return filename[:KEY_LENGTH]


def _backfill(table_name: str) -> None:
    table = sa.table(table_name, sa.column('id', sa.Integer), sa.column('filename', sa.String),
                     sa.column('filename_key', sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(table.c.id, table.c.filename)).all()
    for row_id, filename in rows:
        connection.execute(
            table.update().where(table.c.id == row_id).values(filename_key=_key(filename))
        )


def upgrade() -> None:
    for table_name in ('files', 'deleted_filenames'):
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.add_column(sa.Column('filename_key', sa.String(length=KEY_LENGTH), nullable=True))
        _backfill(table_name)
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.alter_column('filename_key', existing_type=sa.String(length=KEY_LENGTH), nullable=False)
            batch_op.create_index(batch_op.f(f'ix_{table_name}_filename_key'), ['filename_key'], unique=False)


def downgrade() -> None:
    for table_name in ('deleted_filenames', 'files'):
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table_name}_filename_key'))
            batch_op.drop_column('filename_key')
