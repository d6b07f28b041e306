"""個人住民税 arithmetic against published figures (国税庁 給与所得控除 table, 総務省
非課税限度額), and the 納期 split."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from kofu.domain.tax import (
    Dependant,
    TaxReturn,
    TaxRuleError,
    assess,
    dependant_kind,
    due_date,
    instalments,
    nontaxable_limits,
    salary_income,
    withheld_instalments,
)


@pytest.mark.parametrize(
    ("revenue", "year", "income"),
    [
        # 令和2年分〜令和6年分 (国税庁 No.1410).
        (1_000_000, 2024, 450_000),
        (1_625_000, 2024, 1_075_000),
        (1_800_000, 2024, 1_180_000),
        (3_600_000, 2024, 2_440_000),
        (3_601_999, 2024, 2_440_000),  # the 4,000 円 steps of 別表第五
        (3_604_000, 2024, 2_443_200),
        (5_000_000, 2024, 3_560_000),
        (6_600_000, 2024, 4_840_000),
        (8_500_000, 2024, 6_550_000),
        (10_000_000, 2024, 8_050_000),
        # 令和7年分: the minimum 給与所得控除 is 650,000 円 up to 1,900,000 円.
        (1_600_000, 2025, 950_000),
        (1_900_000, 2025, 1_250_000),
        # 平成29年分〜令和元年分.
        (1_000_000, 2018, 350_000),
        (5_000_000, 2018, 3_460_000),
        (12_000_000, 2018, 9_800_000),
    ],
)
def test_salary_income_table(revenue: int, year: int, income: int) -> None:
    assert salary_income(revenue, year) == income


def test_nontaxable_limits() -> None:
    # 1級地, 令和3年度以降: single 450,000 / 450,000; a couple with two children
    # (4 persons) 所得割 1,820,000, 均等割 1,710,000.
    assert nontaxable_limits(2025, 1, 1) == (450_000, 450_000)
    assert nontaxable_limits(2025, 4, 1) == (1_820_000, 1_710_000)
    assert nontaxable_limits(2025, 1, 3) == (450_000, 380_000)


def test_household_counts_for_the_limit() -> None:
    # 給与所得 1,050,000 円: taxed alone, 非課税 with a spouse and a child under 16
    # (3 persons: 所得割 1,470,000, 均等割 1,360,000).
    alone = assess(TaxReturn(fiscal_year=2025, salary_revenue=1_600_000))
    assert not alone.per_capita_exempt and alone.total > 0
    family = assess(TaxReturn(fiscal_year=2025, salary_revenue=1_600_000,
                              spouse=Dependant(date(1980, 1, 1)), dependants=(Dependant(date(2015, 1, 1)),)))
    assert family.exempt and family.total == 0
    # A spouse earning over the limit is no 控除対象配偶者 and does not count.
    earning = assess(TaxReturn(fiscal_year=2025, salary_revenue=1_600_000,
                               spouse=Dependant(date(1980, 1, 1), income=1_000_000)))
    assert earning.spouse is None and not earning.per_capita_exempt


def test_per_capita_by_year() -> None:
    r = TaxReturn(fiscal_year=2023, salary_revenue=5_000_000)
    assert assess(r).per_capita == (3_500, 1_500) and assess(r).forest_tax == 0
    t = assess(TaxReturn(fiscal_year=2024, salary_revenue=5_000_000))
    assert t.per_capita == (3_000, 1_000) and t.forest_tax == 1_000
    assert t.total == t.income_levy[0] + t.income_levy[1] + 5_000


def test_levy_is_floored_to_100_yen_and_credits_never_go_below_zero() -> None:
    t = assess(TaxReturn(fiscal_year=2025, salary_revenue=4_000_000, tax_credits=(("住宅借入金等特別税額控除", 10_000_000),)))
    assert t.income_levy == (0, 0) and t.credits[0] + t.credits[1] < 10_000_000
    u = assess(TaxReturn(fiscal_year=2025, salary_revenue=4_321_000))
    assert all(v % 100 == 0 for v in u.income_levy)
    assert u.taxable_income % 1000 == 0


def test_negative_figures_are_refused() -> None:
    with pytest.raises(TaxRuleError):
        assess(TaxReturn(fiscal_year=2025, deductions=(("社会保険料控除", -1),)))
    with pytest.raises(TaxRuleError):
        salary_income(1_000_000, 2010)


def test_instalments_take_the_flat_reduction_off_the_first_periods() -> None:
    """令和6年度 普通徴収: the tax before the 定額減税 is split, then the 定額減税 comes off
    第1期, and what it leaves off 第2期 and on (a notice of 212,500 less 40,000 reads
    13,500, 53,000, 53,000, 53,000)."""
    dues = (date(2024, 6, 30), date(2024, 8, 31), date(2024, 10, 31), date(2025, 1, 31))
    parts = instalments(172_500, 13_500, dues, reduction=40_000)
    assert [(p.amount, p.paid) for p in parts] == [(13_500, 13_500), (53_000, 0), (53_000, 0), (53_000, 0)]
    # A reduction larger than 第1期 runs on into 第2期.
    parts = instalments(150_000, 0, dues, reduction=70_000)
    assert [p.amount for p in parts] == [0, 40_000, 55_000, 55_000]
    assert sum(p.amount for p in parts) == 150_000
    with pytest.raises(TaxRuleError):
        instalments(150_000, 0, dues, reduction=-1)


def test_instalments_and_due_dates() -> None:
    parts = instalments(100_500, 30_000, (date(2025, 6, 30), date(2025, 8, 31), date(2025, 10, 31), date(2026, 1, 31)))
    assert [p.amount for p in parts] == [25_500, 25_000, 25_000, 25_000]
    assert [p.paid for p in parts] == [25_500, 4_500, 0, 0]
    assert sum(p.amount for p in parts) == 100_500
    assert [p.due_on for p in parts] == [date(2025, 6, 30), date(2025, 9, 1), date(2025, 10, 31), date(2026, 2, 2)]
    assert due_date(date(2026, 5, 4)) == date(2026, 5, 7)  # みどりの日, こどもの日, 振替休日
    assert due_date(date(2025, 12, 31)) == date(2026, 1, 5)  # 閉庁日
    with pytest.raises(TaxRuleError):
        instalments(1_000, 2_000, (date(2025, 6, 30),))


def _deduction(t: Any, label: str) -> int | None:
    return dict(t.deductions).get(label)


@pytest.mark.parametrize(
    ("fiscal_year", "salary", "spouse_income", "kojo", "tokubetsu"),
    [
        # 令和7年度 (limit 480,000); 給与収入 5,000,000 → 合計所得金額 3,560,000 (≤ 9,000,000).
        (2025, 5_000_000, 480_000, 330_000, None),  # 配偶者控除
        (2025, 5_000_000, 480_001, None, 330_000),  # 48万円超100万円以下
        (2025, 5_000_000, 1_000_000, None, 330_000),
        (2025, 5_000_000, 1_000_001, None, 310_000),  # 100万円超105万円以下
        (2025, 5_000_000, 1_050_001, None, 260_000),
        (2025, 5_000_000, 1_200_000, None, 160_000),
        (2025, 5_000_000, 1_250_001, None, 60_000),
        (2025, 5_000_000, 1_330_000, None, 30_000),  # 130万円超133万円以下
        (2025, 5_000_000, 1_330_001, None, None),  # over 133万円: none
        # 給与収入 11,150,000 → 9,200,000 (9,000,000 < … ≤ 9,500,000): the second column.
        (2025, 11_150_000, 700_000, None, 220_000),
        (2025, 11_150_000, 1_260_000, None, 40_000),  # 125万円超130万円以下
        (2025, 11_150_000, 1_310_000, None, 20_000),
        # 給与収入 11,900,000 → 9,950,000: the third column; 12,000,000 → 10,050,000: none.
        (2025, 11_900_000, 1_020_000, None, 110_000),
        (2025, 12_000_000, 700_000, None, None),
        # 令和8年度: the limit is 580,000 円.
        (2026, 5_000_000, 580_000, 330_000, None),
        (2026, 5_000_000, 580_001, None, 330_000),
        # 平成31年度・令和2年度: 38万円超90万円以下 33万円 … 120万円超123万円以下 3万円.
        (2020, 5_000_000, 380_001, None, 330_000),
        (2020, 5_000_000, 900_001, None, 310_000),
        (2020, 5_000_000, 1_230_000, None, 30_000),
        (2020, 5_000_000, 1_230_001, None, None),
    ],
)
def test_spouse_special_deduction_table(fiscal_year: int, salary: int, spouse_income: int,
                                        kojo: int | None, tokubetsu: int | None) -> None:
    t = assess(TaxReturn(fiscal_year=fiscal_year, salary_revenue=salary,
                         spouse=Dependant(date(1980, 1, 1), income=spouse_income)))
    assert _deduction(t, "配偶者控除") == kojo
    assert _deduction(t, "配偶者特別控除") == tokubetsu
    assert t.spouse == ("一般" if kojo else None)  # 控除対象配偶者 only within the limit


def test_spouse_special_deduction_assessed_as_published() -> None:
    """令和7年度, 給与収入 5,000,000 円, 社会保険料 700,000 円, a spouse earning 490,000 円,
    written out by hand: 配偶者特別控除 330,000 円 with its 人的控除額の差 50,000 円."""
    t = assess(TaxReturn(fiscal_year=2025, salary_revenue=5_000_000, deductions=(("社会保険料控除", 700_000),),
                         spouse=Dependant(date(1980, 1, 1), income=490_000)))
    kyuyo = 5_000_000 - (5_000_000 * 20 // 100 + 440_000)  # 3,560,000
    taxable = (kyuyo - (700_000 + 330_000 + 430_000)) // 1000 * 1000  # 2,100,000
    diff = 50_000 + 50_000  # 基礎控除 and 配偶者特別控除 (48万円超50万円未満)
    base = max(diff - (taxable - 2_000_000), 50_000)  # 課税標準額 over 2,000,000
    levy = ((taxable * 6 // 100 - base * 3 // 100) // 100 * 100, (taxable * 4 // 100 - base * 2 // 100) // 100 * 100)
    assert t.taxable_income == taxable == 2_100_000
    assert t.adjustment == (base * 3 // 100, base * 2 // 100) == (1_500, 1_000)
    assert t.income_levy == levy == (124_500, 83_000)
    assert t.total == sum(levy) + 3_000 + 1_000 + 1_000
    # The 人的控除額の差 falls to 30,000 円 from 50万円 and to nothing from 55万円.
    diffs = []
    for income in (499_999, 500_000, 549_999, 550_000):
        u = assess(TaxReturn(fiscal_year=2025, salary_revenue=3_000_000, spouse=Dependant(date(1980, 1, 1), income=income)))
        kyuyo = 3_000_000 * 7 // 10 - 80_000  # 2,020,000
        taxable = (kyuyo - 330_000 - 430_000) // 1000 * 1000  # 1,260,000: base = the 差
        diffs.append(u.adjustment[0] * 100 // 3 - 50_000)
        assert u.taxable_income == taxable
    assert diffs == [50_000, 30_000, 30_000, 0]


def test_spouse_special_deduction_before_its_table_is_refused() -> None:
    with pytest.raises(TaxRuleError, match="配偶者特別控除"):
        assess(TaxReturn(fiscal_year=2018, salary_revenue=5_000_000, spouse=Dependant(date(1980, 1, 1), income=500_000)))


@pytest.mark.parametrize(
    ("revenue", "born", "fiscal_year", "kyuyo"),
    [
        # (a) 令和7年度 (令和6年分): 給与所得 = 収入 − 1,950,000 above 8,500,000; a child
        # under 23 on 31 December 2024 takes (min(収入, 10,000,000) − 8,500,000) × 10 %.
        (10_000_000, date(2008, 5, 1), 2025, 8_050_000 - 150_000),
        (12_000_000, date(2008, 5, 1), 2025, 10_050_000 - 150_000),  # capped at 10,000,000
        (9_000_005, date(2008, 5, 1), 2025, 7_050_005 - 50_001),  # 50,000.5 rounded up
        (10_000_000, date(2014, 1, 1), 2025, 8_050_000 - 150_000),  # 年少 (under 16) counts
        (10_000_000, date(2001, 6, 1), 2025, 8_050_000),  # 23 on 31 December: none
        (8_500_000, date(2008, 5, 1), 2025, 6_550_000),  # not over 8,500,000: none
        (10_000_000, date(2008, 5, 1), 2020, 10_000_000 * 9 // 10 - 1_200_000),  # before 令和3年度
    ],
)
def test_income_adjustment_for_a_young_dependant(revenue: int, born: date, fiscal_year: int, kyuyo: int) -> None:
    t = assess(TaxReturn(fiscal_year=fiscal_year, salary_revenue=revenue, dependants=(Dependant(born),)))
    assert t.salary_income == kyuyo
    assert t.total_income == kyuyo
    assert t.income_adjustment == salary_income(revenue, fiscal_year - 1) - kyuyo


@pytest.mark.parametrize(
    ("revenue", "pension", "kyuyo"),
    [
        # (b) (min(給与, 100,000) + min(年金, 100,000)) − 100,000.
        (1_050_000, 300_000, 500_000 - 100_000),
        (620_000, 60_000, 70_000 - 30_000),
        (600_000, 30_000, 50_000),  # 50,000 + 30,000 is not over 100,000: none
        (1_050_000, 0, 500_000),
    ],
)
def test_income_adjustment_for_salary_and_pension(revenue: int, pension: int, kyuyo: int) -> None:
    other = (("公的年金等に係る雑所得", pension),) if pension else ()
    t = assess(TaxReturn(fiscal_year=2025, salary_revenue=revenue, other_incomes=other))
    assert t.salary_income == kyuyo
    # 総所得金額等, and with it the 非課税限度額, counts the adjusted 給与所得.
    assert t.total_income == kyuyo + pension


def test_both_income_adjustments() -> None:
    # (a) 150,000 first, then (b) on what is left: 100,000 + 100,000 − 100,000.
    t = assess(TaxReturn(fiscal_year=2025, salary_revenue=10_000_000, dependants=(Dependant(date(2008, 5, 1)),),
                         other_incomes=(("公的年金等に係る雑所得", 200_000),)))
    assert (t.salary_income, t.income_adjustment) == (8_050_000 - 250_000, 250_000)


# ---------------------------------------------------------------- 障害者・寡婦・ひとり親

_CHILD = Dependant(date(2010, 4, 1))  # 15 on 31 December 2025: 年少


def test_spouse_special_deduction_has_no_difference_from_r8() -> None:
    """令和8年度: a spouse just over the 580,000 円 limit gets the 配偶者特別控除 but no
    人的控除額の差 (314条の6 names spouses under 550,000 円 who are not 控除対象配偶者:
    none, with the 580,000 円 limit); 令和7年度 a spouse just over 480,000 円 had 50,000 円."""
    for year, income, expected in ((2026, 590_000, 50_000), (2026, 640_000, 50_000), (2025, 490_000, 100_000)):
        t = assess(TaxReturn(fiscal_year=year, salary_revenue=3_000_000, spouse=Dependant(date(1980, 1, 1), income=income)))
        assert _deduction(t, "配偶者特別控除") == 330_000
        assert t.taxable_income <= 2_000_000  # base = the 差 itself
        assert t.adjustment == (expected * 3 // 100, expected * 2 // 100), (year, income)


@pytest.mark.parametrize(
    ("changes", "deduction", "diff"),
    [
        ({"disability": "障害者"}, 260_000, 10_000),
        ({"disability": "特別障害者"}, 300_000, 100_000),
        ({"dependants": (Dependant(date(2010, 4, 1), disability="同居特別障害者"),)}, 530_000, 220_000),
        ({"dependants": (Dependant(date(2010, 4, 1), disability="特別障害者"),)}, 300_000, 100_000),
        ({"spouse": Dependant(date(1980, 1, 1), disability="障害者")}, 260_000, 10_000),
        # The taxpayer and two dependants: 260,000 + 300,000 + 530,000.
        ({"disability": "障害者", "dependants": (Dependant(date(2010, 4, 1), disability="特別障害者"),
                                               Dependant(date(2000, 1, 1), disability="同居特別障害者"))},
         1_090_000, 10_000 + 100_000 + 220_000),
        # A spouse above the 扶養 limit is no 同一生計配偶者: no 障害者控除 for them.
        ({"spouse": Dependant(date(1980, 1, 1), income=700_000, disability="特別障害者")}, None, 0),
    ],
)
def test_disability_deduction(changes: dict[str, Any], deduction: int | None, diff: int) -> None:
    plain = assess(TaxReturn(fiscal_year=2026, salary_revenue=3_000_000))
    t = assess(TaxReturn(**{"fiscal_year": 2026, "salary_revenue": 3_000_000, **changes}))
    assert _deduction(t, "障害者控除") == deduction
    # 人的控除額の差 = adjustment / 5 %, over what the household's other deductions give.
    others = {"spouse": 50_000 if "spouse" in changes and changes["spouse"].income <= 580_000 else 0}
    assert t.taxable_income <= 2_000_000
    assert t.adjustment[0] + t.adjustment[1] == min(50_000 + others["spouse"] + diff, t.taxable_income) * 5 // 100
    assert plain.adjustment == (1_500, 1_000)


@pytest.mark.parametrize(
    ("status", "label", "amount", "diff"),
    [({"widow": True}, "寡婦控除", 260_000, 10_000),
     ({"single_parent": "母", "dependants": (_CHILD,)}, "ひとり親控除", 300_000, 50_000),
     ({"single_parent": "父", "dependants": (_CHILD,)}, "ひとり親控除", 300_000, 10_000)],
)
def test_widow_and_single_parent(status: dict[str, Any], label: str, amount: int, diff: int) -> None:
    # 給与収入 3,000,000 円 (令和7年分): 給与所得 2,020,000; 基礎控除 430,000.
    t = assess(TaxReturn(fiscal_year=2026, salary_revenue=3_000_000, **status))
    assert _deduction(t, label) == amount
    taxable = (2_020_000 - amount - 430_000) // 1000 * 1000
    assert t.taxable_income == taxable
    assert t.adjustment == ((50_000 + diff) * 3 // 100, (50_000 + diff) * 2 // 100)
    assert t.income_levy == ((taxable * 6 // 100 - t.adjustment[0]) // 100 * 100,
                             (taxable * 4 // 100 - t.adjustment[1]) // 100 * 100)
    assert t.taxpayer_status == (label.removesuffix("控除"),)
    # Above a 合計所得金額 of 5,000,000 円 neither applies (所得税法 defines both with the limit).
    # 給与収入 7,000,000: 7,000,000 × 90 % − 1,100,000 = 5,200,000.
    rich = assess(TaxReturn(fiscal_year=2026, salary_revenue=7_000_000, **status))
    assert rich.total_income == 5_200_000 and _deduction(rich, label) is None
    assert rich.taxpayer_status == ()


@pytest.mark.parametrize("status", [{"disability": "障害者"}, {"widow": True},
                                    {"single_parent": "母", "dependants": (_CHILD,)}])
def test_disabled_widow_or_single_parent_under_1_35_million_is_exempt(status: dict[str, Any]) -> None:
    # 令和8年度: 給与収入 2,000,000 円 → 給与所得 2,000,000 × 70 % − 80,000 = 1,320,000;
    # plus 30,000 事業所得: 1,350,000, exactly the 地方税法 295条 limit.
    at = assess(TaxReturn(fiscal_year=2026, salary_revenue=2_000_000, other_incomes=(("事業所得", 30_000),), **status))
    assert at.total_income == 1_350_000
    assert at.exempt and at.exempt_as_disabled_or_single and at.total == 0
    over = assess(TaxReturn(fiscal_year=2026, salary_revenue=2_000_000, other_incomes=(("事業所得", 30_001),), **status))
    assert not over.exempt_as_disabled_or_single and not over.per_capita_exempt
    assert over.per_capita == (3_000, 1_000) and over.forest_tax == 1_000
    # Without the status, 1,350,000 is over every limit of a household of one or two.
    plain = assess(TaxReturn(fiscal_year=2026, salary_revenue=2_000_000, other_incomes=(("事業所得", 30_000),),
                             dependants=status.get("dependants", ())))
    assert not plain.exempt


def test_income_adjustment_for_a_special_disability() -> None:
    # 令和8年度, 給与収入 10,000,000: 8,050,000 less (10,000,000 − 8,500,000) × 10 %, with no
    # 扶養親族 under 23 but the taxpayer a 特別障害者 (or a 同居特別障害者 dependant of 40).
    for status in ({"disability": "特別障害者"},
                   {"dependants": (Dependant(date(1985, 1, 1), disability="同居特別障害者"),)}):
        t = assess(TaxReturn(fiscal_year=2026, salary_revenue=10_000_000, **status))
        assert t.income_adjustment == 150_000 and t.salary_income == 7_900_000
    assert assess(TaxReturn(fiscal_year=2026, salary_revenue=10_000_000, disability="障害者")).income_adjustment == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"disability": "同居特別障害者"}, "本人の障害者区分"),
        ({"dependants": (Dependant(date(2010, 1, 1), disability="軽度"),)}, "扶養親族の障害者区分"),
        ({"widow": True, "single_parent": "母", "dependants": (_CHILD,)}, "exclude each other"),
        ({"widow": True, "spouse": Dependant(date(1980, 1, 1))}, "no spouse"),
        ({"single_parent": "母"}, "needs a child"),
        ({"single_parent": "母", "dependants": (Dependant(date(2010, 1, 1), income=600_000),)}, "needs a child"),
        ({"single_parent": "祖母", "dependants": (_CHILD,)}, "母 or 父"),
        ({"widow": True, "fiscal_year": 2020}, "before 令和3年度"),
        ({"single_parent": "父", "dependants": (_CHILD,), "fiscal_year": 2028}, "令和10年度"),
    ],
)
def test_impossible_or_untabled_status_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(TaxRuleError, match=message):
        assess(TaxReturn(**{"fiscal_year": 2026, "salary_revenue": 3_000_000, **changes}))


# ---------------------------------------------------------------- 指定都市, 勤労学生, 特定親族特別控除


def test_designated_city_rates() -> None:
    # 令和8年度, 給与収入 3,000,000 (令和7年分): 給与所得 3,000,000 × 70 % − 80,000 = 2,020,000;
    # 社会保険料 450,000, 基礎控除 430,000 → 課税標準額 1,140,000. 調整控除: 5 % of
    # min(50,000, 1,140,000) = 2,500 (4 % / 1 % in a 指定都市, 3 % / 2 % elsewhere);
    # 税額控除 10,000 split 8 : 2 (6 : 4).
    raw = {"fiscal_year": 2026, "salary_revenue": 3_000_000, "deductions": (("社会保険料控除", 450_000),),
           "tax_credits": (("住宅借入金等特別税額控除", 10_000),)}
    city = assess(TaxReturn(**raw, designated_city=True))
    plain = assess(TaxReturn(**raw))
    assert city.taxable_income == plain.taxable_income == 1_140_000
    assert city.rates == (8, 2) and plain.rates == (6, 4)
    assert city.levy_computed == (91_200, 22_800) and plain.levy_computed == (68_400, 45_600)
    assert city.adjustment == (2_000, 500) and plain.adjustment == (1_500, 1_000)
    assert city.credits == (8_000, 2_000) and plain.credits == (6_000, 4_000)
    assert city.income_levy == ((91_200 - 2_000 - 8_000) // 100 * 100, (22_800 - 500 - 2_000) // 100 * 100)
    assert city.income_levy == (81_200, 20_300)
    assert city.per_capita == plain.per_capita == (3_000, 1_000)
    # Before 平成30年度 a 指定都市 levied 6 % / 4 % like everyone.
    old = assess(TaxReturn(fiscal_year=2017, other_incomes=(("事業所得", 2_000_000),), designated_city=True))
    assert old.rates == (6, 4) and old.levy_computed[0] == (2_000_000 - 330_000) * 6 // 100
    assert assess(TaxReturn(fiscal_year=2018, salary_revenue=3_000_000, designated_city=True)).rates == (8, 2)


def test_local_rates_add_to_the_standard_ones() -> None:
    """超過課税 by 条例 (the municipality's settings): 兵庫県's 県民緑税 adds 800 円 to the
    県民税 均等割 in the 年度 it covers; 神奈川県's 水源環境保全税 300 円 and 0.025 % of the
    所得割 base; 調整控除 and 税額控除 stay on the standard rates; 非課税 adds nothing."""
    from fractions import Fraction

    from kofu.domain.tax import LocalRate

    midori = LocalRate("県民緑税", 2006, 2030, per_capita=(0, 800))
    suigen = LocalRate("水源環境保全税", 2007, None, per_capita=(0, 300), income_levy=(Fraction(0), Fraction(1, 40)))
    raw = {"fiscal_year": 2026, "salary_revenue": 3_000_000, "deductions": (("社会保険料控除", 450_000),),
           "tax_credits": (("住宅借入金等特別税額控除", 10_000),)}
    plain = assess(TaxReturn(**raw))
    hyogo = assess(TaxReturn(**raw, local_rates=(midori,)))
    assert hyogo.per_capita == (3_000, 1_800) and hyogo.income_levy == plain.income_levy
    assert hyogo.total == plain.total + 800 and hyogo.local_rates == (midori,)
    # 課税標準額 1,140,000 (see above): 県民税 所得割 × 4.025 % = 45,885 (standard 45,600);
    # 調整控除 1,000 and 税額控除 4,000 as on the standard rates; rounded down to 100 円.
    kanagawa = assess(TaxReturn(**raw, local_rates=(suigen,)))
    assert kanagawa.levy_computed == (68_400, 1_140_000 * 4025 // 100_000) == (68_400, 45_885)
    assert kanagawa.adjustment == plain.adjustment and kanagawa.credits == plain.credits
    assert kanagawa.income_levy == (plain.income_levy[0], (45_885 - 1_000 - 4_000) // 100 * 100) == (60_900, 40_800)
    assert kanagawa.per_capita == (3_000, 1_300)
    # Outside its 年度: nothing added.
    short = LocalRate("県民緑税", 2021, 2025, per_capita=(0, 800))
    for year in (2020, 2026):
        outside = assess(TaxReturn(**{**raw, "fiscal_year": year}, local_rates=(short,)))
        assert outside.per_capita == assess(TaxReturn(**{**raw, "fiscal_year": year})).per_capita
        assert outside.local_rates == ()
    assert assess(TaxReturn(**{**raw, "fiscal_year": 2025}, local_rates=(short,))).per_capita == (3_000, 1_800)
    # 非課税 (a 1,000,000 円 salary): no 均等割 to add to.
    low = assess(TaxReturn(fiscal_year=2026, salary_revenue=1_000_000, local_rates=(midori,)))
    assert low.exempt and low.per_capita == (0, 0) and low.local_rates == ()
    # A 減税 that would take a rate below 0 cannot be assessed.
    with pytest.raises(TaxRuleError, match="均等割 below 0"):
        assess(TaxReturn(**raw, local_rates=(LocalRate("減税", 2020, None, per_capita=(-3_001, 0)),)))


def test_designated_cities_by_code() -> None:
    from kofu.domain.ids import validate_municipality_code
    from kofu.domain.tax import DESIGNATED_CITIES, is_designated_city

    assert len(DESIGNATED_CITIES) == 20
    for code in DESIGNATED_CITIES:
        validate_municipality_code(code)  # a real 団体コード with its check digit
    assert is_designated_city("281000") and is_designated_city("141003")  # 神戸市, 横浜市
    assert not is_designated_city("282286") and not is_designated_city("282154")  # 加東市, 三木市


@pytest.mark.parametrize(
    ("fiscal_year", "revenue", "applies"),
    [
        # 令和8年度 (令和7年分, 給与所得控除 650,000 minimum up to 1,900,000): limit 850,000.
        (2026, 1_500_000, True),   # 850,000
        (2026, 1_500_001, False),  # 850,001
        # 令和7年度 (令和6年分, 550,000 minimum up to 1,625,000): limit 750,000.
        (2025, 1_300_000, True),   # 750,000
        (2025, 1_300_004, False),  # 1,300,004 − 550,000 = 750,004
        # 令和2年度 (令和元年分, 650,000 minimum): limit 650,000.
        (2020, 1_300_000, True),   # 650,000
        (2020, 1_300_004, False),  # 1,300,004 − 650,000 = 650,004
    ],
)
def test_working_student(fiscal_year: int, revenue: int, applies: bool) -> None:
    t = assess(TaxReturn(fiscal_year=fiscal_year, salary_revenue=revenue, working_student=True))
    plain = assess(TaxReturn(fiscal_year=fiscal_year, salary_revenue=revenue))
    if applies:
        assert _deduction(t, "勤労学生控除") == 260_000 and t.taxpayer_status == ("勤労学生",)
        assert t.deductions_total == plain.deductions_total + 260_000
    else:
        assert _deduction(t, "勤労学生控除") is None and t.taxpayer_status == ()
        assert t == plain


def test_working_student_tax_and_adjustment() -> None:
    # 令和8年度, 給与収入 1,500,000: 給与所得 850,000; 勤労学生 260,000 + 基礎 430,000 →
    # 課税標準額 160,000; 調整控除 5 % of min(50,000 + 10,000, 160,000) = 3,000 → 1,800 / 1,200.
    # Not 非課税: a 勤労学生 is not among 地方税法 295条 ①二 (障害者・未成年者・寡婦・ひとり親).
    t = assess(TaxReturn(fiscal_year=2026, salary_revenue=1_500_000, working_student=True))
    assert t.total_income == 850_000 and t.taxable_income == 160_000
    assert t.adjustment == (1_800, 1_200)
    assert t.income_levy == ((9_600 - 1_800) // 100 * 100, (6_400 - 1_200) // 100 * 100) == (7_800, 5_200)
    assert t.per_capita == (3_000, 1_000) and not t.exempt_as_disabled_or_single


@pytest.mark.parametrize(
    ("income", "amount", "diff"),
    [
        (580_000, None, 0),  # within the 扶養 limit: 特定扶養控除 450,000 instead
        (580_001, 450_000, 180_000),
        (850_000, 450_000, 180_000),
        (850_001, 450_000, 160_000),
        (950_000, 450_000, 60_000),
        (950_001, 410_000, 0),
        (1_000_001, 310_000, 0),
        (1_050_001, 210_000, 0),
        (1_100_001, 110_000, 0),
        (1_150_001, 60_000, 0),
        (1_200_001, 30_000, 0),
        (1_230_000, 30_000, 0),
        (1_230_001, None, 0),
    ],
)
def test_specified_relative(income: int, amount: int | None, diff: int) -> None:
    # 令和8年度, 給与収入 3,000,000: 給与所得 2,020,000; a student of 20 on 31 December 2025.
    student = Dependant(date(2005, 4, 1), income=income)
    t = assess(TaxReturn(fiscal_year=2026, salary_revenue=3_000_000, dependants=(student,)))
    assert _deduction(t, "特定親族特別控除") == amount
    if income <= 580_000:
        assert _deduction(t, "扶養控除") == 450_000 and t.dependants["特定"] == 1
        return
    assert _deduction(t, "扶養控除") is None and sum(t.dependants.values()) == 0
    taxable = (2_020_000 - (amount or 0) - 430_000) // 1000 * 1000
    assert t.taxable_income == taxable
    base = min(50_000 + diff, taxable)
    assert t.adjustment == (base * 3 // 100, base * 2 // 100)
    assert t.specified_relatives == (1 if amount else 0)


def test_specified_relative_needs_the_age_and_the_year() -> None:
    # 23 on 31 December 2025 (born 1 January 2003: a year older that day, 年齢計算ニ関スル法律),
    # or 18: no 特定親族; 令和7年度 (令和6年分): not yet.
    for born in (date(2002, 12, 31), date(2003, 1, 1), date(2007, 1, 2)):
        t = assess(TaxReturn(fiscal_year=2026, salary_revenue=3_000_000, dependants=(Dependant(born, income=700_000),)))
        assert _deduction(t, "特定親族特別控除") is None
    assert _deduction(assess(TaxReturn(fiscal_year=2025, salary_revenue=3_000_000,
                                       dependants=(Dependant(date(2004, 4, 1), income=700_000),))),
                      "特定親族特別控除") is None


@pytest.mark.parametrize(
    ("born", "kind"),
    [
        # 令和8年度 (令和7年分): ages on 31 December 2025; one born on 1 January is a year older
        # that day (年齢計算ニ関スル法律): 国税庁's 特定扶養 is 平成15年1月2日〜平成19年1月1日生.
        (date(2010, 1, 1), "一般"),  # 16
        (date(2010, 1, 2), "年少"),  # 15
        (date(2007, 1, 1), "特定"),  # 19
        (date(2007, 1, 2), "一般"),  # 18
        (date(2003, 1, 2), "特定"),  # 22
        (date(2003, 1, 1), "一般"),  # 23
        (date(1956, 1, 1), "老人"),  # 70
        (date(1956, 1, 2), "一般"),  # 69
    ],
)
def test_ages_on_31_december_count_a_1_january_birthday(born: date, kind: str) -> None:
    assert dependant_kind(Dependant(born), 2025) == kind
    t = assess(TaxReturn(fiscal_year=2026, salary_revenue=3_000_000, dependants=(Dependant(born, income=700_000),)))
    # Above the 扶養 limit (580,000): the 特定親族特別控除 (450,000 up to 850,000) only at 19〜22.
    assert _deduction(t, "特定親族特別控除") == (450_000 if kind == "特定" else None)


# ---------------------------------------------------------------- 未成年者 (地方税法 295条 ①二)


def _minor_case(fiscal_year: int, born: date, business: int, **kw: Any) -> Any:
    return assess(TaxReturn(fiscal_year=fiscal_year, other_incomes=(("事業所得", business),), birth_date=born, **kw))


@pytest.mark.parametrize(
    ("fiscal_year", "adult_born", "minor_born"),
    [
        # 令和8年度: 賦課期日 2026-01-01, 成年 18. One born on 2008-01-02 is 18 at the end of
        # 2008-01-01 + 18 years, i.e. on 1 January 2026 (年齢計算ニ関スル法律); a day later, 17.
        (2026, date(2008, 1, 2), date(2008, 1, 3)),
        # 令和5年度: the first 賦課期日 after the reform (2022-04-01): 18.
        (2023, date(2005, 1, 2), date(2005, 1, 3)),
        # 令和4年度: 賦課期日 2022-01-01, before the reform: 成年 20.
        (2022, date(2002, 1, 2), date(2002, 1, 3)),
    ],
)
def test_a_minor_on_1_january_is_exempt_up_to_1_35_million(fiscal_year: int, adult_born: date,
                                                            minor_born: date) -> None:
    # 1,350,000 円 of 事業所得: over the 非課税限度額 of one (450,000 / 450,000 from 令和3年度).
    minor = _minor_case(fiscal_year, minor_born, 1_350_000)
    assert minor.total_income == 1_350_000 and minor.exempt and minor.exempt_as_minor and minor.total == 0
    assert not minor.exempt_as_disabled_or_single and minor.forest_tax == 0
    assert "未成年者" in minor.taxpayer_status
    # One yen more: taxed in full (均等割 and 所得割), still a 未成年者.
    over = _minor_case(fiscal_year, minor_born, 1_350_001)
    assert not over.exempt_as_minor and not over.per_capita_exempt and not over.income_levy_exempt
    assert sum(over.income_levy) > 0 and over.taxpayer_status == ("未成年者",)
    # Born one day earlier: an adult on the 賦課期日, taxed.
    adult = _minor_case(fiscal_year, adult_born, 1_350_000)
    assert not adult.exempt and not adult.exempt_as_minor and adult.taxpayer_status == ()
    unknown_age = assess(TaxReturn(fiscal_year=fiscal_year, other_incomes=(("事業所得", 1_350_000),)))
    assert adult.total == unknown_age.total > 0


def test_the_age_of_majority_follows_the_reform() -> None:
    """19 on the 賦課期日: a 未成年者 for 令和4年度 (2022-01-01, 成年 20), an adult for
    令和5年度 (2023-01-01, 成年 18) — one born on 2003-01-03 is 18 then 19."""
    born = date(2003, 1, 3)
    assert _minor_case(2022, born, 1_000_000).exempt_as_minor
    assert not _minor_case(2023, born, 1_000_000).exempt_as_minor
    # On 2023-01-01 one born on 2004-01-02 is 19, one born on 2005-01-03 is 17.
    assert not _minor_case(2023, date(2004, 1, 2), 1_000_000).exempt_as_minor
    assert _minor_case(2023, date(2005, 1, 3), 1_000_000).exempt_as_minor


def test_the_limit_before_reiwa_3_is_1_25_million() -> None:
    born = date(2002, 6, 1)  # 17 on 2020-01-01
    assert _minor_case(2020, born, 1_250_000).exempt_as_minor
    assert not _minor_case(2020, born, 1_250_001).exempt


def test_a_married_minor_and_an_unknown_birth_date_are_taxed() -> None:
    """A spouse on the record (here a 控除対象配偶者) means married on 31 December: an adult by
    成年擬制 (令和4年度, before the reform). Without a birth date nobody is taken as a minor."""
    born = date(2003, 5, 5)  # 18 on 2022-01-01
    single = _minor_case(2022, born, 1_300_000)
    married = _minor_case(2022, born, 1_300_000, spouse=Dependant(date(2004, 5, 5)))
    assert single.exempt_as_minor
    assert not married.exempt_as_minor and married.taxpayer_status == () and married.per_capita == (3_500, 1_500)
    unknown = assess(TaxReturn(fiscal_year=2022, other_incomes=(("事業所得", 1_300_000),)))
    assert not unknown.exempt and unknown.taxpayer_status == ()


def test_a_minor_who_is_also_a_disabled_person_is_exempt_on_both_counts() -> None:
    both = _minor_case(2026, date(2010, 1, 1), 1_300_000, disability="障害者")
    assert both.exempt and both.exempt_as_minor and both.exempt_as_disabled_or_single
    assert both.taxpayer_status == ("障害者", "未成年者")


# ---------------------------------------------------------------- 定額減税 (令和6年度)
# 令和6年度 (令和5年中の所得): 10,000 円 for the taxpayer, the 控除対象配偶者 and each 扶養親族
# (年少 included), 6,000 円 to the 市町村民税 and 4,000 円 to the 道府県民税 (8,000 / 2,000 in a
# 指定都市), taken off the 所得割 after the 調整控除 and the other 税額控除, never below 0.

def _kasai(fiscal_year: int, **changes: Any) -> TaxReturn:
    """給与収入 5,000,000 円, 社会保険料 700,000 円, a spouse without income and two children
    under 16 (the d-shotoku24 household's shape)."""
    raw: dict[str, Any] = {
        "fiscal_year": fiscal_year, "salary_revenue": 5_000_000, "deductions": (("社会保険料控除", 700_000),),
        "spouse": Dependant(date(1985, 4, 1)), "dependants": (Dependant(date(2012, 5, 1)), Dependant(date(2016, 9, 1))),
    }
    return TaxReturn(**{**raw, **changes})


def test_flat_reduction_of_a_household_of_four() -> None:
    # 給与所得 5,000,000 × 80 % − 440,000 = 3,560,000; 配偶者控除 330,000, 年少 0, 基礎 430,000:
    # 課税標準額 3,560,000 − 700,000 − 760,000 = 2,100,000. 調整控除: 差 50,000 + 50,000 = 100,000,
    # less (2,100,000 − 2,000,000) → the 50,000 floor: 1,500 / 1,000.
    t = assess(_kasai(2024))
    assert t.taxable_income == 2_100_000
    after = (2_100_000 * 6 // 100 - 1_500, 2_100_000 * 4 // 100 - 1_000)
    assert t.flat_reduction == (4 * 6_000, 4 * 4_000)
    assert t.income_levy == ((after[0] - 24_000) // 100 * 100, (after[1] - 16_000) // 100 * 100) == (100_500, 67_000)
    # 均等割 and 森林環境税 are not reduced.
    assert t.per_capita == (3_000, 1_000) and t.forest_tax == 1_000
    assert t.total == 100_500 + 67_000 + 5_000
    # After the other 税額控除: 100,000 円 of 住宅借入金等特別税額控除 (60,000 / 40,000) first.
    u = assess(_kasai(2024, tax_credits=(("住宅借入金等特別税額控除", 100_000),)))
    assert u.credits == (60_000, 40_000) and u.flat_reduction == (24_000, 16_000)
    assert u.income_levy == (after[0] - 60_000 - 24_000, after[1] - 40_000 - 16_000)


def test_flat_reduction_in_a_designated_city_is_split_8_to_2() -> None:
    t = assess(_kasai(2024, designated_city=True))
    assert t.rates == (8, 2) and t.flat_reduction == (4 * 8_000, 4 * 2_000)
    # 調整控除 4 % / 1 % of the 50,000 floor.
    assert t.income_levy == (2_100_000 * 8 // 100 - 2_000 - 32_000, 2_100_000 * 2 // 100 - 500 - 8_000)


@pytest.mark.parametrize(("business", "flat"), [(18_050_000, (6_000, 4_000)), (18_050_001, (0, 0))])
def test_flat_reduction_ends_above_18_05_million(business: int, flat: tuple[int, int]) -> None:
    t = assess(TaxReturn(fiscal_year=2024, other_incomes=(("事業所得", business),)))
    # Both: 課税標準額 (− 基礎控除 430,000) 17,620,000; 調整控除 at its 50,000 floor.
    assert t.taxable_income == 17_620_000 and t.adjustment == (1_500, 1_000)
    assert t.flat_reduction == flat
    assert t.income_levy == (1_057_200 - 1_500 - flat[0], 704_800 - 1_000 - flat[1])


def test_flat_reduction_never_takes_the_levy_below_zero() -> None:
    # 事業所得 2,200,000 with a spouse and three 特定扶養親族 (19〜22): over the 所得割 limit of five
    # (350,000 × 5 + 100,000 + 320,000 = 2,170,000). 控除 330,000 + 3 × 450,000 + 430,000 =
    # 2,110,000: 課税標準額 90,000, 所得割 5,400 / 3,600 less 調整控除 (5 % of 90,000) 2,700 / 1,800.
    t = assess(TaxReturn(fiscal_year=2024, other_incomes=(("事業所得", 2_200_000),), spouse=Dependant(date(1970, 1, 1)),
                         dependants=tuple(Dependant(date(y, 6, 1)) for y in (2002, 2003, 2004))))
    assert not t.income_levy_exempt and t.taxable_income == 90_000
    assert t.flat_reduction == (2_700, 1_800)  # capped at what is left, not 30,000 / 20,000
    assert t.income_levy == (0, 0) and t.total == 5_000


def test_no_flat_reduction_without_an_income_levy() -> None:
    # 給与収入 1,000,000 alone: 給与所得 450,000, at both limits of one person: 非課税.
    t = assess(TaxReturn(fiscal_year=2024, salary_revenue=1_000_000))
    assert t.exempt and t.flat_reduction == (0, 0) and t.total == 0
    # 給与収入 1,700,000 with a spouse: 給与所得 1,700,000 × 60 % + 100,000 = 1,120,000, at the 所得割
    # limit of two (1,120,000) and over the 均等割 one (1,010,000): 均等割 only, nothing reduced.
    u = assess(TaxReturn(fiscal_year=2024, salary_revenue=1_700_000, spouse=Dependant(date(1980, 1, 1))))
    assert u.income_levy_exempt and not u.per_capita_exempt
    assert u.flat_reduction == (0, 0) and u.total == 3_000 + 1_000 + 1_000


@pytest.mark.parametrize("fiscal_year", [2023, 2025, 2026])
def test_other_years_have_no_flat_reduction(fiscal_year: int) -> None:
    t = assess(_kasai(fiscal_year))
    assert t.flat_reduction == (0, 0)
    assert t.income_levy == tuple((c - a - k) // 100 * 100 for c, a, k in zip(t.levy_computed, t.adjustment,
                                                                            t.credits, strict=True))


def test_a_spouse_of_a_taxpayer_over_10_million_counts_in_reiwa_7() -> None:
    spouse = Dependant(date(1980, 1, 1))  # a 同一生計配偶者 (no income)
    # 令和6年度: 合計所得金額 12,000,000 → no 控除対象配偶者; only the taxpayer counts.
    assert assess(TaxReturn(fiscal_year=2024, other_incomes=(("事業所得", 12_000_000),), spouse=spouse)
                  ).flat_reduction == (6_000, 4_000)
    # 令和7年度 (令和6年中 12,000,000): 10,000 円 for that spouse.
    t = assess(TaxReturn(fiscal_year=2025, other_incomes=(("事業所得", 12_000_000),), spouse=spouse))
    assert t.spouse is None and t.flat_reduction == (6_000, 4_000)
    assert assess(TaxReturn(fiscal_year=2025, other_incomes=(("事業所得", 12_000_000),), spouse=spouse,
                            designated_city=True)).flat_reduction == (8_000, 2_000)
    # Not for a 控除対象配偶者 (10,000,000 or less), a spouse above the 扶養 limit, or over 18,050,000.
    for income, spouse_income in ((10_000_000, 0), (12_000_000, 480_001), (18_050_001, 0)):
        u = assess(TaxReturn(fiscal_year=2025, other_incomes=(("事業所得", income),),
                             spouse=Dependant(date(1980, 1, 1), income=spouse_income)))
        assert u.flat_reduction == (0, 0), (income, spouse_income)
    assert assess(TaxReturn(fiscal_year=2025, other_incomes=(("事業所得", 12_000_000),))).flat_reduction == (0, 0)


def test_withheld_tax_is_split_over_twelve_months_from_june() -> None:
    """特別徴収 (地方税法 321条の5): each month the twelfth rounded down to 100 円, June taking
    the rest; paid in by the 10th of the next month, moved off closed days (worked out here
    from the calendar: 2025-08-10 is a Sunday and 11 August 山の日; 2026-01-10 a Saturday and
    12 January 成人の日)."""
    parts = withheld_instalments(2025, 123_456, 50_000)
    assert [p.month for p in parts] == [6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5]
    assert [p.amount for p in parts] == [123_456 - 11 * 10_200] + [10_200] * 11 == [11_256] + [10_200] * 11
    assert sum(p.amount for p in parts) == 123_456
    assert [p.paid for p in parts[:6]] == [11_256, 10_200, 10_200, 10_200, 8_144, 0]
    dues = {p.month: p.due_on for p in parts}
    assert dues[6] == date(2025, 7, 10) and dues[7] == date(2025, 8, 12) and dues[11] == date(2025, 12, 10)
    assert dues[12] == date(2026, 1, 13) and dues[5] == date(2026, 6, 10)
    # 令和6年度 with a 定額減税: nothing withheld in June, eleven months from July (7月分 due
    # 2024-08-10, a Saturday; 11 August 山の日 on a Sunday, so 12 August a 振替休日).
    r6 = withheld_instalments(2024, 100_000, 0, reduction=40_000)
    assert [p.month for p in r6][:2] == [7, 8] and len(r6) == 11
    assert [p.amount for p in r6] == [10_000] + [9_000] * 10
    assert r6[0].due_on == date(2024, 8, 13)
    assert len(withheld_instalments(2024, 100_000, 0)) == 12  # no 定額減税 (0): twelve months
    with pytest.raises(TaxRuleError, match="paid"):
        withheld_instalments(2025, 1_000, 1_001)
