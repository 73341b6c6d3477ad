"""presence: the five-minute slots in which a person's phone page was open (the online rate)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'presence',
        sa.Column('person_id', sa.String(length=64), nullable=False),
        sa.Column('slot', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('person_id', 'slot'),
    )


def downgrade() -> None:
    op.drop_table('presence')
