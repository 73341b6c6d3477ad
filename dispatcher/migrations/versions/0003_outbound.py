"""outbound messages to the city platform

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:09:47.743120
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbound',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('target', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', dispatcher.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('created_at', dispatcher.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', dispatcher.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbound', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbound_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_target'), ['target'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbound', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_target'))
        batch_op.drop_index(batch_op.f('ix_outbound_status'))
        batch_op.drop_index(batch_op.f('ix_outbound_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_outbound_case_id'))

    op.drop_table('outbound')
