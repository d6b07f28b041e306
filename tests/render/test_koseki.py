"""戸籍証明書: 全部事項 and 個人事項, 除籍 marks, page numbers, exact MJ names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from kofu.domain.era import to_wareki
from kofu.render import InvalidDocument, render_koseki
from kofu.render import samples as s
from kofu.render.model import KosekiPerson
from tests.render.pdftools import pdftotext, run
from tests.render.sealing import SealKit, assert_header, compact, seal_and_read
from tests.render.test_juminhyo import _diff_box, _raster


def _assert_person(p: KosekiPerson, text: str) -> None:
    flat = compact(text)
    assert p.name in text  # exactly, variation selectors and non-BMP included
    assert f"【名】{compact(p.name)}" in flat
    assert f"【生年月日】{to_wareki(p.birth_date)}" in flat
    if p.spouse_role:
        assert f"【生年月日】{to_wareki(p.birth_date)}【配偶者区分】{p.spouse_role}" in flat
    assert f"【父】{compact(p.father)}" in flat and f"【母】{compact(p.mother)}" in flat
    assert f"【続柄】{p.relationship}" in flat
    if p.adoptive_relationship:
        # 付録第22号様式 記載例: the birth parents' 続柄, then 【養父】【養母】 and 養子/養女.
        assert (f"【母】{compact(p.mother)}【続柄】{p.relationship}【養父】{compact(p.adoptive_father)}"
                f"【養母】{compact(p.adoptive_mother)}【続柄】{p.adoptive_relationship}身分事項") in flat
    for label, body in p.events:
        assert label in flat and compact(body) in flat


def test_all_persons(test_seal: SealKit, tmp_path: Path) -> None:
    doc = s.koseki(4)
    rendered = render_koseki(doc)
    text = seal_and_read(rendered.pdf, test_seal, doc, tmp_path / "k.pdf")
    flat = compact(text)
    assert "戸籍全部事項証明書" in flat
    assert "これは、戸籍に記録されている事項の全部を証明した書面である。" in flat
    assert_header(doc, text)
    assert f"本籍{compact(doc.honseki)}" in flat and f"氏名{compact(doc.head_name)}" in flat
    for label, body in doc.koseki_events:
        assert label in flat and compact(body) in flat
    for p in doc.persons:
        _assert_person(p, text)
    # 【名】 is the given name alone: the 氏 prints once, as the 筆頭者's.
    assert "【名】山田" not in flat and "【名】太郎" in flat
    # The wife: 【続柄】 to her parents, 夫/妻 as the 配偶者区分; 【性別】 is not a 戸籍 item.
    assert "【続柄】妻" not in flat and "【配偶者区分】妻" in flat and "【性別】" not in flat
    # 「除　籍」 beside exactly the removed persons: 𠮷子 married out, and
    # her 婚姻 entry says where she went; there is no separate 除籍 event.
    assert [p.removed for p in doc.persons] == [False, False, False, True]
    assert "【新本籍】大阪府大阪市北区中之島一丁目3番【称する氏】夫の氏" in flat
    assert "【除籍日】" not in flat
    # The mark's two characters stand apart; in reading layout they share the name's line.
    layout = run("pdftotext", "-layout", str(tmp_path / "k.pdf"), "-")
    marks = [line for line in layout.splitlines() if re.search(r"除\s+籍", line)]
    assert len(marks) == 1 and "𠮷子" in marks[0], marks
    assert "以下余白" in flat


def test_one_person(test_seal: SealKit, tmp_path: Path) -> None:
    doc = s.koseki(4, scope="self", self_index=1)
    text = seal_and_read(render_koseki(doc).pdf, test_seal, doc, tmp_path / "k.pdf")
    flat = compact(text)
    assert (
        "戸籍個人事項証明書" in flat
        and "一部の者について記録されている事項を証明した書面である" in flat
    )
    _assert_person(doc.persons[1], text)
    for i, p in enumerate(doc.persons):
        if i != 1:
            assert f"【名】{compact(p.name)}" not in flat
    assert not re.search(r"除\s+籍", run("pdftotext", "-layout", str(tmp_path / "k.pdf"), "-"))


def test_chosen_persons(test_seal: SealKit, tmp_path: Path) -> None:
    """戸籍法 10条: a 個人事項証明書 of two persons chosen from the register, in its order."""
    doc = s.koseki(4, scope="self", chosen=(1, 3))
    text = seal_and_read(render_koseki(doc).pdf, test_seal, doc, tmp_path / "k.pdf")
    flat = compact(text)
    assert "戸籍個人事項証明書" in flat
    _assert_person(doc.persons[1], text)
    _assert_person(doc.persons[3], text)
    assert flat.index(f"【名】{compact(doc.persons[1].name)}") < flat.index(f"【名】{compact(doc.persons[3].name)}")
    for i in (0, 2):
        assert f"【名】{compact(doc.persons[i].name)}" not in flat


def test_adoptee_prints_birth_and_adoptive_parents(test_seal: SealKit, tmp_path: Path) -> None:
    from dataclasses import replace

    child = s.koseki_person(2)
    adoptee = replace(child, name="健", father="甲野 一郎", mother="甲野 春子", relationship="長男",
                      adoptive_father="山田 太郎", adoptive_mother="山田 花子", adoptive_relationship="養子")
    doc = s.koseki(3, persons=(*s.koseki(2).persons, adoptee))
    text = seal_and_read(render_koseki(doc).pdf, test_seal, doc, tmp_path / "k.pdf")
    _assert_person(adoptee, text)
    flat = compact(text)
    # The others carry no adoptive lines; 養子 is never the 続柄 to the birth parents.
    assert flat.count("【養父】") == 1 and flat.count("【続柄】養子") == 1
    assert "【母】甲野春子【続柄】養子" not in flat


def test_long_register_numbers_every_page(test_seal: SealKit, tmp_path: Path) -> None:
    doc = s.koseki(9)  # persons 5 and 6 are 辻+U+E0102 and 𠮷
    rendered = render_koseki(doc)
    assert rendered.pages >= 2
    text = seal_and_read(rendered.pdf, test_seal, doc, tmp_path / "k.pdf")
    path = tmp_path / "k.pdf"
    n = rendered.pages
    for page in range(1, n + 1):
        assert f"{n}枚中{page}枚目" in pdftotext(path, page)
    assert "証明した書面である" in pdftotext(path, n) and "証明した書面" not in pdftotext(path, 1)
    for p in doc.persons:
        _assert_person(p, text)
    assert "辻\U000e0102平" in text and "𠮷子" in text


def test_variation_sequences_select_their_own_glyph(tmp_path: Path) -> None:
    """辻+U+E0102 (MJ025760) and 辻+U+E0103 (MJ025761) print as different glyphs."""

    def page(name: str, tag: str) -> Image.Image:
        first = s.koseki_person(0)
        person = KosekiPerson(**{**first.__dict__, "name": name})
        return _raster(render_koseki(s.koseki(1, persons=(person,))).pdf, tmp_path, tag)

    e0102, e0103 = page("辻\U000e0102 一", "a"), page("辻\U000e0103 一", "b")
    box = _diff_box(e0102, e0103)
    assert box is not None, "the variation selector did not change the glyph"
    x0, y0, x1, y1 = box
    assert x1 - x0 <= 40 and y1 - y0 <= 40, box  # one character of the 13 pt name


def replace_person(**changes: str) -> KosekiPerson:
    return KosekiPerson(**{**s.koseki_person(2).__dict__, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"persons": ()}, "at least one person"),
        ({"scope": "self", "self_index": 7}, "person index 7"),
        ({"scope": "self", "chosen": (0, 9)}, "person index 9"),
        ({"scope": "self", "chosen": (1, 0)}, "in register order"),
        ({"scope": "partial"}, "all or self"),
        ({"honseki": " "}, "本籍"),
        ({"persons": (replace_person(adoptive_relationship="養女"),)}, "without a 養父 or 養母"),
        ({"persons": (replace_person(adoptive_father="山田 一"),)}, "without their 続柄"),
        ({"persons": (replace_person(adoptive_father="山田 一", adoptive_relationship="養男"),)}, "養子 or 養女"),
    ],
)
def test_invalid_registers_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidDocument, match=message):
        render_koseki(s.koseki(2, **changes))
