"""The issuer offers the tax certificates' fiscal years by the import's calendar window."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from kofu import clock
from kofu.db import make_engine
from kofu.domain.rules import Offers
from kofu.domain.taxyears import TaxYearWindow
from kofu.issuer.errors import BadRequest
from kofu.issuer.importer import ImportError_, import_file
from kofu.issuer.service import IssuerService
from kofu.issuer.settings import load_settings
from kofu.issuer.tables import create_all, municipalities

from .conftest import KATO, World
from .test_kinds import full_import, req

RECORDED = {2023, 2024, 2025}  # R001's tax records in full_import
WINDOW = {"available_from": "06-01", "kept": 2}


@pytest.fixture
def svc(issuer_world: World) -> Any:
    doc = full_import(issuer_world.seals)
    doc["municipalities"][0]["tax_years"] = WINDOW
    issuer_world.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    settings = load_settings(issuer_world.config)
    engine = make_engine(settings.database_url)
    create_all(engine)
    import_file(engine, issuer_world.import_file)
    yield IssuerService(engine, settings)
    clock.set_for_tests(None)
    engine.dispose()


def tax_years_offered(svc: IssuerService) -> tuple[int, ...] | None:
    got = svc.query_availability(KATO, "link-R001")
    assert isinstance(got, Offers)
    zeimu = [o for o in got.offers if o.kind == "zeimu"]
    return zeimu[0].options.years if zeimu else None


@pytest.mark.parametrize("now", [
    "2025-05-30T10:00:00+09:00",  # Friday before the 2025 年度 arrives
    "2025-06-02T10:00:00+09:00",  # Monday after
    "2026-05-29T10:00:00+09:00",
    "2026-06-01T10:00:00+09:00",  # 2026 arrives (not recorded), 2024 leaves
    "2027-06-01T10:00:00+09:00",  # nothing recorded in the window
])
def test_offered_years_are_the_window_at_the_clock_and_the_records(svc: IssuerService, now: str) -> None:
    instant = datetime.fromisoformat(now)
    clock.set_for_tests(instant)
    expected = tuple(sorted(TaxYearWindow.parse("06-01", 2).years_at(instant) & RECORDED, reverse=True))
    assert tax_years_offered(svc) == (expected or None)


def test_a_year_that_left_the_window_is_refused(svc: IssuerService) -> None:
    clock.set_for_tests(datetime.fromisoformat("2026-05-29T10:00:00+09:00"))
    assert tax_years_offered(svc) == (2025, 2024)
    clock.set_for_tests(datetime.fromisoformat("2026-06-01T10:00:00+09:00"))
    with pytest.raises(BadRequest):
        svc.issue_certificate(req("TY-2024", "zeimu", 300, tax_kind="shotoku", year=2024))


def test_the_window_is_stored_normalised(svc: IssuerService) -> None:
    with svc.engine.connect() as c:
        stored = c.execute(sa.select(municipalities.c.tax_years).where(municipalities.c.code == KATO)).scalar_one()
    assert json.loads(stored) == WINDOW


@pytest.mark.parametrize(("tax_years", "message"), [
    ({"available_from": "6/1", "kept": 2}, "MM-DD"),
    ({"available_from": "02-29", "kept": 2}, "month and day"),
    ({"available_from": "06-01", "kept": 0}, "kept"),
    ({"available_from": "06-01"}, "tax_years.kept is required"),
    ({"available_from": "06-01", "kept": 2, "years": [2025]}, "unknown field 'years'"),
    ("2025", "tax_years has the wrong type"),
])
def test_bad_windows_are_refused(issuer_world: World, tax_years: Any, message: str) -> None:
    doc = full_import(issuer_world.seals)
    doc["municipalities"][0]["tax_years"] = tax_years
    issuer_world.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    settings = load_settings(issuer_world.config)
    engine = make_engine(settings.database_url)
    create_all(engine)
    try:
        with pytest.raises(ImportError_, match=message):
            import_file(engine, issuer_world.import_file)
    finally:
        engine.dispose()
