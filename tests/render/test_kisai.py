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
