"""The demo's residents as a municipal clerk reads them (issue 14): registers that
could exist, households that moved in as households do, names of each one's
generation, steady incomes. (That the import accepts them is
tests/e2e/test_every_kind.py's world.)"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kofu.demo import data as sample
from kofu.demo.setup import issuer_import_document

KATO_FORMED = date(2006, 3, 20)
"""加東市 was formed on 平成18年3月20日 (社町, 滝野町 and 東条町)."""


@pytest.fixture(scope="module")
def import_doc() -> dict[str, Any]:
    seals = {
        m.code: SimpleNamespace(cert_path=Path("seal.pem"), key_path=Path("seal.key"), chain=[])
        for m in sample.MUNICIPALITIES
    }
    return issuer_import_document(
        {m.code: sample.households_for(m) for m in sample.MUNICIPALITIES}, seals
    )


def _municipality_of(address: str) -> str:
    """兵庫県明石市大久保町… → 兵庫県明石市; 京都府京都市伏見区深草… → 京都府京都市伏見区."""
    found = re.match(r"(.+?[都道府県].+?市(?:[^区]{1,3}区)?)", address)
    assert found, address
    return found.group(1)


def test_households_moved_in_from_different_towns_with_one_notification() -> None:
    for m in sample.MUNICIPALITIES:
        households = sample.households_for(m)
        towns = [
            _municipality_of(p.previous_address)
            for h in households
            for p in h.members[:1]
            if p.previous_address
        ]
        assert len(set(towns)) == len(towns), towns  # not all from one 梅田
        assert f"{m.prefecture}{m.name}" not in towns
        for h in households:
            movers = [p for p in h.members if p.previous_address]
            # One 転入届 for the household: one 届出日, within 14 days of the move.
            assert len({p.notified_on for p in movers}) == 1, h.household_id
            assert len({p.previous_address for p in movers}) == 1
            for p in movers:
                assert timedelta(0) <= p.notified_on - p.became_resident_on < timedelta(days=14)
            for p in h.members:
                if not p.previous_address:  # born here: the 出生届
                    assert p.became_resident_on == p.birth_date
                    assert timedelta(0) <= p.notified_on - p.birth_date < timedelta(days=14)


def test_given_names_belong_to_their_generation() -> None:
    recent = {g for _until, names in sample.GIVEN_NAMES["male"][-1:] for g, _k in names}
    recent |= {g for _until, names in sample.GIVEN_NAMES["female"][-1:] for g, _k in names}
    assert {"陽菜", "悠真"} <= recent
    people = [p for m in sample.MUNICIPALITIES for h in sample.households_for(m) for p in h.members]
    for p in people:
        given = p.name.split(" ")[1]
        if p.birth_date.year < 1990:
            assert given not in recent, (p.name, p.birth_date)
        assert given in {g for g, _k in sample.given_names(p.sex, p.birth_date)}, (
            p.name,
            p.birth_date,
        )


def test_registers_arrived_by_transfer_after_the_municipality_existed(
    import_doc: dict[str, Any],
) -> None:
    registers = [r for m in import_doc["municipalities"] for r in m["family_registers"]]
    assert len(registers) == 2
    for m in import_doc["municipalities"]:
        for r in m["family_registers"]:
            # No 編製 in 1990 under a name that did not exist yet, no 改製 missing.
            (moved,) = r["events"]
            assert moved["type"] == "転籍"
            assert date.fromisoformat(moved["date"]) > KATO_FORMED
            assert not moved["previous_honseki"].startswith(f"兵庫県{m['name']}")
            head, wife = r["persons"][:2]
            # Both spouses came from a parent's register (記載例: the 筆頭者's 婚姻 shows it too).
            assert all(
                any(e.get("previous_register") for e in p["events"] if e["type"] == "婚姻")
                for p in (head, wife)
            )
            out = next(p for p in r["persons"] if any(e.get("new_honseki") for e in p["events"]))
            out_married = next(e["date"] for e in out["events"] if e["type"] == "婚姻")
            assert out_married > moved["date"]  # she was in the register that moved here
    wives = [r["persons"][1] for r in registers]
    daughters = [next(p for p in r["persons"] if p["resident"] is None) for r in registers]
    assert wives[0]["father"] != wives[1]["father"] and wives[0]["mother"] != wives[1]["mother"]
    marriages = [next(e for e in d["events"] if e["type"] == "婚姻") for d in daughters]
    assert marriages[0]["spouse"] != marriages[1]["spouse"]
    assert marriages[0]["new_honseki"] != marriages[1]["new_honseki"]


def test_salaries_are_steady(import_doc: dict[str, Any]) -> None:
    for m in import_doc["municipalities"]:
        salaries = [
            t["salary_revenue"] for t in sorted(m["tax_records"], key=lambda t: t["fiscal_year"])
        ]
        assert len(salaries) == len(sample.TAX_YEARS_RECORDED)
        for before, after in zip(salaries, salaries[1:], strict=False):
            assert abs(after - before) <= before * 0.05, salaries
        credits = {tuple(c["kind"] for c in t["tax_credits"]) for t in m["tax_records"]}
        assert len(credits) == 1  # a housing loan credit does not come and go


def test_seals_were_registered_while_resident(import_doc: dict[str, Any]) -> None:
    for m in import_doc["municipalities"]:
        since = {p["id"]: p["became_resident_on"] for h in m["households"] for p in h["members"]}
        for s in m["seal_registrations"]:
            registered = datetime.fromisoformat(s["registered_at"]).date().isoformat()
            assert registered >= since[s["resident"]], s["number"]
