"""case before and after images: the camera's frame before the object came to rest (from
the opened event, contract 1.3) and the one that saw the spot free (from the cleared event)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('before_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('before_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('cleared_snapshot_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('cleared_snapshot_sha256', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('cleared_snapshot_sha256')
        batch_op.drop_column('cleared_snapshot_url')
        batch_op.drop_column('before_sha256')
        batch_op.drop_column('before_url')
