"""delivery chains

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 20:32:14.184611
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivered_at', dispatcher.db.UtcDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('position', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('address', sa.String(length=128), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('address')
        batch_op.drop_column('position')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('delivered_at')

