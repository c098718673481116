"""case.minor holds 5 digits: the GB/T 47678.5-2026 edition's minor codes (01001)

Revision ID: 0008_case_minor_5_digits
Revises: 0007_user_sessions
Create Date: 2026-12-05 08:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_case_minor_5_digits'
down_revision = '0007_user_sessions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.alter_column('minor', existing_type=sa.String(length=4), type_=sa.String(length=5))


def downgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.alter_column('minor', existing_type=sa.String(length=5), type_=sa.String(length=4))
