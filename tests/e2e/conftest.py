"""The end-to-end world: PKI, sample residents, cards and every service as a
real process, built by the same code as ``kofu demo``. Each test module gets
its own world (module scope), once on SQLite and once on PostgreSQL. Every
service's clock is pinned to a business morning (tests/clocks.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from kofu.demo.setup import Ports, build_world, start_world
from kofu.procs import Service, free_port
from tests.clocks import business_morning, service_env
from tests.ports import retry_on_taken_port


def _ports() -> Ports:
    return Ports(center=free_port(), issuer=free_port(), ocsp=free_port(), jpki=free_port())


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    center_db = issuer_db = None
    if request.param == "postgresql":
        base = request.getfixturevalue("pg_database_url")
        engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            c.execute(sa.text("CREATE SCHEMA IF NOT EXISTS e2e_center"))
            c.execute(sa.text("CREATE SCHEMA IF NOT EXISTS e2e_issuer"))
        engine.dispose()
        center_db = f"{base}?options=-csearch_path%3De2e_center"
        issuer_db = f"{base}?options=-csearch_path%3De2e_issuer"
    started = business_morning()

    def start() -> tuple[Path, Ports, dict, dict[str, str], list[Service]]:
        # The ports are in the world's configs: a port taken meanwhile means a new world on new ports.
        root = tmp_path_factory.mktemp(f"world-{request.param}")
        ports = _ports()
        w = build_world(root, ports, issuer_db=issuer_db, center_db=center_db)
        (root / "demo.json").write_text(json.dumps(w, ensure_ascii=False), encoding="utf-8")
        tmp = root / "service-tmp"
        tmp.mkdir()
        # Every service writes its temporary files here, so the test can prove none hold certificate content.
        env = {"TMPDIR": str(tmp), **service_env(started)}
        return root, ports, w, env, start_world(root, w, ports, env)

    root, ports, w, env, services = retry_on_taken_port(start)
    w["_root"] = root
    w["_ports"] = ports
    w["_services"] = {s.name: s for s in services}
    w["_env"] = env
    w["_clock"] = started
    w["_center_db"] = center_db or f"sqlite:///{root / 'center' / 'center.sqlite'}"
    yield w
    for s in reversed(list(w["_services"].values())):
        s.stop()


