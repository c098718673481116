"""case index for the duplicate search: label + latitude band (+ longitude)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 00:40:00
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index('ix_case_label_lat_lon', ['label', 'lat', 'lon'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_label_lat_lon')
