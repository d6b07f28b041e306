"""import: the merge compares the stored columns; content hashes and a redundant seal index go

The import now rewrites a record only where a stored column differs
(compared in SQL), so the per-record content hashes are no longer written
or read. ``ix_seal_registrations_resident_id`` (resident id alone) is
covered by ``ix_seal_registrations_holder`` (municipality, resident id):
one index less to maintain on every import.

Revision ID: 8d2e3f4a5b6c
Revises: 7c1d2e3f4a5b
"""

import sqlalchemy as sa
from alembic import op

revision = '8d2e3f4a5b6c'
down_revision = '7c1d2e3f4a5b'
branch_labels = None
depends_on = None

HASHED = ('households', 'residents', 'seal_registrations', 'tax_records', 'family_registers')


def upgrade() -> None:
    op.drop_index('ix_seal_registrations_resident_id', table_name='seal_registrations')
    for table in HASHED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('content_hash')


def downgrade() -> None:
    for table in HASHED:
        op.add_column(table, sa.Column('content_hash', sa.String(length=32), nullable=True))
    op.create_index('ix_seal_registrations_resident_id', 'seal_registrations', ['resident_id'])
