"""the instance's GitHub App, its installations, and what GitHub vouches for

Revision ID: 0019
Revises: 0018
Create Date: 2027-03-01 10:00:00

github_apps holds the App the manifest flow made (key and webhook secret
sealed); github_installations where it is installed and for which
organization; github_app_deliveries the App webhook's deliveries. A
repository connection may go through an installation (no token, no secret of
its own) and has a status that GitHub's installation events change. Sync
assets record their digest check; releases whether their GitHub release is
immutable.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'github_apps',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('app_id', sa.BigInteger(), nullable=False),
        sa.Column('slug', sa.String(100), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('html_url', sa.String(500), nullable=False),
        sa.Column('owner_login', sa.String(100), nullable=True),
        sa.Column('private_key_sealed', sa.Text(), nullable=False),
        sa.Column('webhook_secret_sealed', sa.Text(), nullable=False),
        sa.Column('created_by', sa.String(200), nullable=False),
        sa.Column('created', sa.DateTime(), nullable=False),
    )
    op.create_table(
        'github_installations',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('installation_id', sa.BigInteger(), nullable=False),
        sa.Column('account_login', sa.String(100), nullable=False),
        sa.Column('account_type', sa.String(20), nullable=False),
        sa.Column('organization_id', sa.Integer(),
                  sa.ForeignKey('organizations.id', ondelete='SET NULL'), nullable=True),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('created', sa.DateTime(), nullable=False),
        sa.Column('updated', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('installation_id', name='uq_github_installations_installation_id'),
    )
    op.create_index('ix_github_installations_organization_id', 'github_installations', ['organization_id'])
    op.create_table(
        'github_app_deliveries',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('delivery_id', sa.String(100), nullable=False),
        sa.Column('event', sa.String(50), nullable=False),
        sa.Column('action', sa.String(50), nullable=True),
        sa.Column('installation_id', sa.BigInteger(), nullable=True),
        sa.Column('received', sa.DateTime(), nullable=False),
        sa.UniqueConstraint('delivery_id', name='uq_github_app_deliveries_delivery_id'),
    )
    with op.batch_alter_table('repository_connections') as batch:
        batch.alter_column('webhook_secret_sealed', existing_type=sa.Text(), nullable=True)
        batch.add_column(sa.Column('installation_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('status', sa.String(20), nullable=False, server_default='active'))
        batch.create_foreign_key('fk_repository_connections_installation_id_github_installations', 'github_installations',
                                 ['installation_id'], ['id'])
        batch.create_index('ix_repository_connections_installation_id', ['installation_id'])
    with op.batch_alter_table('sync_assets') as batch:
        batch.add_column(sa.Column('digest_check', sa.String(20), nullable=True))
    with op.batch_alter_table('releases') as batch:
        batch.add_column(sa.Column('github_immutable', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('releases') as batch:
        batch.drop_column('github_immutable')
    with op.batch_alter_table('sync_assets') as batch:
        batch.drop_column('digest_check')
    with op.batch_alter_table('repository_connections') as batch:
        batch.drop_index('ix_repository_connections_installation_id')
        batch.drop_constraint('fk_repository_connections_installation_id_github_installations', type_='foreignkey')
        batch.drop_column('status')
        batch.drop_column('installation_id')
        batch.alter_column('webhook_secret_sealed', existing_type=sa.Text(), nullable=False)
    op.drop_table('github_app_deliveries')
    op.drop_index('ix_github_installations_organization_id', 'github_installations')
    op.drop_table('github_installations')
    op.drop_table('github_apps')
