"""case shop and location

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 20:48:12.998646
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shop_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lon', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_shop_id'), ['shop_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_shop_id'))
        batch_op.drop_column('lat')
        batch_op.drop_column('lon')
        batch_op.drop_column('shop_id')

