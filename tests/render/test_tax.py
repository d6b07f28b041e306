"""各種税証明書: 所得・課税(非課税)証明書 and 納税証明書, amounts read back exactly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kofu.domain.era import to_wareki
from kofu.render import InvalidDocument, render_tax
from kofu.render import samples as s
from tests.render.sealing import SealKit, assert_header, compact, seal_and_read


def test_shotoku(test_seal: SealKit, tmp_path: Path) -> None:
    doc = s.tax_shotoku()  # fiscal year 2026
    text = seal_and_read(render_tax(doc).pdf, test_seal, doc, tmp_path / "t.pdf")
    flat = compact(text)
    assert "令和8年度" in flat and "所得・課税証明書" in flat and "非課税" not in flat
    assert "令和7年中の所得" in flat
    assert "上記のとおり相違ないことを証明する。" in flat
    assert_header(doc, text)
    assert compact(doc.name) in flat and compact(doc.address) in flat
    assert to_wareki(doc.birth_date) in flat
    for label, amount in (*doc.incomes, *doc.deductions):
        assert f"{label}{amount:,}円" in flat
    assert f"総所得金額等{doc.total_income:,}円" in flat
    assert f"課税標準額{doc.taxable_income:,}円" in flat
    assert f"所得控除合計{sum(v for _, v in doc.deductions):,}円" in flat
    assert f"市民税{doc.municipal_tax:,}円" in flat and f"県民税{doc.prefectural_tax:,}円" in flat
    assert "3,456,000円" in flat  # thousands separators, as printed


def test_shotoku_exempt(test_seal: SealKit, tmp_path: Path) -> None:
    doc = s.tax_shotoku(exempt=True, fiscal_year=2019)
    text = compact(seal_and_read(render_tax(doc).pdf, test_seal, doc, tmp_path / "t.pdf"))
    assert "令和元年度" in text and "所得・非課税証明書" in text and "平成30年中の所得" in text
    assert "市民税非課税" in text and "県民税非課税" in text
    assert f"{doc.municipal_tax:,}円" not in text


def test_nozei(test_seal: SealKit, tmp_path: Path) -> None:
    doc = s.tax_nozei()
    text = seal_and_read(render_tax(doc).pdf, test_seal, doc, tmp_path / "t.pdf")
    flat = compact(text)
    assert "納税証明書" in flat
    assert_header(doc, text)
    for t in doc.tax_items:
        row = f"{compact(t.tax_name)}令和8年度{t.assessed:,}円{t.paid:,}円{t.unpaid:,}円"
        assert row + (to_wareki(t.due_on) if t.due_on else "") in flat, row


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"municipal_tax": -1}, "negative"),
        ({"incomes": (("給与所得", 1.5),)}, "int of yen"),
        ({"tax_kind": "kotei"}, "shotoku or nozei"),
        ({"fiscal_year": 1800}, "fiscal year"),
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
