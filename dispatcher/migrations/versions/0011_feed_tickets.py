"""feed tickets: one-time, short-lived tickets that open the live feed's WebSocket, instead
of a session token in its URL (which access logs kept)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'feed_tickets',
        sa.Column('ticket_hash', sa.String(length=64), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('ticket_hash'),
    )
    with op.batch_alter_table('feed_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_tickets_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('feed_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_tickets_expires_at'))
    op.drop_table('feed_tickets')
