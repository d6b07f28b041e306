"""個人住民税 arithmetic against published figures (国税庁 給与所得控除 table, 総務省
非課税限度額), and the 納期 split."""

from __future__ import annotations

from datetime import date

import pytest

from kofu.domain.tax import (
    Dependant,
    TaxReturn,
    TaxRuleError,
    assess,
    due_date,
    instalments,
    nontaxable_limits,
    salary_income,
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
