"""Schema migrations for the services' databases, with alembic.

Each service that owns tables has a ``migrations`` folder beside its table
definitions (``kofu/center/migrations``, ``kofu/issuer/migrations``), and
brings its database to the newest revision when it starts:

>>> upgrade(engine, "kofu.center")

An operator upgrading Kofu therefore never recreates a database by hand, and
a municipality's resident records survive every release. On PostgreSQL the
upgrade holds an advisory lock, so two processes starting together (the
center's east and west regions) do not migrate twice.
"""

from __future__ import annotations

import zlib
from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config


def _config(package: str, connection: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files(package) / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: sa.Engine, package: str) -> None:
    """Bring ``engine``'s database to the newest revision of ``package``'s migrations."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            key = zlib.crc32(package.encode())
            connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            connection.commit()
            try:
                command.upgrade(_config(package, connection), "head")
                connection.commit()
            finally:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()
        else:
            command.upgrade(_config(package, connection), "head")
            connection.commit()


def revision(engine: sa.Engine, package: str, message: str) -> None:
    """Autogenerate a new revision from the difference between the tables and ``engine`` (developers)."""
    with engine.connect() as connection:
        command.revision(_config(package, connection), message=message, autogenerate=True)
