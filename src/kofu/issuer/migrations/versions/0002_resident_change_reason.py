"""residents carry the 異動事由 and its date a 住民票の写し prints

Revision ID: 7c1e2b9d4a60
Revises: f5e06e586d25
"""

import sqlalchemy as sa
from alembic import op

revision = '7c1e2b9d4a60'
down_revision = 'f5e06e586d25'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('change_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('change_on')
        batch_op.drop_column('change_reason')
