"""user_sessions: revocable admin sessions (session epoch) and disabled accounts

Revision ID: 0007_user_sessions
Revises: 0006_platform_event
Create Date: 2026-12-05 07:40:00
"""
import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0007_user_sessions'
down_revision = '0006_platform_event'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account') as batch:
        batch.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('disabled_at', storage.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_account') as batch:
        batch.drop_column('disabled_at')
        batch.drop_column('session_epoch')
