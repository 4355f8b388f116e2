"""Stripe billing: plans' prices, the default plan, billing accounts, Stripe events

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 01:00:00

Plans get the Stripe price that pays for them and a default flag (the plan
an organization without a subscription is on); billing_accounts keeps each
organization's Stripe customer and subscription; stripe_events records every
verified event so a redelivery changes nothing (envelope.billing).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('plans') as batch:
        batch.add_column(sa.Column('stripe_price', sa.String(100), nullable=True))
        batch.add_column(sa.Column('is_default', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_unique_constraint('uq_plans_stripe_price', ['stripe_price'])
    op.create_table(
        'billing_accounts',
        sa.Column('organization_id', sa.Integer(), sa.ForeignKey('organizations.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('customer_id', sa.String(100), nullable=False, unique=True),
        sa.Column('subscription_id', sa.String(100), nullable=True),
        sa.Column('status', sa.String(30), nullable=True),
        sa.Column('price_id', sa.String(100), nullable=True),
        sa.Column('current_period_end', sa.DateTime(), nullable=True),
        sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('past_due_since', sa.DateTime(), nullable=True),
        sa.Column('updated', sa.DateTime(), nullable=False),
    )
    op.create_table(
        'stripe_events',
        sa.Column('id', sa.String(100), primary_key=True),
        sa.Column('type', sa.String(100), nullable=False),
        sa.Column('created', sa.BigInteger(), nullable=False),
        sa.Column('organization_id', sa.Integer(), sa.ForeignKey('organizations.id', ondelete='SET NULL'),
                  nullable=True),
        sa.Column('outcome', sa.String(40), nullable=False),
        sa.Column('received', sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('stripe_events')
    op.drop_table('billing_accounts')
    with op.batch_alter_table('plans') as batch:
        batch.drop_constraint('uq_plans_stripe_price', type_='unique')
        batch.drop_column('is_default')
        batch.drop_column('stripe_price')
