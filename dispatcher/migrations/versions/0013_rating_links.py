"""rating links: residents rate a verified case through a one-time, expiring link; each
case's rating says where it came from (the resident's link, or typed in from a phone call)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rating_links',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('rating_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_links_case_id'), ['case_id'], unique=False)
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rating_source', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('rating_comment', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('rating_comment')
        batch_op.drop_column('rating_source')
    with op.batch_alter_table('rating_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_links_case_id'))
    op.drop_table('rating_links')
