"""各種税証明書: 所得・課税(非課税)証明書 and 納税証明書, by 年度.

Amounts are ints of yen, printed with thousands separators (1,234,567円).
The income figures of a 年度 are those of the calendar year before it
(令和7年度 taxes 令和6年中の所得), and the certificate says so.
"""

from __future__ import annotations

from typing import Any

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


def tax_data(doc: TaxCertificateDocument) -> dict[str, Any]:
    year = fiscal_year(doc.fiscal_year)
    person = {
        "name": nonempty(doc.name, "氏名"),
        "address": nonempty(doc.address, "住所"),
        "birth": era(doc.birth_date, "生年月日"),
        "year": year,
    }
    if doc.tax_kind == "shotoku":
        title = "所得・非課税証明書" if doc.exempt else "所得・課税証明書"
        return {
            **header_data(doc, f"{year}　{title}", SENTENCE),
            **person,
            "kind": "shotoku",
            "income_year": calendar_year(doc.fiscal_year - 1) + "中の所得",
            "incomes": [[label, yen(v, label)] for label, v in doc.incomes],
            "total_income": yen(doc.total_income, "総所得金額等"),
            "deductions": [[label, yen(v, label)] for label, v in doc.deductions],
            "deductions_total": yen(sum(v for _, v in doc.deductions), "所得控除合計"),
            "taxable_income": yen(doc.taxable_income, "課税標準額"),
            "taxes": [
                [
                    doc.municipal_tax_label,
                    "非課税" if doc.exempt else yen(doc.municipal_tax, doc.municipal_tax_label),
                ],
                [
                    doc.prefectural_tax_label,
                    "非課税" if doc.exempt else yen(doc.prefectural_tax, doc.prefectural_tax_label),
                ],
            ],
        }
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
                    yen(t.assessed, "税額"),
                    yen(t.paid, "納付済額"),
                    yen(t.unpaid, "未納額"),
                    era(t.due_on, "納期限") if t.due_on else "",
                ]
            )
        return {
            **header_data(doc, "納税証明書", SENTENCE),
            **person,
            "kind": "nozei",
            "items": items,
        }
    raise InvalidDocument(f"tax_kind must be shotoku or nozei, got {doc.tax_kind!r}")


def render_tax(doc: TaxCertificateDocument) -> RenderedPdf:
    return compile_certificate("tax.typ", tax_data(doc), doc.issued_on)
