"""city scale: the indexes a million cases need (issue 21), and `case.corrected` so that the
review queue needs no look inside the evidence JSON

Revision ID: 0011_city_scale
Revises: 0010_resident_links
Create Date: 2026-12-05 07:10:00
"""
import sqlalchemy as sa
from alembic import op

# As storage.models has them today; a migration keeps its own copy.
OPEN_DUE = ("due_at IS NOT NULL AND overdue = false AND duplicate_of_id IS NULL"
            " AND status NOT IN ('closed', 'rejected')")
IN_REVIEW = "needs_review = true OR (corrected = true AND label_before_review IS NULL)"
revision = '0011_city_scale'
down_revision = '0010_resident_links'
branch_labels = None
depends_on = None

PARTIAL = {  # name: (table, columns, predicate)
    'ix_case_duplicate_of': ('case', ['duplicate_of_id'], 'duplicate_of_id IS NOT NULL'),
    'ix_case_external_id': ('case', ['external_id'], 'external_id IS NOT NULL'),
    'ix_case_open_due': ('case', ['due_at'], OPEN_DUE),
    'ix_case_review': ('case', ['created_at'], IN_REVIEW),
    'ix_outbox_pending': ('outbox', ['next_attempt_at', 'id'], "status = 'pending'"),
    'ix_outbox_in_flight': ('outbox', ['locked_until'], 'locked_by IS NOT NULL'),
}
PLAIN = {
    'ix_reporter_phone': ('reporter', ['phone']),
    'ix_case_reporter_id': ('case', ['reporter_id', 'id']),
    'ix_case_follower_source': ('case_follower', ['source_case_id']),
    'ix_audit_log_action': ('audit_log', ['action', 'id']),
}


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('corrected', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    # Once, here: the cases a resident classed themselves (their pick is kept as an override).
    evidence = "CAST(evidence AS TEXT)" if op.get_bind().dialect.name == 'sqlite' else "evidence::text"
    op.execute(f"""UPDATE "case" SET corrected = true WHERE {evidence} LIKE '%"override"%'""")
    for name, (table, columns) in PLAIN.items():
        op.create_index(name, table, columns)
    for name, (table, columns, where) in PARTIAL.items():
        op.create_index(name, table, columns, postgresql_where=sa.text(where),
                        sqlite_where=sa.text(where))


def downgrade() -> None:
    for name, (table, *_rest) in {**PARTIAL, **PLAIN}.items():
        op.drop_index(name, table_name=table)
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('corrected')
