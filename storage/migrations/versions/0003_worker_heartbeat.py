"""worker_heartbeat: each outbox worker's last sign of life

Revision ID: 0003_worker_heartbeat
Revises: 0002
Create Date: 2026-12-05 07:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_worker_heartbeat'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'worker_heartbeat',
        sa.Column('worker_id', sa.String(length=80), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('beat_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('delivered', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_worker_heartbeat')),
    )
    op.create_index(op.f('ix_worker_heartbeat_beat_at'), 'worker_heartbeat', ['beat_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_worker_heartbeat_beat_at'), table_name='worker_heartbeat')
    op.drop_table('worker_heartbeat')
