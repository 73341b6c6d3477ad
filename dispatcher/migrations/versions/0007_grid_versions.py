"""grid versions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 20:49:07.231406
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('grid_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', dispatcher.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('grid_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grid_versions_sha256'), ['sha256'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('grid_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_versions_sha256'))

    op.drop_table('grid_versions')
