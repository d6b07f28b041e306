"""Every kind through the issuer's service: records in, sealed PDF out, rules at the instant.

Each kind is issued from imported records, signed by the municipality's seal
(checked with pdfsig) and read back with pdftotext field by field. The
abolished-seal race and support measures are decided from current data.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from kofu import clock
from kofu.db import make_engine
from kofu.domain.era import to_wareki
from kofu.domain.rules import NEUTRAL_MESSAGE_JA, Offers, Refusal, RefusalCode
from kofu.issuer.errors import BadRequest, IssuanceRefused
from kofu.issuer.importer import ImportError_, import_file
from kofu.issuer.service import IssuerService
from kofu.issuer.settings import SealPaths, load_settings
from kofu.issuer.tables import create_all, issuance_events, issuances, seal_registrations
from kofu.widearea.messages import IssueCertificateRequest
from tests.conftest import require_tool

from .conftest import KATO, MIKI, World, issue_request, member, municipality, sample_import
from .conftest import KOBE as KOBE_CITY

NOW = datetime.fromisoformat("2026-03-03T10:00:00+09:00")  # a Tuesday
FEES = {"juminhyo": 200, "kisai": 200, "inkan": 200, "zeimu": 300, "koseki": 450, "fuhyo": 200}


def _png() -> bytes:
    from kofu.render.samples import seal_impression_png

    return seal_impression_png("山田")


KAZUKO = "山田 葛\U000E0103子"
SHA = "兵庫県加東市社50番地"
NISHIWAKI = "兵庫県西脇市郷瀬町1番地"
KOBE = "兵庫県神戸市中央区加納町6丁目5番1号"
OSAKA = "大阪府大阪市北区中之島一丁目3番"


def family_register() -> dict[str, Any]:
    """The 山田 register (本籍 加東市): 太郎 (筆頭者) married 葛子 from the 佐藤
    register in 平成17年; 明美 married out in 令和7年 (除籍); 𠮷郎 lives with them.
    太郎 lived in 神戸 before the register was made: not on its 附票."""
    return {
        "id": "K001", "honseki": SHA, "head": "山田 太郎",
        "events": [{"type": "編製", "date": "2005-05-03"}],
        "persons": [
            {"resident": "R001", "name": "山田 太郎", "birth_date": "1980-04-01", "sex": "male",
             "father": "山田 一", "mother": "山田 ハル", "relationship": "長男", "spouse_role": "夫",
             "events": [
                 {"type": "出生", "date": "1980-04-01", "place": "兵庫県西脇市", "notified_on": "1980-04-08",
                  "notifier": "父"},
                 {"type": "婚姻", "date": "2005-05-03", "spouse": "佐藤 葛\U000E0103子",
                  "previous_register": f"{NISHIWAKI}　山田 一"}],
             "addresses": [{"address": KOBE, "since": "1980-04-01"}, {"address": NISHIWAKI, "since": "1998-04-01"},
                           {"address": SHA, "since": "2015-04-01"}]},
            {"resident": "R002", "name": KAZUKO, "birth_date": "1982-06-15", "sex": "female",
             "father": "佐藤 一郎", "mother": "佐藤 ハナ", "relationship": "長女", "spouse_role": "妻",
             "events": [
                 {"type": "出生", "date": "1982-06-15", "place": "兵庫県三木市", "notified_on": "1982-06-20",
                  "notifier": "父"},
                 {"type": "婚姻", "date": "2005-05-03", "spouse": "山田 太郎",
                  "previous_register": "兵庫県三木市上の丸町10番地　佐藤 一郎"}],
             "addresses": [{"address": NISHIWAKI, "since": "2005-05-03"}, {"address": SHA, "since": "2015-04-01"}]},
            {"resident": None, "name": "山田 明美", "birth_date": "2006-08-08", "sex": "female",
             "father": "山田 太郎", "mother": KAZUKO, "relationship": "長女",
             "events": [
                 {"type": "出生", "date": "2006-08-08", "place": "兵庫県西脇市", "notified_on": "2006-08-14",
                  "notifier": "父"},
                 {"type": "婚姻", "date": "2025-10-10", "spouse": "鈴木 次郎", "new_honseki": OSAKA,
                  "surname": "夫の氏"}],
             "addresses": [{"address": NISHIWAKI, "since": "2006-08-08"}, {"address": SHA, "since": "2015-04-01"},
                           {"address": OSAKA, "since": "2025-10-10"}]},
            {"resident": "R003", "name": "山田 𠮷郎", "birth_date": "2010-01-20", "sex": "male",
             "father": "山田 太郎", "mother": KAZUKO, "relationship": "長男",
             "events": [{"type": "出生", "date": "2010-01-20", "place": "兵庫県西脇市", "notified_on": "2010-01-25",
                         "notifier": "母"}],
             "addresses": [{"address": NISHIWAKI, "since": "2010-01-20"}, {"address": SHA, "since": "2015-04-01"}]},
        ],
    }


def full_import(seals: dict[str, Any]) -> dict[str, Any]:
    doc = sample_import(seals)
    doc["format"] = "kofu-issuer-import/2"
    kato = doc["municipalities"][0]
    # tax_years: the deprecated fixed list, still importable (the calendar window: test_tax_years.py).
    kato.update(
        fees=FEES, offered_kinds=sorted(FEES), tax_years=[2024, 2025], individual_number_at_kiosk=True,
        counter_fees={"koseki": 450, "juminhyo": 300},
    )
    members = kato["households"][0]["members"]
    members[0]["individual_number"] = "123456789018"
    members[1]["individual_number"] = "234567890123"
    # 異動事由: R002 exported as 世帯主変更; R003 born here (no 従前の住所).
    members[1].update(change_reason="世帯主変更", change_on="2020-07-01")
    members[2].update(previous_address="", address_since="2010-01-20", notified_on="2010-01-25")
    kato["households"].append({
        "id": "H003", "address": "兵庫県加東市河高2番地", "householder": "R020",
        "members": [member("R020", "田中 守", "タナカ マモル", "1970-01-01", "male", "世帯主"),
                    member("R021", "田中 静", "タナカ シズカ", "1999-09-09", "female", "子", support_measure=True)],
    })
    kato["seal_registrations"] = [
        {"number": "KT-0001", "resident": "R001", "impression_png": base64.b64encode(_png()).decode(),
         "registered_at": "2015-06-01T10:00:00+09:00"},
        {"number": "KT-0002", "resident": "R010", "impression_png": base64.b64encode(_png()).decode(),
         "registered_at": "2010-01-01T10:00:00+09:00", "abolished_at": "2026-03-01T10:00:00+09:00"},
    ]
    kato["tax_records"] = [
        {"resident": "R001", "fiscal_year": y, "salary_revenue": 5_200_000,
         "incomes": [{"kind": "事業所得", "amount": 80_000}],
         "deductions": [{"kind": "社会保険料控除", "amount": 754_000}],
         "spouse": {"birth_date": "1982-05-05", "income": 0},
         "dependants": [{"birth_date": "2003-08-01", "income": 0}],
         "taxes": [{"name": "市民税・県民税(普通徴収)", "paid": 100_000,
                    "due_dates": [f"{y}-06-30", f"{y}-08-31", f"{y}-10-31", f"{y + 1}-01-31"]},
                   {"name": "軽自動車税(種別割)", "assessed": 10_800, "paid": 10_800, "due_on": f"{y}-05-31"}]}
        for y in (2023, 2024, 2025)
    ]
    kato["family_registers"] = [family_register()]
    return doc


@pytest.fixture
def world(issuer_world: World) -> tuple[IssuerService, World, dict[str, Any]]:
    doc = full_import(issuer_world.seals)
    issuer_world.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    settings = load_settings(issuer_world.config)
    engine = make_engine(settings.database_url)
    create_all(engine)
    import_file(engine, issuer_world.import_file)
    clock.set_for_tests(NOW)
    yield IssuerService(engine, settings), issuer_world, doc
    clock.set_for_tests(None)
    engine.dispose()


def req(serial: str, kind: str, fee: int, link: str = "link-R001", **kw: Any) -> IssueCertificateRequest:
    base: dict[str, Any] = dict(message_serial=serial, municipality_code=KATO, resident_link=link, order_id=f"O-{serial}",
                                kind=kind, scope="self", with_householder=False, with_domicile=False, copies=1,
                                fee=fee, store_id="store-1")
    base.update(kw)
    return issue_request(**base)


def text_of(pdf: bytes, tmp_path: Path) -> str:
    require_tool("pdftotext")
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return out.replace(" ", "").replace("\u3000", "")


def assert_sealed(pdf: bytes, tmp_path: Path) -> None:
    require_tool("pdfsig")
    path = tmp_path / "s.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in out, out


def counts(svc: IssuerService) -> tuple[int, int]:
    with svc.engine.connect() as c:
        return (c.execute(sa.select(sa.func.count()).select_from(issuances)).scalar_one(),
                c.execute(sa.select(sa.func.count()).select_from(issuance_events)).scalar_one())


# ---------------------------------------------------------------- offers


def test_offers_follow_every_record(world: Any) -> None:
    svc, _w, _doc = world
    got = svc.query_availability(KATO, "link-R001")
    assert isinstance(got, Offers)
    by_kind = {o.kind: o for o in got.offers}
    assert sorted(by_kind) == sorted(FEES)
    assert by_kind["zeimu"].options.years == (2025, 2024)  # 2023 is recorded but not offered
    assert by_kind["koseki"].fee == 450 and by_kind["juminhyo"].counter_fee == 300
    assert [m.resident_id for m in by_kind["juminhyo"].options.members] == ["R001", "R002", "R003"]
    # R002: same household and register, but no seal of her own.
    wife = svc.query_availability(KATO, "link-R002")
    assert isinstance(wife, Offers)
    assert "inkan" not in {o.kind for o in wife.offers} and "koseki" in {o.kind for o in wife.offers}
    # R010's seal was abolished two days ago; no register, no tax record.
    abolished = svc.query_availability(KATO, "link-R010")
    assert isinstance(abolished, Offers)
    assert [o.kind for o in abolished.offers] == ["juminhyo", "kisai"]


def test_support_measure_on_a_household_member_refuses_the_whole_household_neutrally(world: Any) -> None:
    svc, _w, _doc = world
    for link in ("link-R020", "link-R021"):
        got = svc.query_availability(KATO, link)
        assert isinstance(got, Refusal)
        # The same code and words as a municipality with nothing to offer.
        assert got.code is RefusalCode.NOTHING_OFFERED and got.message_ja == NEUTRAL_MESSAGE_JA
    before = counts(svc)
    with pytest.raises(IssuanceRefused) as e:
        svc.issue_certificate(req("P-1", "juminhyo", 200, link="link-R020", scope="household"))
    assert e.value.refusal.code is RefusalCode.NOTHING_OFFERED
    assert counts(svc) == before


# ---------------------------------------------------------------- each kind, read back


def test_juminhyo_with_chosen_members_and_individual_number(world: Any, tmp_path: Path) -> None:
    svc, _w, _doc = world
    issued = svc.issue_certificate(req("J-1", "juminhyo", 200, scope="household", members=("R002",),
                                       with_individual_number=True))
    text = text_of(issued.document, tmp_path)
    assert "山田葛\U000E0103子" in text and "234567890123" in text
    # Only the chosen member (世帯主 not asked for, so it reads 省略): neither the holder's name nor number.
    assert "山田太郎" not in text and "123456789018" not in text and "山田𠮷郎" not in text
    assert_sealed(issued.document, tmp_path)
    # Where the municipality does not allow it, 個人番号 is not an option.
    with pytest.raises(BadRequest) as e:
        svc.issue_certificate(req("J-2", "juminhyo", 300, link="link-M001", municipality_code=MIKI,
                                  with_individual_number=True))
    assert e.value.code == "option-not-offered"
    # A member of another household cannot be chosen.
    with pytest.raises(BadRequest):
        svc.issue_certificate(req("J-3", "juminhyo", 200, scope="household", members=("R010",)))


def test_kisai(world: Any, tmp_path: Path) -> None:
    svc, _w, _doc = world
    issued = svc.issue_certificate(req("K-1", "kisai", 200, scope="household", with_householder=True))
    text = text_of(issued.document, tmp_path)
    for name in ("山田太郎", "山田葛\U000E0103子", "山田𠮷郎"):
        assert name in text
    assert to_wareki(datetime(1980, 4, 1).date()).replace(" ", "") in text
    assert "兵庫県加東市社50番地" in text
    assert_sealed(issued.document, tmp_path)


def test_juminhyo_prints_the_change_reason(world: Any, tmp_path: Path) -> None:
    svc, _w, _doc = world
    issued = svc.issue_certificate(req("J-change", "juminhyo", 200, scope="household"))
    lines = text_of(issued.document, tmp_path).splitlines()
    # Labels, then values: 異動事由 | 従前の住所.
    # R001: from 西脇市, read from the record: 転入 on the day the address was taken.
    assert "平成27年4月1日転入兵庫県西脇市郷瀬町1番地" in lines
    # R002: as exported.
    assert "令和2年7月1日世帯主変更兵庫県西脇市郷瀬町1番地" in lines
    # R003: born here, 出生 across the row and no 従前の住所.
    assert "平成22年1月20日出生" in lines
    assert sum("従前の住所" in line for line in lines) == 2


@pytest.mark.parametrize("chosen", [True, False])
def test_kisai_prints_domicile_and_householder_only_when_chosen(world: Any, tmp_path: Path, chosen: bool) -> None:
    svc, _w, _doc = world
    issued = svc.issue_certificate(req(f"K-dom-{chosen}", "kisai", 200, with_householder=chosen, with_domicile=chosen))
    text = text_of(issued.document, tmp_path)
    lines = text.splitlines()
    assert ("筆頭者" in text) is chosen and ("本籍" in text) is chosen and ("世帯主山田太郎" in text) is chosen
    if chosen:
        # Three items a row, labels over values: …|続柄|本籍 then …|世帯主|<本籍>; 筆頭者 then <筆頭者>.
        row = next(i for i, line in enumerate(lines) if line.endswith("続柄本籍"))
        assert lines[row + 1].endswith("世帯主兵庫県加東市社50番地"), lines[row: row + 2]
        row = next(i for i, line in enumerate(lines) if "筆頭者" in line)
        assert lines[row + 1].startswith("山田太郎"), lines[row: row + 2]


def test_inkan_prints_the_registration(world: Any, tmp_path: Path) -> None:
    svc, _w, _doc = world
    issued = svc.issue_certificate(req("I-1", "inkan", 200))
    text = text_of(issued.document, tmp_path)
    assert "KT-0001" in text and "山田太郎" in text and "兵庫県加東市社50番地" in text
    assert to_wareki(datetime(1980, 4, 1).date()).replace(" ", "") in text
    assert_sealed(issued.document, tmp_path)
    require_tool("pdfimages")
    (tmp_path / "i.pdf").write_bytes(issued.document)
    # The registered impression itself is on the certificate: its colours, and its transparency as the soft mask.
    subprocess.run(["pdfimages", "-png", str(tmp_path / "i.pdf"), str(tmp_path / "img")], check=True)
    registered = np.asarray(Image.open(io.BytesIO(_png())).convert("RGBA")).astype(int)
    found = {p.name: np.asarray(Image.open(p)).astype(int) for p in sorted(tmp_path.glob("img-*.png"))}
    colours = [a for a in found.values() if a.shape == registered.shape[:2] + (3,)]
    masks = [a for a in found.values() if a.shape == registered.shape[:2]]
    opaque = registered[..., 3] > 0
    assert any(np.abs(a - registered[..., :3])[opaque].max() <= 2 for a in colours), sorted(found)
    assert any(np.abs(m - registered[..., 3]).max() <= 2 for m in masks), sorted(found)


@pytest.mark.parametrize("tax_kind", ["shotoku", "nozei"])
def test_tax_certificates(world: Any, tmp_path: Path, tax_kind: str) -> None:
    svc, _w, _doc = world
    issued = svc.issue_certificate(req(f"T-{tax_kind}", "zeimu", 300, tax_kind=tax_kind, year=2025))
    text = text_of(issued.document, tmp_path)
    assert "山田太郎" in text and "令和7年度" in text
    # 令和7年度 (令和6年中の所得), computed here by the published rules:
    salary_income = 5_200_000 - (5_200_000 * 20 // 100 + 440_000)  # 給与所得控除 3.6M〜6.6M band
    total = salary_income + 80_000
    # 社会保険料控除 + 配偶者控除 (一般) + 特定扶養控除 (21 on 31 Dec 2024) + 基礎控除.
    deductions = 754_000 + 330_000 + 450_000 + 430_000
    taxable = (total - deductions) // 1000 * 1000
    adjustment_base = min(50_000 + 50_000 + 180_000, taxable)  # 課税標準額 ≤ 2,000,000 円
    city = (taxable * 6 // 100 - adjustment_base * 3 // 100) // 100 * 100 + 3_000
    pref = (taxable * 4 // 100 - adjustment_base * 2 // 100) // 100 * 100 + 1_000
    year_total = city + pref + 1_000  # 森林環境税
    assert (salary_income, taxable, city, pref) == (3_720_000, 1_836_000, 104_700, 68_800)
    if tax_kind == "shotoku":
        assert "給与所得5,200,000円3,720,000円" in text
        assert f"総所得金額等{total:,}円" in text and f"所得控除合計{deductions:,}円" in text
        assert f"課税標準額{taxable:,}円" in text
        assert f"合計{city:,}円{pref:,}円{city + pref:,}円" in text
        assert f"年税額{year_total:,}円" in text
    else:
        # Four 期: 43,000 円 each from 第2期, the rest in 第1期; 100,000 円 paid, oldest first.
        # 8/31/2025 is a Sunday and 1/31/2026 a Saturday: due the next business day.
        first = year_total - 3 * 43_000
        rows = [("第1期", "令和7年6月30日", first, first), ("第2期", "令和7年9月1日", 43_000, 43_000),
                ("第3期", "令和7年10月31日", 43_000, 100_000 - first - 43_000), ("第4期", "令和8年2月2日", 43_000, 0)]
        for period, due, amount, paid in rows:
            assert f"令和7年度{period}{due}{amount:,}円{paid:,}円{amount - paid:,}円" in text, period
        # 軽自動車税: 5/31/2025 is a Saturday.
        assert "軽自動車税(種別割)令和7年度全期令和7年6月2日10,800円10,800円0円" in text
    assert "定額減税" not in text  # 令和7年度: only the spouse of a taxpayer over 10,000,000 円 has one
    assert_sealed(issued.document, tmp_path)
    # Recorded but not offered: 2023.
    with pytest.raises(BadRequest):
        svc.issue_certificate(req(f"T-{tax_kind}-old", "zeimu", 300, tax_kind=tax_kind, year=2023))


@pytest.mark.parametrize("tax_kind", ["shotoku", "nozei"])
def test_reiwa_6_tax_certificates_take_the_flat_reduction(world: Any, tmp_path: Path, tax_kind: str) -> None:
    """令和6年度 (令和5年中の所得): the 定額減税 (特別税額控除) of 10,000 円 for the taxpayer, the
    控除対象配偶者 and the 扶養親族, 6,000 円 to the 市民税 and 4,000 円 to the 県民税 each, taken
    off the 所得割 after the 調整控除 and before the rounding to 100 円; the 納税証明書 follows."""
    svc, _w, _doc = world
    text = text_of(svc.issue_certificate(req(f"T6-{tax_kind}", "zeimu", 300, tax_kind=tax_kind, year=2024)).document,
                   tmp_path)
    assert "令和6年度" in text
    # 令和5年分 給与所得控除 (3.6M〜6.6M band), as in 令和6年分; the student is 20 on 31 Dec 2023 (特定).
    salary_income = 5_200_000 - (5_200_000 * 20 // 100 + 440_000)
    deductions = 754_000 + 330_000 + 450_000 + 430_000
    taxable = (salary_income + 80_000 - deductions) // 1000 * 1000
    adjustment_base = min(50_000 + 50_000 + 180_000, taxable)
    after = (taxable * 6 // 100 - adjustment_base * 3 // 100, taxable * 4 // 100 - adjustment_base * 2 // 100)
    persons = 3  # 本人, 控除対象配偶者, one 扶養親族
    flat = (6_000 * persons, 4_000 * persons)
    levy = ((after[0] - flat[0]) // 100 * 100, (after[1] - flat[1]) // 100 * 100)
    year_total = levy[0] + 3_000 + levy[1] + 1_000 + 1_000  # 均等割 without the 復興特別加算, 森林環境税
    assert (taxable, levy, year_total) == (1_836_000, (83_700, 55_800), 144_500)
    if tax_kind == "shotoku":
        assert f"定額減税額{flat[0]:,}円{flat[1]:,}円{sum(flat):,}円" in text
        assert text.index("税額控除額") < text.index("定額減税額") < text.index("所得割額", text.index("定額減税額"))
        assert f"所得割額{levy[0]:,}円{levy[1]:,}円{sum(levy):,}円" in text
        assert f"均等割額{3_000:,}円{1_000:,}円{4_000:,}円" in text
        assert f"年税額{year_total:,}円" in text
    else:
        # Four 期 of the 年税額 before the 定額減税 (1,000 円 shares from 第2期, the rest in 第1期),
        # the 定額減税 then taken off 第1期 (普通徴収); 100,000 円 paid.
        # 30 June 2024 is a Sunday, 31 August a Saturday: due the next business day.
        share = (year_total + sum(flat)) // 4 // 1000 * 1000
        first = year_total + sum(flat) - 3 * share - sum(flat)
        assert (first, share) == (15_500, 43_000)
        rows = [("第1期", "令和6年7月1日", first, first), ("第2期", "令和6年9月2日", share, share),
                ("第3期", "令和6年10月31日", share, 100_000 - first - share), ("第4期", "令和7年1月31日", share, 0)]
        for period, due, amount, paid in rows:
            assert f"令和6年度{period}{due}{amount:,}円{paid:,}円{amount - paid:,}円" in text, period
        assert f"合計{year_total + 10_800:,}円{100_000 + 10_800:,}円{year_total - 100_000:,}円" in text


def test_tax_certificate_of_a_disabled_single_parent(world: Any, tmp_path: Path) -> None:
    """The import's 障害者・ひとり親 fields reach the certificate: 令和7年度 (令和6年中),
    a father who is a 特別障害者, one child of 21 (特定) who is a 障害者, computed here."""
    svc, w, doc = world
    record = doc["municipalities"][0]["tax_records"][2]
    assert record["fiscal_year"] == 2025
    record.update(spouse=None, disability="特別障害者", single_parent="父",
                  dependants=[{"birth_date": "2003-08-01", "income": 0, "disability": "障害者"}])
    w.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    import_file(svc.engine, w.import_file)
    text = text_of(svc.issue_certificate(req("T-hitorioya", "zeimu", 300, tax_kind="shotoku", year=2025)).document,
                   tmp_path)
    kyuyo = 5_200_000 - (5_200_000 * 20 // 100 + 440_000)
    total = kyuyo + 80_000
    # 社会保険料 + 特定扶養 450,000 + 障害者控除 (300,000 本人 + 260,000 子) + ひとり親 300,000 + 基礎 430,000.
    deductions = 754_000 + 450_000 + 560_000 + 300_000 + 430_000
    taxable = (total - deductions) // 1000 * 1000
    # 差: 基礎 50,000, 特定 180,000, 特別障害者 100,000, 障害者 10,000, ひとり親（父） 10,000.
    base = min(50_000 + 180_000 + 100_000 + 10_000 + 10_000, taxable)
    city = (taxable * 6 // 100 - base * 3 // 100) // 100 * 100 + 3_000
    pref = (taxable * 4 // 100 - base * 2 // 100) // 100 * 100 + 1_000
    assert "障害者控除560,000円" in text and "ひとり親控除300,000円" in text
    assert f"所得控除合計{deductions:,}円" in text and f"課税標準額{taxable:,}円" in text
    assert "本人該当区分特別障害者・ひとり親" in text and "扶養等の障害者1人（障害者1人）" in text
    assert f"合計{city:,}円{pref:,}円{city + pref:,}円" in text
    assert f"年税額{city + pref + 1_000:,}円" in text


def _kobe(w: Any) -> dict[str, Any]:
    """神戸市 (a 指定都市) with one resident, B001, for its 所得・課税証明書 and 納税証明書."""
    kobe = municipality(KOBE_CITY, "神戸市", w.seals[KOBE_CITY], fees={"zeimu": 300}, offered_kinds=["zeimu"],
                        tax_years=[2025])
    address = "兵庫県神戸市中央区加納町6丁目5番1号"
    kobe["households"] = [{"id": "K1", "address": address, "householder": "B001",
                           "members": [member("B001", "髙橋 一郎", "タカハシ イチロウ", "1985-05-05", "male", "世帯主",
                                              domicile=address, domicile_head="髙橋 一郎")]}]
    return kobe


def test_tax_certificate_of_a_designated_city_and_a_working_student(world: Any, tmp_path: Path) -> None:
    """神戸市 (a 指定都市) levies 所得割 at 8 % / 2 % from 平成30年度, its 調整控除 at 4 % / 1 %
    and its 税額控除 8 : 2; the same record in 加東市 at 6 % / 4 %. A 勤労学生 in 加東市
    within the 750,000 円 limit (令和7年度) gets the 勤労学生控除 and says so. Computed here."""
    svc, w, doc = world
    kobe = _kobe(w)
    record = {"resident": "B001", "fiscal_year": 2025, "salary_revenue": 3_000_000,
              "deductions": [{"kind": "社会保険料控除", "amount": 450_000}],
              "tax_credits": [{"kind": "住宅借入金等特別税額控除", "amount": 10_000}]}
    kobe["tax_records"] = [record]
    kato = doc["municipalities"][0]
    kato["tax_records"].append(dict(record, resident="R002"))
    # 佐藤 花子 (R010, 74 on 31 December 2024) studies; 𠮷郎 (R003, 14) would be a 未成年者.
    kato["tax_records"].append({"resident": "R010", "fiscal_year": 2025, "salary_revenue": 1_300_000,
                                "working_student": True})
    doc["municipalities"].append(kobe)
    w.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    import_file(svc.engine, w.import_file)
    # 令和7年度 (令和6年中): 給与所得 3,000,000 × 70 % − 80,000 = 2,020,000; 社会保険料 450,000,
    # 基礎控除 430,000 → 課税標準額 1,140,000; 調整控除 5 % of min(50,000, 1,140,000).
    taxable = (3_000_000 * 7 // 10 - 80_000 - 450_000 - 430_000) // 1000 * 1000
    base = min(50_000, taxable)
    for code, link, (m, p), label in ((KOBE_CITY, "link-B001", (8, 2), "市民税"), (KATO, "link-R002", (6, 4), "市民税")):
        calc = (taxable * m // 100, taxable * p // 100)
        adj = (base * m // 2 // 100, base * p // 2 // 100)
        credit = (10_000 * m // 10, 10_000 * p // 10)
        levy = tuple((c - a - t) // 100 * 100 for c, a, t in zip(calc, adj, credit, strict=True))
        text = text_of(svc.issue_certificate(req(f"T-{code}", "zeimu", 300, link=link, municipality_code=code,
                                                 tax_kind="shotoku", year=2025)).document, tmp_path)
        assert f"{label}県民税" in text.replace("算出所得割額", "")
        assert f"課税標準額{taxable:,}円" in text
        assert f"算出所得割額{calc[0]:,}円{calc[1]:,}円{sum(calc):,}円" in text, code
        assert f"調整控除額{adj[0]:,}円{adj[1]:,}円{sum(adj):,}円" in text, code
        assert f"税額控除額{credit[0]:,}円{credit[1]:,}円{sum(credit):,}円" in text, code
        assert f"所得割額{levy[0]:,}円{levy[1]:,}円{sum(levy):,}円" in text, code
        assert f"年税額{sum(levy) + 3_000 + 1_000 + 1_000:,}円" in text, code
        if code == KOBE_CITY:
            assert (calc, adj, levy) == ((91_200, 22_800), (2_000, 500), (81_200, 20_300))
            assert "神戸市長" in text
    # The 勤労学生: 給与収入 1,300,000 → 給与所得 750,000 (550,000 minimum in 令和6年分), the limit.
    text = text_of(svc.issue_certificate(req("T-student", "zeimu", 300, link="link-R010", tax_kind="shotoku",
                                             year=2025)).document, tmp_path)
    taxable = (750_000 - 260_000 - 430_000) // 1000 * 1000
    base = min(50_000 + 10_000, taxable)
    levy = ((taxable * 6 // 100 - base * 3 // 100) // 100 * 100, (taxable * 4 // 100 - base * 2 // 100) // 100 * 100)
    assert "勤労学生控除260,000円" in text and "本人該当区分勤労学生" in text
    assert f"課税標準額{taxable:,}円" in text
    assert f"所得割額{levy[0]:,}円{levy[1]:,}円{sum(levy):,}円" in text


def test_tax_certificate_of_a_minor_takes_the_birth_date_of_the_resident_record(world: Any, tmp_path: Path) -> None:
    """地方税法 295条 ①二: the tax record carries no birth date; the issuer takes the resident's.
    𠮷郎 (R003, born 2010-01-20: 14 on 1 January 2025) with 1,350,000 円 of 事業所得 is a
    未成年者 and 非課税 for 令和7年度; the same record for 葛子 (R002, 42) is taxed in full, and
    so is 𠮷郎's with one yen more. Computed here."""
    svc, w, doc = world
    kato = doc["municipalities"][0]
    for resident, amount in (("R003", 1_350_000), ("R002", 1_350_000)):
        kato["tax_records"].append({"resident": resident, "fiscal_year": 2025,
                                    "incomes": [{"kind": "事業所得", "amount": amount}]})
    w.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    import_file(svc.engine, w.import_file)
    note = "未成年者（前年の合計所得金額135万円以下）のため非課税"

    def issue(serial: str, link: str) -> str:
        return text_of(svc.issue_certificate(req(serial, "zeimu", 300, link=link, tax_kind="shotoku",
                                                 year=2025)).document, tmp_path)

    minor = issue("T-minor", "link-R003")
    assert "山田𠮷郎" in minor and "平成22年1月20日" in minor
    assert "所得・非課税証明書" in minor and note in minor and "本人該当区分未成年者" in minor
    assert "年税額非課税" in minor and "均等割額非課税非課税非課税" in minor

    def taxed(total: int) -> tuple[int, int]:
        # 令和7年度: 基礎控除 430,000; 調整控除 on 50,000 (課税標準額 ≤ 2,000,000); 均等割 3,000 + 1,000.
        taxable = (total - 430_000) // 1000 * 1000
        return ((taxable * 6 // 100 - 1_500) // 100 * 100 + 3_000, (taxable * 4 // 100 - 1_000) // 100 * 100 + 1_000)

    adult = issue("T-adult", "link-R002")
    city, pref = taxed(1_350_000)
    assert "所得・課税証明書" in adult and note not in adult and "本人該当区分該当なし" in adult
    assert f"合計{city:,}円{pref:,}円{city + pref:,}円" in adult and f"年税額{city + pref + 1_000:,}円" in adult
    kato["tax_records"][-2]["incomes"][0]["amount"] = 1_350_001
    w.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    import_file(svc.engine, w.import_file)
    over = issue("T-minor-over", "link-R003")
    city, pref = taxed(1_350_001)
    assert "所得・課税証明書" in over and note not in over and "本人該当区分未成年者" in over
    assert f"年税額{city + pref + 1_000:,}円" in over


def test_nozei_of_a_designated_city_takes_its_own_total(world: Any, tmp_path: Path) -> None:
    """The 8 % / 2 % split rounds each column to 100 円 on its own: with 給与収入 2,296,000 円
    and a 税額控除 of 5,550 円 神戸市's 年税額 is 100 円 more than at 6 % / 4 %. Paid in full
    at 神戸市's figure, the import takes it and the 納税証明書 shows nothing unpaid."""
    svc, w, doc = world
    kobe = _kobe(w)
    # 令和7年度: 給与所得 2,296,000 × 70 % − 80,000 = 1,527,200; 基礎控除 430,000 → 1,097,000;
    # 調整控除 base 50,000; 税額控除 5,550.
    taxable = (2_296_000 * 7 // 10 - 80_000 - 430_000) // 1000 * 1000

    def year_total(m: int, p: int) -> int:
        credit_m = 5_550 * m // 10
        city = (taxable * m // 100 - 50_000 * m // 200 - credit_m) // 100 * 100
        pref = (taxable * p // 100 - 50_000 * p // 200 - (5_550 - credit_m)) // 100 * 100
        return city + pref + 3_000 + 1_000 + 1_000

    assert (year_total(8, 2), year_total(6, 4)) == (106_600, 106_500)
    kobe["tax_records"] = [{"resident": "B001", "fiscal_year": 2025, "salary_revenue": 2_296_000,
                            "tax_credits": [{"kind": "住宅借入金等特別税額控除", "amount": 5_550}],
                            "taxes": [{"name": "市民税・県民税(普通徴収)", "paid": 106_600, "due_on": "2025-06-30"}]}]
    doc["municipalities"].append(kobe)
    w.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    import_file(svc.engine, w.import_file)
    text = text_of(svc.issue_certificate(req("T-kobe-nozei", "zeimu", 300, link="link-B001",
                                             municipality_code=KOBE_CITY, tax_kind="nozei", year=2025)).document,
                   tmp_path)
    assert "市民税・県民税(普通徴収)令和7年度全期令和7年6月30日106,600円106,600円0円" in text


def test_tax_certificates_take_the_municipality_s_own_rates(world: Any, tmp_path: Path) -> None:
    """兵庫県's 県民緑税 (超過課税 by 条例, the municipality's ``local_tax_rates``): 800 円 on
    the 県民税 均等割 in the 年度 it covers, said in a note; the 年税額 adds up; a payment of
    the whole 年税額 with it is taken at import and leaves nothing unpaid. Computed here."""
    svc, w, doc = world
    kato = doc["municipalities"][0]
    kato["local_tax_rates"] = [{"name": "県民緑税", "first_year": 2006, "last_year": 2030,
                                "prefectural_per_capita": 800}]
    # 令和7年度: 給与所得 3,000,000 × 70 % − 80,000 = 2,020,000; 社会保険料 450,000, 基礎控除
    # 430,000 → 課税標準額 1,140,000; 調整控除 5 % of 50,000; 均等割 3,000 + 1,000 + 800.
    taxable = (3_000_000 * 7 // 10 - 80_000 - 450_000 - 430_000) // 1000 * 1000
    levy = ((taxable * 6 // 100 - 1_500) // 100 * 100, (taxable * 4 // 100 - 1_000) // 100 * 100)
    city, pref = levy[0] + 3_000, levy[1] + 1_000 + 800
    year_total = city + pref + 1_000
    kato["tax_records"].append({"resident": "R002", "fiscal_year": 2025, "salary_revenue": 3_000_000,
                                "deductions": [{"kind": "社会保険料控除", "amount": 450_000}],
                                "taxes": [{"name": "市民税・県民税(普通徴収)", "paid": year_total,
                                           "due_on": "2025-06-30"}]})
    w.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    import_file(svc.engine, w.import_file)

    def issue(serial: str, tax_kind: str) -> str:
        return text_of(svc.issue_certificate(req(serial, "zeimu", 300, link="link-R002", tax_kind=tax_kind,
                                                 year=2025)).document, tmp_path)

    text = issue("T-midori", "shotoku")
    assert "均等割額3,000円1,800円4,800円" in text
    assert f"合計{city:,}円{pref:,}円{city + pref:,}円" in text and f"年税額{year_total:,}円" in text
    assert "県民税均等割額には県民緑税800円を含む" in text
    text = issue("T-midori-nozei", "nozei")
    assert f"市民税・県民税(普通徴収)令和7年度全期令和7年6月30日{year_total:,}円{year_total:,}円0円" in text


def test_nozei_of_tax_withheld_from_salary(world: Any, tmp_path: Path) -> None:
    """特別徴収: the employer withholds the 年税額 over June to May, each month the twelfth
    rounded down to 100 円 and June the rest, paid in by the 10th of the next month. The
    納税証明書 prints one line per month (6月分 …) with its 納期限, paid oldest first."""
    svc, w, doc = world
    kato = doc["municipalities"][0]
    kato["tax_records"].append({"resident": "R002", "fiscal_year": 2025, "salary_revenue": 3_000_000,
                                "deductions": [{"kind": "社会保険料控除", "amount": 450_000}],
                                "taxes": [{"name": "市民税・県民税(特別徴収)", "collection": "特別徴収",
                                           "paid": 60_000}]})
    w.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    import_file(svc.engine, w.import_file)
    # 令和7年度: 課税標準額 1,140,000 (see above); 均等割 3,000 + 1,000; 森林環境税 1,000.
    taxable = 1_140_000
    total = ((taxable * 6 // 100 - 1_500) // 100 * 100 + (taxable * 4 // 100 - 1_000) // 100 * 100
             + 3_000 + 1_000 + 1_000)
    month = total // 12 // 100 * 100
    june = total - 11 * month
    text = text_of(svc.issue_certificate(req("T-withheld", "zeimu", 300, link="link-R002", tax_kind="nozei",
                                             year=2025)).document, tmp_path)
    name = "市民税・県民税(特別徴収)令和7年度"
    assert f"{name}6月分令和7年7月10日{june:,}円{june:,}円0円" in text
    # 7月分: 10 August 2025 is a Sunday and 11 August 山の日.
    assert f"{name}7月分令和7年8月12日{month:,}円{month:,}円0円" in text
    # 60,000 円 pays June, then whole months from July, then part of the next.
    full = (60_000 - june) // month
    part = 60_000 - june - full * month
    assert (june, month, full, part) == (9_800, 9_700, 5, 1_700)
    assert f"{name}11月分令和7年12月10日{month:,}円{month:,}円0円" in text
    # 12月分: 10 January 2026 is a Saturday and 12 January 成人の日.
    assert f"{name}12月分令和8年1月13日{month:,}円{part:,}円{month - part:,}円" in text
    assert f"{name}1月分令和8年2月10日{month:,}円0円{month:,}円" in text
    assert f"{name}5月分令和8年6月10日{month:,}円0円{month:,}円" in text
    assert f"合計{total:,}円60,000円{total - 60_000:,}円" in text


@pytest.mark.parametrize("scope", ["all", "self"])
def test_koseki(world: Any, tmp_path: Path, scope: str) -> None:
    svc, _w, _doc = world
    issued = svc.issue_certificate(req(f"R-{scope}", "koseki", 450, koseki_scope=scope))
    text = text_of(issued.document, tmp_path)
    assert "本籍兵庫県加東市社50番地" in text and "氏名山田太郎" in text and "【編製日】平成17年5月3日" in text
    assert "【名】太郎" in text and "【配偶者区分】夫" in text and "【婚姻日】平成17年5月3日" in text
    if scope == "all":
        assert "【名】葛\U000E0103子" in text and "【名】明美" in text and "除籍" in text
    else:
        assert "【名】明美" not in text and "【名】葛\U000E0103子" not in text and "除籍" not in text
    assert_sealed(issued.document, tmp_path)


def test_koseki_individual_entries_of_chosen_persons(world: Any, tmp_path: Path) -> None:
    """戸籍法 10条: the holder (太郎) asks for the 個人事項 of his wife and of a daughter
    who has left the register; they print in register order, his own entry not."""
    svc, _w, _doc = world
    issued = svc.issue_certificate(req("R-chosen", "koseki", 450, koseki_scope="self", members=("K001#3", "R002")))
    text = text_of(issued.document, tmp_path)
    assert "戸籍個人事項証明書" in text and "本籍兵庫県加東市社50番地" in text and "氏名山田太郎" in text
    assert "【名】葛\U000E0103子" in text and "【名】明美" in text and "除籍" in text
    assert text.index("【名】葛\U000E0103子") < text.index("【名】明美")
    assert "【名】太郎" not in text and "【名】𠮷郎" not in text
    assert_sealed(issued.document, tmp_path)
    # Someone outside his register, or persons with the 全部事項証明書: refused.
    with pytest.raises(BadRequest) as e:
        svc.issue_certificate(req("R-stray", "koseki", 450, koseki_scope="self", members=("R010",)))
    assert e.value.code == "option-not-offered"
    with pytest.raises(BadRequest) as e:
        svc.issue_certificate(req("R-all", "koseki", 450, koseki_scope="all", members=("R002",)))
    assert e.value.code == "option-not-offered"


def test_the_holder_is_marked_in_the_register_persons_when_persons_carry_their_own_ids(
        world: Any, tmp_path: Path) -> None:
    """A register whose persons the municipality exports with ids of their own (not the
    resident's): the offer still marks the card holder, so a kiosk can preselect him."""
    svc, w, doc = world
    for n, person in enumerate(doc["municipalities"][0]["family_registers"][0]["persons"], start=1):
        person["id"] = f"P{n}"
    write_to = tmp_path / "ids.json"
    write_to.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    import_file(svc.engine, write_to)
    got = svc.query_availability(KATO, "link-R001")
    assert isinstance(got, Offers), got
    for kind in ("koseki", "fuhyo"):
        offer = got.find(kind)
        assert offer is not None
        persons = offer.options.members
        assert [m.resident_id for m in persons] == ["P1", "P2", "P3", "P4"]
        assert [m.resident_id for m in persons if m.holder] == ["P1"], persons  # 太郎, resident R001


def test_fuhyo(world: Any, tmp_path: Path) -> None:
    svc, _w, _doc = world
    issued = svc.issue_certificate(req("F-1", "fuhyo", 200, scope="household"))
    text = text_of(issued.document, tmp_path)
    for address in (NISHIWAKI, SHA):
        assert address in text
    # Before the register was made (神戸), and after 明美 left it (大阪): not this 附票's.
    assert KOBE not in text and OSAKA not in text
    assert "本籍省略" in text and "筆頭者省略" in text
    assert "山田太郎" in text and "山田明美" in text
    assert_sealed(issued.document, tmp_path)


# ---------------------------------------------------------------- decided from current data


class AbolishWhileRendering:
    """A maker that abolishes the holder's seal while "rendering" (another clerk at the counter)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.calls = 0

    def make(self, document: Any, seal: SealPaths) -> tuple[bytes, int]:
        self.calls += 1
        with self.engine.begin() as c:
            c.execute(sa.update(seal_registrations).where(seal_registrations.c.registration_number == "KT-0001")
                      .values(abolished_at=clock.now()))
        return b"%PDF-1.7 not a real document", 1


def test_seal_abolished_during_issuance_is_refused_and_nothing_is_recorded(world: Any) -> None:
    svc, _w, _doc = world
    racing = IssuerService(svc.engine, svc.settings, maker=AbolishWhileRendering(svc.engine))
    before = counts(svc)
    with pytest.raises(IssuanceRefused) as e:
        racing.issue_certificate(req("RACE-1", "inkan", 200))
    assert e.value.refusal.code is RefusalCode.KIND_NOT_OFFERED
    assert racing.maker.calls == 1  # type: ignore[attr-defined]  # it did get as far as rendering
    assert counts(svc) == before
    # And from now on it is not offered at all.
    got = svc.query_availability(KATO, "link-R001")
    assert isinstance(got, Offers) and "inkan" not in {o.kind for o in got.offers}


def test_seal_abolished_by_import_between_offer_and_order(world: Any) -> None:
    svc, w, doc = world
    got = svc.query_availability(KATO, "link-R001")
    assert isinstance(got, Offers) and "inkan" in {o.kind for o in got.offers}
    doc["municipalities"][0]["seal_registrations"][0]["abolished_at"] = "2026-03-03T09:59:00+09:00"
    w.import_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    import_file(svc.engine, w.import_file)
    before = counts(svc)
    with pytest.raises(IssuanceRefused):
        svc.issue_certificate(req("RACE-2", "inkan", 200))
    assert counts(svc) == before


# ---------------------------------------------------------------- import checks


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda k: k["seal_registrations"][0].update(impression_png=base64.b64encode(b"GIF89a").decode()),
         "not a PNG"),
        (lambda k: k["seal_registrations"][0].update(resident="R999"), "R999"),
        (lambda k: k["seal_registrations"][0].update(abolished_at="2000-01-01T00:00:00+09:00"), "before registered_at"),
        (lambda k: k["seal_registrations"][0].update(registered_at="2015-06-01T10:00:00"), "offset"),
        (lambda k: k["tax_records"][0]["taxes"][0].update(paid=999_999), "more than assessed"),
        (lambda k: k["tax_records"][0].update(municipal_tax=1), "tax_records[0].municipal_tax"),
        (lambda k: k["tax_records"][0]["deductions"].append({"kind": "基礎控除", "amount": 430_000}),
         "deductions[1].kind"),
        (lambda k: k["tax_records"][0]["deductions"].append({"kind": "配偶者特別控除", "amount": 330_000}),
         "deductions[1].kind: 配偶者特別控除 is computed"),
        (lambda k: k["tax_records"][0]["deductions"].append({"kind": "所得金額調整控除", "amount": 100_000}),
         "deductions[1].kind: 所得金額調整控除 is computed"),
        (lambda k: k["tax_records"][0]["taxes"][0].update(due_dates=["2023-02-30"]), "due_dates[0]"),
        (lambda k: k["tax_records"][0]["dependants"][0].update(birth_date="2003"), "dependants[0].birth_date"),
        (lambda k: k["tax_records"][0]["deductions"].append({"kind": "障害者控除", "amount": 260_000}),
         "deductions[1].kind: 障害者控除 is computed"),
        (lambda k: k["tax_records"][0].update(disability="同居特別障害者"),
         "tax_records[0].disability: '同居特別障害者' is not one of 障害者, 特別障害者"),
        (lambda k: k["tax_records"][0]["dependants"][0].update(disability="軽度"),
         "tax_records[0].dependants[0].disability: '軽度' is not one of"),
        (lambda k: k["tax_records"][0]["spouse"].update(disability=True), "tax_records[0].spouse.disability has the wrong type"),
        (lambda k: k["tax_records"][0].update(widow="yes"), "tax_records[0].widow has the wrong type"),
        (lambda k: k["tax_records"][0].update(working_student="yes"),
         "tax_records[0].working_student has the wrong type"),
        (lambda k: k["tax_records"][0]["deductions"].append({"kind": "勤労学生控除", "amount": 260_000}),
         "tax_records[0].deductions[1].kind: 勤労学生控除 is computed"),
        (lambda k: k["tax_records"][0]["deductions"].append({"kind": "特定親族特別控除", "amount": 450_000}),
         "tax_records[0].deductions[1].kind: 特定親族特別控除 is computed"),
        (lambda k: k["tax_records"][0].update(single_parent="母"),
         "tax_records[0].single_parent: a 寡婦 or ひとり親 has no spouse; municipalities[0].tax_records[0].spouse is given"),
        (lambda k: k["tax_records"][0].update(single_parent="父", widow=True, spouse=None),
         "tax_records[0].widow and municipalities[0].tax_records[0].single_parent exclude each other"),
        (lambda k: k["tax_records"][0].update(single_parent="母", spouse=None, dependants=[]),
         "tax_records[0].single_parent: ひとり親 needs a child"),
        (lambda k: k["tax_records"][0].update(widow=True, spouse=None, fiscal_year=2020),
         "tax_records[0].widow: 寡婦: the 寡婦・寡夫 rules before 令和3年度 are not tabled"),
        (lambda k: k["tax_records"][1].update(tax_credits=[{"kind": "住宅借入金等特別税額控除", "amount": 10_000},
                                                           {"kind": "定額減税額", "amount": 30_000}]),
         "tax_records[1].tax_credits[1].kind: 定額減税額 (定額減税) is computed"),
        (lambda k: k.update(tax_years=["2025"]), "tax_years[0]"),
        (lambda k: k["tax_records"][0]["taxes"][0].update(collection="年金特徴"),
         "taxes[0].collection: '年金特徴' is not 普通徴収 or 特別徴収"),
        (lambda k: k["tax_records"][0]["taxes"][0].update(collection="特別徴収"),
         "taxes[0].due_dates: 特別徴収 is paid in by the 10th"),
        (lambda k: k.update(local_tax_rates=[{"name": "県民緑税", "first_year": 2006, "prefectural_per_capita": 8000}]),
         "local_tax_rates[0].prefectural_per_capita: 8000 yen; from -1000 (the standard 均等割) to 3000"),
        (lambda k: k.update(local_tax_rates=[{"name": "減税", "first_year": 2006, "prefectural_per_capita": -1001}]),
         "local_tax_rates[0].prefectural_per_capita: -1001 yen"),
        (lambda k: k.update(local_tax_rates=[{"name": "水源環境保全税", "first_year": 2007,
                                              "prefectural_rate": "0.0255"}]),
         "local_tax_rates[0].prefectural_rate: '0.0255'; a rate in percent"),
        (lambda k: k.update(local_tax_rates=[{"name": "x", "first_year": 2010, "last_year": 2009,
                                              "municipal_per_capita": 500}]),
         "local_tax_rates[0].last_year must be a fiscal year from first_year (2010) on"),
        (lambda k: k.update(local_tax_rates=[{"name": "x", "first_year": 2010}]), "local_tax_rates[0]: adds nothing"),
        (lambda k: k.update(local_tax_rates=[{"name": "x", "first_year": 2010, "rate": 1}]),
         "local_tax_rates[0]: unknown field 'rate'"),
        (lambda k: k["family_registers"][0]["persons"][0].update(sex="x"), "persons[0].sex"),
        (lambda k: k["family_registers"][0]["persons"][0]["addresses"].reverse(), "oldest first"),
        (lambda k: k["households"][0]["members"][0].update(removed_reason="転出"), "status 'removed'"),
        (lambda k: k.update(kind_hours={"passport": [{"opens": "09:00", "closes": "17:00"}]}), "passport"),
    ],
)
def test_bad_records_are_refused_and_change_nothing(world: Any, tmp_path: Path, change: Any, message: str) -> None:
    svc, _w, doc = world
    bad = json.loads(json.dumps(doc))
    change(bad["municipalities"][0])
    bad["municipalities"][0]["name"] = "changed"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportError_, match=re.escape(message)):
        import_file(svc.engine, path)
    got = svc.service_status(KATO)
    assert got[0].name == "加東市"


def test_impression_from_a_file(world: Any, tmp_path: Path) -> None:
    svc, _w, doc = world
    (tmp_path / "seal.png").write_bytes(_png())
    entry = doc["municipalities"][0]["seal_registrations"][0]
    del entry["impression_png"]
    entry["impression_file"] = "seal.png"
    path = tmp_path / "with-file.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    summary = import_file(svc.engine, path)
    # The seal whose impression is a file is read (the file may have changed); the rest is as stored.
    assert (summary.seals, summary.tax_records, summary.family_registers) == (1, 0, 0)
    with svc.engine.connect() as c:
        png = c.execute(sa.select(seal_registrations.c.impression_png)
                        .where(seal_registrations.c.registration_number == "KT-0001")).scalar_one()
    assert bytes(png) == _png()
