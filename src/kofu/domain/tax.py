"""個人住民税 as the tax office computes it, from a resident's raw figures.

>>> t = assess(TaxReturn(fiscal_year=2025, salary_revenue=5_000_000,
...                      deductions=(("社会保険料控除", 700_000),)))
>>> t.taxable_income, t.income_levy, t.per_capita, t.forest_tax
(2430000, (144300, 96200), (3000, 1000), 1000)

Pure arithmetic, no I/O. The figures of a 年度 (``fiscal_year``, the Gregorian
year it starts in) are those of the calendar year before it (the income
year). The steps, in the order of 地方税法:

1. 給与所得 from the 給与収入 (支払金額) by the 給与所得控除 table of the income
   year (所得税法 別表第五 below 6,600,000 円: the revenue rounded down to
   4,000 円 first), less the 所得金額調整控除 (from 令和3年度, 租税特別措置法
   41条の3の3 as 地方税法 附則 applies it): (a) 給与収入 over 8,500,000 円
   with a 扶養親族 under 23: 10 % of (給与収入, at most 10,000,000, −
   8,500,000), rounded up to the yen; (b) with both 給与所得 and
   公的年金等に係る雑所得: (each, at most 100,000, summed) − 100,000.
   総所得金額等 = 給与所得 + the other incomes given.
2. 非課税: 均等割 (and 森林環境税) when 総所得金額等 is at most the 均等割
   limit of the municipality's 級地; 所得割 when it is at most the 所得割
   limit. Both limits count the taxpayer, the 同一生計配偶者 and every 扶養親族
   (年少 included).
3. 所得控除: the deductions given (社会保険料控除 …) plus 配偶者控除 (a
   spouse within the 扶養 income limit), 配偶者特別控除 (a spouse above it, up
   to 1,330,000 円; from 平成31年度), 扶養控除 and 基礎控除 computed here;
   課税標準額 (課税総所得金額) = 総所得金額等 − 所得控除合計, rounded down to
   1,000 円, never below 0.
4. 所得割: 課税標準額 × 6 % (市町村民税) and 4 % (道府県民税), less 調整控除
   (3 % / 2 % of its base) and the 税額控除 given (split 6 : 4), each
   rounded down to 100 円 and never below 0. A resident of a 指定都市 pays
   8 % / 2 % from 平成30年度 (the 県費負担教職員 transfer), the 調整控除 and
   the 税額控除 following at 4 % / 1 % and 8 : 2 (``designated_city``).
   In 令和6年度 (and for one case in 令和7年度) the 定額減税 is taken last,
   before the rounding (:func:`flat_reduction`).
5. 均等割: 3,500 + 1,500 円 in 平成26〜令和5年度 (復興特別加算), otherwise
   3,000 + 1,000 円; 森林環境税 (国税, levied with 均等割) 1,000 円 from
   令和6年度.

障害者控除 (the taxpayer: 障害者 260,000 / 特別障害者 300,000 円; the
同一生計配偶者 and each 扶養親族, 年少 included: also 同居特別障害者 530,000
円), 寡婦控除 (260,000 円) and ひとり親控除 (300,000 円), both for a
合計所得金額 of at most 5,000,000 円 (地方税法 314条の2 ①六〜八の二, from
令和3年度), are computed with their 人的控除額の差 and the 所得金額調整控除
(a) for a 特別障害者; a 障害者, 寡婦 or ひとり親 with a 合計所得金額 of at
most 1,350,000 円 (1,250,000 before 令和3年度) is 非課税 altogether (地方税法
295条 ①二). 寡婦 and ひとり親 are refused before 令和3年度 (the 寡婦・寡夫 of
the old law) and ひとり親 from 令和10年度 (the 令和8年度 改正 raises it to
330,000 円; not tabled here).

勤労学生控除 (260,000 円, 人的控除額の差 10,000 円) applies within its
合計所得金額 limit (650,000 円 before 令和3年度, 750,000 円 in 令和3〜7年度,
850,000 円 from 令和8年度); above it the taxpayer is no 勤労学生 (所得税法 2条
①三十二) and nothing is taken. 特定親族特別控除 (from 令和8年度): a relative
of 19〜22 whose 合計所得金額 is over the 扶養 limit up to 1,230,000 円 gives
450,000 円 stepping down to 30,000 円.

A 未成年者 on the 賦課期日 (1 January of the 年度) is 非課税 altogether on the
same 295条 ①二 limit. The taxpayer's birth date (``birth_date``, from the
resident record) decides it: under 20 on a 賦課期日 before 1 April 2022, under
18 from then (民法 4条 as amended by 平成30年法律第59号; 令和5年度 is the first
賦課期日 after it), the age reached at the end of the day before the birthday,
so one born on 2 January is a year older on 1 January. A taxpayer the record
gives a spouse (控除対象配偶者 or 配偶者特別控除: married on 31 December) is
no 未成年者: before 1 April 2022 by 婚姻による成年擬制 (旧民法 753条), after it
by the same 改正法's 附則 2条 ③ and 3条 (the marriages it still allows and
those made before it keep the 成年擬制). A married minor the record does not
show as married is the municipality's to handle.

A municipality's or prefecture's own rates (超過課税 and 減税 by 条例: 兵庫県's
県民緑税 adds 800 円 to the 道府県民税 均等割 from 平成18年度, 神奈川県's
水源環境保全税 300 円 and 0.025 % of the 所得割) are the municipality's
settings (:class:`LocalRate`, ``local_rates``): each adds to the standard 均等割
(yen) and 所得割 rate (percent) in the 年度 it covers. The 調整控除, the
税額控除 split and the 定額減税 follow the standard rates (the law sets them on the
standard rates, not the 条例's).

Not modelled: 分離課税. Those records must be computed by the municipality's
own system and are refused by :func:`assess` only when the figures themselves
are impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Final

from kofu.domain.holidays import is_business_day

MUNICIPAL_RATE: Final = 6
PREFECTURAL_RATE: Final = 4
"""Standard 所得割 rates, percent."""
DESIGNATED_MUNICIPAL_RATE: Final = 8
DESIGNATED_PREFECTURAL_RATE: Final = 2
"""所得割 rates of a resident of a 指定都市 (地方税法 314条の3, 35条), percent."""
DESIGNATED_RATES_FROM: Final = 2018
"""The 指定都市 rates apply from 平成30年度 (平成29年度税制改正: 県費負担教職員の給与負担の移譲)."""
DESIGNATED_CITIES: Final = {
    "011002": "札幌市", "041009": "仙台市", "111007": "さいたま市", "121002": "千葉市", "141003": "横浜市",
    "141305": "川崎市", "141500": "相模原市", "151009": "新潟市", "221007": "静岡市", "221309": "浜松市",
    "231002": "名古屋市", "261009": "京都市", "271004": "大阪市", "271403": "堺市", "281000": "神戸市",
    "331007": "岡山市", "341002": "広島市", "401005": "北九州市", "401307": "福岡市", "431001": "熊本市",
}
"""The 20 指定都市 (地方自治法 252条の19) by 団体コード; the last designated, 熊本市,
became one on 1 April 2012, before the rates changed, so no date is needed."""
WORKING_STUDENT_DEDUCTION: Final = 260_000
"""勤労学生控除 of the 個人住民税 (地方税法 314条の2; 所得税 270,000 円)."""
_WORKING_STUDENT_DIFF: Final = 10_000
SPECIFIED_RELATIVE_FROM: Final = 2026
"""特定親族特別控除: 令和7年分の所得, so 令和8年度."""
# 特定親族特別控除 of the 個人住民税 (地方税法 314条の2 as amended in 令和7年): the
# upper bounds of the relative's 合計所得金額 (the first band starts above the 扶養
# limit, 580,000 円), each with the deduction and its 人的控除額の差 for the 調整控除.
# The deductions as 館林市 and other municipalities publish them for 令和8年度;
# the 差 is the 所得税 amount (630,000 / 610,000 / 510,000, then equal) less the
# 住民税 one, which could not be confirmed against the amended 314条の6.
_SPECIFIED_RELATIVE: Final = (
    (850_000, 450_000, 180_000),
    (900_000, 450_000, 160_000),
    (950_000, 450_000, 60_000),
    (1_000_000, 410_000, 0),
    (1_050_000, 310_000, 0),
    (1_100_000, 210_000, 0),
    (1_150_000, 110_000, 0),
    (1_200_000, 60_000, 0),
    (1_230_000, 30_000, 0),
)
FOREST_TAX: Final = 1_000
FOREST_TAX_FROM: Final = 2024
"""森林環境税 is levied from 令和6年度."""
PENSION_INCOME: Final = "公的年金等に係る雑所得"
"""The kind of ``other_incomes`` that counts for the 所得金額調整控除 (b)."""
INCOME_ADJUSTMENT_FROM: Final = 2021
"""所得金額調整控除: 令和2年分の所得, so 令和3年度 of the 個人住民税."""
SPOUSE_SPECIAL_FROM: Final = 2019
"""配偶者特別控除 as tabled here (scaled by the taxpayer's income): 平成31年度 on."""
SINGLE_PARENT_FROM: Final = 2021
"""寡婦控除 (as reformed) and ひとり親控除: 令和2年分の所得, so 令和3年度."""
SINGLE_PARENT_UNTIL: Final = 2027
"""Last 年度 of the 300,000 円 ひとり親控除 (330,000 円 from 令和10年度, not tabled)."""
SINGLE_PARENT_INCOME_LIMIT: Final = 5_000_000
"""合計所得金額 limit of 寡婦 and ひとり親."""
DISABILITY_KINDS: Final = ("障害者", "特別障害者", "同居特別障害者")
"""障害者控除 kinds; 同居特別障害者 only for a 同一生計配偶者 or 扶養親族."""
SINGLE_PARENTS: Final = ("母", "父")
"""ひとり親: the parent, whose 人的控除額の差 differs (50,000 / 10,000 円)."""
# 障害者控除 and its 人的控除額の差 (地方税法 314条の6 ①一イ), by kind.
_DISABILITY_DEDUCTION: Final = {"障害者": 260_000, "特別障害者": 300_000, "同居特別障害者": 530_000}
_DISABILITY_DIFF: Final = {"障害者": 10_000, "特別障害者": 100_000, "同居特別障害者": 220_000}
WIDOW_DEDUCTION: Final = 260_000
SINGLE_PARENT_DEDUCTION: Final = 300_000
_WIDOW_DIFF: Final = 10_000
_SINGLE_PARENT_DIFF: Final = {"母": 50_000, "父": 10_000}


class TaxRuleError(ValueError):
    """The figures cannot be assessed (no table for the year, a negative amount …)."""


@dataclass(frozen=True)
class Dependant:
    """A 同一生計配偶者 or 扶養親族 of the taxpayer."""

    birth_date: date
    income: int = 0
    """合計所得金額 of the income year (yen)."""
    cohabiting_parent: bool = False
    """同居老親等: a lineal ascendant aged 70 or more living with the taxpayer."""
    disability: str | None = None
    """None, 障害者, 特別障害者 or 同居特別障害者 (a 特別障害者 living with the taxpayer)."""


@dataclass(frozen=True)
class LocalRate:
    """A municipality's or prefecture's own rate (超過課税 or, negative, 減税) by 条例, added to
    the standard ones in the 年度 from ``first_year`` to ``last_year`` (None: no end set)."""

    name: str
    """As the certificate names it: 県民緑税, 水源環境保全税 …"""
    first_year: int
    last_year: int | None = None
    per_capita: tuple[int, int] = (0, 0)
    """Added to the (市町村民税, 道府県民税) 均等割, yen."""
    income_levy: tuple[Fraction, Fraction] = (Fraction(0), Fraction(0))
    """Added to the (市町村民税, 道府県民税) 所得割 rate, percent (神奈川県: 0.025)."""

    def covers(self, fiscal_year: int) -> bool:
        return self.first_year <= fiscal_year and (self.last_year is None or fiscal_year <= self.last_year)


@dataclass(frozen=True)
class TaxReturn:
    """The raw figures of one resident for one 年度, as the import gives them."""

    fiscal_year: int
    salary_revenue: int = 0
    """給与等の収入金額 (源泉徴収票の支払金額)."""
    other_incomes: tuple[tuple[str, int], ...] = ()
    """(所得の種類, 所得金額) other than 給与所得: 事業所得, 公的年金等に係る雑所得 …"""
    deductions: tuple[tuple[str, int], ...] = ()
    """(控除の種類, 金額) computed elsewhere: 社会保険料控除, 生命保険料控除 …"""
    spouse: Dependant | None = None
    dependants: tuple[Dependant, ...] = ()
    tax_credits: tuple[tuple[str, int], ...] = ()
    """(税額控除の種類, 個人住民税の控除額): 住宅借入金等特別税額控除 …"""
    grade: int = 1
    """級地 (1, 2 or 3) of the municipality, for the 均等割 非課税限度額."""
    disability: str | None = None
    """The taxpayer: None, 障害者 or 特別障害者."""
    widow: bool = False
    """寡婦 (所得税法 2条 ①三十)."""
    single_parent: str | None = None
    """ひとり親 (所得税法 2条 ①三十一): None, 母 or 父."""
    working_student: bool = False
    """勤労学生 (所得税法 2条 ①三十二): the student's status; the income limit is applied here."""
    designated_city: bool = False
    """The taxpayer lives in a 指定都市 (see :func:`is_designated_city`): 8 % / 2 % from 平成30年度."""
    birth_date: date | None = None
    """The taxpayer's birth date (the resident record's), for the 未成年者 of 地方税法 295条 ①二;
    None: not known, and the taxpayer is taken as an adult."""
    local_rates: tuple[LocalRate, ...] = ()
    """The municipality's and its prefecture's own rates (the municipality's settings, not the record)."""


@dataclass(frozen=True)
class ResidentTax:
    """The assessment; each pair is (市町村民税, 道府県民税)."""

    fiscal_year: int
    salary_revenue: int
    salary_income: int
    """給与所得, after the 所得金額調整控除."""
    income_adjustment: int
    """所得金額調整控除額 (already taken off 給与所得)."""
    incomes: tuple[tuple[str, int], ...]
    """(所得の種類, 所得金額), 給与所得 first when there is a salary."""
    total_income: int
    """総所得金額等 (= 合計所得金額 here)."""
    deductions: tuple[tuple[str, int], ...]
    deductions_total: int
    taxable_income: int
    """課税標準額 (課税総所得金額), rounded down to 1,000 円."""
    spouse: str | None
    """控除対象配偶者: None, 一般 or 老人."""
    dependants: dict[str, int]
    """扶養親族 by kind: 一般, 特定, 老人, 同居老親等, 年少 → count."""
    levy_computed: tuple[int, int]
    """算出所得割額 (課税標準額 × rate)."""
    adjustment: tuple[int, int]
    """調整控除額."""
    credits: tuple[int, int]
    """税額控除額."""
    income_levy: tuple[int, int]
    """所得割額, rounded down to 100 円."""
    per_capita: tuple[int, int]
    """均等割額."""
    forest_tax: int
    """森林環境税 (国税, collected with 均等割)."""
    income_levy_exempt: bool
    per_capita_exempt: bool
    taxpayer_status: tuple[str, ...] = ()
    """本人該当区分: 障害者 / 特別障害者, 寡婦, ひとり親 (寡婦 and ひとり親 only within
    their 5,000,000 円 limit: above it the taxpayer is neither), 勤労学生, 未成年者 (on the
    賦課期日, whatever the income)."""
    disabled_dependants: tuple[tuple[str, int], ...] = ()
    """障害者 among the 同一生計配偶者 and the 扶養親族: (kind, count), kinds present only."""
    exempt_as_disabled_or_single: bool = False
    """非課税 by 地方税法 295条 ①二 as a 障害者・寡婦・ひとり親 (合計所得金額 ≤ 1,350,000 円)."""
    rates: tuple[int, int] = (MUNICIPAL_RATE, PREFECTURAL_RATE)
    """所得割 rates applied, percent: (6, 4), or (8, 2) in a 指定都市 from 平成30年度."""
    specified_relatives: int = 0
    """Relatives giving a 特定親族特別控除 (19〜22, above the 扶養 limit; not 扶養親族)."""
    exempt_as_minor: bool = False
    """非課税 by 地方税法 295条 ①二 as a 未成年者 on the 賦課期日 (合計所得金額 ≤ 1,350,000 円)."""
    flat_reduction: tuple[int, int] = (0, 0)
    """定額減税額 (特別税額控除, 令和6年度 and the 令和7年度 spouse case; see :func:`flat_reduction`),
    already taken off ``income_levy``."""
    local_rates: tuple[LocalRate, ...] = ()
    """The municipality's and prefecture's own rates included in ``per_capita`` and ``levy_computed``
    (those in force in the 年度 that changed an amount: none when 非課税)."""

    @property
    def municipal(self) -> int:
        return self.income_levy[0] + self.per_capita[0]

    @property
    def prefectural(self) -> int:
        return self.income_levy[1] + self.per_capita[1]

    @property
    def total(self) -> int:
        """年税額: 市町村民税 + 道府県民税 + 森林環境税."""
        return self.municipal + self.prefectural + self.forest_tax

    @property
    def exempt(self) -> bool:
        """非課税 altogether (所得割 and 均等割)."""
        return self.income_levy_exempt and self.per_capita_exempt



def is_designated_city(municipality_code: str) -> bool:
    """Whether the municipality of ``municipality_code`` (団体コード, 6 digits) is a 指定都市."""
    return municipality_code in DESIGNATED_CITIES


def income_levy_rates(fiscal_year: int, designated_city: bool) -> tuple[int, int]:
    """(市町村民税, 道府県民税) 所得割 rates of ``fiscal_year``, percent."""
    if designated_city and fiscal_year >= DESIGNATED_RATES_FROM:
        return DESIGNATED_MUNICIPAL_RATE, DESIGNATED_PREFECTURAL_RATE
    return MUNICIPAL_RATE, PREFECTURAL_RATE


def working_student_income_limit(fiscal_year: int) -> int:
    """The 合計所得金額 a 勤労学生 may have: 650,000 円 up to 令和2年度, 750,000 円 in
    令和3〜7年度 (令和2年分 on, with the 給与所得控除 cut by 100,000 円), 850,000 円
    from 令和8年度 (令和7年度税制改正, 令和7年分 on)."""
    if fiscal_year >= 2026:
        return 850_000
    if fiscal_year >= 2021:
        return 750_000
    return 650_000


def specified_relative_deduction(fiscal_year: int, relative_income: int) -> tuple[int, int]:
    """(特定親族特別控除, its 人的控除額の差) for a relative of 19〜22 with a 合計所得金額
    of ``relative_income``; (0, 0) before 令和8年度, within the 扶養 limit (a 扶養親族)
    or over 1,230,000 円."""
    if fiscal_year < SPECIFIED_RELATIVE_FROM or relative_income <= dependant_income_limit(fiscal_year):
        return 0, 0
    return next(((amount, diff) for upper, amount, diff in _SPECIFIED_RELATIVE if relative_income <= upper), (0, 0))


def status_exemption_limit(fiscal_year: int) -> int:
    """地方税法 295条 ①二: the 前年の合計所得金額 up to which a 障害者・未成年者・寡婦・ひとり親 is 非課税
    (1,350,000 円 from 令和3年度, 1,250,000 円 before)."""
    return 1_350_000 if fiscal_year >= SINGLE_PARENT_FROM else 1_250_000


MAJORITY_REFORM: Final = date(2022, 4, 1)
"""成年年齢 18 from this day (民法の一部を改正する法律, 平成30年法律第59号); 20 before."""


def age_of_majority(on: date) -> int:
    """成年年齢 on ``on``: 20 before 1 April 2022, 18 from then."""
    return 18 if on >= MAJORITY_REFORM else 20


def is_minor(born: date, fiscal_year: int, *, married: bool = False) -> bool:
    """Whether one born on ``born`` is a 未成年者 on the 賦課期日 of ``fiscal_year`` (1 January).

    ``married``: married by then, so an adult (成年擬制; see the module's docstring)."""
    assessment_day = date(fiscal_year, 1, 1)
    return not married and _age_on(born, assessment_day) < age_of_majority(assessment_day)


def _floor(amount: int, unit: int) -> int:
    return amount // unit * unit


def salary_income(revenue: int, income_year: int) -> int:
    """給与所得 of ``revenue`` yen earned in ``income_year`` (給与所得控除 of that year)."""
    if revenue < 0:
        raise TaxRuleError(f"給与収入 {revenue} is negative")
    if income_year < 2017:
        raise TaxRuleError(f"no 給与所得控除 table for {income_year} (from 2017)")
    a = _floor(revenue, 4_000)  # 別表第五 steps of 4,000 円 below 6,600,000 円
    if income_year >= 2025:  # 令和7年分: minimum 650,000 円 up to 1,900,000 円
        if revenue <= 1_900_000:
            return max(0, revenue - 650_000)
    elif income_year >= 2020:  # 令和2年分〜令和6年分
        if revenue <= 1_625_000:
            return max(0, revenue - 550_000)
        if revenue < 1_800_000:
            return a * 6 // 10 + 100_000
    else:  # 平成29年分〜令和元年分
        if revenue <= 1_625_000:
            return max(0, revenue - 650_000)
        if revenue < 1_800_000:
            return a * 6 // 10
    base = 0 if income_year >= 2020 else 100_000
    if revenue < 3_600_000:
        return a * 7 // 10 - 80_000 - base
    if revenue < 6_600_000:
        return a * 8 // 10 - 440_000 - base
    if income_year >= 2020:
        if revenue < 8_500_000:
            return revenue * 9 // 10 - 1_100_000
        return revenue - 1_950_000
    if revenue < 10_000_000:
        return revenue * 9 // 10 - 1_200_000
    return revenue - 2_200_000


def _basic_deduction(fiscal_year: int, total_income: int) -> int:
    if fiscal_year < 2021:
        return 330_000
    if total_income <= 24_000_000:
        return 430_000
    if total_income <= 24_500_000:
        return 290_000
    if total_income <= 25_000_000:
        return 150_000
    return 0


def dependant_income_limit(fiscal_year: int) -> int:
    """The 合計所得金額 a 同一生計配偶者 or 扶養親族 may have."""
    if fiscal_year >= 2026:
        return 580_000
    if fiscal_year >= 2021:
        return 480_000
    return 380_000


def _age_on(born: date, day: date) -> int:
    """Age on ``day`` as the laws count it: under 年齢計算ニ関スル法律 an age is reached at the
    end of the day before the birthday (28 February for one born on 29 February), so it is
    the age counted naively on the day after ``day``."""
    after = day + timedelta(days=1)
    return after.year - born.year - ((after.month, after.day) < (born.month, born.day))


def _age(born: date, income_year: int) -> int:
    """Age on 31 December of ``income_year``: one born on 1 January is a year older on
    31 December (国税庁: 令和7年分 特定扶養親族 born 平成15年1月2日〜平成19年1月1日)."""
    return _age_on(born, date(income_year, 12, 31))


def dependant_kind(d: Dependant, income_year: int) -> str:
    """一般, 特定 (19〜22), 老人 (70〜), 同居老親等 or 年少 (under 16), by age on 31 December."""
    age = _age(d.birth_date, income_year)
    if age < 16:
        return "年少"
    if 19 <= age <= 22:
        return "特定"
    if age >= 70:
        return "同居老親等" if d.cohabiting_parent else "老人"
    return "一般"


# 扶養控除 and the 人的控除額の差 of 調整控除, by kind.
_DEPENDANT_DEDUCTION: Final = {"一般": 330_000, "特定": 450_000, "老人": 380_000, "同居老親等": 450_000, "年少": 0}
_DEPENDANT_DIFF: Final = {"一般": 50_000, "特定": 180_000, "老人": 100_000, "同居老親等": 130_000, "年少": 0}


def _spouse_deduction(total_income: int, elderly: bool) -> tuple[int, int]:
    """(配偶者控除, its 人的控除額の差) by the taxpayer's 合計所得金額."""
    if total_income <= 9_000_000:
        return (380_000, 100_000) if elderly else (330_000, 50_000)
    if total_income <= 9_500_000:
        return (260_000, 60_000) if elderly else (220_000, 40_000)
    if total_income <= 10_000_000:
        return (130_000, 30_000) if elderly else (110_000, 20_000)
    return 0, 0


# 配偶者特別控除 of the 個人住民税 (地方税法 314条の2 ①十の二): the upper bounds of the
# spouse's 合計所得金額, each with the deduction for a taxpayer's 合計所得金額 of at
# most 9,000,000 / 9,500,000 / 10,000,000 円. The first band starts above the
# 扶養 income limit (dependant_income_limit). 平成31年度・令和2年度 the bounds were
# 100,000 円 lower (the 令和3年度 reform moved 給与所得控除 and 基礎控除 by as much).
_SPOUSE_SPECIAL: Final = (
    (1_000_000, (330_000, 220_000, 110_000)),
    (1_050_000, (310_000, 210_000, 110_000)),
    (1_100_000, (260_000, 180_000, 90_000)),
    (1_150_000, (210_000, 140_000, 70_000)),
    (1_200_000, (160_000, 110_000, 60_000)),
    (1_250_000, (110_000, 80_000, 40_000)),
    (1_300_000, (60_000, 40_000, 20_000)),
    (1_330_000, (30_000, 20_000, 10_000)),
)
# Its 人的控除額の差 for the 調整控除 (地方税法 314条の6): only just above the limit,
# and only before 令和8年度 (spouse_special_deduction).
_SPOUSE_SPECIAL_DIFF: Final = ((20_000, (50_000, 40_000, 20_000)), (70_000, (30_000, 20_000, 10_000)))


def spouse_special_deduction(fiscal_year: int, total_income: int, spouse_income: int) -> tuple[int, int]:
    """(配偶者特別控除, its 人的控除額の差) for a spouse whose 合計所得金額 is over the
    扶養 limit; (0, 0) when none applies (the taxpayer's 合計所得金額 over
    10,000,000 円, the spouse's within the limit or over 1,330,000 円 (1,230,000
    before 令和3年度)).

    The 人的控除額の差 is 50,000 / 30,000 円 (less for a taxpayer over 9,000,000 円)
    for a spouse less than 20,000 / 70,000 円 above the limit (48万円超50万円未満,
    50万円以上55万円未満 in 令和3〜7年度; 38万円超40万円未満, 40万円以上45万円未満
    before). From 令和8年度 it is 0: 地方税法 314条の6 ①一イ (and 37条) still
    names a spouse with a 合計所得金額 under 550,000 円 who is not a 控除対象配偶者,
    and with the 580,000 円 limit no spouse is both, so the 配偶者特別控除 has no
    差 (an earlier version moved the bands to 58万円超; see docs/certificates.md).
    """
    limit = dependant_income_limit(fiscal_year)
    shift = 0 if fiscal_year >= 2021 else -100_000
    if spouse_income <= limit or spouse_income > _SPOUSE_SPECIAL[-1][0] + shift or total_income > 10_000_000:
        return 0, 0
    if fiscal_year < SPOUSE_SPECIAL_FROM:
        raise TaxRuleError(f"no 配偶者特別控除 table for {fiscal_year}年度 (from {SPOUSE_SPECIAL_FROM})")
    col = 0 if total_income <= 9_000_000 else 1 if total_income <= 9_500_000 else 2
    amount = next(amounts[col] for upper, amounts in _SPOUSE_SPECIAL if spouse_income <= upper + shift)
    over = spouse_income - limit
    diff = next((d[col] for below, d in _SPOUSE_SPECIAL_DIFF if over < below), 0) if fiscal_year < 2026 else 0
    return amount, diff


def income_adjustment(fiscal_year: int, salary_revenue: int, salary: int, pension: int, young_dependant: bool) -> int:
    """所得金額調整控除 taken off ``salary`` (給与所得控除後の給与等の金額).

    (a) 給与収入 over 8,500,000 円 and a 扶養親族 under 23: (給与収入, at most
    10,000,000, − 8,500,000) × 10 %, rounded up to the yen; (b) then, with
    公的年金等に係る雑所得 ``pension`` as well: min(給与, 100,000) + min(pension,
    100,000) − 100,000, 給与 after (a). None before 令和3年度.
    """
    if fiscal_year < INCOME_ADJUSTMENT_FROM or salary <= 0:
        return 0
    a = 0
    if salary_revenue > 8_500_000 and young_dependant:
        a = min(salary, -(-(min(salary_revenue, 10_000_000) - 8_500_000) // 10))
    left = salary - a
    b = max(0, min(left, 100_000) + min(pension, 100_000) - 100_000) if pension > 0 else 0
    return a + b


def nontaxable_limits(fiscal_year: int, persons: int, grade: int) -> tuple[int, int]:
    """(所得割, 均等割) 非課税限度額 of 総所得金額等 for a household of ``persons``
    (the taxpayer, the 同一生計配偶者 and the 扶養親族)."""
    if grade not in (1, 2, 3):
        raise TaxRuleError(f"級地 must be 1, 2 or 3, got {grade}")
    extra = 100_000 if fiscal_year >= 2021 else 0
    with_family = persons > 1
    income = 350_000 * persons + extra + (320_000 if with_family else 0)
    per = {1: 350_000, 2: 315_000, 3: 280_000}[grade]
    add = {1: 210_000, 2: 189_000, 3: 168_000}[grade]
    per_capita = per * persons + extra + (add if with_family else 0)
    return income, per_capita


def per_capita_rates(fiscal_year: int) -> tuple[int, int, int]:
    """(市町村民税, 道府県民税) 均等割 and 森林環境税 of ``fiscal_year``."""
    forest = FOREST_TAX if fiscal_year >= FOREST_TAX_FROM else 0
    if 2014 <= fiscal_year <= 2023:  # 復興特別加算, 平成26〜令和5年度
        return 3_500, 1_500, forest
    return 3_000, 1_000, forest


FLAT_REDUCTION_YEAR: Final = 2024
"""令和6年度: the 定額減税 (特別税額控除 of 地方税法 附則 5条の8 ff., 令和6年度税制改正)."""
FLAT_REDUCTION_SPOUSE_YEAR: Final = 2025
"""令和7年度: the 定額減税 for a 同一生計配偶者 who was no 控除対象配偶者."""
FLAT_REDUCTION_INCOME_LIMIT: Final = 18_050_000
"""No 定額減税 for a 合計所得金額 over this (給与収入 about 20,000,000 円)."""
FLAT_REDUCTION_PER_PERSON: Final = 10_000
"""定額減税 per person counted, 市町村民税 and 道府県民税 together."""


def flat_reduction(fiscal_year: int, total_income: int, *, deduction_spouse: bool, other_spouse: bool,
                   dependants: int, rates: tuple[int, int]) -> tuple[int, int]:
    """(市町村民税, 道府県民税) 定額減税 (特別税額控除) before it is capped at each 所得割.

    令和6年度: 10,000 円 for the taxpayer, the 控除対象配偶者 (``deduction_spouse``) and
    each 扶養親族 (``dependants``, 年少 included). 令和7年度: 10,000 円 when the taxpayer,
    with a 合計所得金額 over 10,000,000 円, has a 同一生計配偶者 who is therefore no
    控除対象配偶者 (``other_spouse``; left out of 令和6年度). None above a 合計所得金額 of
    18,050,000 円 or in any other year. Each person's 10,000 円 is split as the 所得割
    rates ``rates``: 6,000 / 4,000, or 8,000 / 2,000 in a 指定都市. 国外居住者 do not
    count; the import carries no residence abroad, so every one listed counts.
    """
    if total_income > FLAT_REDUCTION_INCOME_LIMIT:
        return 0, 0
    if fiscal_year == FLAT_REDUCTION_YEAR:
        persons = 1 + deduction_spouse + dependants
    elif fiscal_year == FLAT_REDUCTION_SPOUSE_YEAR:
        persons = int(other_spouse and total_income > 10_000_000)
    else:
        return 0, 0
    municipal = FLAT_REDUCTION_PER_PERSON * rates[0] // (rates[0] + rates[1])
    return municipal * persons, (FLAT_REDUCTION_PER_PERSON - municipal) * persons


def assess(r: TaxReturn) -> ResidentTax:
    """The 個人住民税 of ``r``; TaxRuleError when the figures cannot be assessed."""
    income_year = r.fiscal_year - 1
    for what, v in (("給与収入", r.salary_revenue), *r.other_incomes, *r.deductions, *r.tax_credits):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise TaxRuleError(f"{what}: {v!r} is not a non-negative int of yen")
    _check_status(r)
    # 1. Incomes (給与所得 after the 所得金額調整控除).
    limit = dependant_income_limit(r.fiscal_year)
    deps = [d for d in r.dependants if d.income <= limit]
    spouse = r.spouse if r.spouse is not None and r.spouse.income <= limit else None
    household = deps + ([spouse] if spouse is not None else [])
    sal = salary_income(r.salary_revenue, income_year) if r.salary_revenue else 0
    pension = sum(v for k, v in r.other_incomes if k == PENSION_INCOME)
    # (a) applies for a 扶養親族 under 23, or a 特別障害者 (the taxpayer, the 同一生計配偶者 or a 扶養親族).
    qualifying = any(_age(d.birth_date, income_year) < 23 for d in deps) or (
        r.disability == "特別障害者" or any(d.disability in ("特別障害者", "同居特別障害者") for d in household))
    adjustment_income = income_adjustment(r.fiscal_year, r.salary_revenue, sal, pension, qualifying)
    sal -= adjustment_income
    incomes = ((("給与所得", sal),) if r.salary_revenue else ()) + tuple(r.other_incomes)
    total = sum(v for _, v in incomes)
    # 2. 非課税: by the household's 非課税限度額, or as a 障害者・未成年者・寡婦・ひとり親.
    persons = 1 + (spouse is not None) + len(deps)
    income_limit, per_capita_limit = nontaxable_limits(r.fiscal_year, persons, r.grade)
    within_status_limit = total <= status_exemption_limit(r.fiscal_year)
    status_exempt = bool(r.disability or r.widow or r.single_parent) and within_status_limit
    # A spouse on the record (控除対象配偶者 or 配偶者特別控除) means married on 31 December.
    minor = r.birth_date is not None and is_minor(r.birth_date, r.fiscal_year, married=r.spouse is not None)
    minor_exempt = minor and within_status_limit
    income_exempt = total <= income_limit or status_exempt or minor_exempt
    per_capita_exempt = total <= per_capita_limit or status_exempt or minor_exempt
    # 3. Deductions.
    deductions = list(r.deductions)
    diff = 50_000  # 基礎控除's difference
    spouse_kind = None
    if spouse is not None:
        elderly = _age(spouse.birth_date, income_year) >= 70
        amount, d = _spouse_deduction(total, elderly)
        if amount:
            spouse_kind = "老人" if elderly else "一般"
            deductions.append(("配偶者控除", amount))
            diff += d
    elif r.spouse is not None:
        amount, d = spouse_special_deduction(r.fiscal_year, total, r.spouse.income)
        if amount:
            deductions.append(("配偶者特別控除", amount))
            diff += d
    counts = {"一般": 0, "特定": 0, "老人": 0, "同居老親等": 0, "年少": 0}
    for dep in deps:
        counts[dependant_kind(dep, income_year)] += 1
    dependant_deduction = sum(_DEPENDANT_DEDUCTION[k] * n for k, n in counts.items())
    if dependant_deduction:
        deductions.append(("扶養控除", dependant_deduction))
    diff += sum(_DEPENDANT_DIFF[k] * n for k, n in counts.items())
    disabled = [d.disability for d in household if d.disability]
    disability = sum(_DISABILITY_DEDUCTION[k] for k in disabled)
    disability += _DISABILITY_DEDUCTION[r.disability] if r.disability else 0
    if disability:
        deductions.append(("障害者控除", disability))
        diff += sum(_DISABILITY_DIFF[k] for k in disabled) + (_DISABILITY_DIFF[r.disability] if r.disability else 0)
    single_ok = total <= SINGLE_PARENT_INCOME_LIMIT  # part of 所得税法's definitions of both
    if single_ok:
        if r.widow:
            deductions.append(("寡婦控除", WIDOW_DEDUCTION))
            diff += _WIDOW_DIFF
        if r.single_parent:
            deductions.append(("ひとり親控除", SINGLE_PARENT_DEDUCTION))
            diff += _SINGLE_PARENT_DIFF[r.single_parent]
    student_ok = r.working_student and total <= working_student_income_limit(r.fiscal_year)
    if student_ok:
        deductions.append(("勤労学生控除", WORKING_STUDENT_DEDUCTION))
        diff += _WORKING_STUDENT_DIFF
    # 特定親族特別控除: 19〜22 on 31 December, above the 扶養 limit (so not in ``deps``).
    specified = [specified_relative_deduction(r.fiscal_year, d.income) for d in r.dependants
                 if d.income > limit and 19 <= _age(d.birth_date, income_year) <= 22]
    specified = [x for x in specified if x[0]]
    if specified:
        deductions.append(("特定親族特別控除", sum(a for a, _ in specified)))
        diff += sum(d for _, d in specified)
    basic = _basic_deduction(r.fiscal_year, total)
    if basic:
        deductions.append(("基礎控除", basic))
    deductions_total = sum(v for _, v in deductions)
    taxable = _floor(max(0, total - deductions_total), 1_000)
    # 4. 所得割 (調整控除 is 5 %, split as the rates: 3 / 2, or 4 / 1 in a 指定都市).
    rate_m, rate_p = income_levy_rates(r.fiscal_year, r.designated_city)
    local = tuple(x for x in r.local_rates if x.covers(r.fiscal_year))
    extra_m, extra_p = (sum((x.income_levy[i] for x in local), Fraction(0)) for i in (0, 1))
    if rate_m + extra_m < 0 or rate_p + extra_p < 0:
        raise TaxRuleError(f"{r.fiscal_year}年度: the local rates take a 所得割 rate below 0")
    computed = (int(taxable * (rate_m + extra_m) // 100), int(taxable * (rate_p + extra_p) // 100))
    if total > 25_000_000 and r.fiscal_year >= 2021:
        base = 0
    elif taxable <= 2_000_000:
        base = min(diff, taxable)
    else:
        base = max(diff - (taxable - 2_000_000), 50_000)
    adjustment = (min(base * rate_m // 200, computed[0]), min(base * rate_p // 200, computed[1]))
    credit_total = sum(v for _, v in r.tax_credits)
    credit_m = credit_total * rate_m // (rate_m + rate_p)
    after = (computed[0] - adjustment[0], computed[1] - adjustment[1])
    credits = (min(credit_m, after[0]), min(credit_total - credit_m, after[1]))
    # 定額減税: after every other 税額控除, each capped at what is left of its 所得割.
    left = (after[0] - credits[0], after[1] - credits[1])
    flat = flat_reduction(r.fiscal_year, total, deduction_spouse=spouse_kind is not None,
                          other_spouse=spouse is not None and spouse_kind is None, dependants=len(deps),
                          rates=(rate_m, rate_p))
    flat = (0, 0) if income_exempt else (min(flat[0], left[0]), min(flat[1], left[1]))
    if income_exempt:
        levy = (0, 0)
    else:
        levy = (_floor(left[0] - flat[0], 100), _floor(left[1] - flat[1], 100))
    # 5. 均等割 and 森林環境税.
    pm, pp, forest = per_capita_rates(r.fiscal_year)
    pm += sum(x.per_capita[0] for x in local)
    pp += sum(x.per_capita[1] for x in local)
    if pm < 0 or pp < 0:
        raise TaxRuleError(f"{r.fiscal_year}年度: the local rates take a 均等割 below 0")
    per_capita = (0, 0) if per_capita_exempt else (pm, pp)
    applied = tuple(x for x in local if (x.per_capita != (0, 0) and not per_capita_exempt)
                    or (any(x.income_levy) and not income_exempt and taxable > 0))
    return ResidentTax(
        fiscal_year=r.fiscal_year,
        salary_revenue=r.salary_revenue,
        salary_income=sal,
        income_adjustment=adjustment_income,
        incomes=incomes,
        total_income=total,
        deductions=tuple(deductions),
        deductions_total=deductions_total,
        taxable_income=taxable,
        spouse=spouse_kind,
        dependants=counts,
        levy_computed=(0, 0) if income_exempt else computed,
        adjustment=(0, 0) if income_exempt else adjustment,
        credits=(0, 0) if income_exempt else credits,
        income_levy=levy,
        per_capita=per_capita,
        forest_tax=0 if per_capita_exempt else forest,
        income_levy_exempt=income_exempt,
        per_capita_exempt=per_capita_exempt,
        taxpayer_status=tuple(x for x in (r.disability, "寡婦" if r.widow and single_ok else None,
                                          "ひとり親" if r.single_parent and single_ok else None,
                                          "勤労学生" if student_ok else None,
                                          "未成年者" if minor else None) if x),
        disabled_dependants=tuple((k, disabled.count(k)) for k in DISABILITY_KINDS if k in disabled),
        exempt_as_disabled_or_single=status_exempt,
        rates=(rate_m, rate_p),
        specified_relatives=len(specified),
        exempt_as_minor=minor_exempt,
        flat_reduction=flat,
        local_rates=applied,
    )


def _check_status(r: TaxReturn) -> None:
    """The 障害者・寡婦・ひとり親 facts of ``r`` are possible and tabled, else TaxRuleError."""
    if r.disability not in (None, "障害者", "特別障害者"):
        raise TaxRuleError(f"本人の障害者区分 {r.disability!r}: 障害者 or 特別障害者 (同居特別障害者 is for a dependant)")
    for who, d in (("配偶者", r.spouse), *(("扶養親族", d) for d in r.dependants)):
        if d is not None and d.disability not in (None, *DISABILITY_KINDS):
            raise TaxRuleError(f"{who}の障害者区分 {d.disability!r}: one of {'・'.join(DISABILITY_KINDS)}")
    if r.single_parent not in (None, *SINGLE_PARENTS):
        raise TaxRuleError(f"ひとり親 {r.single_parent!r}: 母 or 父")
    if not (r.widow or r.single_parent):
        return
    what = "寡婦" if r.widow else "ひとり親"
    if r.widow and r.single_parent:
        raise TaxRuleError("寡婦 and ひとり親 exclude each other (ひとり親 takes precedence by law: give one)")
    if r.fiscal_year < SINGLE_PARENT_FROM:
        raise TaxRuleError(f"{what}: the 寡婦・寡夫 rules before 令和3年度 are not tabled ({r.fiscal_year}年度)")
    if r.single_parent and r.fiscal_year > SINGLE_PARENT_UNTIL:
        raise TaxRuleError(f"ひとり親: the 令和10年度 ひとり親控除 (330,000 円) is not tabled ({r.fiscal_year}年度)")
    if r.spouse is not None:
        raise TaxRuleError(f"{what} has no spouse (現に婚姻をしていない者)")
    if r.single_parent and not any(d.income <= dependant_income_limit(r.fiscal_year) for d in r.dependants):
        raise TaxRuleError("ひとり親 needs a child among the 扶養親族 within the 扶養 income limit")


# ---------------------------------------------------------------- 納税 (payments)


@dataclass(frozen=True)
class Instalment:
    """One 期 of a tax: its share, its 納期限 and what was paid towards it."""

    period: int
    """期 (1 = 第1期); in 特別徴収, the month's order from June (1 = 6月分)."""
    due_on: date
    """納期限, already moved off a closed day."""
    amount: int
    paid: int
    month: int | None = None
    """特別徴収: the month of salary the tax is withheld from (6 = 6月分); None for a 期."""

    @property
    def unpaid(self) -> int:
        return self.amount - self.paid


WITHHELD: Final = "特別徴収"
"""The 個人住民税 withheld from salary by the employer (地方税法 321条の3 ff.), as against the
普通徴収 the taxpayer pays in 期."""


def withheld_instalments(fiscal_year: int, assessed: int, paid: int, *,
                         reduction: int = 0) -> tuple[Instalment, ...]:
    """``assessed`` as the employer withholds it (特別徴収), payments applied oldest first.

    Twelve months, June to May: each month the twelfth rounded down to 100 円, June
    taking the rest (地方税法 321条の5); each paid in by the 10th of the next month
    (the same article), moved off a closed day as any 納期限. In 令和6年度 with a 定額減税
    (``reduction``, already taken off ``assessed``) nothing is withheld in June and the
    rest is split over the eleven months from July the same way, July taking the rest
    (the 令和6年度税制改正's rule for 特別徴収).
    """
    if assessed < 0 or paid < 0 or paid > assessed:
        raise TaxRuleError(f"paid {paid} must be between 0 and the assessed {assessed}")
    if reduction < 0:
        raise TaxRuleError(f"a 定額減税 of {reduction} cannot be negative")
    months = [(fiscal_year, m) for m in range(6, 13)] + [(fiscal_year + 1, m) for m in range(1, 6)]
    if fiscal_year == FLAT_REDUCTION_YEAR and reduction:
        months = months[1:]
    share = _floor(assessed // len(months), 100)
    amounts = [assessed - share * (len(months) - 1)] + [share] * (len(months) - 1)
    out = []
    left = paid
    for (year, month), amount in zip(months, amounts, strict=True):
        p = min(amount, left)
        left -= p
        due = date(year + (month == 12), month % 12 + 1, 10)
        out.append(Instalment(period=(month - 6) % 12 + 1, due_on=due_date(due), amount=amount, paid=p,
                              month=month))
    return tuple(out)


def due_date(nominal: date) -> date:
    """The 納期限: ``nominal``, or the next business day when it falls on a Saturday,
    Sunday, national holiday or 29 December – 3 January (地方税法 20条の5)."""
    day = nominal
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def instalments(assessed: int, paid: int, nominal_due: tuple[date, ...], *,
                reduction: int = 0) -> tuple[Instalment, ...]:
    """``assessed`` split over the 期 of ``nominal_due``, payments applied oldest first.

    Every 期 after the first is the equal share rounded down to 1,000 円; the
    first takes the rest (地方税法 320条: the odd amount goes to 第1期).

    ``reduction``: the 定額減税 already taken off ``assessed`` (令和6年度, :func:`flat_reduction`).
    普通徴収 splits the tax before it and takes it off 第1期, then 第2期 and on, as
    long as it lasts: a 令和6年度 notice of 212,500 円 less 40,000 reads 13,500, 53,000,
    53,000, 53,000, not four even shares of 172,500.
    """
    if not nominal_due:
        raise TaxRuleError("a tax needs at least one 納期限")
    if assessed < 0 or paid < 0 or paid > assessed:
        raise TaxRuleError(f"paid {paid} must be between 0 and the assessed {assessed}")
    if reduction < 0:
        raise TaxRuleError(f"a 定額減税 of {reduction} cannot be negative")
    n = len(nominal_due)
    before = assessed + reduction
    share = _floor(before // n, 1_000) if n > 1 else before
    amounts = [before - share * (n - 1)] + [share] * (n - 1)
    for i, amount in enumerate(amounts):
        taken = min(amount, reduction)
        amounts[i], reduction = amount - taken, reduction - taken
    out = []
    left = paid
    for i, (amount, due) in enumerate(zip(amounts, nominal_due, strict=True), start=1):
        p = min(amount, left)
        left -= p
        out.append(Instalment(period=i, due_on=due_date(due), amount=amount, paid=p))
    return tuple(out)
