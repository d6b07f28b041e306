"""The import refuses records no municipality could hold, naming the field, changing nothing.

Each case starts from the full import of test_kinds (the 山田 register: 太郎
born 1980-04-01, 葛子 1982-06-15, 明美 2006-08-08 married out on 2025-10-10,
𠮷郎 2010-01-20) and makes one record impossible.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kofu.domain.koseki import age_on, marriage_age
from kofu.issuer.importer import ImportError_, import_file
from kofu.issuer.tables import family_registers, seal_registrations

from .test_kinds import _png, world  # noqa: F401  (the fixture)

REGISTER = "municipalities[0].family_registers[0]"
SEALS = "municipalities[0].seal_registrations"
HOUSEHOLD = "municipalities[0].households[0]"


def _seal(number: str, resident: str, registered: str, abolished: str | None = None) -> dict[str, Any]:
    return {"number": number, "resident": resident, "impression_png": base64.b64encode(_png()).decode(),
            "registered_at": registered, "abolished_at": abolished}


def _persons(k: dict[str, Any]) -> list[dict[str, Any]]:
    return k["family_registers"][0]["persons"]


def _stored(engine: sa.Engine) -> tuple[Any, ...]:
    with engine.connect() as c:
        registers = c.execute(sa.select(family_registers.c.data).order_by(family_registers.c.register_id)).all()
        seals = c.execute(sa.select(seal_registrations.c.registration_number, seal_registrations.c.abolished_at)
                          .order_by(seal_registrations.c.registration_number)).all()
    return tuple(registers), tuple(seals)


Change = Callable[[dict[str, Any]], None]

IMPOSSIBLE: list[tuple[str, Change, str, str]] = [
    ("seal for a child of 9",
     lambda k: k["seal_registrations"].append(_seal("KT-0003", "R003", "2019-06-01T10:00:00+09:00")),
     f"{SEALS}[2].registered_at", "a seal can be registered from age 15"),
    ("seal the day before the 15th birthday",
     lambda k: k["seal_registrations"].append(_seal("KT-0003", "R003", "2025-01-19T10:00:00+09:00")),
     f"{SEALS}[2].registered_at", "was 14"),
    ("a second seal while the first is in force",
     lambda k: k["seal_registrations"].append(_seal("KT-0003", "R001", "2020-01-01T10:00:00+09:00")),
     f"{SEALS}[2].registered_at", "two seals in force: KT-0001"),
    ("a second seal registered before the first was abolished",
     lambda k: k["seal_registrations"].append(_seal("KT-0003", "R010", "2026-02-28T10:00:00+09:00")),
     f"{SEALS}[2].registered_at", "two seals in force: KT-0002"),
    ("a woman married at 16 after 令和4年4月1日",
     lambda k: _persons(k)[2]["events"][1].update(date="2023-05-05"),
     f"{REGISTER}.persons[2].events[1].date", "at 16, below the marriageable age of 18 for a woman"),
    ("a man married at 17 before 令和4年4月1日",
     lambda k: (_persons(k)[0]["events"][1].update(date="1997-05-03"),
                _persons(k)[1]["events"][1].update(date="1997-05-03")),
     f"{REGISTER}.persons[0].events[1].date", "at 17, below the marriageable age of 18 for a man"),
    ("a woman married at 15 before 令和4年4月1日",
     lambda k: _persons(k)[2]["events"][1].update(date="2021-10-10"),
     f"{REGISTER}.persons[2].events[1].date", "at 15, below the marriageable age of 16 for a woman"),
    ("a child born before the father",
     lambda k: _persons(k)[3].update(birth_date="1979-12-31"),
     f"{REGISTER}.persons[3].birth_date", "not after the 父 山田 太郎 (persons[0]"),
    ("a child born before the mother",
     lambda k: _persons(k)[3].update(birth_date="1981-01-01"),
     f"{REGISTER}.persons[3].birth_date", "not after the 母"),
    ("a marriage before the person's birth",
     lambda k: _persons(k)[1]["events"][1].update(date="1982-06-14"),
     f"{REGISTER}.persons[1].events[1].date", "before the person's birth"),
    ("a birth notified before the birth",
     lambda k: _persons(k)[0]["events"][0].update(notified_on="1980-03-31"),
     f"{REGISTER}.persons[0].events[0].notified_on", "before the person's birth"),
    ("妻 as a 続柄",
     lambda k: _persons(k)[1].update(relationship="妻"),
     f"{REGISTER}.persons[1].relationship", "unknown 続柄 '妻' (夫 and 妻 are the 配偶者区分"),
    ("子 as a 続柄",
     lambda k: _persons(k)[3].update(relationship="子"),
     f"{REGISTER}.persons[3].relationship", "unknown 続柄 '子'"),
    ("養子 as the 続柄 to the birth parents",
     lambda k: _persons(k)[3].update(relationship="養子"),
     f"{REGISTER}.persons[3].relationship", "unknown 続柄 '養子' (養子 and 養女 are the 続柄 to the adoptive"),
    ("養子 for a woman",
     lambda k: _persons(k)[2].update(adoptive_father="山田 一", adoptive_relationship="養子"),
     f"{REGISTER}.persons[2].adoptive_relationship", "of a woman is 養女, got '養子'"),
    ("養子 without an adoptive parent",
     lambda k: _persons(k)[3].update(adoptive_relationship="養子"),
     f"{REGISTER}.persons[3].adoptive_relationship", "養子 without a 養父 or 養母"),
    ("an adoptee older than the adoptive mother",
     lambda k: (_persons(k)[3].update(birth_date="1981-01-01"),
                _persons(k)[3]["events"][0].update(date="1981-01-01", notified_on="1981-01-05"),
                _persons(k)[3].update(father="甲野 一郎", mother="甲野 春子"),
                _persons(k)[3]["events"].append({"type": "養子縁組", "date": "2012-03-03",
                                                 "adoptive_mother": _persons(k)[1]["name"],
                                                 "previous_register": "東京都千代田区平河町一丁目10番地"})),
     f"{REGISTER}.persons[3].birth_date", "not after the 養母"),
    ("a person their own 父",
     lambda k: _persons(k)[3].update(father=_persons(k)[3]["name"]),
     f"{REGISTER}.persons[3].father", "is the person themselves"),
    ("two persons with one id",
     lambda k: _persons(k)[3].update(id="R001"),
     f"{REGISTER}.persons[3].id", "'R001' is also the id of persons[0]"),
    ("a 住民票 resident before the birth",
     lambda k: k["households"][0]["members"][2].update(became_resident_on="2005-01-01"),
     f"{HOUSEHOLD}.members[2].became_resident_on", "住民となった年月日 平成17年1月1日 is before the resident's birth"),
    ("a 住民票 address fixed before the birth",
     lambda k: k["households"][0]["members"][2].update(address_since="2010-01-19"),
     f"{HOUSEHOLD}.members[2].address_since", "住所を定めた年月日 平成22年1月19日 is before"),
    ("a 附票 address before the birth",
     lambda k: _persons(k)[3]["addresses"].insert(0, {"address": "兵庫県西脇市郷瀬町1番地", "since": "2000-01-01"}),
     f"{REGISTER}.persons[3].addresses[0].since", "before the person's birth (平成22年1月20日)"),
    ("a woman recorded as 長男",
     lambda k: _persons(k)[2].update(relationship="長男"),
     f"{REGISTER}.persons[2].relationship", "続柄 長男 is a son's, but persons[2] is a woman"),
    ("a man recorded as 長女",
     lambda k: _persons(k)[3].update(relationship="長女"),
     f"{REGISTER}.persons[3].relationship", "続柄 長女 is a daughter's, but persons[3] is a man"),
    ("two 長女 of the same parents",
     lambda k: _persons(k)[3].update(relationship="長女", sex="female"),
     f"{REGISTER}.persons[3].relationship", "長女 is also the 続柄 of persons[2], a child of the same parents"),
    ("a 配偶者区分 without a 婚姻",
     lambda k: _persons(k)[1].update(events=_persons(k)[1]["events"][:1]),
     f"{REGISTER}.persons[1].spouse_role", "配偶者区分 妻 without a 婚姻 身分事項"),
    ("a man as 妻",
     lambda k: (_persons(k)[0].update(spouse_role="妻"), _persons(k)[1].update(spouse_role="夫")),
     f"{REGISTER}.persons[0].spouse_role", "配偶者区分 妻, but persons[0] is a man"),
]


@pytest.mark.parametrize(("change", "path", "message"), [c[1:] for c in IMPOSSIBLE], ids=[c[0] for c in IMPOSSIBLE])
def test_impossible_records_are_refused_and_change_nothing(
    world: Any, tmp_path: Path, change: Change, path: str, message: str  # noqa: F811
) -> None:
    svc, _w, doc = world
    before = _stored(svc.engine)
    bad = json.loads(json.dumps(doc))
    change(bad["municipalities"][0])
    bad["municipalities"][0]["name"] = "changed"
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportError_) as e:
        import_file(svc.engine, file)
    assert re.search(re.escape(path) + r": [^;]*" + re.escape(message), str(e.value)), str(e.value)
    assert svc.service_status("282286")[0].name == "加東市"
    assert _stored(svc.engine) == before


POSSIBLE: list[tuple[str, Change]] = [
    ("a seal on the 15th birthday",
     lambda k: k["seal_registrations"].append(_seal("KT-0003", "R003", "2025-01-20T10:00:00+09:00"))),
    ("a new seal after the old one was abolished",
     lambda k: k["seal_registrations"].append(_seal("KT-0003", "R010", "2026-03-02T10:00:00+09:00"))),
    ("a woman married at 16 and a man at 18 before 令和4年4月1日",
     lambda k: (_persons(k)[0]["events"][1].update(date="1998-07-01"),
                _persons(k)[1]["events"][1].update(date="1998-07-01"))),
    # 葛子 is the 長女 of other parents (佐藤) in the same register.
    ("a 長女 and a 二女 of the same parents",
     lambda k: _persons(k)[3].update(relationship="二女", sex="female")),
    # 明美 married out; on her divorce she came back (復籍): a second entry, the same 長女.
    ("a 長女 entered again on her return",
     lambda k: _persons(k).append({**json.loads(json.dumps(_persons(k)[2])), "id": "R099"})),
    ("a resident since the day of the birth",
     lambda k: k["households"][0]["members"][2].update(became_resident_on="2010-01-20")),
    ("a woman 16 on 令和4年4月1日 married at 17 after it",
     lambda k: (_persons(k)[2].update(birth_date="2006-04-01"),
                _persons(k)[2]["events"][0].update(date="2006-04-01", notified_on="2006-04-05"),
                _persons(k)[2]["events"][1].update(date="2023-05-05"))),
]


@pytest.mark.parametrize("change", [c[1] for c in POSSIBLE], ids=[c[0] for c in POSSIBLE])
def test_possible_records_import(world: Any, tmp_path: Path, change: Change) -> None:  # noqa: F811
    svc, _w, doc = world
    good = json.loads(json.dumps(doc))
    change(good["municipalities"][0])
    file = tmp_path / "good.json"
    file.write_text(json.dumps(good, ensure_ascii=False), encoding="utf-8")
    import_file(svc.engine, file)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["events"].append({"type": "除籍", "date": "2025-10-10"}),
         "persons[2].events[2].type: unknown 身分事項 '除籍' (除籍 is not an event"),
        (lambda p: p["events"][0].update(weight="3000g"), "persons[2].events[0].weight: a 出生 event has no item 'weight'"),
        (lambda p: p["events"][1].pop("spouse"), "persons[2].events[1].spouse is required for a 婚姻 event"),
        (lambda p: p.update(spouse_role="嫁"), "persons[2].spouse_role (配偶者区分) must be 夫 or 妻"),
        (lambda p: p.update(name="山田明美"), "persons[2].given_name is required when name does not separate"),
        (lambda p: p["events"][1].update(date="2025-13-01"), "persons[2].events[1].date: '2025-13-01' is not a date"),
    ],
)
def test_malformed_events_are_refused(world: Any, tmp_path: Path, change: Any, message: str) -> None:  # noqa: F811
    svc, _w, doc = world
    bad = json.loads(json.dumps(doc))
    change(_persons(bad["municipalities"][0])[2])
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportError_, match=re.escape(f"{REGISTER}.{message}")):
        import_file(svc.engine, file)


def test_marriageable_age_counts_the_day_before_the_birthday() -> None:
    """民法731条 and its transition, with ages as 年齢計算ニ関スル法律 counts them."""
    assert age_on(date(2004, 4, 2), date(2022, 4, 1)) == 17
    assert age_on(date(2004, 4, 2), date(2022, 4, 2)) == 18
    assert age_on(date(2008, 2, 29), date(2023, 3, 1)) == 15 and age_on(date(2008, 2, 29), date(2023, 2, 28)) == 14
    assert marriage_age("female", date(2022, 3, 31), date(2006, 1, 1)) == 16
    assert marriage_age("male", date(2022, 3, 31), date(2004, 1, 1)) == 18
    # A woman 16 or older on 令和4年4月1日 (born by 平成18年4月1日) kept the old age.
    assert marriage_age("female", date(2023, 1, 1), date(2006, 4, 1)) == 16
    assert marriage_age("female", date(2023, 1, 1), date(2006, 4, 2)) == 18


@pytest.mark.parametrize(
    ("seal", "path", "message"),
    [
        (_seal("KT-0009", "R001", "2020-01-01T10:00:00+09:00"), f"{SEALS}[0].registered_at",
         "two seals in force: KT-0001 (at the stored seal KT-0001)"),
        (_seal("KT-0009", "R010", "2009-01-01T10:00:00+09:00"), f"{SEALS}[0].abolished_at",
         "the stored seal KT-0002 is registered while this one is not abolished"),
    ],
)
def test_a_seal_against_the_stored_ones(world: Any, tmp_path: Path, seal: dict[str, Any], path: str,  # noqa: F811
                                        message: str) -> None:
    """A file with only the new seal: the one already stored (not in the file) still counts."""
    svc, _w, doc = world
    before = _stored(svc.engine)
    bad = json.loads(json.dumps(doc))
    bad["municipalities"][0]["seal_registrations"] = [dict(seal)]
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportError_, match=re.escape(f"{path}: resident") + ".*" + re.escape(message)):
        import_file(svc.engine, file)
    assert _stored(svc.engine) == before
    # Abolished before the new one, it imports.
    bad["municipalities"][0]["seal_registrations"][0]["abolished_at"] = "2009-12-31T10:00:00+09:00"
    if seal["resident"] == "R001":
        bad["municipalities"][0]["seal_registrations"][0].update(registered_at="2014-01-01T10:00:00+09:00",
                                                               abolished_at="2015-05-31T10:00:00+09:00")
    file.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    import_file(svc.engine, file)


def _jsonl(doc: dict[str, Any], path: Path) -> Path:
    """``doc`` as JSON Lines: the format, then each municipality's settings and its records."""
    lines = [{"format": doc["format"]}]
    keys = {"households": "household", "seal_registrations": "seal_registration", "tax_records": "tax_record",
            "family_registers": "family_register"}
    for m in doc["municipalities"]:
        lines.append({"municipality": {k: v for k, v in m.items() if k not in keys}})
        lines += [{keys[k]: record} for k in keys for record in m.get(k, [])]
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return path


def test_the_streamed_forms_refuse_the_same_records(world: Any, tmp_path: Path) -> None:  # noqa: F811
    """JSON Lines goes through the same checks; a difference takes the birth date from the stored resident."""
    svc, _w, doc = world
    before = _stored(svc.engine)
    bad = json.loads(json.dumps(doc))
    bad["municipalities"][0]["seal_registrations"].append(_seal("KT-0003", "R003", "2019-06-01T10:00:00+09:00"))
    with pytest.raises(ImportError_, match=re.escape(f"{SEALS}[2].registered_at: resident R003 was 9")):
        import_file(svc.engine, _jsonl(bad, tmp_path / "bad.jsonl"))
    bad["municipalities"][0]["family_registers"][0]["persons"][3]["relationship"] = "子"
    with pytest.raises(ImportError_, match=re.escape(f"{REGISTER}.persons[3].relationship: unknown 続柄")):
        import_file(svc.engine, _jsonl(bad, tmp_path / "bad.jsonl"))
    bad["municipalities"][0]["households"][0]["members"][2]["became_resident_on"] = "2005-01-01"
    with pytest.raises(ImportError_, match=re.escape(f"{HOUSEHOLD}.members[2].became_resident_on: 住民となった")):
        import_file(svc.engine, _jsonl(bad, tmp_path / "bad.jsonl"))
    assert _stored(svc.engine) == before
    diff = {"format": "kofu-issuer-difference/1", "municipalities": [
        {"code": "282286", "sequence": 1,
         "seal_registrations": [_seal("KT-0003", "R003", "2019-06-01T10:00:00+09:00")]}]}
    file = tmp_path / "d1.json"
    file.write_text(json.dumps(diff), encoding="utf-8")
    with pytest.raises(ImportError_, match=re.escape(f"{SEALS}[0].registered_at: resident R003 was 9")):
        import_file(svc.engine, file)
    assert _stored(svc.engine) == before


def test_a_changed_change_reason_is_written_again(world: Any, tmp_path: Path) -> None:  # noqa: F811
    """異動事由 is part of the record's content hash: changing only it is a change."""
    from kofu.issuer.tables import residents

    svc, _w, doc = world
    again = json.loads(json.dumps(doc))
    member = again["municipalities"][0]["households"][0]["members"][0]
    member.update(change_reason="転居", change_on="2021-02-03")
    file = tmp_path / "again.json"
    file.write_text(json.dumps(again, ensure_ascii=False), encoding="utf-8")
    assert import_file(svc.engine, file).changed >= 1
    with svc.engine.connect() as c:
        got = c.execute(sa.select(residents.c.change_reason, residents.c.change_on)
                        .where(residents.c.resident_id == member["id"])).one()
    assert tuple(got) == ("転居", date(2021, 2, 3))
    assert import_file(svc.engine, file).changed == 0
