"""shop owners told first: a case the shop put right within its grace period is marked so

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 07:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (SQLite too: a table copy would trip the foreign keys to cases)
    op.add_column('cases', sa.Column('self_corrected', sa.Boolean(), nullable=False,
                                     server_default=sa.text('false')))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('self_corrected')
