"""channel_token: a channel's shared, short-lived API credential (the WeChat access_token)

Revision ID: 0004_channel_token
Revises: 0003_worker_heartbeat
Create Date: 2026-12-05 07:15:00
"""
from alembic import op
import sqlalchemy as sa
import storage.models

revision = '0004_channel_token'
down_revision = '0003_worker_heartbeat'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_token',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('expires_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refreshes', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_channel_token'))
    )


def downgrade() -> None:
    op.drop_table('channel_token')
