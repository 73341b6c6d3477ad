"""cases from people: a case says where it came from (the camera, a worker's patrol report, the
city hotline) and keeps the reporter's words

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs (a SQLite table copy would trip the foreign keys to cases)
    op.add_column('cases', sa.Column('source', sa.String(length=16), nullable=False,
                                     server_default=sa.text("'camera'")))
    op.add_column('cases', sa.Column('report_note', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('report_note')
        batch_op.drop_column('source')
