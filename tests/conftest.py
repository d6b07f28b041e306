"""Shared fixtures.

Databases: tests that take ``db_url`` run once on SQLite and once on
PostgreSQL. PostgreSQL comes from ``KOFU_TEST_PG_URL`` (default: the local
server's ``postgres`` database); each test session creates a database of its
own and drops it afterwards. Where PostgreSQL is missing, those tests skip on a
developer's machine, saying why, and fail when ``KOFU_REQUIRE_PG=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest

from kofu import clock

# Tests own their clock (tests/clocks.py): an ambient KOFU_CLOCK (a developer's
# demo shell, say) must not decide what a test sees, in this process or in the
# services and commands it starts.
os.environ.pop("KOFU_CLOCK", None)
clock.set_for_tests(None)

PG_ADMIN_URL = os.environ.get(
    "KOFU_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def require_or_skip(what: str, flag: str, reason: str) -> None:
    """Fail when CI requires ``what`` (``flag`` set to 1), else skip with ``reason``."""
    if os.environ.get(flag) == "1":
        pytest.fail(f"{what} is required ({flag}=1) but unavailable: {reason}")
    pytest.skip(f"{what} unavailable ({reason}); set {flag}=1 to make this a failure")


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session."""
    try:
        import sqlalchemy as sa

        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"kofu_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # any failure to reach the server means "missing"
        require_or_skip("PostgreSQL", "KOFU_REQUIRE_PG", f"{type(e).__name__}: {e}")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A database URL for a service under test: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    base = request.getfixturevalue("pg_database_url")
    import sqlalchemy as sa

    # One database per session, one fresh schema per test: tests stay independent.
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"


def require_tool(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed; `make test` installs it (scripts/ensure-system-packages.sh)")
    return path


CHROMIUM = os.environ.get("KOFU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium driven by Playwright (a ``playwright.sync_api.Browser``).

    One per test module: Playwright's sync API keeps an event loop running in
    the main thread while it is open, and code under test that runs its own
    loop (pyHanko's signing, ``asyncio.run``) must not find one in later modules.

    Never ``playwright install``: the browser is the distribution's package
    (scripts/ensure-system-packages.sh). Missing chromium or playwright skips,
    saying why, and fails when ``KOFU_REQUIRE_CHROMIUM=1`` (CI).
    """
    if not os.access(CHROMIUM, os.X_OK):
        require_or_skip("chromium", "KOFU_REQUIRE_CHROMIUM", f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        require_or_skip("chromium", "KOFU_REQUIRE_CHROMIUM", f"playwright is not installed: {e}")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
