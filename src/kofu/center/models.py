"""The center's tables. No certificate content lives here: no names, no
addresses, no documents. A session knows the card's serial, the opaque
resident link JPKI gave it and the municipality; an order knows the kind,
options, copies and fee; an issuance record is what statistics and settlement
count.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class KioskSession(Base):
    __tablename__ = "kiosk_sessions"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    store_id: Mapped[str] = mapped_column(sa.String(64))
    kiosk_id: Mapped[str] = mapped_column(sa.String(64))
    region: Mapped[str] = mapped_column(sa.String(16))
    challenge: Mapped[bytes] = mapped_column(sa.LargeBinary(64))
    challenge_used: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    auth_serial: Mapped[str | None] = mapped_column(sa.String(64))
    resident_link: Mapped[str | None] = mapped_column(sa.String(128))
    municipality: Mapped[str | None] = mapped_column(sa.String(6))
    authenticated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    order_id: Mapped[str | None] = mapped_column(sa.String(32))
    """The one order this session may make (one authentication = one transaction), claimed atomically."""
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    """Set when the order is printed or cancelled, or the kiosk closes the session: nothing more on it."""


class OrderRow(Base):
    """A row of ``orders``: one order of a kiosk session, its money and its state."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(sa.ForeignKey("kiosk_sessions.id"), index=True)
    municipality: Mapped[str] = mapped_column(sa.String(6))
    kind: Mapped[str] = mapped_column(sa.String(32))
    options: Mapped[str] = mapped_column(sa.Text)
    """Canonical JSON of the options (``OrderOptions.as_dict``: scope, with_householder, …)."""
    copies: Mapped[int] = mapped_column(sa.Integer)
    fee: Mapped[int] = mapped_column(sa.Integer)
    """Total fee in yen for all copies."""
    paid: Mapped[int] = mapped_column(sa.Integer, default=0)
    state: Mapped[str] = mapped_column(sa.String(16))
    """created → paid → issued → printed | partial (some copies printed, the rest refunded),
    or cancelled (refunded, nothing printed)."""
    message_serial: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """電文通番 of the IssueCertificate call; fixed at order time so retries reuse it."""
    issuance_id: Mapped[str | None] = mapped_column(sa.String(64))
    certificate_serial: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    pages: Mapped[int | None] = mapped_column(sa.Integer)
    handed_out_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    """When the print data left the center: the point of no return. From then on only the
    printer's report of how many copies failed refunds anything; a cancel does not."""
    copies_printed: Mapped[int | None] = mapped_column(sa.Integer)
    refunded: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    """Yen given back: all of it for a cancel, the failed copies' fees for a (partial) misprint."""
    issuer_cancel_pending: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    """Cancelled here, not yet acknowledged by the issuer (retried by the center)."""
    issuer_refusal: Mapped[str | None] = mapped_column(sa.String(200))
    """The issuer permanently refused the cancellation (never retried; shown by ``kofu center compare``)."""
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class IssuanceRecord(Base):
    """One row per printed order: what statistics and settlement count.

    The primary key is the order id, so a retried "printed" report can never
    count a copy twice.
    """

    __tablename__ = "issuance_records"

    order_id: Mapped[str] = mapped_column(sa.ForeignKey("orders.id"), primary_key=True)
    region: Mapped[str] = mapped_column(sa.String(16))
    store_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    municipality: Mapped[str] = mapped_column(sa.String(6), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    copies: Mapped[int] = mapped_column(sa.Integer)
    fee: Mapped[int] = mapped_column(sa.Integer)
    printed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    issuer_confirmed: Mapped[bool] = mapped_column(sa.Boolean, default=False, index=True)
    """The issuer acknowledged ConfirmPrinted (retried by the center until it does)."""
    issuer_refusal: Mapped[str | None] = mapped_column(sa.String(200))
    """The issuer permanently refused ConfirmPrinted (never retried; shown by ``kofu center compare``)."""
