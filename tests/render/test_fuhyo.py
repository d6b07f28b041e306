"""戸籍の附票の写し: each person's addresses with the dates they were set."""

from __future__ import annotations

from pathlib import Path

import pytest

from kofu.domain.era import to_wareki
from kofu.render import InvalidDocument, render_fuhyo
from kofu.render import samples as s
from kofu.render.model import FuhyoEntry
from tests.render.sealing import SealKit, assert_header, compact, seal_and_read


def test_address_history(test_seal: SealKit, tmp_path: Path) -> None:
    doc = s.fuhyo(5)  # entry 4 is 山田 𠮷子, entry 5 山田 辻+U+E0102 平
    text = seal_and_read(render_fuhyo(doc).pdf, test_seal, doc, tmp_path / "f.pdf")
    flat = compact(text)
    assert "戸籍の附票の写し" in flat
    assert "この写しは、戸籍の附票の原本と相違ないことを証明する。" in flat
    assert_header(doc, text)
    assert f"本籍{compact(doc.honseki)}" in flat and f"筆頭者{compact(doc.head_name)}" in flat
    for e in doc.entries:
        assert e.name in text
        assert e.birth_date is not None and to_wareki(e.birth_date) in flat
        for address, since in e.addresses:
            assert compact(address) + to_wareki(since) in flat


def test_birth_and_sex_only_when_recorded(test_seal: SealKit, tmp_path: Path) -> None:
    entry = FuhyoEntry("山田 太郎", (("兵庫県加東市社50番地", s.HEADER["issued_on"]),))
    doc = s.fuhyo(1, entries=(entry,))
    text = compact(seal_and_read(render_fuhyo(doc).pdf, test_seal, doc, tmp_path / "f.pdf"))
    assert "生年月日" not in text and "性別" not in text


def test_entry_without_address_is_refused() -> None:
    with pytest.raises(InvalidDocument, match="no address"):
        render_fuhyo(s.fuhyo(1, entries=(FuhyoEntry("山田 太郎", ()),)))
