"""media_blob: the database media store (photos, raw inbound media, exports shared by hosts)

Revision ID: 0005_media_blob
Revises: 0004_channel_token
Create Date: 2026-12-05 07:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005_media_blob'
down_revision = '0004_channel_token'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'media_blob',
        sa.Column('key', sa.String(length=300), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_media_blob')),
    )


def downgrade() -> None:
    op.drop_table('media_blob')
