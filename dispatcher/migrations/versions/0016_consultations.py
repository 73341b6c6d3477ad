"""consultations (会商): the notes and photos of a case's consultation thread

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'consult_notes',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.String(length=64), nullable=False),
        sa.Column('author_role', sa.String(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('photo_sha256', sa.String(length=64), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('consult_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consult_notes_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('consult_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consult_notes_case_id'))
    op.drop_table('consult_notes')
