"""event codes and repeat offences

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:50:00.930891
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_code', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('repeat_of', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('repeat_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index(batch_op.f('ix_cases_event_code'), ['event_code'], unique=False)
        batch_op.create_foreign_key('fk_cases_repeat_of_cases', 'cases', ['repeat_of'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint('fk_cases_repeat_of_cases', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_cases_event_code'))
        batch_op.drop_column('repeat_count')
        batch_op.drop_column('repeat_of')
        batch_op.drop_column('event_code')

