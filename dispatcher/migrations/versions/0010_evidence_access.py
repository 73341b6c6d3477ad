"""evidence access: who uploaded each image, and which cases reference it, so that an image
is read only by those who may read a case of it (or its uploader); existing cases' images
are linked from their columns

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

COLUMNS = (("snapshot_sha256", "snapshot"), ("before_sha256", "before"), ("cleared_snapshot_sha256", "cleared"),
           ("after_photo_sha256", "after"))


def upgrade() -> None:
    op.create_table(
        'evidence_uploads',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('uploader', sa.String(length=80), nullable=False),
        sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sha256', 'uploader'),
    )
    table = op.create_table(
        'case_evidence',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('case_id', 'sha256'),
    )
    with op.batch_alter_table('case_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_evidence_sha256'), ['sha256'], unique=False)
    cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('objects', sa.JSON),
                     *(sa.column(c, sa.String) for c, _ in COLUMNS))
    rows: dict[tuple[int, str], str] = {}
    for case in op.get_bind().execute(sa.select(cases)).mappings():
        for column, role in COLUMNS:
            if case[column]:
                rows.setdefault((case["id"], case[column]), role)
        for obj in case["objects"] or []:
            crop = obj.get("crop") if isinstance(obj, dict) else None
            if crop and crop.get("sha256"):
                rows.setdefault((case["id"], crop["sha256"]), "crop")
    if rows:
        op.bulk_insert(table, [{"case_id": c, "sha256": sha, "role": role} for (c, sha), role in rows.items()])


def downgrade() -> None:
    with op.batch_alter_table('case_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_evidence_sha256'))
    op.drop_table('case_evidence')
    op.drop_table('evidence_uploads')
