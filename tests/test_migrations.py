"""The migrations build exactly the schema the code declares, on both back-ends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kofu.center.models import Base
from kofu.db import make_engine
from kofu.issuer import tables as issuer_tables
from kofu.migrations import upgrade


@pytest.mark.parametrize(
    "package,metadata", [("kofu.center", Base.metadata), ("kofu.issuer", issuer_tables.metadata)]
)
def test_migrations_match_the_tables(db_url: str, package: str, metadata) -> None:
    engine = make_engine(db_url)
    upgrade(engine, package)
    upgrade(engine, package)  # a second start changes nothing
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), metadata)
    engine.dispose()
    assert diff == [], f"tables and migrations disagree; run kofu.migrations.revision: {diff}"
