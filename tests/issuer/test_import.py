"""The streamed import, differences and freshness (issue 18), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kofu import clock, migrations
from kofu.db import make_engine
from kofu.demo import city
from kofu.domain.rules import Offers, Refusal, RefusalCode
from kofu.issuer.errors import IssuanceRefused
from kofu.issuer.importer import RECORD_LISTS, ImportError_, import_file
from kofu.issuer.service import IssuerService
from kofu.issuer.settings import load_settings
from kofu.issuer.tables import (
    create_all,
    family_registers,
    households,
    import_digests,
    issuance_events,
    issuances,
    municipalities,
    register_members,
    residents,
    seal_registrations,
    tax_records,
)
from kofu.render.samples import seal_impression_png

from .conftest import KATO, MIKI, World, issue_request
from .test_kinds import NOW, full_import

DATA = (municipalities, households, residents, seal_registrations, tax_records, family_registers,
        register_members)


class Maker:
    """Stands in for typst and the e-seal: these tests are about the records."""

    def make(self, document: Any, seal: Any) -> tuple[bytes, int]:
        return b"%PDF-1.7 not a real document", 1


@pytest.fixture
def world(issuer_world: World) -> Any:
    doc = full_import(issuer_world.seals)
    issuer_world.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    settings = load_settings(issuer_world.config)
    engine = make_engine(settings.database_url)
    create_all(engine)
    clock.set_for_tests(NOW - timedelta(hours=1))
    import_file(engine, issuer_world.import_file)
    clock.set_for_tests(NOW)
    yield IssuerService(engine, settings, maker=Maker()), issuer_world, doc
    clock.set_for_tests(None)
    engine.dispose()


def snapshot(engine: sa.Engine, *, digests: bool = False) -> dict[str, list[Any]]:
    """The stored records (``digests``: and the digests that let the next import skip them)."""
    with engine.connect() as c:
        return {t.name: sorted(map(tuple, c.execute(sa.select(t)).all()), key=repr)
                for t in (*DATA, import_digests) if digests or t is not import_digests}


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def difference(sequence: int, fmt: str = "kofu-issuer-difference/2", **lists: Any) -> dict[str, Any]:
    return {"format": fmt, "municipalities": [{"code": KATO, "sequence": sequence, **lists}]}


def offered(svc: IssuerService, link: str) -> set[str]:
    got = svc.query_availability(KATO, link)
    assert isinstance(got, Offers), got
    return {o.kind for o in got.offers}


def count(engine: sa.Engine, table: sa.Table, *where: Any) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


def test_a_difference_applied_twice_or_out_of_order_is_refused_and_changes_nothing(
    world: Any, tmp_path: Path
) -> None:
    svc, _w, doc = world
    kato = doc["municipalities"][0]
    moved = json.loads(json.dumps(kato["households"][0]))
    moved["address"] = "兵庫県加東市東古瀬3番地"           # the household moved
    left = json.loads(json.dumps(kato["households"][1]))
    left["members"][0].update(status="removed", removed_reason="転出", removed_on="2026-03-02")
    tax = json.loads(json.dumps(kato["tax_records"][2]))
    tax["salary_revenue"] = tax.get("salary_revenue", 0) + 200_000  # a tax record corrected
    register = json.loads(json.dumps(kato["family_registers"][0]))
    register["events"].append({"type": "改製", "date": "2026-03-02", "reason": "記録の訂正"})  # an entry added
    first = write(tmp_path / "d1.json", difference(1, households=[moved, left], tax_records=[tax],
                                                   family_registers=[register]))
    before = snapshot(svc.engine)
    summary = import_file(svc.engine, first)
    assert summary.difference and summary.households == 2 and summary.changed >= 5
    after_first = snapshot(svc.engine)
    with svc.engine.connect() as c:
        assert c.execute(sa.select(households.c.address).where(households.c.municipality_code == KATO,
                                                                   households.c.household_id == "H001")
                         ).scalar_one() == "兵庫県加東市東古瀬3番地"
        assert c.execute(sa.select(residents.c.status).where(residents.c.municipality_code == KATO,
                                                                 residents.c.resident_id == "R010")
                         ).scalar_one() == "removed"
        assert c.execute(sa.select(municipalities.c.data_sequence).where(municipalities.c.code == KATO)
                         ).scalar_one() == 1
    assert after_first != before
    got = svc.query_availability(KATO, "link-R010")
    assert isinstance(got, Refusal) and got.code is RefusalCode.RESIDENT_REMOVED

    # Twice: refused, nothing changes.
    with pytest.raises(ImportError_, match=r"difference 1 for 282286 was already applied"):
        import_file(svc.engine, first)
    assert snapshot(svc.engine) == after_first
    # Refused before its records are read: a bad record in it is not even reported.
    with pytest.raises(ImportError_) as e:
        import_file(svc.engine, write(tmp_path / "d1-again.json", difference(1, households=[{"id": "H001"}])))
    assert e.value.errors == ["municipalities[0].sequence: difference 1 for 282286 was already applied "
                              "(the last applied is 1)"]
    # Out of order (2 is missing), even with a good record in it: refused, nothing changes.
    moved["address"] = "兵庫県加東市山国1番地"
    third = write(tmp_path / "d3.json", difference(3, households=[moved]))
    with pytest.raises(ImportError_, match=r"difference 3 for 282286 is out of order: the next is 2"):
        import_file(svc.engine, third)
    assert snapshot(svc.engine) == after_first
    # A difference naming a resident neither in it nor stored: refused with the path.
    seal = {"number": "KT-0009", "resident": "R999", "impression_png": kato["seal_registrations"][0]["impression_png"],
            "registered_at": "2026-03-02T10:00:00+09:00"}
    bad = write(tmp_path / "bad.json", difference(2, seal_registrations=[seal]))
    with pytest.raises(ImportError_, match=r"seal_registrations\[0\]: resident 'R999' is not among"):
        import_file(svc.engine, bad)
    assert snapshot(svc.engine) == after_first
    # Then 2, then 3, in order.
    import_file(svc.engine, write(tmp_path / "d2.json", difference(2, households=[moved])))
    import_file(svc.engine, third)
    with svc.engine.connect() as c:
        assert c.execute(sa.select(municipalities.c.data_sequence).where(municipalities.c.code == KATO)
                         ).scalar_one() == 3
    # A full export older than the differences applied is refused too.
    kato["sequence"] = 2
    with pytest.raises(ImportError_, match=r"older than the data stored"):
        import_file(svc.engine, write(tmp_path / "old.json", doc))


def test_a_seal_abolished_by_a_difference_is_refused_at_the_very_next_request(world: Any, tmp_path: Path) -> None:
    svc, _w, doc = world
    got = svc.query_availability(KATO, "link-R001")
    assert isinstance(got, Offers) and "inkan" in {o.kind for o in got.offers}
    seal = dict(doc["municipalities"][0]["seal_registrations"][0], abolished_at="2026-03-03T09:59:00+09:00")
    import_file(svc.engine, write(tmp_path / "d1.json", difference(1, seal_registrations=[seal])))
    got = svc.query_availability(KATO, "link-R001")
    assert isinstance(got, Offers) and "inkan" not in {o.kind for o in got.offers}
    with svc.engine.connect() as c:
        before = [c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in (issuances, issuance_events)]
    with pytest.raises(IssuanceRefused) as e:
        svc.issue_certificate(issue_request(message_serial="S-inkan", municipality_code=KATO,
                                            resident_link="link-R001", order_id="O-1", kind="inkan", scope="self",
                                            copies=1, fee=200, store_id="store-1"))
    assert e.value.refusal.code is RefusalCode.KIND_NOT_OFFERED
    with svc.engine.connect() as c:
        after = [c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in (issuances, issuance_events)]
    assert after == before


def test_a_difference_removes_seals_tax_records_registers_and_households(world: Any, tmp_path: Path) -> None:
    svc, _w, doc = world
    kato = doc["municipalities"][0]
    assert {"inkan", "koseki", "zeimu"} <= offered(svc, "link-R001")
    # H002's members move into H003 (sent whole); H002 is then removed.
    h002 = next(h for h in kato["households"] if h["id"] == "H002")
    h003 = json.loads(json.dumps(next(h for h in kato["households"] if h["id"] == "H003")))
    h003["members"] += json.loads(json.dumps(h002["members"]))
    d1 = write(tmp_path / "d1.json", difference(
        1, households=[h003, {"id": "H002", "deleted": True}],
        seal_registrations=[{"number": "KT-0001", "deleted": True}],               # registered in error (誤登録)
        tax_records=[{"resident": "R001", "fiscal_year": 2024, "deleted": True}],  # assessed in error (課税取消)
        family_registers=[{"id": "K001", "deleted": True}],                       # 転籍 to another municipality
    ))
    summary = import_file(svc.engine, d1)
    assert summary.removed == 4
    code = seal_registrations.c.municipality_code == KATO
    assert count(svc.engine, seal_registrations, code, seal_registrations.c.registration_number == "KT-0001") == 0
    assert count(svc.engine, tax_records, tax_records.c.municipality_code == KATO,
                 tax_records.c.resident_id == "R001") == 2  # 2023 and 2025 stay
    assert count(svc.engine, family_registers, family_registers.c.municipality_code == KATO,
                 family_registers.c.register_id == "K001") == 0
    assert count(svc.engine, register_members, register_members.c.municipality_code == KATO,
                 register_members.c.register_id == "K001") == 0
    assert count(svc.engine, households, households.c.municipality_code == KATO,
                 households.c.household_id == "H002") == 0
    with svc.engine.connect() as c:
        assert c.execute(sa.select(residents.c.household_id).where(
            residents.c.municipality_code == KATO, residents.c.resident_id == "R010")).scalar_one() == "H003"
    # At the very next request: no 印鑑登録証明書, no 戸籍 (本籍 no longer here); 2025's tax certificate still.
    kinds = offered(svc, "link-R001")
    assert "inkan" not in kinds and "koseki" not in kinds and "fuhyo" not in kinds and "zeimu" in kinds
    after = snapshot(svc.engine)

    def refused(name: str, message: str, doc: dict[str, Any]) -> None:
        with pytest.raises(ImportError_, match=message):
            import_file(svc.engine, write(tmp_path / name, doc))
        assert snapshot(svc.engine) == after

    # Removing what is not stored: the difference disagrees with the data; refused, nothing changes.
    refused("gone.json", r"seal_registrations\[0\]: this seal registration is removed, but 282286 has no such",
            difference(2, seal_registrations=[{"number": "KT-0001", "deleted": True}]))
    # A household still holding a resident: refused after the merge, which is rolled back.
    refused("held.json", r"households\[0\]: household H003 is removed, but resident R010 still belongs to it",
            difference(2, households=[{"id": "H003", "deleted": True}],
                       seal_registrations=[{"number": "KT-0002", "deleted": True}]))
    # A record removed and sent in one file.
    refused("both.json", r"seal_registrations\[1\]: this seal registration also appears at "
                         r"municipalities\[0\]\.seal_registrations\[0\]",
            difference(2, seal_registrations=[kato["seal_registrations"][1], {"number": "KT-0002", "deleted": True}]))
    # Removals came with the new versions: an earlier one that carries one is refused, naming the version.
    refused("old.json", r"seal_registrations\[0\]\.deleted: removing a record needs format 'kofu-issuer-import/3' "
                        r"or 'kofu-issuer-difference/2'; this file is 'kofu-issuer-difference/1'",
            difference(2, "kofu-issuer-difference/1", seal_registrations=[{"number": "KT-0002", "deleted": True}]))
    # Difference 1 without removals still applies.
    import_file(svc.engine, write(tmp_path / "d2.json", difference(2, "kofu-issuer-difference/1", households=[h003])))


def test_a_full_export_may_remove_records_and_imports_twice(world: Any, tmp_path: Path) -> None:
    svc, _w, doc = world
    doc["format"] = "kofu-issuer-import/3"
    kato = doc["municipalities"][0]
    kato["seal_registrations"][1] = {"number": "KT-0002", "deleted": True}
    path = write(tmp_path / "full.json", doc)
    assert import_file(svc.engine, path).removed == 1
    after = snapshot(svc.engine)
    assert count(svc.engine, seal_registrations, seal_registrations.c.registration_number == "KT-0002") == 0
    # The same file again: nothing left to remove, nothing changes (a full export may be sent twice).
    summary = import_file(svc.engine, path)
    assert (summary.removed, summary.changed) == (0, 0)
    assert {k: v for k, v in snapshot(svc.engine).items() if k != "municipalities"} == \
        {k: v for k, v in after.items() if k != "municipalities"}


def test_earlier_format_versions_import_while_their_content_is_valid(world: Any, tmp_path: Path) -> None:
    svc, _w, doc = world
    before = snapshot(svc.engine)
    for fmt in ("kofu-issuer-import/2", "kofu-issuer-import/3"):
        doc["format"] = fmt
        assert import_file(svc.engine, write(tmp_path / "same.json", doc)).changed == 0
    # Format 2's free {label, text} events: refused, naming the change and the version that made it.
    doc["format"] = "kofu-issuer-import/2"
    doc["municipalities"][0]["family_registers"][0]["persons"][0]["events"] = [
        {"label": "出生", "text": "【出生日】昭和55年4月1日"}]
    with pytest.raises(ImportError_, match=r"family_registers\[0\]\.persons\[0\]\.events\[0\]: \{label, text\} "
                                           r"events are no longer imported: since kofu-issuer-import/3"):
        import_file(svc.engine, write(tmp_path / "old.json", doc))
    doc["format"] = "kofu-issuer-import/4"
    with pytest.raises(ImportError_, match=r"format must be 'kofu-issuer-import/3' or 'kofu-issuer-difference/2' "
                                           r"\(or an earlier version: kofu-issuer-import/1, kofu-issuer-import/2, "
                                           r"kofu-issuer-difference/1\), got 'kofu-issuer-import/4'"):
        import_file(svc.engine, write(tmp_path / "new.json", doc))
    assert {k: v for k, v in snapshot(svc.engine).items() if k != "municipalities"} == \
        {k: v for k, v in before.items() if k != "municipalities"}


def test_an_unchanged_full_import_writes_nothing(world: Any) -> None:
    svc, w, doc = world
    before = snapshot(svc.engine)
    summary = import_file(svc.engine, w.import_file)
    # Every record is given as stored: none is read again (skipped by its digest), none is written.
    records = sum(len(m.get(k, [])) for m in doc["municipalities"] for k in RECORD_LISTS)
    assert (summary.residents, summary.changed, summary.unchanged) == (0, 0, records)
    after = snapshot(svc.engine)
    # Only the municipalities' settings and refresh time are written again.
    assert {k: v for k, v in after.items() if k != "municipalities"} == \
        {k: v for k, v in before.items() if k != "municipalities"}


@pytest.mark.parametrize(("suffix", "workers"), [(".json", 0), (".jsonl", 0), (".jsonl", 2)],
                         ids=["json", "jsonl", "jsonl-in-2-worker-processes"])
def test_a_bad_record_at_the_end_of_a_large_streamed_file_changes_nothing(
    db_url: str, tmp_path: Path, suffix: str, workers: int
) -> None:
    engine = make_engine(db_url)
    create_all(engine)
    good = tmp_path / f"city{suffix}"
    n = city.write_full(good, 12_000)
    clock.set_for_tests(NOW)
    try:
        summary = import_file(engine, good, workers=workers)
        assert summary.residents == n and summary.changed > n
        before = snapshot(engine, digests=True)
        # The same city with every household moved, and an impossible date in the very last record.
        bad = tmp_path / f"bad{suffix}"
        city.write_full(bad, 12_000, bad_last=True, sequence=1)
        text = bad.read_text(encoding="utf-8").replace("神奈川県横浜市", "神奈川県横浜市 ")
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ImportError_, match=r"municipalities\[0\]\.households\[\d+\]\.members\[\d\]\.birth_date: "
                                               r"'2010-13-40' is not a date"):
            import_file(engine, bad, workers=workers)
        assert snapshot(engine, digests=True) == before
    finally:
        clock.set_for_tests(None)
        engine.dispose()


def test_the_first_errors_are_all_named(world: Any, tmp_path: Path) -> None:
    svc, _w, doc = world
    kato = doc["municipalities"][0]
    kato["households"][0]["members"][0]["sex"] = "x"
    kato["households"][2]["members"][1]["birth_date"] = "1999-02-30"
    kato["households"][1]["id"] = "H001"
    kato["tax_records"][0]["resident"] = "R404"
    before = snapshot(svc.engine)
    with pytest.raises(ImportError_) as e:
        import_file(svc.engine, write(tmp_path / "bad.json", doc))
    assert e.value.errors == [
        "municipalities[0].households[0].members[0].sex must be 'male' or 'female', got 'x'",
        "municipalities[0].households[2].members[1].birth_date: '1999-02-30' is not a date (YYYY-MM-DD)",
    ]
    assert snapshot(svc.engine) == before
    # Without the record errors, the checks across records speak.
    kato["households"][0]["members"][0]["sex"] = "male"
    kato["households"][2]["members"][1]["birth_date"] = "1999-02-28"
    with pytest.raises(ImportError_) as e:
        import_file(svc.engine, write(tmp_path / "bad.json", doc))
    assert e.value.errors == [
        "municipalities[0].households[1].id: H001 also appears at municipalities[0].households[0]",
        "municipalities[0].tax_records[0]: resident 'R404' is not among this municipality's residents in the file",
    ]
    assert snapshot(svc.engine) == before


def test_a_card_moves_between_records_within_one_import(world: Any, tmp_path: Path) -> None:
    svc, _w, doc = world
    members = doc["municipalities"][0]["households"][0]["members"]
    members[0]["resident_link"], members[1]["resident_link"] = members[1]["resident_link"], members[0]["resident_link"]
    import_file(svc.engine, write(tmp_path / "swap.json", doc))
    with svc.engine.connect() as c:
        links = dict(c.execute(sa.select(residents.c.resident_id, residents.c.resident_link)
                               .where(residents.c.resident_id.in_(["R001", "R002"]))).all())
    assert links == {"R001": "link-R002", "R002": "link-R001"}


def test_stale_data_is_not_offered_and_staff_are_alerted(world: Any, caplog: pytest.LogCaptureFixture) -> None:
    svc, w, _doc = world
    w.config.write_text(w.config.read_text() + f"\n[freshness.{KATO}]\nmax_age_hours = 26\n", encoding="utf-8")
    svc = IssuerService(svc.engine, load_settings(w.config), maker=Maker())
    refreshed = NOW - timedelta(hours=1)
    status = {s.code: s for s in svc.service_status()}
    assert status[KATO].data_sequence == 0 and status[KATO].refreshed_at is not None
    assert abs(status[KATO].refreshed_at - refreshed) < timedelta(minutes=1)
    clock.set_for_tests(refreshed + timedelta(hours=25, minutes=59))
    assert isinstance(svc.query_availability(KATO, "link-R001"), Offers)
    clock.set_for_tests(refreshed + timedelta(hours=26, minutes=1))
    with caplog.at_level(logging.WARNING, logger="kofu.issuer.service"):
        got = svc.query_availability(KATO, "link-R001")
    assert isinstance(got, Refusal) and got.code is RefusalCode.NOTHING_OFFERED  # neutral
    assert any("STAFF ALERT" in r.getMessage() and KATO in r.getMessage() for r in caplog.records)
    with pytest.raises(IssuanceRefused):
        svc.issue_certificate(issue_request(message_serial="S-stale", municipality_code=KATO,
                                            resident_link="link-R001", order_id="O-1", kind="juminhyo", scope="self",
                                            copies=1, fee=200, store_id="store-1"))
    # Another municipality without a limit is unaffected.
    assert isinstance(svc.query_availability(MIKI, "link-M001"), Offers)
    # A difference (even one without records) refreshes the data.
    import_file(svc.engine, write(w.root / "d1.json", difference(1)))
    assert isinstance(svc.query_availability(KATO, "link-R001"), Offers)


def test_settings_refuse_a_bad_freshness(issuer_world: World) -> None:
    from kofu.issuer.settings import SettingsError

    issuer_world.config.write_text(issuer_world.config.read_text() + "\n[freshness]\nmax_age_hours = 0\n",
                                   encoding="utf-8")
    with pytest.raises(SettingsError, match="freshness.max_age_hours"):
        load_settings(issuer_world.config)



@pytest.mark.parametrize(("name", "content", "message"), [
    ("late.json", '{"municipalities": [{"code": "282286"}], "format": "kofu-issuer-import/2"}',
     "format must come before municipalities"),
    ("empty.json", '{"format": "kofu-issuer-import/2"}', "municipalities is required"),
    ("truncated.json", '{"format": "kofu-issuer-import/2", "municipalities": [{"code": "282', "not valid UTF-8 JSON"),
    ("lines.jsonl", '{"format": "kofu-issuer-import/2"}\n{"household": {}}\n', "line 2: a household before any municipality"),
    ("lines.jsonl", '{"format": "kofu-issuer-import/2"}\n{"resident": {}}\n', "line 2: unknown line 'resident'"),
    ("lines.jsonl", '{"format": "kofu-issuer-import/2"}\n{"municipality": {"code": "282286"', "line 2 is not valid"),
    ("lines.jsonl", '{"format": "kofu-issuer-difference/1"}\n{"municipality": {"code": "282286", "name": "x"}}\n',
     "municipalities[0].name: a difference carries records only"),
    ("lines.jsonl", '{"format": "kofu-issuer-difference/1"}\n{"municipality": {"code": "282286"}}\n',
     "municipalities[0].sequence is required"),
])
def test_malformed_files_are_refused(db_url: str, tmp_path: Path, name: str, content: str, message: str) -> None:
    engine = make_engine(db_url)
    create_all(engine)
    try:
        with pytest.raises(ImportError_) as e:
            import_file(engine, write_text(tmp_path / name, content))
        assert message in str(e.value)
        assert all(rows == [] for rows in snapshot(engine).values())
    finally:
        engine.dispose()


def write_text(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


def test_a_full_import_skips_what_is_unchanged_and_applies_the_rest(world: Any, tmp_path: Path) -> None:
    svc, w, doc = world
    kato = doc["municipalities"][0]
    records = sum(len(m.get(k, [])) for m in doc["municipalities"] for k in RECORD_LISTS)
    # The export in format 3 (removals need it): a record's digest includes the format, so all are read once.
    doc["format"] = "kofu-issuer-import/3"
    assert import_file(svc.engine, write(tmp_path / "v3.json", doc)).unchanged == 0
    # One household moved, one seal abolished, one tax record removed; everything else as stored.
    kato["households"][2]["address"] = "兵庫県加東市社50番地"
    kato["seal_registrations"][0]["abolished_at"] = "2026-03-02T10:00:00+09:00"
    removed = kato["tax_records"].pop(0)
    kato["tax_records"].append({"resident": removed["resident"], "fiscal_year": removed["fiscal_year"],
                                "deleted": True})
    changed = write(tmp_path / "changed.json", doc)
    summary = import_file(svc.engine, changed)
    assert (summary.households, summary.seals, summary.tax_records, summary.removed) == (1, 1, 0, 1)
    assert summary.unchanged == records - 3
    hid = kato["households"][2]["id"]
    with svc.engine.connect() as c:
        assert c.execute(sa.select(households.c.address).where(
            households.c.municipality_code == KATO, households.c.household_id == hid)).scalar_one() == \
            "兵庫県加東市社50番地"
        assert c.execute(sa.select(seal_registrations.c.abolished_at).where(
            seal_registrations.c.registration_number == "KT-0001")).scalar_one() is not None
        assert c.execute(sa.select(sa.func.count()).select_from(tax_records).where(
            tax_records.c.municipality_code == KATO, tax_records.c.resident_id == removed["resident"],
            tax_records.c.fiscal_year == removed["fiscal_year"])).scalar_one() == 0
    # The seal abolished is refused at the very next request.
    assert "inkan" not in offered(svc, "link-R001")
    # The same file again: nothing left to read but the removal (a removal is never skipped).
    again = import_file(svc.engine, changed)
    assert (again.households, again.seals, again.changed, again.removed, again.unchanged) == (0, 0, 0, 0, records - 1)
    # A record given as it was before it changed is read and applied again.
    kato["households"][2]["address"] = full_import(w.seals)["municipalities"][0]["households"][2]["address"]
    back = import_file(svc.engine, write(tmp_path / "back.json", doc))
    assert (back.households, back.changed) == (1, 1)


@pytest.mark.parametrize(("suffix", "workers"), [(".json", 0), (".jsonl", 0), (".jsonl", 2)],
                         ids=["json", "jsonl", "jsonl-in-2-worker-processes"])
def test_a_bad_last_record_among_unchanged_ones_changes_nothing(
    db_url: str, tmp_path: Path, suffix: str, workers: int
) -> None:
    engine = make_engine(db_url)
    create_all(engine)
    good = tmp_path / f"city{suffix}"
    city.write_full(good, 3_000)
    clock.set_for_tests(NOW)
    try:
        import_file(engine, good, workers=workers)
        before = snapshot(engine, digests=True)
        # The same file but for the very last record: every other record is skipped unread.
        bad = tmp_path / f"bad{suffix}"
        city.write_full(bad, 3_000, bad_last=True)
        with pytest.raises(ImportError_, match=r"municipalities\[0\]\.households\[\d+\]\.members\[\d\]\.birth_date: "
                                               r"'2010-13-40' is not a date"):
            import_file(engine, bad, workers=workers)
        assert snapshot(engine, digests=True) == before
        # The file unchanged is skipped whole, and so fast.
        assert import_file(engine, good, workers=workers).residents == 0
    finally:
        clock.set_for_tests(None)
        engine.dispose()


def test_a_record_twice_is_refused_when_the_first_is_unchanged(world: Any, tmp_path: Path) -> None:
    svc, _w, doc = world
    kato = doc["municipalities"][0]
    before = snapshot(svc.engine, digests=True)
    kato["seal_registrations"].append(dict(kato["seal_registrations"][0]))  # the same record twice
    with pytest.raises(ImportError_, match=r"seal_registrations\[2\]: this seal registration also appears at "
                                           r"municipalities\[0\]\.seal_registrations\[0\]"):
        import_file(svc.engine, write(tmp_path / "twice.json", doc))
    kato["seal_registrations"][2]["registered_at"] = "2016-06-01T10:00:00+09:00"  # its key, other content
    with pytest.raises(ImportError_, match=r"seal_registrations\[2\]: this seal registration also appears at "
                                           r"municipalities\[0\]\.seal_registrations\[0\]"):
        import_file(svc.engine, write(tmp_path / "twice.json", doc))
    kato["seal_registrations"].pop()
    # A resident of an unchanged household given again in another household.
    moved = dict(kato["households"][0]["members"][1])
    kato["households"][1]["members"].append(moved)
    with pytest.raises(ImportError_, match=rf"households\[1\]\.members\[\d\]\.id: {moved['id']} also appears in "
                                           r"the household at municipalities\[0\]\.households\[0\]"):
        import_file(svc.engine, write(tmp_path / "moved.json", doc))
    assert snapshot(svc.engine, digests=True) == before


def test_a_register_member_twice_is_refused_when_the_first_register_is_unchanged(
    world: Any, tmp_path: Path
) -> None:
    svc, _w, doc = world
    kato = doc["municipalities"][0]
    before = snapshot(svc.engine, digests=True)
    # K001 is exactly as stored (skipped unread) and lists R003; a new register lists R003 too.
    k001 = kato["family_registers"][0]
    r003 = next(p for p in k001["persons"] if p["resident"] == "R003")
    kato["family_registers"].append({"id": "K002", "honseki": k001["honseki"], "head": "山田 𠮷郎",
                                     "events": [{"type": "編製", "date": "2026-03-02"}],
                                     "persons": [json.loads(json.dumps(r003))]})
    with pytest.raises(ImportError_, match=r"family_registers\[1\]\.persons\[0\]: this register member also "
                                           r"appears in the family register at municipalities\[0\]\."
                                           r"family_registers\[0\]"):
        import_file(svc.engine, write(tmp_path / "twice.json", doc))
    assert snapshot(svc.engine, digests=True) == before
    with svc.engine.connect() as c:
        assert c.execute(sa.select(register_members.c.register_id).where(
            register_members.c.municipality_code == KATO, register_members.c.resident_id == "R003")
        ).scalar_one() == "K001"


def lines(doc: dict[str, Any]) -> str:
    """The export as JSON Lines: the format, then each municipality's settings and its records."""
    singular = {"households": "household", "seal_registrations": "seal_registration",
                "tax_records": "tax_record", "family_registers": "family_register"}
    out = [json.dumps({"format": doc["format"]})]
    for m in doc["municipalities"]:
        out.append(json.dumps({"municipality": {k: v for k, v in m.items() if k not in RECORD_LISTS}},
                              ensure_ascii=False))
        out += [json.dumps({singular[k]: r}, ensure_ascii=False) for k in RECORD_LISTS for r in m.get(k, [])]
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("workers", [0, 2], ids=["jsonl", "jsonl-in-2-worker-processes"])
def test_a_seal_impression_from_a_file_is_read_again_even_under_an_escaped_key(
    world: Any, tmp_path: Path, workers: int
) -> None:
    svc, _w, doc = world
    seal = doc["municipalities"][0]["seal_registrations"][0]
    old = base64.b64decode(seal.pop("impression_png"))
    seal["impression_file"] = "seal.png"
    (tmp_path / "seal.png").write_bytes(old)
    # "impression\u005ffile" is the key impression_file, as JSON escapes it.
    text = lines(doc).replace('"impression_file"', '"impression\\u005ffile"')
    assert text.count("impression\\u005ffile") == 1
    path = write_text(tmp_path / "export.jsonl", text)
    import_file(svc.engine, path, workers=workers)

    def stored() -> bytes:
        with svc.engine.connect() as c:
            return bytes(c.execute(sa.select(seal_registrations.c.impression_png).where(
                seal_registrations.c.municipality_code == KATO,
                seal_registrations.c.registration_number == seal["number"])).scalar_one())

    assert stored() == old
    # The registry's impression changed, the line did not: the file is read again.
    new = seal_impression_png("佐藤")
    assert new != old
    (tmp_path / "seal.png").write_bytes(new)
    summary = import_file(svc.engine, path, workers=workers)
    assert summary.seals == 1
    assert stored() == new


def test_a_municipality_code_given_twice_is_refused(world: Any, tmp_path: Path) -> None:
    svc, _w, doc = world
    before = snapshot(svc.engine, digests=True)
    # The stored digests would be read at the first code (三木市's), and 加東市 (the last) imported.
    kato = json.dumps(doc["municipalities"][0], ensure_ascii=False)
    doc["municipalities"][0] = "@kato@"
    text = json.dumps(doc, ensure_ascii=False).replace('"@kato@"', f'{{"code": "{MIKI}", ' + kato[1:])
    with pytest.raises(ImportError_, match=r"municipalities\[0\]\.code is given twice"):
        import_file(svc.engine, write_text(tmp_path / "twice.json", text))
    assert snapshot(svc.engine, digests=True) == before


def test_a_new_migration_makes_the_next_import_read_every_record(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, w, doc = world
    records = sum(len(m.get(k, [])) for m in doc["municipalities"] for k in RECORD_LISTS)
    assert import_file(svc.engine, w.import_file).unchanged == records
    head = migrations._head("kofu.issuer")
    assert head is not None
    monkeypatch.setattr(migrations, "_head", lambda package: f"{head}_next")
    summary = import_file(svc.engine, w.import_file)
    households = sum(len(m.get("households", [])) for m in doc["municipalities"])
    assert (summary.unchanged, summary.households) == (0, households)
    # … and stores the new digests: the import after skips them again.
    assert import_file(svc.engine, w.import_file).unchanged == records


def test_a_resident_moved_by_a_difference_is_read_again_in_the_next_full_export(world: Any, tmp_path: Path) -> None:
    svc, _w, doc = world
    kato = doc["municipalities"][0]
    assert import_file(svc.engine, write(tmp_path / "full.json", doc)).unchanged > 0
    # The difference sends only the household the resident joins, not the one they left.
    joined = json.loads(json.dumps(kato["households"][2]))
    resident = json.loads(json.dumps(kato["households"][0]["members"][2]))
    resident["relationship"] = "同居人"
    joined["members"].append(resident)
    import_file(svc.engine, write(tmp_path / "d1.json", difference(1, households=[joined])))

    def household_of(rid: str) -> str:
        with svc.engine.connect() as c:
            return str(c.execute(sa.select(residents.c.household_id).where(
                residents.c.municipality_code == KATO, residents.c.resident_id == rid)).scalar_one())

    assert household_of(resident["id"]) == joined["id"]
    # The next full export has them back where they were: the household they left is read, not
    # skipped as unchanged (its line is the same as at the first import).
    kato["sequence"] = 1
    summary = import_file(svc.engine, write(tmp_path / "full.json", doc))
    assert summary.households == 2
    assert household_of(resident["id"]) == kato["households"][0]["id"]
