"""import: content hashes, data sequence and freshness, lookup indexes

Revision ID: 7c1d2e3f4a5b
Revises: 7c1e2b9d4a60
"""

import sqlalchemy as sa
from alembic import op

revision = '7c1d2e3f4a5b'
down_revision = '7c1e2b9d4a60'
branch_labels = None
depends_on = None

HASHED = ('households', 'residents', 'seal_registrations', 'tax_records', 'family_registers')


def upgrade() -> None:
    op.add_column('municipalities', sa.Column('data_sequence', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('municipalities', sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True))
    for table in HASHED:
        op.add_column(table, sa.Column('content_hash', sa.String(length=32), nullable=True))
    op.create_index('ix_residents_household', 'residents', ['municipality_code', 'household_id', 'position'])
    op.create_index('ix_seal_registrations_holder', 'seal_registrations', ['municipality_code', 'resident_id'])
    op.create_index('ix_register_members_register', 'register_members', ['municipality_code', 'register_id'])


def downgrade() -> None:
    op.drop_index('ix_register_members_register', table_name='register_members')
    op.drop_index('ix_seal_registrations_holder', table_name='seal_registrations')
    op.drop_index('ix_residents_household', table_name='residents')
    with op.batch_alter_table('municipalities') as batch:
        batch.drop_column('refreshed_at')
        batch.drop_column('data_sequence')
    for table in HASHED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('content_hash')
