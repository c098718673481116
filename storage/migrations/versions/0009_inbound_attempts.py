"""inbound_message.attempts: failed processing runs, so inbound retries end

Revision ID: 0009_inbound_attempts
Revises: 0008_case_minor_5_digits
Create Date: 2026-12-05 08:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_inbound_attempts'
down_revision = '0008_case_minor_5_digits'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_column('attempts')
