"""repository connections per organization

Two organizations may connect the same GitHub repository: connections are
unique per (organization, repository) instead of per repository, and
webhook deliveries are de-duplicated per connection.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00.000000
"""
from __future__ import annotations

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('repository_connections', schema=None) as batch_op:
        batch_op.drop_constraint('uq_repository_connections_full_name', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_repository_connections_organization_id'), ['organization_id', 'full_name']
        )
        batch_op.create_index(batch_op.f('ix_repository_connections_full_name'), ['full_name'], unique=False)

    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_constraint('uq_webhook_deliveries_delivery_id', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_webhook_deliveries_connection_id'), ['connection_id', 'delivery_id']
        )


def downgrade() -> None:
    # Fails if two organizations connected the same repository (or one
    # delivery reached two connections): remove the extra rows first.
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_constraint('uq_webhook_deliveries_connection_id', type_='unique')
        batch_op.create_unique_constraint('uq_webhook_deliveries_delivery_id', ['delivery_id'])

    with op.batch_alter_table('repository_connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repository_connections_full_name'))
        batch_op.drop_constraint('uq_repository_connections_organization_id', type_='unique')
        batch_op.create_unique_constraint('uq_repository_connections_full_name', ['full_name'])
