"""the GitHub App's OAuth client, to verify who installs it

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 02:00:00

An installation is bound to an Envelope organization only when the owner's
GitHub account, proven by an OAuth code traded with the App's client id and
secret, manages it (envelope.github.app.bind_installation).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('github_apps') as batch:
        batch.add_column(sa.Column('client_id', sa.String(100), nullable=True))
        batch.add_column(sa.Column('client_secret_sealed', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('github_apps') as batch:
        batch.drop_column('client_secret_sealed')
        batch.drop_column('client_id')
