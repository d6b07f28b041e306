"""戸籍の附票の写し: each person's addresses with the dates they were set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kofu.domain.era import to_wareki
from kofu.render import InvalidDocument, render_fuhyo
from kofu.render import samples as s
from kofu.render.model import FuhyoEntry
from tests.render.pdftools import run
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


def test_domicile_omitted_unless_asked_for(test_seal: SealKit, tmp_path: Path) -> None:
    """Since 令和4年1月11日 本籍・筆頭者 print only on request; otherwise 「省略」."""
    doc = s.fuhyo(2, honseki=None, head_name=None)
    text = compact(seal_and_read(render_fuhyo(doc).pdf, test_seal, doc, tmp_path / "f.pdf"))
    assert "本籍省略筆頭者省略" in text and "兵庫県加東市社50番地" + to_wareki(doc.entries[0].addresses[0][1]) in text
    assert "本籍兵庫県" not in text and "筆頭者山田" not in text


def test_chosen_persons_and_closed_entry(test_seal: SealKit, tmp_path: Path) -> None:
    first, second = s.fuhyo(2).entries
    doc = s.fuhyo(2, scope="some", entries=(first, FuhyoEntry(**{**second.__dict__, "removed": True})))
    text = compact(seal_and_read(render_fuhyo(doc).pdf, test_seal, doc, tmp_path / "f.pdf"))
    assert "戸籍の附票の写し（一部）" in text and "原本のうち請求のあった者の記載と相違ない" in text
    # 「消　除」 beside the person who left, only: on their name's line.
    layout = run("pdftotext", "-layout", str(tmp_path / "f.pdf"), "-")
    marks = [line for line in layout.splitlines() if re.search(r"消\s+除", line)]
    assert len(marks) == 1 and second.name in marks[0], marks


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"scope": "part"}, "all or some"), ({"honseki": None}, "together")],
)
def test_inconsistent_documents_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidDocument, match=message):
        render_fuhyo(s.fuhyo(1, **changes))
