"""municipalities: the municipality's and its prefecture's own tax rates (超過課税, 減税)

Revision ID: a0f4b5c6d7e8
Revises: 9e3f4a5b6c7d
"""

import sqlalchemy as sa
from alembic import op

revision = 'a0f4b5c6d7e8'
down_revision = '9e3f4a5b6c7d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('municipalities', sa.Column('local_tax_rates', sa.Text(), server_default='[]', nullable=False))


def downgrade() -> None:
    op.drop_column('municipalities', 'local_tax_rates')
