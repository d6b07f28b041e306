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

import re
import zlib
from importlib import resources
from typing import Any

import sqlalchemy as sa

_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*['\"]([0-9a-zA-Z_]+)['\"]", re.M)


def _head(package: str) -> str | None:
    """The newest revision of ``package``, read from its migration files without alembic
    (None when they do not form one line: alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for f in (resources.files(package) / "migrations" / "versions").iterdir():
        if f.name.endswith(".py"):
            for key, value in _REVISION.findall(f.read_text(encoding="utf-8")):
                (revisions if key == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: sa.Engine, package: str) -> bool:
    """True when the database is at the newest revision already: no need to load alembic (about
    half a second of CPU at every start of a command, an import among them)."""
    head = _head(package)
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            versions = [r[0] for r in connection.exec_driver_sql("SELECT version_num FROM alembic_version")]
    except sa.exc.DBAPIError:
        return False  # a new database
    return versions == [head]


def _config(package: str, connection: sa.Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files(package) / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: sa.Engine, package: str) -> None:
    """Bring ``engine``'s database to the newest revision of ``package``'s migrations."""
    if _at_head(engine, package):
        return
    from alembic import command

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
    from alembic import command

    with engine.connect() as connection:
        command.revision(_config(package, connection), message=message, autogenerate=True)
