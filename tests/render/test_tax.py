"""各種税証明書: 所得・課税(非課税)証明書 and 納税証明書, read back from the PDF.

The expected figures are computed here, independently of kofu.domain.tax,
by the published rules written out for the sample's figures (令和8年度,
令和7年中の所得), and compared with what the PDF prints.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kofu.domain.era import to_wareki
from kofu.render import InvalidDocument, render_tax
from kofu.render import samples as s
from kofu.render.model import TaxCertificateDocument
from tests.render.pdftools import run
from tests.render.sealing import SealKit, assert_header, compact, seal_and_read


def _y(v: int) -> str:
    return f"{v:,}円"


def has(lines: list[str], row: str) -> bool:
    """``row`` is printed on one line (a table row read left to right)."""
    return any(row in line for line in lines)


def read(doc: TaxCertificateDocument, seal: SealKit, tmp_path: Path) -> tuple[str, list[str]]:
    """The sealed PDF's text, compact, and its lines as laid out (each compact), so
    that a table row reads as one string: 給与所得4,812,345円3,409,600円."""
    path = tmp_path / "t.pdf"
    text = seal_and_read(render_tax(doc).pdf, seal, doc, path)
    assert_header(doc, text)
    lines = [compact(line) for line in run("pdftotext", "-layout", str(path), "-").splitlines()]
    return compact(text), [line for line in lines if line]


def independent_r8(salary: int, business: int, other_deductions: int, credit: int) -> dict[str, int]:
    """令和8年度 for a taxpayer with a spouse (66, no income), a student of 21,
    a child of 13 and a parent of 75 living with him, by the rules as published."""
    # 給与所得: 別表第五 (収入 rounded down to 4,000 円), 3,600,000〜6,599,999 円 band:
    # 給与所得控除 = 収入 × 20 % + 440,000 円.
    a = salary - salary % 4_000
    assert 3_600_000 <= a < 6_600_000
    kyuyo = a - (a // 5 + 440_000)
    total = kyuyo + business
    # 配偶者控除 330,000 (一般), 特定扶養 450,000, 同居老親等 450,000, 年少 0, 基礎 430,000.
    personal = 330_000 + 450_000 + 450_000 + 0 + 430_000
    deductions = other_deductions + personal
    taxable = (total - deductions) // 1000 * 1000
    # 調整控除: 人的控除額の差 = 50,000 (基礎) + 50,000 (配偶者) + 180,000 (特定) + 130,000 (同居老親等).
    diff = 50_000 + 50_000 + 180_000 + 130_000
    assert taxable <= 2_000_000
    base = min(diff, taxable)
    city_calc, pref_calc = taxable * 6 // 100, taxable * 4 // 100
    city_adj, pref_adj = base * 3 // 100, base * 2 // 100
    city_credit = credit * 3 // 5
    pref_credit = credit - city_credit
    city_levy = (city_calc - city_adj - city_credit) // 100 * 100
    pref_levy = (pref_calc - pref_adj - pref_credit) // 100 * 100
    return {
        "kyuyo": kyuyo, "total": total, "deductions": deductions, "taxable": taxable,
        "city_calc": city_calc, "pref_calc": pref_calc, "city_adj": city_adj, "pref_adj": pref_adj,
        "city_credit": city_credit, "pref_credit": pref_credit,
        "city_levy": city_levy, "pref_levy": pref_levy,
        "city": city_levy + 3_000, "pref": pref_levy + 1_000,
        "year_total": city_levy + 3_000 + pref_levy + 1_000 + 1_000,
    }


def test_shotoku_reconciles(test_seal: SealKit, tmp_path: Path) -> None:
    raw = s.TAX_RETURN
    doc = s.tax_shotoku()
    e = independent_r8(
        raw.salary_revenue, dict(raw.other_incomes)["事業所得"], sum(v for _, v in raw.deductions),
        sum(v for _, v in raw.tax_credits),
    )
    flat, lines = read(doc, test_seal, tmp_path)
    assert "令和8年度" in flat and "所得・課税証明書" in flat and "非課税" not in flat
    assert "令和7年中の所得" in flat
    assert "上記のとおり相違ないことを証明する。" in flat
    assert compact(doc.name) in flat and compact(doc.address) in flat
    assert to_wareki(doc.birth_date) in flat
    # 収入 and 所得.
    assert has(lines, f"給与所得{_y(raw.salary_revenue)}{_y(e['kyuyo'])}")
    assert has(lines, f"事業所得{_y(120_500)}")
    assert has(lines, f"総所得金額等{_y(e['total'])}")
    # 所得控除, each and in total; the household.
    for label, amount in (*raw.deductions, ("配偶者控除", 330_000), ("扶養控除", 900_000), ("基礎控除", 430_000)):
        assert has(lines, f"{label}{_y(amount)}"), label
    assert has(lines, f"所得控除合計{_y(e['deductions'])}")
    assert has(lines, "控除対象配偶者有（一般）")
    assert has(lines, "扶養親族3人（特定1人・同居老親等1人・年少1人）")
    assert has(lines, f"課税標準額{_y(e['taxable'])}")
    assert e["taxable"] % 1000 == 0
    # 市民税 | 県民税 | 計, each row adding up.
    rows = {
        "算出所得割額": (e["city_calc"], e["pref_calc"]),
        "調整控除額": (e["city_adj"], e["pref_adj"]),
        "税額控除額": (e["city_credit"], e["pref_credit"]),
        "所得割額": (e["city_levy"], e["pref_levy"]),
        # 兵庫県's 県民緑税 (超過課税): 800 円 on the 県民税 均等割, said in a note.
        "均等割額": (3_000, 1_000 + 800),
        "合計": (e["city"], e["pref"] + 800),
    }
    for label, (city, pref) in rows.items():
        assert has(lines, f"{label}{_y(city)}{_y(pref)}{_y(city + pref)}"), label
    assert has(lines, f"森林環境税（国税）{_y(1_000)}")
    assert has(lines, f"年税額{_y(e['year_total'] + 800)}")
    assert "県民税均等割額には県民緑税800円を含む" in flat
    assert flat.index("年税額") < flat.index("以下余白") < flat.index("上記のとおり")


def test_shotoku_exempt(test_seal: SealKit, tmp_path: Path) -> None:
    # 平成30年中 1,000,000 円 of salary: 給与所得 350,000 円, the 非課税限度額 of one person (350,000 円).
    doc = s.tax_shotoku(exempt=True, fiscal_year=2019)
    text, lines = read(doc, test_seal, tmp_path)
    assert "令和元年度" in text and "所得・非課税証明書" in text and "平成30年中の所得" in text
    assert has(lines, f"給与所得{_y(1_000_000)}{_y(350_000)}")
    assert has(lines, "所得割額非課税非課税非課税") and has(lines, "均等割額非課税非課税非課税")
    assert has(lines, "年税額非課税")
    assert "森林環境税" not in text  # levied from 令和6年度 only


def test_per_capita_only(test_seal: SealKit, tmp_path: Path) -> None:
    """Over the 均等割 limit, under the 所得割 one: 均等割 and 森林環境税, no 所得割."""
    # One person, 令和8年度: 所得割 limit 450,000, 均等割 limit (1級地) 450,000; with a
    # spouse the limits are 1,120,000 (所得割) and 1,010,000 (均等割).
    raw = replace(s.TAX_RETURN, salary_revenue=1_700_000, other_incomes=(), dependants=(), tax_credits=())
    from kofu.domain.tax import assess

    doc = s.tax_shotoku(assessment=assess(raw))
    text, lines = read(doc, test_seal, tmp_path)
    # 給与所得 1,700,000 − 650,000 = 1,050,000: between the two limits.
    assert has(lines, f"給与所得{_y(1_700_000)}{_y(1_050_000)}")
    assert has(lines, "所得割額非課税")
    # 均等割 with 兵庫県's 県民緑税 (800 円; the sample's 加東市), and 森林環境税.
    assert has(lines, f"均等割額{_y(3_000)}{_y(1_800)}{_y(4_800)}")
    assert has(lines, f"年税額{_y(5_800)}") and has(lines, "所得・課税証明書")


def test_spouse_special_and_income_adjustment(test_seal: SealKit, tmp_path: Path) -> None:
    """令和8年度 (令和7年中): 給与収入 9,500,000 円, a child of 15, a spouse earning
    1,020,000 円 (over the 580,000 円 limit), 社会保険料 1,300,000 円, written out by
    the published rules."""
    from kofu.domain.tax import Dependant, TaxReturn, assess

    raw = TaxReturn(fiscal_year=2026, salary_revenue=9_500_000, deductions=(("社会保険料控除", 1_300_000),),
                    spouse=Dependant(date(1975, 3, 3), income=1_020_000), dependants=(Dependant(date(2010, 1, 2)),))
    # 給与所得控除 above 8,500,000 円 is 1,950,000 円; the 所得金額調整控除 for a
    # 扶養親族 under 23 (年少 included) is (9,500,000 − 8,500,000) × 10 %.
    adjustment = (9_500_000 - 8_500_000) // 10
    kyuyo = 9_500_000 - 1_950_000 - adjustment
    # 配偶者特別控除: spouse 100万円超105万円以下, taxpayer ≤ 9,000,000 円: 310,000 円; 年少 0 (born 2 January 2010: 15 on 31 December 2025); 基礎 430,000.
    deductions = 1_300_000 + 310_000 + 430_000
    taxable = (kyuyo - deductions) // 1000 * 1000
    # 人的控除額の差: 基礎控除's 50,000 only (the spouse is far above the limit); 課税標準額 over
    # 2,000,000 leaves the 50,000 円 floor.
    base = max(50_000 - (taxable - 2_000_000), 50_000)
    city = (taxable * 6 // 100 - base * 3 // 100) // 100 * 100
    pref = (taxable * 4 // 100 - base * 2 // 100) // 100 * 100
    doc = s.tax_shotoku(assessment=assess(raw))
    flat, lines = read(doc, test_seal, tmp_path)
    assert has(lines, f"給与所得{_y(9_500_000)}{_y(kyuyo)}") and kyuyo == 7_450_000
    assert has(lines, f"所得金額調整控除額（給与所得から控除済）{_y(adjustment)}")
    assert has(lines, f"総所得金額等{_y(kyuyo)}")
    assert has(lines, f"配偶者特別控除{_y(310_000)}") and "配偶者控除" not in flat.replace("配偶者特別控除", "")
    assert has(lines, f"所得控除合計{_y(deductions)}")
    assert has(lines, "控除対象配偶者無") and has(lines, "扶養親族1人（年少1人）")
    assert has(lines, f"課税標準額{_y(taxable)}")
    assert has(lines, f"調整控除額{_y(1_500)}{_y(1_000)}{_y(2_500)}")
    assert has(lines, f"所得割額{_y(city)}{_y(pref)}{_y(city + pref)}")
    assert has(lines, f"年税額{_y(city + pref + 3_000 + 1_000 + 1_000)}")


def test_nozei_one_line_per_instalment(test_seal: SealKit, tmp_path: Path) -> None:
    doc = s.tax_nozei()
    flat, lines = read(doc, test_seal, tmp_path)
    assert "納税証明書" in flat
    # 235,300 円 over four 期: 58,000 円 each from 第2期 (235,300 / 4 rounded down to
    # 1,000 円), 第1期 takes the rest; the 118,300 円 paid fills the earliest 期 first.
    dues = [date(2026, 6, 30), date(2026, 8, 31), date(2026, 11, 2), date(2027, 2, 1)]
    amounts = [235_300 - 3 * 58_000, 58_000, 58_000, 58_000]
    left = 118_300
    for n, (due, amount) in enumerate(zip(dues, amounts, strict=True), start=1):
        paid = min(left, amount)
        left -= paid
        row = f"市民税・県民税(普通徴収)令和8年度第{n}期{to_wareki(due)}{_y(amount)}{_y(paid)}{_y(amount - paid)}"
        assert has(lines, row), row
    # 5月31日 is a Sunday in 2026: the 納期限 is Monday 1 June.
    assert has(lines, f"軽自動車税(種別割)令和8年度全期令和8年6月1日{_y(10_800)}{_y(10_800)}0円")
    assert has(lines, f"合計{_y(235_300 + 10_800)}{_y(118_300 + 10_800)}{_y(235_300 - 118_300)}")
    assert "以下余白" in flat


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tax_kind": "kotei"}, "shotoku or nozei"),
        ({"fiscal_year": 1800}, "fiscal year"),
        ({"assessment": None}, "needs the assessment"),
    ],
)
def test_bad_values_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidDocument, match=message):
        render_tax(replace(s.tax_shotoku(), **changes))


def test_nozei_amounts_must_add_up() -> None:
    doc = s.tax_nozei()
    bad = replace(doc.tax_items[0], paid=doc.tax_items[0].paid + 1)
    with pytest.raises(InvalidDocument, match="is not the assessed"):
        render_tax(replace(doc, tax_items=(bad,)))


def test_single_parent_with_disabilities(test_seal: SealKit, tmp_path: Path) -> None:
    """令和8年度 (令和7年中): a mother, herself a 障害者, with a child of 17 who is a
    同居特別障害者 and a child of 10; 給与収入 4,000,000 円, 社会保険料 600,000 円,
    written out by the published rules."""
    from kofu.domain.tax import Dependant, TaxReturn, assess

    raw = TaxReturn(fiscal_year=2026, salary_revenue=4_000_000, deductions=(("社会保険料控除", 600_000),),
                    dependants=(Dependant(date(2008, 5, 5), disability="同居特別障害者"), Dependant(date(2015, 1, 1))),
                    disability="障害者", single_parent="母")
    kyuyo = 4_000_000 * 8 // 10 - 440_000  # 3,600,000〜6,599,999 円 band: 2,760,000
    # 障害者控除 260,000 (本人) + 530,000 (同居特別障害者); ひとり親 300,000; 扶養 一般 330,000; 基礎 430,000.
    disability = 260_000 + 530_000
    deductions = 600_000 + 330_000 + disability + 300_000 + 430_000
    taxable = (kyuyo - deductions) // 1000 * 1000
    # 人的控除額の差: 基礎 50,000 + 一般扶養 50,000 + 障害者 10,000 + 同居特別障害者 220,000 + ひとり親（母） 50,000.
    diff = 50_000 + 50_000 + 10_000 + 220_000 + 50_000
    assert taxable <= 2_000_000
    base = min(diff, taxable)
    city = (taxable * 6 // 100 - base * 3 // 100) // 100 * 100
    pref = (taxable * 4 // 100 - base * 2 // 100) // 100 * 100
    doc = s.tax_shotoku(assessment=assess(raw))
    flat, lines = read(doc, test_seal, tmp_path)
    assert has(lines, f"給与所得{_y(4_000_000)}{_y(kyuyo)}")
    assert has(lines, f"障害者控除{_y(disability)}") and has(lines, f"ひとり親控除{_y(300_000)}")
    assert has(lines, f"扶養控除{_y(330_000)}")
    assert has(lines, f"所得控除合計{_y(deductions)}") and has(lines, f"課税標準額{_y(taxable)}")
    assert has(lines, "本人該当区分障害者・ひとり親")
    assert has(lines, "扶養等の障害者1人（同居特別障害者1人）")
    assert has(lines, "扶養親族2人（一般1人・年少1人）")
    assert has(lines, f"調整控除額{_y(base * 3 // 100)}{_y(base * 2 // 100)}{_y(base * 5 // 100)}")
    assert has(lines, f"所得割額{_y(city)}{_y(pref)}{_y(city + pref)}")
    assert has(lines, f"年税額{_y(city + pref + 3_000 + 1_000 + 1_000)}")
    assert "寡婦" not in flat and "非課税" not in flat


def test_widow_under_1_35_million_is_exempt_and_says_why(test_seal: SealKit, tmp_path: Path) -> None:
    """A 寡婦 with 1,300,000 円 of 事業所得 is over the 非課税限度額 of one person
    (450,000 円) but at most 1,350,000 円: 非課税 by 地方税法 295条."""
    from kofu.domain.tax import TaxReturn, assess

    raw = TaxReturn(fiscal_year=2026, other_incomes=(("事業所得", 1_300_000),), widow=True)
    doc = s.tax_shotoku(assessment=assess(raw))
    flat, lines = read(doc, test_seal, tmp_path)
    assert "所得・非課税証明書" in flat
    assert has(lines, f"寡婦控除{_y(260_000)}") and has(lines, "本人該当区分寡婦")
    assert has(lines, "所得割額非課税非課税非課税") and has(lines, "均等割額非課税非課税非課税")
    assert has(lines, "年税額非課税")
    assert "障害者・寡婦・ひとり親（前年の合計所得金額135万円以下）のため非課税" in flat
    # The ordinary certificate says nothing of it.
    other, other_lines = read(s.tax_shotoku(exempt=True), test_seal, tmp_path)
    assert "135万円" not in other and has(other_lines, "本人該当区分該当なし")


def test_a_disabled_person_exempt_before_reiwa_3_is_told_the_limit_of_that_year(
        test_seal: SealKit, tmp_path: Path) -> None:
    """令和2年度: the 295条 limit was 1,250,000 円 (障害者・寡婦・寡夫; no ひとり親 yet)."""
    from kofu.domain.tax import TaxReturn, assess

    raw = TaxReturn(fiscal_year=2020, other_incomes=(("事業所得", 1_200_000),), disability="障害者")
    flat, lines = read(s.tax_shotoku(fiscal_year=2020, assessment=assess(raw)), test_seal, tmp_path)
    assert has(lines, "年税額非課税")
    assert "障害者・寡婦・寡夫（前年の合計所得金額125万円以下）のため非課税" in flat and "135万円" not in flat
    # One yen over that year's limit: taxed (it would be exempt by the later limit).
    over = assess(TaxReturn(fiscal_year=2020, other_incomes=(("事業所得", 1_250_001),), disability="障害者"))
    assert not over.exempt_as_disabled_or_single


def test_specified_relative_special_deduction(test_seal: SealKit, tmp_path: Path) -> None:
    """令和8年度 (令和7年中): a parent (給与収入 4,000,000 円, 社会保険料 600,000 円) whose
    student of 20 earned a 合計所得金額 of 900,000 円 (給与収入 1,550,000 − 650,000): above the
    扶養 limit (580,000), so no 扶養控除 but the 特定親族特別控除, 450,000 円 for 85万円超90万円以下
    (館林市's 令和8年度 table); its 人的控除額の差 is 610,000 (所得税) − 450,000 = 160,000."""
    from kofu.domain.tax import Dependant, TaxReturn, assess

    student = Dependant(date(2005, 4, 1), income=1_550_000 - 650_000)
    raw = TaxReturn(fiscal_year=2026, salary_revenue=4_000_000, deductions=(("社会保険料控除", 600_000),),
                    dependants=(student,))
    kyuyo = 4_000_000 * 8 // 10 - 440_000
    deductions = 600_000 + 450_000 + 430_000
    taxable = (kyuyo - deductions) // 1000 * 1000
    base = min(50_000 + 160_000, taxable)
    city = (taxable * 6 // 100 - base * 3 // 100) // 100 * 100
    pref = (taxable * 4 // 100 - base * 2 // 100) // 100 * 100
    assert (taxable, city, pref) == (1_280_000, 70_500, 47_000)
    flat, lines = read(s.tax_shotoku(assessment=assess(raw)), test_seal, tmp_path)
    assert has(lines, f"特定親族特別控除{_y(450_000)}") and "扶養控除" not in flat
    assert has(lines, f"所得控除合計{_y(deductions)}") and has(lines, f"課税標準額{_y(taxable)}")
    assert has(lines, "扶養親族0人")
    assert has(lines, f"調整控除額{_y(base * 3 // 100)}{_y(base * 2 // 100)}{_y(base * 5 // 100)}")
    assert has(lines, f"所得割額{_y(city)}{_y(pref)}{_y(city + pref)}")
    assert has(lines, f"年税額{_y(city + pref + 3_000 + 1_000 + 1_000)}")


def test_working_student(test_seal: SealKit, tmp_path: Path) -> None:
    """令和8年度: a 勤労学生 with 給与収入 1,500,000 円 (給与所得 850,000, the limit from 令和8年度)."""
    from kofu.domain.tax import TaxReturn, assess

    taxable = (1_500_000 - 650_000 - 260_000 - 430_000) // 1000 * 1000
    base = min(50_000 + 10_000, taxable)
    city = (taxable * 6 // 100 - base * 3 // 100) // 100 * 100
    pref = (taxable * 4 // 100 - base * 2 // 100) // 100 * 100
    raw = TaxReturn(fiscal_year=2026, salary_revenue=1_500_000, working_student=True)
    flat, lines = read(s.tax_shotoku(assessment=assess(raw)), test_seal, tmp_path)
    assert has(lines, f"勤労学生控除{_y(260_000)}") and has(lines, "本人該当区分勤労学生")
    assert has(lines, f"課税標準額{_y(taxable)}")
    assert has(lines, f"所得割額{_y(city)}{_y(pref)}{_y(city + pref)}")
    # One yen more and the student is over the limit: no 勤労学生 at all.
    flat, lines = read(s.tax_shotoku(assessment=assess(TaxReturn(fiscal_year=2026, salary_revenue=1_500_001,
                                                                 working_student=True))), test_seal, tmp_path)
    assert "勤労学生" not in flat and has(lines, "本人該当区分該当なし")


def _single_taxpayer(fiscal_year: int, total: int) -> tuple[int, int, int]:
    """(市町村民税, 道府県民税, 年税額) of one with ``total`` of 事業所得 and no deductions but
    基礎控除 (430,000 円 from 令和3年度), by the published rules: 6 % / 4 %, 調整控除 on
    the 基礎控除's 差 50,000 円 (課税標準額 ≤ 2,000,000), 均等割 with the 復興特別加算 in
    平成26〜令和5年度, 森林環境税 from 令和6年度."""
    taxable = (total - 430_000) // 1000 * 1000
    assert 50_000 <= taxable <= 2_000_000
    city = (taxable * 6 // 100 - 50_000 * 3 // 100) // 100 * 100
    pref = (taxable * 4 // 100 - 50_000 * 2 // 100) // 100 * 100
    per_capita = (3_500, 1_500) if fiscal_year <= 2023 else (3_000, 1_000)
    forest = 1_000 if fiscal_year >= 2024 else 0
    return city + per_capita[0], pref + per_capita[1], city + pref + sum(per_capita) + forest


@pytest.mark.parametrize(
    ("fiscal_year", "born", "business", "minor", "exempt"),
    [
        # 令和8年度 (賦課期日 2026-01-01, 成年 18): born 2008-01-03 is 17, born 2008-01-02 is 18
        # (an age is reached at the end of the day before the birthday).
        (2026, date(2008, 1, 3), 1_350_000, True, True),
        (2026, date(2008, 1, 3), 1_350_001, True, False),
        (2026, date(2008, 1, 2), 1_350_000, False, False),
        # 19 on the 賦課期日: a 未成年者 in 令和4年度 (2022-01-01, 成年 20), not in 令和5年度 (成年 18).
        (2022, date(2003, 1, 3), 1_000_000, True, True),
        (2023, date(2004, 1, 3), 1_000_000, False, False),
    ],
)
def test_a_minor_up_to_1_35_million_is_exempt_and_says_why(
        test_seal: SealKit, tmp_path: Path, fiscal_year: int, born: date, business: int, minor: bool,
        exempt: bool) -> None:
    """地方税法 295条 ①二: a 未成年者 on 1 January of the 年度 with a 前年の合計所得金額 of at
    most 1,350,000 円 is 非課税 (均等割 and 所得割); over it, or an adult, is taxed in full."""
    from kofu.domain.tax import TaxReturn, assess

    raw = TaxReturn(fiscal_year=fiscal_year, other_incomes=(("事業所得", business),), birth_date=born)
    doc = s.tax_shotoku(fiscal_year=fiscal_year, birth_date=born, assessment=assess(raw))
    flat, lines = read(doc, test_seal, tmp_path)
    assert to_wareki(born) in flat  # the birth date printed is the one assessed
    assert has(lines, f"総所得金額等{_y(business)}")
    assert has(lines, "本人該当区分未成年者" if minor else "本人該当区分該当なし")
    note = "未成年者（前年の合計所得金額135万円以下）のため非課税"
    if exempt:
        assert "所得・非課税証明書" in flat and note in flat
        assert has(lines, "所得割額非課税非課税非課税") and has(lines, "均等割額非課税非課税非課税")
        assert has(lines, "年税額非課税")
    else:
        city, pref, total = _single_taxpayer(fiscal_year, business)
        assert "所得・課税証明書" in flat and "非課税" not in flat
        assert has(lines, f"合計{_y(city)}{_y(pref)}{_y(city + pref)}") and has(lines, f"年税額{_y(total)}")


def test_a_minor_before_reiwa_3_is_told_that_years_limit(test_seal: SealKit, tmp_path: Path) -> None:
    from kofu.domain.tax import TaxReturn, assess

    born = date(2002, 6, 1)  # 17 on 2020-01-01
    raw = TaxReturn(fiscal_year=2020, other_incomes=(("事業所得", 1_250_000),), birth_date=born)
    flat, lines = read(s.tax_shotoku(fiscal_year=2020, birth_date=born, assessment=assess(raw)), test_seal, tmp_path)
    assert has(lines, "年税額非課税")
    assert "未成年者（前年の合計所得金額125万円以下）のため非課税" in flat and "135万円" not in flat


def test_a_disabled_minor_gets_one_note_naming_both(test_seal: SealKit, tmp_path: Path) -> None:
    from kofu.domain.tax import TaxReturn, assess

    born = date(2009, 7, 7)
    raw = TaxReturn(fiscal_year=2026, other_incomes=(("事業所得", 1_200_000),), birth_date=born, disability="障害者")
    flat, lines = read(s.tax_shotoku(birth_date=born, assessment=assess(raw)), test_seal, tmp_path)
    assert has(lines, "本人該当区分障害者・未成年者") and has(lines, "年税額非課税")
    assert flat.count("のため非課税") == 1
    assert "障害者・寡婦・ひとり親・未成年者（前年の合計所得金額135万円以下）のため非課税" in flat


def test_flat_reduction_row(test_seal: SealKit, tmp_path: Path) -> None:
    """定額減税額: on every 令和6年度 certificate (非課税 with the 所得割), and in 令和7年度 for the
    同一生計配偶者 of a taxpayer over 10,000,000 円 (no 控除対象配偶者, so none in 令和6年度)."""
    from kofu.domain.tax import Dependant, TaxReturn, assess

    _text, lines = read(s.tax_shotoku(exempt=True, fiscal_year=2024), test_seal, tmp_path)
    assert has(lines, "定額減税額非課税非課税非課税") and has(lines, "年税額非課税")
    # 令和7年度, 事業所得 12,000,000 (令和6年中) and a spouse without income: 基礎控除 430,000 only,
    # 課税標準額 11,570,000; 調整控除 at its 50,000 floor; 10,000 円 split 6,000 / 4,000.
    raw = TaxReturn(fiscal_year=2025, other_incomes=(("事業所得", 12_000_000),), spouse=Dependant(date(1980, 1, 1)))
    taxable = 12_000_000 - 430_000
    levy = (taxable * 6 // 100 - 1_500 - 6_000) // 100 * 100, (taxable * 4 // 100 - 1_000 - 4_000) // 100 * 100
    _text, lines = read(s.tax_shotoku(assessment=assess(raw), fiscal_year=2025), test_seal, tmp_path)
    assert has(lines, "控除対象配偶者無")
    assert has(lines, f"定額減税額{_y(6_000)}{_y(4_000)}{_y(10_000)}")
    assert has(lines, f"所得割額{_y(levy[0])}{_y(levy[1])}{_y(levy[0] + levy[1])}")
    assert has(lines, f"年税額{_y(levy[0] + levy[1] + 3_000 + 1_000 + 1_000)}")
    # 令和8年度: none, and no row.
    text, _lines = read(s.tax_shotoku(assessment=assess(replace(raw, fiscal_year=2026)), fiscal_year=2026),
                        test_seal, tmp_path)
    assert "定額減税" not in text
