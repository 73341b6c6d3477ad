"""case spot columns: the opening box as numbers, filled from each case's objects

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 23:15:24.182300
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

SPOT = ('spot_x1', 'spot_y1', 'spot_x2', 'spot_y2')


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spot_x1', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('spot_y1', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('spot_x2', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('spot_y2', sa.Float(), nullable=True))
        batch_op.create_index('ix_cases_camera_zone', ['camera_id', 'zone_id'], unique=False)
    cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('objects', sa.Text),
                     *(sa.column(c, sa.Float) for c in SPOT))
    bind = op.get_bind()
    for case_id, objects in bind.execute(sa.select(cases.c.id, cases.c.objects)).all():
        found = json.loads(objects) if isinstance(objects, str) else objects
        if found and found[0].get('bbox'):
            spot = dict(zip(SPOT, found[0]['bbox'], strict=True))
            bind.execute(cases.update().where(cases.c.id == case_id).values(spot))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_camera_zone')
        batch_op.drop_column('spot_y2')
        batch_op.drop_column('spot_x2')
        batch_op.drop_column('spot_y1')
        batch_op.drop_column('spot_x1')

