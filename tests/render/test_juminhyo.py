"""住民票の写し as a reader sees it: text, pages, fonts, exact glyphs."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from kofu.domain.ids import issue_number
from kofu.render import InvalidDocument, render_juminhyo
from kofu.render.errors import FontMissing, UnprintableCharacter
from kofu.render.fonts import mj_font_file
from kofu.render.samples import BINDING, document, household, member
from tests.render.pdftools import pdftotext, run

WritePdf = Callable[..., Path]


def test_two_member_household(write_pdf: WritePdf) -> None:
    rendered = render_juminhyo(household(2))
    assert rendered.pages == 1
    text = pdftotext(write_pdf(rendered.pdf))
    for expected in [
        "世帯全員の住民票の写し",
        "山田 太郎",
        "やまだ たろう",
        "山田 花子",
        "兵庫県加東市社50番地",
        "この写しは、世帯全員の住民票の原本と相違ないことを証明する。",
        "令和8年11月21日",  # issue date
        "昭和33年3月14日",  # birth
        "平成13年4月1日",  # 住民となった年月日
        "世帯主",
        "妻",
        "兵庫県三木市上の丸町10番30号",
        "加東市長",
        "安田 正義",
        issue_number("28228600000042", date(2026, 11, 21)),  # 証明書番号, not the serial
    ]:
        assert expected in text, expected
    # The long hashes stay off the page: the binding is in the keywords only.
    assert BINDING not in "".join(text.split()) and "照合番号" not in text
    assert "28228600000042" not in text
    assert "枚中" not in text  # one page: no page count
    # 本籍・筆頭者 were not asked for: 省略, and the domicile is not printed.
    assert text.count("省略") == 2


def test_selected_members_title_and_sentence(write_pdf: WritePdf) -> None:
    text = pdftotext(write_pdf(render_juminhyo(household(1, scope="members")).pdf))
    assert "この写しは、住民票の原本と相違ないことを証明する。" in text
    assert "世帯全員" not in text


def test_seven_members_take_two_numbered_pages(write_pdf: WritePdf) -> None:
    rendered = render_juminhyo(household(7))
    assert rendered.pages == 2
    path = write_pdf(rendered.pdf)
    assert run("pdfinfo", str(path)).count("Pages:           2") == 1
    first, second = pdftotext(path, 1), pdftotext(path, 2)
    assert "2枚中1枚目" in first and "2枚中2枚目" in second
    # Five members on the first page, the rest and the certification on the second;
    # the address block repeats so each sheet names the household.
    for i in range(5):
        assert member(i).name in first
    for i in (5, 6):
        assert member(i).name in second and member(i).name not in first
    assert "証明する。" in second and "証明する。" not in first
    assert "兵庫県加東市社50番地" in first and "兵庫県加東市社50番地" in second


@pytest.mark.parametrize(("n", "pages"), [(4, 1), (5, 1), (6, 2), (10, 2), (11, 3)])
def test_five_members_per_page(n: int, pages: int) -> None:
    assert render_juminhyo(household(n)).pages == pages


def test_options_shown_and_omitted(write_pdf: WritePdf) -> None:
    shown = pdftotext(write_pdf(render_juminhyo(household(2, show_domicile=True)).pdf, "a.pdf"))
    assert "省略" not in shown
    assert shown.count("兵庫県加東市社50番地") == 2  # address and 本籍
    hidden = pdftotext(
        write_pdf(render_juminhyo(household(2, show_householder_relationship=False)).pdf, "b.pdf")
    )
    assert "妻" not in hidden
    assert hidden.count("省略") == 5  # 世帯主, 2 × 続柄, 本籍, 筆頭者


def test_individual_number_only_when_asked_for(write_pdf: WritePdf) -> None:
    with_number = replace(member(0), individual_number="123456789018")
    members = (with_number, member(1))
    shown = render_juminhyo(document(members, show_individual_number=True)).pdf
    text = pdftotext(write_pdf(shown))
    assert "個人番号" in text and "123456789018" in text
    # The number is in the record but the document does not ask for it: nothing shows.
    hidden = pdftotext(write_pdf(render_juminhyo(document(members)).pdf, "n.pdf"))
    assert "個人番号" not in hidden and "123456789018" not in hidden


def test_only_the_mj_font_is_embedded_as_a_subset(write_pdf: WritePdf) -> None:
    out = run("pdffonts", str(write_pdf(render_juminhyo(household(7)).pdf)))
    rows = out.splitlines()[2:]
    assert rows, out
    for row in rows:
        assert re.match(r"[A-Z]{6}\+IPAmjMincho\s", row), row
        cols = row.split()
        # name type... encoding emb sub uni object ID
        assert cols[-5:-2] == ["yes", "yes", "yes"], row


def test_binding_is_in_the_document_keywords(write_pdf: WritePdf) -> None:
    info = run("pdfinfo", str(write_pdf(render_juminhyo(household(1)).pdf)))
    assert f"kofu-binding:{BINDING}" in info


def test_markup_characters_print_as_text(write_pdf: WritePdf) -> None:
    tricky = '#set text(red) *太* _郎_ $x$ ] [ \\ <a> @b // "q"'
    doc = document((member(0, name=tricky),), address='#panic("no")')
    text = pdftotext(write_pdf(render_juminhyo(doc).pdf))
    # The long name wraps onto a second line; compare with line breaks as spaces.
    assert tricky in " ".join(text.split())
    assert '#panic("no")' in text


def test_same_document_same_bytes() -> None:
    assert render_juminhyo(household(3)).pdf == render_juminhyo(household(3)).pdf


def _raster(pdf: bytes, tmp: Path, name: str) -> Image.Image:
    src = tmp / f"{name}.pdf"
    src.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-gray", "-f", "1", "-l", "1", "-png", str(src), str(tmp / name)],
        check=True,
    )
    (png,) = tmp.glob(f"{name}-*.png")
    return Image.open(png).convert("L")


def _diff_box(a: Image.Image, b: Image.Image) -> tuple[int, int, int, int] | None:
    return ImageChops.difference(a, b).point(lambda v: 255 if v > 64 else 0).getbbox()


def test_variation_sequences_select_their_own_glyph(tmp_path: Path) -> None:
    """辻 with U+E0102 (one-dot 辶, MJ025760) prints differently from U+E0103 (MJ025761).

    IPAmj明朝 maps 辻 alone to the same glyph as 辻+U+E0103, so those two must
    print identically, and only the character itself may differ.
    """

    def page(name: str, tag: str) -> Image.Image:
        return _raster(render_juminhyo(document((member(0, name=name),))).pdf, tmp_path, tag)

    e0102 = page("辻\U000e0102 太郎", "e0102")
    e0103 = page("辻\U000e0103 太郎", "e0103")
    plain = page("辻 太郎", "plain")
    assert _diff_box(e0103, plain) is None
    box = _diff_box(e0102, e0103)
    assert box is not None, "the variation selector did not change the glyph"
    # The difference is one character of the 14 pt name (~5 mm ≈ 30 px at 150 dpi).
    x0, y0, x1, y1 = box
    assert x1 - x0 <= 40 and y1 - y0 <= 40, box


def test_variation_selector_survives_in_the_text_layer(write_pdf: WritePdf) -> None:
    text = pdftotext(write_pdf(render_juminhyo(household(5)).pdf))
    assert "辻\U000e0102平" in text


def test_character_outside_the_bmp_prints(tmp_path: Path, write_pdf: WritePdf) -> None:
    """𠮷 (U+20BB7) is in the text layer and drawn as 吉 with 土 on top, not as a box.

    The two glyphs share every stroke but the top one, so at 150 dpi they differ
    in a few dozen pixels along the top of the character; an empty box or a
    missing glyph would differ from 吉 in hundreds.
    """
    yoshi = render_juminhyo(document((member(0, name="𠮷田 一"),))).pdf
    assert "𠮷田 一" in pdftotext(write_pdf(yoshi))
    kichi = render_juminhyo(document((member(0, name="吉田 一"),))).pdf
    a, b = _raster(yoshi, tmp_path, "tsuchi"), _raster(kichi, tmp_path, "samurai")
    box = _diff_box(a, b)
    assert box is not None, "𠮷 printed exactly like 吉"
    x0, y0, x1, y1 = box
    assert x1 - x0 <= 40 and y1 - y0 <= 15, box
    differing = ImageChops.difference(a, b).point(lambda v: 255 if v > 64 else 0).histogram()[255]
    assert differing < 100, differing


@pytest.mark.parametrize(
    ("name", "message"),
    [("한국", "U+D55C"), ("辻\U000e0101", "U+E0101"), ("\U000e0102山", "U+E0102")],
)
def test_unprintable_characters_are_refused(name: str, message: str) -> None:
    with pytest.raises(UnprintableCharacter, match=re.escape(message)):
        render_juminhyo(document((member(0, name=name),)))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"members": ()}, "at least one member"),
        ({"binding": "XYZ"}, "64 lower-case hex"),
        ({"binding": BINDING.upper()}, "64 lower-case hex"),
        ({"issued_on": date(1872, 1, 1)}, "1873"),
        ({"certificate_serial": ""}, "serial"),
    ],
)
def test_invalid_documents_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidDocument, match=message):
        render_juminhyo(replace(household(1), **changes))


def test_missing_font_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import kofu.render.fonts as fonts

    monkeypatch.delenv("KOFU_MJ_FONT", raising=False)
    monkeypatch.setattr(fonts, "_CANDIDATES", (Path("/nonexistent/ipamjm.ttf"),))
    with pytest.raises(FontMissing, match="fonts-ipamj-mincho"):
        mj_font_file()
    monkeypatch.setenv("KOFU_MJ_FONT", "/nonexistent/x.ttf")
    with pytest.raises(FontMissing, match="KOFU_MJ_FONT"):
        mj_font_file()


def test_change_reason_with_its_date(write_pdf: WritePdf) -> None:
    """異動事由 and its date; a child born here shows 出生 and no 従前の住所."""
    moved = replace(member(0), change_reason="転入", change_on=date(2001, 4, 1))
    born = replace(member(4), previous_address=None, became_resident_on=date(2019, 5, 1),
                   address_since=date(2019, 5, 1), change_reason="出生", change_on=date(2019, 5, 1))
    path = write_pdf(render_juminhyo(document((moved, born))).pdf)
    text = "".join(pdftotext(path).split())
    lines = ["".join(line.split()) for line in run("pdftotext", "-layout", str(path), "-").splitlines()]
    # The labels' line, then the values' line: 異動事由 | 従前の住所.
    assert any(line.startswith("平成13年4月1日転入兵庫県三木市上の丸町10番30号") for line in lines), lines
    assert "令和元年5月1日出生" in lines
    assert text.count("従前の住所") == 1  # only the one who moved in has one
    assert text.count("異動事由") == 2
