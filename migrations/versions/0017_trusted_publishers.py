"""trusted publishers

Revision ID: 0017
Revises: 0016
Create Date: 2027-02-10 10:00:00

Trusted publishing (envelope/publishing): the workflows an organization
trusts, the OIDC tokens already exchanged (unique by issuer and jti, so a
replay fails even when it races), and which publisher minted a token.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oidc_token_uses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('jti', sa.String(length=255), nullable=False),
    sa.Column('expires', sa.DateTime(), nullable=False),
    sa.Column('used', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_token_uses')),
    sa.UniqueConstraint('issuer', 'jti', name=op.f('uq_oidc_token_uses_issuer'))
    )
    with op.batch_alter_table('oidc_token_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_token_uses_expires'), ['expires'], unique=False)

    op.create_table('trusted_publishers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('repository', sa.String(length=200), nullable=False),
    sa.Column('workflow', sa.String(length=255), nullable=False),
    sa.Column('environment', sa.String(length=255), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('projects', sa.JSON(), nullable=False),
    sa.Column('repository_id', sa.String(length=32), nullable=True),
    sa.Column('repository_owner_id', sa.String(length=32), nullable=True),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.Column('last_used', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_trusted_publishers_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trusted_publishers')),
    sa.UniqueConstraint('organization_id', 'repository', 'workflow', 'environment', 'scope', name=op.f('uq_trusted_publishers_organization_id'))
    )
    with op.batch_alter_table('trusted_publishers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trusted_publishers_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trusted_publishers_repository'), ['repository'], unique=False)

    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publisher_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_access_tokens_publisher_id'), ['publisher_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_access_tokens_publisher_id_trusted_publishers'), 'trusted_publishers', ['publisher_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_access_tokens_publisher_id_trusted_publishers'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_access_tokens_publisher_id'))
        batch_op.drop_column('publisher_id')

    with op.batch_alter_table('trusted_publishers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trusted_publishers_repository'))
        batch_op.drop_index(batch_op.f('ix_trusted_publishers_organization_id'))

    op.drop_table('trusted_publishers')
    with op.batch_alter_table('oidc_token_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_token_uses_expires'))

    op.drop_table('oidc_token_uses')
