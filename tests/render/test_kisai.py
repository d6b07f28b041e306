"""住民票記載事項証明書: only the chosen items, sealed and read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from kofu.domain.era import to_wareki
from kofu.render import InvalidDocument, render_kisai
from kofu.render import samples as s
from tests.render.sealing import SealKit, assert_header, compact, seal_and_read


def test_chosen_items_of_each_member(test_seal: SealKit, tmp_path: Path) -> None:
    doc = s.kisai(5)  # member 5 is 山田 辻+U+E0102 平, member 4 山田 𠮷子
    text = seal_and_read(render_kisai(doc).pdf, test_seal, doc, tmp_path / "k.pdf")
    flat = compact(text)
    assert "住民票記載事項証明書" in flat
    assert "上記の事項は、住民票の記載事項と相違ないことを証明する。" in flat
    assert_header(doc, text)
    assert compact(doc.address) in flat
    assert "使用目的・提出先" in flat and compact(doc.purpose or "") in flat
    for m in doc.members:
        assert m.name in text  # exactly, variation selector and non-BMP included
        assert to_wareki(m.birth_date) in flat
        assert to_wareki(m.address_since) in flat
    assert "山田 辻\U000e0102平" in text and "山田 𠮷子" in text
    # Items not asked for are not printed.
    for m in doc.members:
        assert m.name_kana not in text
    assert "届出日" not in flat and "従前の住所" not in flat and "三木市" not in flat


def test_without_address_the_address_is_not_printed(test_seal: SealKit, tmp_path: Path) -> None:
    doc = s.kisai(1, items=("氏名", "性別"), purpose=None)
    text = compact(seal_and_read(render_kisai(doc).pdf, test_seal, doc, tmp_path / "k.pdf"))
    assert compact(doc.address) not in text and "住所" not in text
    assert "男" in text and "使用目的" not in text
    assert to_wareki(doc.members[0].birth_date) not in text


def test_unknown_item_is_refused() -> None:
    with pytest.raises(InvalidDocument, match="unknown 記載事項"):
        render_kisai(s.kisai(1, items=("氏名", "血液型")))


def test_domicile_and_householder_when_chosen(test_seal: SealKit, tmp_path: Path) -> None:
    """本籍・筆頭者 and 世帯主, chosen (and charged for), are printed with their values."""
    from dataclasses import replace

    members = tuple(
        replace(m, domicile=f"兵庫県加東市社{50 + i}番地", domicile_head=f"山田 {['一', '二'][i]}")
        for i, m in enumerate(s.kisai(2).members)
    )
    doc = s.kisai(2, members=members, householder="山田 太郎",
                  items=("氏名", "住所", "世帯主", "本籍", "筆頭者"))
    text = seal_and_read(render_kisai(doc).pdf, test_seal, doc, tmp_path / "k.pdf")
    flat = compact(text)
    assert_header(doc, text)
    assert "世帯主" in flat and compact(doc.householder) in flat
    for m in members:
        assert compact(m.domicile or "") in flat and compact(m.domicile_head or "") in flat
    assert flat.count("本籍") == 2 and flat.count("筆頭者") == 2  # one label per member


def test_domicile_not_chosen_is_not_printed(test_seal: SealKit, tmp_path: Path) -> None:
    from dataclasses import replace

    members = tuple(replace(m, domicile="兵庫県加東市社77番地", domicile_head="山田 一") for m in s.kisai(1).members)
    doc = s.kisai(1, members=members, householder="山田 太郎")
    flat = compact(seal_and_read(render_kisai(doc).pdf, test_seal, doc, tmp_path / "k.pdf"))
    assert "本籍" not in flat and "77番地" not in flat and "世帯主" not in flat and "山田一" not in flat
