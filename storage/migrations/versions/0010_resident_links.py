"""resident: one person across channel identities (reporter.resident_id); link_code: the
one-time codes that prove a phone before two identities are linked

Revision ID: 0010_resident_links
Revises: 0009_inbound_attempts
Create Date: 2026-12-05 08:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_resident_links'
down_revision = '0009_inbound_attempts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'resident',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=True),
        sa.Column('consent_contact', sa.Boolean(), nullable=True),
        sa.Column('notify_channel', sa.String(length=20), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_resident')),
    )
    with op.batch_alter_table('reporter') as batch:
        batch.add_column(sa.Column('resident_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_reporter_resident_id_resident'), 'resident',
                                 ['resident_id'], ['id'])
        batch.create_index(op.f('ix_reporter_resident_id'), ['resident_id'], unique=False)
    op.create_table(
        'link_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reporter_id', sa.Integer(), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['reporter_id'], ['reporter.id'],
                                name=op.f('fk_link_code_reporter_id_reporter')),
        sa.ForeignKeyConstraint(['target_id'], ['reporter.id'],
                                name=op.f('fk_link_code_target_id_reporter')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_link_code')),
    )
    op.create_index(op.f('ix_link_code_reporter_id'), 'link_code', ['reporter_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_link_code_reporter_id'), table_name='link_code')
    op.drop_table('link_code')
    with op.batch_alter_table('reporter') as batch:
        batch.drop_index(op.f('ix_reporter_resident_id'))
        batch.drop_constraint(op.f('fk_reporter_resident_id_resident'), type_='foreignkey')
        batch.drop_column('resident_id')
    op.drop_table('resident')
