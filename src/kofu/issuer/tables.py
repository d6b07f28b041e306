"""The issuer's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Residents are keyed by (municipality, resident id) because one multi-tenant
issuer holds several municipalities whose vendors number residents
independently. ``issuances`` holds the current state of each issuance and
``issuance_events`` is the append-only audit log, hash-chained (see
:mod:`kofu.issuer.audit`); no certificate content (no PDF) is stored.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

municipalities = sa.Table(
    "municipalities",
    metadata,
    sa.Column("code", sa.String(6), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("mayor_title", sa.Text, nullable=False),
    sa.Column("mayor_name", sa.Text, nullable=False),
    sa.Column("population_class", sa.Integer, nullable=False),
    sa.Column("participating", sa.Boolean, nullable=False),
    # JSON as text: {"juminhyo": 200}; a small, fixed shape read whole each time.
    sa.Column("fees", sa.Text, nullable=False),
    sa.Column("offered_kinds", sa.Text, nullable=False),
    sa.Column("hours", sa.Text, nullable=False),
    sa.Column("kind_hours", sa.Text, nullable=False),
    sa.Column("maintenance", sa.Text, nullable=False),
    sa.Column("max_copies", sa.Integer, nullable=False),
    sa.Column("tax_years", sa.Text, nullable=False, server_default="[]"),
    # The municipality's and its prefecture's own rates (超過課税, 減税): JSON, kofu.issuer.taxrecord.
    sa.Column("local_tax_rates", sa.Text, nullable=False, server_default="[]"),
    sa.Column("individual_number", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("counter_fees", sa.Text, nullable=False, server_default="{}"),
    sa.Column("seal_cert", sa.Text),
    sa.Column("seal_key", sa.Text),
    sa.Column("seal_chain", sa.Text, nullable=False, server_default="[]"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # The number of the last difference applied (or of the full export), and
    # when the municipality's data was last refreshed by any import.
    sa.Column("data_sequence", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("refreshed_at", sa.DateTime(timezone=True)),
)

households = sa.Table(
    "households",
    metadata,
    sa.Column("municipality_code", sa.String(6), sa.ForeignKey("municipalities.code"), primary_key=True),
    sa.Column("household_id", sa.String(64), primary_key=True),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("householder", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

residents = sa.Table(
    "residents",
    metadata,
    sa.Column("municipality_code", sa.String(6), primary_key=True),
    sa.Column("resident_id", sa.String(64), primary_key=True),
    sa.Column("household_id", sa.String(64), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_kana", sa.Text, nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("sex", sa.String(8), nullable=False),
    sa.Column("relationship", sa.Text, nullable=False),
    sa.Column("became_resident_on", sa.Date, nullable=False),
    sa.Column("address_since", sa.Date, nullable=False),
    sa.Column("notified_on", sa.Date, nullable=False),
    sa.Column("previous_address", sa.Text, nullable=False),
    sa.Column("domicile", sa.Text),
    sa.Column("domicile_head", sa.Text),
    sa.Column("individual_number", sa.String(12)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("removed_reason", sa.Text),
    sa.Column("removed_on", sa.Date),
    # 異動事由 (転入, 出生, 転居, 世帯主変更 …) and its date, when the export gives them.
    sa.Column("change_reason", sa.Text),
    sa.Column("change_on", sa.Date),
    # 支援措置 (DV, stalking, abuse): this person's and their household's
    # records are never issued at a kiosk.
    sa.Column("support_measure", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("resident_link", sa.String(128), unique=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(
        ["municipality_code", "household_id"],
        ["households.municipality_code", "households.household_id"],
    ),
    sa.CheckConstraint("status IN ('active', 'removed')", name="resident_status"),
    sa.CheckConstraint("sex IN ('male', 'female')", name="resident_sex"),
    # A household's members, in order (offers, every 住民票).
    sa.Index("ix_residents_household", "municipality_code", "household_id", "position"),
)

seal_registrations = sa.Table(
    "seal_registrations",
    metadata,
    sa.Column("municipality_code", sa.String(6), primary_key=True),
    sa.Column("registration_number", sa.String(32), primary_key=True),
    sa.Column("resident_id", sa.String(64), nullable=False),
    sa.Index("ix_seal_registrations_holder", "municipality_code", "resident_id"),
    sa.Column("impression_png", sa.LargeBinary, nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    # Set when the seal is abolished (廃止); checked at the instant of every
    # request and again inside the transaction that records an issuance.
    sa.Column("abolished_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

tax_records = sa.Table(
    "tax_records",
    metadata,
    sa.Column("municipality_code", sa.String(6), primary_key=True),
    sa.Column("resident_id", sa.String(64), primary_key=True),
    sa.Column("fiscal_year", sa.Integer, primary_key=True),
    # JSON as exported (incomes, deductions, taxes, payments): read whole.
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

family_registers = sa.Table(
    "family_registers",
    metadata,
    sa.Column("municipality_code", sa.String(6), primary_key=True),
    sa.Column("register_id", sa.String(64), primary_key=True),
    sa.Column("honseki", sa.Text, nullable=False),
    sa.Column("head_name", sa.Text, nullable=False),
    # JSON: 戸籍事項 and the persons with their 身分事項 and 附票 addresses.
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

register_members = sa.Table(
    "register_members",
    metadata,
    # Which register lists a resident of this municipality (本籍 here).
    sa.Column("municipality_code", sa.String(6), primary_key=True),
    sa.Column("resident_id", sa.String(64), primary_key=True),
    sa.Column("register_id", sa.String(64), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False),
    # A register's members (support measures on anyone listed, 戸籍 and 附票).
    sa.Index("ix_register_members_register", "municipality_code", "register_id"),
)

# The digest of each record as a full export last gave it (kofu.issuer.importer):
# a record whose line has the same digest again is unchanged and is not read
# again. kind is the record list (households, seal_registrations, tax_records,
# family_registers); record_key its key (a tax record's "resident_id\tyear").
import_digests = sa.Table(
    "import_digests",
    metadata,
    sa.Column("municipality_code", sa.String(6), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("record_key", sa.String(140), primary_key=True),
    sa.Column("digest", sa.BigInteger, nullable=False),
)

issuances = sa.Table(
    "issuances",
    metadata,
    sa.Column("issuance_id", sa.String(64), primary_key=True),
    # The 電文通番: UNIQUE is what makes "the same serial never issues twice"
    # hold across processes and concurrent requests.
    sa.Column("message_serial", sa.String(64), nullable=False, unique=True),
    sa.Column("request_digest", sa.String(64), nullable=False),
    sa.Column("municipality_code", sa.String(6), nullable=False),
    sa.Column("resident_id", sa.String(64), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("copies", sa.Integer, nullable=False),
    sa.Column("fee", sa.Integer, nullable=False),
    sa.Column("store_id", sa.String(64), nullable=False),
    sa.Column("certificate_serial", sa.String(64), nullable=False, unique=True),
    sa.Column("pages", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("copies_printed", sa.Integer),
    sa.Column("cancel_reason", sa.Text),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("printed_at", sa.DateTime(timezone=True)),
    sa.Column("cancelled_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("state IN ('issued', 'printed', 'cancelled')", name="issuance_state"),
)

issuance_events = sa.Table(
    "issuance_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("issuance_id", sa.String(64), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("issuance_id", "event", name="one_event_of_each_kind"),
)

audit_head = sa.Table(
    "audit_head",
    metadata,
    # One row. Every append updates it first, which serialises appenders on
    # both back-ends (a row lock on PostgreSQL, the write lock on SQLite).
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_seq", sa.Integer, nullable=False),
    sa.Column("last_hash", sa.String(64), nullable=False),
)

GENESIS_HASH = "0" * 64


def create_all(engine: sa.Engine) -> None:
    """Bring the database to the newest schema (alembic migrations) and seed the audit head."""
    from kofu.migrations import upgrade

    upgrade(engine, "kofu.issuer")
    with engine.begin() as c:
        if c.execute(sa.select(audit_head.c.id)).first() is None:
            try:
                with c.begin_nested():
                    c.execute(audit_head.insert().values(id=1, last_seq=0, last_hash=GENESIS_HASH))
            except sa.exc.IntegrityError:
                pass  # another process created it first
