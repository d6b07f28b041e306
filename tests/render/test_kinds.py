"""Every kind other than the 住民票の写し: rendered from the samples, sealed,
and read back as a receiver would (pdftotext), field by field against the
values it was made from; the seal checked with pyHanko's validator."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kofu.domain.era import to_wareki
from kofu.lgpki.ca import LgpkiAuthority
from kofu.lgpki.seal import Sealer, verify_seal
from kofu.render import (
    InvalidDocument,
    render_fuhyo,
    render_inkan,
    render_kisai,
    render_koseki,
    render_tax,
)
from kofu.render import samples as s
from kofu.render._common import fiscal_year
from tests.render.pdftools import pdftotext
from tests.render.test_juminhyo import _diff_box, _raster


@pytest.fixture(scope="module")
def seal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sealer, Path]:
    ca = LgpkiAuthority.init(tmp_path_factory.mktemp("lgpki"))
    cert = ca.issue_seal("282286", "加東市")
    return Sealer.from_files(cert.cert_path, cert.key_path, list(cert.chain)), ca.ca_path


def sealed_text(pdf: bytes, seal: tuple[Sealer, Path], tmp_path: Path, binding: str) -> str:
    sealer, root = seal
    signed = sealer.seal(pdf)
    info = verify_seal(signed, trust_roots=[root])
    assert info.binding == binding and info.municipality_code == "282286"
    path = tmp_path / "doc.pdf"
    path.write_bytes(signed)
    return compact(pdftotext(path))


def compact(value: str) -> str:
    """Without spaces and line breaks: pdftotext breaks lines where the layout does."""
    return "".join(value.split())


def common_fields(doc: Any, text: str) -> None:
    assert doc.certificate_serial in text
    assert to_wareki(doc.issued_on) in text
    assert compact(doc.mayor_title) in text and compact(doc.mayor_name) in text


def test_kisai(seal, tmp_path: Path) -> None:
    doc = s.kisai(2)
    text = sealed_text(render_kisai(doc).pdf, seal, tmp_path, doc.binding)
    assert "住民票記載事項証明書" in text and "住民票の記載事項と相違ないことを証明する" in text
    common_fields(doc, text)
    for m in doc.members:
        assert compact(m.name) in text
        if "生年月日" in doc.items:
            assert to_wareki(m.birth_date) in text
    assert (compact(doc.address) in text) == ("住所" in doc.items)


def test_inkan(seal, tmp_path: Path) -> None:
    doc = s.inkan()
    pdf = render_inkan(doc).pdf
    text = sealed_text(pdf, seal, tmp_path, doc.binding)
    assert "印鑑登録証明書" in text and "登録されている印影と相違ないことを証明する" in text
    common_fields(doc, text)
    for value in (doc.registration_number, compact(doc.name), to_wareki(doc.birth_date), compact(doc.address)):
        assert value in text
    assert {"male": "男", "female": "女"}[doc.sex] in text
    # The impression is printed: an image in the PDF, not text.
    assert b"/Subtype /Image" in pdf or b"/Subtype/Image" in pdf


def test_inkan_refuses_what_is_not_a_png() -> None:
    with pytest.raises(InvalidDocument, match="not a PNG"):
        render_inkan(s.inkan(seal_image_png=b"GIF89a......"))


def test_shotoku(seal, tmp_path: Path) -> None:
    doc = s.tax_shotoku()
    text = sealed_text(render_tax(doc).pdf, seal, tmp_path, doc.binding)
    assert fiscal_year(doc.fiscal_year) in text and "所得・課税証明書" in text
    common_fields(doc, text)
    for label, amount in (*doc.incomes, *doc.deductions):
        assert label in text and f"{amount:,}円" in text
    for amount in (doc.total_income, doc.taxable_income, doc.municipal_tax, doc.prefectural_tax):
        assert f"{amount:,}円" in text


def test_shotoku_exempt_says_so(seal, tmp_path: Path) -> None:
    doc = replace(s.tax_shotoku(), exempt=True)
    text = sealed_text(render_tax(doc).pdf, seal, tmp_path, doc.binding)
    assert "所得・非課税証明書" in text and text.count("非課税") >= 3
    assert f"{doc.municipal_tax:,}円" not in text


def test_nozei(seal, tmp_path: Path) -> None:
    doc = s.tax_nozei()
    text = sealed_text(render_tax(doc).pdf, seal, tmp_path, doc.binding)
    assert "納税証明書" in text
    common_fields(doc, text)
    for item in doc.tax_items:
        assert compact(item.tax_name) in text
        for amount in (item.assessed, item.paid, item.unpaid):
            assert f"{amount:,}円" in text
        if item.due_on:
            assert to_wareki(item.due_on) in text


def test_nozei_refuses_amounts_that_do_not_add_up() -> None:
    doc = s.tax_nozei()
    bad = replace(doc.tax_items[0], paid=doc.tax_items[0].paid + 1)
    with pytest.raises(InvalidDocument, match="is not the assessed"):
        render_tax(replace(doc, tax_items=(bad,)))


@pytest.mark.parametrize("scope", ["all", "self"])
def test_koseki(seal, tmp_path: Path, scope: str) -> None:
    doc = s.koseki(4, scope=scope, self_index=1)
    rendered = render_koseki(doc)
    text = sealed_text(rendered.pdf, seal, tmp_path, doc.binding)
    common_fields(doc, text)
    assert compact(doc.honseki) in text and compact(doc.head_name) in text
    shown = doc.persons if scope == "all" else (doc.persons[1],)
    hidden = () if scope == "all" else tuple(p for i, p in enumerate(doc.persons) if i != 1)
    for p in shown:
        assert compact(p.name) in text and to_wareki(p.birth_date) in text and p.relationship in text
        for label, body in p.events:
            assert label in text and compact(body.split("\n")[0]) in text
    for p in hidden:
        assert f"【名】{compact(p.name)}" not in text
    if scope == "all":
        assert "戸籍全部事項証明書" in text and "全部を証明した書面である" in text
        assert text.count("除籍") >= sum(p.removed for p in doc.persons)
        if rendered.pages > 1:
            assert f"{rendered.pages}枚中1枚目" in text
    else:
        assert "戸籍個人事項証明書" in text


def test_fuhyo(seal, tmp_path: Path) -> None:
    doc = s.fuhyo(3)
    text = sealed_text(render_fuhyo(doc).pdf, seal, tmp_path, doc.binding)
    assert "戸籍の附票の写し" in text and "戸籍の附票の原本と相違ないことを証明する" in text
    common_fields(doc, text)
    for e in doc.entries:
        assert compact(e.name) in text
        for address, since in e.addresses:
            assert compact(address) in text and to_wareki(since) in text


def test_variation_sequences_in_a_family_register(tmp_path: Path) -> None:
    """The glyph a selector picks survives in the 戸籍 layout too (辻+U+E0102 vs U+E0103)."""

    def page(name: str, tag: str):
        first = replace(s.koseki(1).persons[0], name=name)
        return _raster(render_koseki(s.koseki(1, persons=(first,), head_name=name)).pdf, tmp_path, tag)

    box = _diff_box(page("辻\U000e0102 一", "a"), page("辻\U000e0103 一", "b"))
    assert box is not None, "the variation selector did not change the glyph"


def test_long_family_register_numbers_its_pages(tmp_path: Path) -> None:
    doc = s.koseki(9)
    rendered = render_koseki(doc)
    assert rendered.pages >= 2
    path = tmp_path / "k.pdf"
    path.write_bytes(rendered.pdf)
    assert f"{rendered.pages}枚中{rendered.pages}枚目" in pdftotext(path, page=rendered.pages)


