"""one session, one transaction: sessions close; orders remember the point of no return,
refunds, an issuer's permanent refusal; certificate status by serial

Revision ID: 7c1e0b5d2a41
Revises: 319a3575e768
"""

import sqlalchemy as sa
from alembic import op

revision = '7c1e0b5d2a41'
down_revision = '319a3575e768'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('kiosk_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handed_out_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('copies_printed', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('refunded', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('issuer_refusal', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_orders_certificate_serial', ['certificate_serial'], unique=False)
    with op.batch_alter_table('issuance_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issuer_refusal', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('issuance_records', schema=None) as batch_op:
        batch_op.drop_column('issuer_refusal')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_certificate_serial')
        batch_op.drop_column('issuer_refusal')
        batch_op.drop_column('refunded')
        batch_op.drop_column('copies_printed')
        batch_op.drop_column('handed_out_at')
    with op.batch_alter_table('kiosk_sessions', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
        batch_op.drop_column('order_id')
