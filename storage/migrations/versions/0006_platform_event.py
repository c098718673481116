"""platform_event: status events by the platform's own id, with their first answer

Revision ID: 0006_platform_event
Revises: 0005_media_blob
Create Date: 2026-12-05 07:30:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006_platform_event'
down_revision = '0005_media_blob'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'platform_event',
        sa.Column('event_id', sa.String(length=120), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('answer', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_platform_event_case_id_case')),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_platform_event')),
    )
    op.create_index(op.f('ix_platform_event_case_id'), 'platform_event', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_platform_event_case_id'), table_name='platform_event')
    op.drop_table('platform_event')
