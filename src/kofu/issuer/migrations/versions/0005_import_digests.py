"""import: the digest of each record as last imported, so an unchanged record is skipped

Revision ID: 9e3f4a5b6c7d
Revises: 8d2e3f4a5b6c
"""

import sqlalchemy as sa
from alembic import op

revision = '9e3f4a5b6c7d'
down_revision = '8d2e3f4a5b6c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'import_digests',
        sa.Column('municipality_code', sa.String(length=6), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('record_key', sa.String(length=140), nullable=False),
        sa.Column('digest', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('municipality_code', 'kind', 'record_key'),
    )


def downgrade() -> None:
    op.drop_table('import_digests')
