"""Database engines for the services: SQLite by default, PostgreSQL in production.

Each service owns its own database and builds its engine here, from the URL in
its settings, so that both back-ends behave alike (SQLite gets WAL, a busy
timeout and foreign keys; both get pre-ping).

>>> engine = make_engine("sqlite:///var/demo/center/center.sqlite")
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

SQLITE_MMAP_BYTES = 1 << 30
"""At most this much of a SQLite database file is memory-mapped (address space, not memory used)."""
SQLITE_CACHE_KIB = 16 * 1024
"""SQLite's page cache per connection, at most (filled only as pages are read)."""


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` as shorthand for the psycopg 3 driver."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Reads of a large database (an issuer of a whole city) from the mapped file and a
            # larger page cache per connection (SQLite's default is 2 MB): a lookup at a million
            # residents walks deeper B-trees than at ten thousand, and should not go to the OS for them.
            cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)
