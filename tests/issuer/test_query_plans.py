"""A holder's offers and a certificate's render read by index only, whatever the city's size.

Every statement the service runs for the offers and for each kind's render is
captured and explained (EXPLAIN QUERY PLAN on SQLite; EXPLAIN with sequential
scans disabled on PostgreSQL, so that a sequential scan in the plan means no
usable index). A full scan of a resident-sized table, or a range scan of the
whole municipality (an index used for its municipality_code prefix only),
fails the test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from kofu.demo import city
from kofu.domain.rules import Offers, OrderOptions
from kofu.issuer.importer import import_file

from .conftest import KATO
from .test_import import world  # noqa: F401  (the fixture)

BIG = {"households", "residents", "seal_registrations", "tax_records", "family_registers", "register_members",
       "issuances", "issuance_events"}


def captured(engine: sa.Engine, action: Any) -> list[tuple[str, Any]]:
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return statements


def full_scans(engine: sa.Engine, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            rows = c.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            return [r[-1] for r in rows if r[-1].split()[:1] in (["SCAN"], ["SEARCH"])
                    and r[-1].split()[1] in BIG
                    and (r[-1].startswith("SCAN ") or r[-1].endswith("(municipality_code=?)"))]
        c.exec_driver_sql("SET enable_seqscan = off")
        plan = c.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        found: list[str] = []

        def walk(node: dict[str, Any]) -> None:
            relation = node.get("Relation Name") or str(node.get("Index Name", "")).rsplit("_pkey", 1)[0]
            if node.get("Node Type") == "Seq Scan" and relation in BIG:
                found.append(f"Seq Scan on {relation}")
            cond = node.get("Index Cond")
            if cond and relation in BIG and " AND " not in cond and "municipality_code" in cond:
                found.append(f"{node['Node Type']} on {relation} by municipality only: {cond}")
            for child in node.get("Plans", []):
                walk(child)

        walk(plan[0]["Plan"])
        return found


@pytest.mark.parametrize("kind,options", [
    ("juminhyo", {"with_individual_number": False, "members": []}),
    ("kisai", {"members": []}),
    ("inkan", {}),
    ("zeimu", {"tax_kind": "shotoku", "year": 2025}),
    ("koseki", {"koseki_scope": "all"}),
    ("fuhyo", {}),
])
def test_offers_and_render_use_indexes(world: Any, kind: str, options: dict[str, Any]) -> None:  # noqa: F811
    svc, w, _doc = world
    # A town's worth of residents in the same municipality, and statistics, so
    # that the planners choose as they would for a city.
    diff = w.root / "town.jsonl"
    city.write_difference(diff, residents=6000, changes=10**6, sequence=1, code=KATO)
    import_file(svc.engine, diff)
    with svc.engine.begin() as c:
        c.exec_driver_sql("ANALYZE")
    statements = captured(svc.engine, lambda: svc.query_availability(KATO, "link-R001"))
    assert isinstance(svc.query_availability(KATO, "link-R001"), Offers)
    chosen = OrderOptions.from_dict({"scope": "household", "with_householder": True, "with_domicile": True, **options})
    statements += captured(svc.engine, lambda: svc.render_for_check(KATO, "R001", kind, chosen))
    assert len(statements) >= 8
    problems = {s: scans for s, p in statements if (scans := full_scans(svc.engine, s, p))}
    assert problems == {}, "full scans:\n" + "\n".join(f"{v}: {k}" for k, v in problems.items())
