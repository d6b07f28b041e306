"""各種税証明書: 所得・課税(非課税)証明書 and 納税証明書, by 年度.

Amounts are ints of yen, printed with thousands separators (1,234,567円).
The income figures of a 年度 are those of the calendar year before it
(令和7年度 taxes 令和6年中の所得), and the certificate says so. The
所得・課税証明書 prints the assessment :func:`kofu.domain.tax.assess` made
(収入 and 所得 with the 所得金額調整控除, 所得控除 with 配偶者特別控除, 障害者控除, 寡婦控除,
ひとり親控除, 勤労学生控除 and 特定親族特別控除, 本人該当区分 and the 障害者 among the household,
課税標準額, 所得割 with 調整控除, 税額控除 and 定額減税 (at 8 % / 2 % in a 指定都市), 均等割, 森林環境税,
年税額, and what the municipality's and prefecture's own rates add); the 納税証明書 prints one line per 期.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from kofu.domain.tax import (
    FLAT_REDUCTION_YEAR,
    SINGLE_PARENT_FROM,
    ResidentTax,
    per_capita_rates,
    status_exemption_limit,
)
from kofu.render._common import (
    calendar_year,
    compile_certificate,
    era,
    fiscal_year,
    header_data,
    nonempty,
    yen,
)
from kofu.render.errors import InvalidDocument
from kofu.render.model import RenderedPdf, TaxCertificateDocument

SENTENCE = "上記のとおり相違ないことを証明する。"



def exempt_note(fiscal_year: int, *, status: bool = True, minor: bool = False) -> str:
    """Why a 障害者・寡婦・ひとり親 (``status``) or a 未成年者 (``minor``) is 非課税 (地方税法
    295条 ①二), with the year's limit (寡夫 before 令和3年度, ひとり親 since); one note for both."""
    who = []
    if status:
        who.append("障害者・寡婦・ひとり親" if fiscal_year >= SINGLE_PARENT_FROM else "障害者・寡婦・寡夫")
    if minor:
        who.append("未成年者")
    if not who:
        return ""
    return f"{'・'.join(who)}（前年の合計所得金額{status_exemption_limit(fiscal_year) // 10_000}万円以下）のため非課税"


def local_rate_note(t: ResidentTax, labels: tuple[str, str]) -> str:
    """What the municipality's and prefecture's own rates (超過課税, 減税) add to the amounts
    printed, named by the tax's label (市民税, 県民税 …): 「県民税均等割額には県民緑税800円を含む」."""
    parts = []
    for x in t.local_rates:
        for i, label in enumerate(labels):
            what = []
            if x.per_capita[i] and not t.per_capita_exempt:
                what.append(f"均等割額には{x.name}{x.per_capita[i]:,}円")
            if x.income_levy[i] and not t.income_levy_exempt:
                what.append(f"所得割額には{x.name}（税率{_percent(x.income_levy[i])}％）")
            parts += [f"{label}{w}" for w in what]
    return "、".join(parts) + ("を含む" if parts else "")


def _percent(rate: Fraction) -> str:
    """A rate in percent as the ordinance writes it: 0.025, -0.3 (never a float's digits)."""
    text = f"{Decimal(rate.numerator) / Decimal(rate.denominator):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _shotoku(doc: TaxCertificateDocument, person: dict[str, Any], year: str) -> dict[str, Any]:
    t = doc.assessment
    if t is None:
        raise InvalidDocument("a 所得・課税証明書 needs the assessment")
    if t.fiscal_year != doc.fiscal_year:
        raise InvalidDocument(f"the assessment is of {t.fiscal_year}, the certificate of {doc.fiscal_year}")
    if t.deductions_total != sum(v for _, v in t.deductions):
        raise InvalidDocument("所得控除合計 is not the sum of the deductions")
    title = "所得・非課税証明書" if t.exempt else "所得・課税証明書"
    incomes = []
    for label, v in t.incomes:
        revenue = yen(t.salary_revenue, "給与収入") if label == "給与所得" else ""
        incomes.append([label, revenue, yen(v, label)])
        if label == "給与所得" and t.income_adjustment:
            # 給与所得 is printed after it; the adjustment is shown so the row reconciles.
            incomes.append(["所得金額調整控除額（給与所得から控除済）", "", yen(t.income_adjustment, "所得金額調整控除額")])
    m_label, p_label = doc.municipal_tax_label, doc.prefectural_tax_label

    def row(label: str, pair: tuple[int, int], exempt: bool = False) -> list[str]:
        if exempt:
            return [label, "非課税", "非課税", "非課税"]
        return [label, yen(pair[0], f"{m_label}{label}"), yen(pair[1], f"{p_label}{label}"),
                yen(pair[0] + pair[1], label)]

    deps = t.dependants
    listed = [f"{k}{n}人" for k, n in deps.items() if n]
    dependants = f"{sum(deps.values())}人" + (f"（{'・'.join(listed)}）" if listed else "")
    disabled = [f"{k}{n}人" for k, n in t.disabled_dependants]
    status = "・".join(t.taxpayer_status) or "該当なし"
    taxes = [
        row("算出所得割額", t.levy_computed, t.income_levy_exempt),
        row("調整控除額", t.adjustment, t.income_levy_exempt),
        row("税額控除額", t.credits, t.income_levy_exempt),
        # 定額減税 (特別税額控除): every 令和6年度 certificate, so a receiver can tell the 所得割
        # before it; in 令和7年度 only for the spouse case that has one.
        *([row("定額減税額", t.flat_reduction, t.income_levy_exempt)]
          if t.fiscal_year == FLAT_REDUCTION_YEAR or any(t.flat_reduction) else []),
        row("所得割額", t.income_levy, t.income_levy_exempt),
        row("均等割額", t.per_capita, t.per_capita_exempt),
        row("合計", (t.municipal, t.prefectural), t.exempt),
    ]
    return {
        **header_data(doc, f"{year}　{title}", SENTENCE),
        **person,
        "kind": "shotoku",
        "income_year": calendar_year(doc.fiscal_year - 1) + "中の所得",
        "incomes": incomes,
        "total_income": yen(t.total_income, "総所得金額等"),
        "deductions": [[label, yen(v, label)] for label, v in t.deductions],
        "deductions_total": yen(t.deductions_total, "所得控除合計"),
        "taxable_income": yen(t.taxable_income, "課税標準額"),
        "spouse": f"有（{t.spouse}）" if t.spouse else "無",
        "dependants": dependants,
        "status": status,
        "disabled": f"{sum(n for _, n in t.disabled_dependants)}人" + (f"（{'・'.join(disabled)}）" if disabled else ""),
        # 地方税法 295条 ①二: why a household over the 非課税限度額 is 非課税.
        "exempt_note": exempt_note(t.fiscal_year, status=t.exempt_as_disabled_or_single, minor=t.exempt_as_minor),
        "local_rate_note": local_rate_note(t, (m_label, p_label)),
        "tax_columns": [m_label, p_label],
        "taxes": taxes,
        # 森林環境税 from 令和6年度 only; 非課税 with the 均等割.
        "forest_tax": "" if not per_capita_rates(t.fiscal_year)[2] else (
            "非課税" if t.per_capita_exempt else yen(t.forest_tax, "森林環境税")),
        "total": "非課税" if t.exempt else yen(t.total, "年税額"),
    }


def tax_data(doc: TaxCertificateDocument) -> dict[str, Any]:
    year = fiscal_year(doc.fiscal_year)
    person = {
        "name": nonempty(doc.name, "氏名"),
        "address": nonempty(doc.address, "住所"),
        "birth": era(doc.birth_date, "生年月日"),
        "year": year,
    }
    if doc.tax_kind == "shotoku":
        return _shotoku(doc, person, year)
    if doc.tax_kind == "nozei":
        if not doc.tax_items:
            raise InvalidDocument("a 納税証明書 needs at least one tax item")
        items = []
        for t in doc.tax_items:
            if t.paid + t.unpaid != t.assessed:
                raise InvalidDocument(
                    f"{t.tax_name}: paid {t.paid} + unpaid {t.unpaid} is not the assessed {t.assessed}"
                )
            items.append(
                [
                    t.tax_name,
                    fiscal_year(t.fiscal_year),
                    f"{t.month}月分" if t.month else f"第{t.period}期" if t.period else "全期",
                    era(t.due_on, "納期限") if t.due_on else "",
                    yen(t.assessed, "税額"),
                    yen(t.paid, "納付済額"),
                    yen(t.unpaid, "未納額"),
                ]
            )
        totals = [
            yen(sum(t.assessed for t in doc.tax_items), "税額合計"),
            yen(sum(t.paid for t in doc.tax_items), "納付済額合計"),
            yen(sum(t.unpaid for t in doc.tax_items), "未納額合計"),
        ]
        return {
            **header_data(doc, "納税証明書", SENTENCE),
            **person,
            "kind": "nozei",
            "items": items,
            "totals": totals,
        }
    raise InvalidDocument(f"tax_kind must be shotoku or nozei, got {doc.tax_kind!r}")


def render_tax(doc: TaxCertificateDocument) -> RenderedPdf:
    return compile_certificate("tax.typ", tax_data(doc), doc.issued_on)
