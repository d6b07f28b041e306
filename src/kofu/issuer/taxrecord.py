"""A stored tax record (the import's raw figures, docs/issuer-import.md) as the
domain's :class:`~kofu.domain.tax.TaxReturn`, and its 納税 lines per 期.

The importer runs the same functions on every record before it writes
anything, so a record that cannot be assessed is refused at import, naming
the field, rather than when a resident asks for the certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from kofu.domain.tax import (
    WITHHELD,
    Dependant,
    Instalment,
    LocalRate,
    ResidentTax,
    TaxReturn,
    instalments,
    withheld_instalments,
)

LOCAL_RATE_FIELDS = ("name", "first_year", "last_year", "municipal_per_capita", "prefectural_per_capita",
                     "municipal_rate", "prefectural_rate")
"""The fields of one of a municipality's ``local_tax_rates`` (docs/issuer-import.md)."""
MAX_LOCAL_PER_CAPITA = 3_000
"""The most a ``local_tax_rates`` entry may add to one 均等割, yen (it may take off at most the standard one)."""
MAX_LOCAL_RATE = Fraction(1)
"""The most an entry may add to (or take off) one 所得割 rate, percent."""


def local_rate(d: dict[str, Any]) -> LocalRate:
    """One stored ``local_tax_rates`` entry (as the importer checked and stored it)."""
    return LocalRate(
        name=str(d["name"]),
        first_year=int(d["first_year"]),
        last_year=int(d["last_year"]) if d.get("last_year") is not None else None,
        per_capita=(int(d.get("municipal_per_capita", 0)), int(d.get("prefectural_per_capita", 0))),
        income_levy=(Fraction(str(d.get("municipal_rate", "0"))), Fraction(str(d.get("prefectural_rate", "0")))),
    )

COMPUTED_DEDUCTIONS = ("基礎控除", "配偶者控除", "配偶者特別控除", "扶養控除", "所得金額調整控除",
                       "障害者控除", "寡婦控除", "ひとり親控除", "勤労学生控除", "特定親族特別控除")
"""Deductions the issuer computes from the household; an import may not give them."""


def is_computed_credit(kind: str) -> bool:
    """Whether a 税額控除 of ``kind`` is the 定額減税 (特別税額控除), which the issuer computes
    from the household (:func:`kofu.domain.tax.flat_reduction`): given as well, it would be
    taken twice. 住宅借入金等特別税額控除 and the like are not it."""
    return "定額減税" in kind or kind.startswith("特別税額控除")


def _dependant(d: dict[str, Any]) -> Dependant:
    return Dependant(
        birth_date=date.fromisoformat(d["birth_date"]),
        income=int(d.get("income", 0)),
        cohabiting_parent=bool(d.get("cohabiting_parent", False)),
        disability=d.get("disability"),
    )


def tax_return(data: dict[str, Any], fiscal_year: int, *, designated_city: bool = False,
               birth_date: date | None = None, local_rates: tuple[LocalRate, ...] = ()) -> TaxReturn:
    """The raw figures of a stored record (``data`` as the importer stored it);
    ``designated_city``: the municipality is a 指定都市 (its 団体コード, not the record, says so);
    ``birth_date``: the taxpayer's, from the resident record (the tax record does not carry it),
    for the 未成年者 非課税; None (as at import, which checks records one by one) takes an adult;
    ``local_rates``: the municipality's own rates (its settings, :func:`local_rate`)."""
    spouse = data.get("spouse")
    return TaxReturn(
        fiscal_year=fiscal_year,
        salary_revenue=int(data.get("salary_revenue", 0)),
        other_incomes=tuple((str(k), int(v)) for k, v in data.get("incomes", [])),
        deductions=tuple((str(k), int(v)) for k, v in data.get("deductions", [])),
        spouse=_dependant(spouse) if spouse else None,
        dependants=tuple(_dependant(d) for d in data.get("dependants", [])),
        tax_credits=tuple((str(k), int(v)) for k, v in data.get("tax_credits", [])),
        grade=int(data.get("grade", 1)),
        disability=data.get("disability"),
        widow=bool(data.get("widow", False)),
        single_parent=data.get("single_parent"),
        working_student=bool(data.get("working_student", False)),
        designated_city=designated_city,
        birth_date=birth_date,
        local_rates=local_rates,
    )


@dataclass(frozen=True)
class TaxLine:
    """One 期 of one tax on a 納税証明書."""

    name: str
    fiscal_year: int
    instalment: Instalment
    single: bool
    """Paid in one sum (printed 全期)."""


def tax_lines(data: dict[str, Any], fiscal_year: int, assessment: ResidentTax, *,
              allowance: int = 0) -> list[TaxLine]:
    """Every tax of the record split into its 期, payments applied oldest first.

    A tax without ``assessed`` is the 個人住民税 of the record itself: its
    amount is ``assessment``'s 年税額 (assessed at its municipality's rates), its
    定額減税 taken off the first 期 (:func:`kofu.domain.tax.instalments`; withheld
    from salary, ``"collection": "特別徴収"``, as :func:`kofu.domain.tax.withheld_instalments`
    withholds it), plus
    ``allowance`` (the import's check of a record alone, which does not see its
    municipality's own rates, allows for the most they can add).
    """
    out = []
    for t in data.get("taxes", []):
        assessed = t.get("assessed")
        year = int(t.get("fiscal_year") or fiscal_year)
        reduction = 0
        if assessed is None:
            assessed, reduction = assessment.total + allowance, sum(assessment.flat_reduction)
        if t.get("collection") == WITHHELD:  # 12 months from June, 納期限 computed
            parts = withheld_instalments(year, int(assessed), int(t.get("paid", 0)), reduction=reduction)
        else:
            dues = t.get("due_dates") or ([t["due_on"]] if t.get("due_on") else [])
            if not dues:
                raise ValueError(f"{t['name']}: no 納期限")
            parts = instalments(int(assessed), int(t.get("paid", 0)), tuple(date.fromisoformat(d) for d in dues),
                                reduction=reduction)
        for part in parts:
            out.append(TaxLine(str(t["name"]), year, part, len(parts) == 1))
    return out
