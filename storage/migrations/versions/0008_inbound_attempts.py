"""inbound_message.attempts: failed processing runs, so inbound retries end

Revision ID: 0008_inbound_attempts
Revises: 0007_user_sessions
Create Date: 2026-12-05 08:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_inbound_attempts'
down_revision = '0007_user_sessions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_column('attempts')
