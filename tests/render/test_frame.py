"""What every kind shares, measured on the PDF as printed: the title clear of the
証明書番号, 「以下余白」 after the last entry, the mayor's line in one place, the
seal in black, and a short 証明書番号 instead of the serial."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from kofu.domain.ids import issue_number, luhn_check_digit
from kofu.render import (
    render_fuhyo,
    render_inkan,
    render_juminhyo,
    render_kisai,
    render_koseki,
    render_tax,
)
from kofu.render import samples as s
from tests.render.pdftools import run

KINDS: dict[str, Callable[[], tuple[Any, bytes]]] = {
    "世帯全員の住民票の写し": lambda: (d := s.household(7), render_juminhyo(d).pdf),
    "住民票の写し": lambda: (d := s.household(1, scope="members"), render_juminhyo(d).pdf),
    "住民票記載事項証明書": lambda: (d := s.kisai(3), render_kisai(d).pdf),
    "印鑑登録証明書": lambda: (d := s.inkan(), render_inkan(d).pdf),
    "所得・課税証明書": lambda: (d := s.tax_shotoku(), render_tax(d).pdf),
    "納税証明書": lambda: (d := s.tax_nozei(), render_tax(d).pdf),
    "戸籍全部事項証明書": lambda: (d := s.koseki(), render_koseki(d).pdf),
    "戸籍の附票の写し": lambda: (d := s.fuhyo(), render_fuhyo(d).pdf),
}

Word = tuple[float, float, float, float, str]  # xMin, yMin, xMax, yMax, text


def words(path: Path) -> list[list[Word]]:
    """Each page's words with their boxes (points, from the top left), by pdftotext -bbox."""
    xhtml = run("pdftotext", "-bbox", str(path), "-")
    root = ET.fromstring(re.sub(r"<!DOCTYPE[^>]*>", "", xhtml))
    pages = []
    for page in root.iter("{http://www.w3.org/1999/xhtml}page"):
        pages.append([
            (float(w.get("xMin", 0)), float(w.get("yMin", 0)), float(w.get("xMax", 0)), float(w.get("yMax", 0)),
             w.text or "")
            for w in page.iter("{http://www.w3.org/1999/xhtml}word")
        ])
    return pages


@pytest.fixture(scope="module", params=list(KINDS))
def printed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any, Path]:
    doc, pdf = KINDS[request.param]()
    path = tmp_path_factory.mktemp("frame") / "c.pdf"
    path.write_bytes(pdf)
    return request.param, doc, path


def _overlap(a: Word, b: Word) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_title_never_touches_the_number(printed: tuple[str, Any, Path]) -> None:
    _kind, doc, path = printed
    number = issue_number(doc.certificate_serial, doc.issued_on)
    for page in words(path):
        title = [w for w in page if w[3] - w[1] > 14 and w[1] < 150]  # the only text set at 17 pt up there
        serial = [w for w in page if w[4] in ("証明書番号", number)]
        assert title and len(serial) == 2, (title, serial)
        for t in title:
            for n in serial:
                assert not _overlap(t, n), (t, n)
            # The number's line is wholly above the title's.
            assert max(n[3] for n in serial) < t[1]
        # Centred on the page (A4 is 595 pt wide).
        centre = (min(t[0] for t in title) + max(t[2] for t in title)) / 2
        assert abs(centre - 595.28 / 2) < 2, centre


def test_short_number_with_year_and_check_digit(printed: tuple[str, Any, Path]) -> None:
    _kind, doc, path = printed
    text = run("pdftotext", str(path), "-")
    number = issue_number(doc.certificate_serial, doc.issued_on)
    assert re.fullmatch(r"2026-\d{7}-\d", number) and number in text
    body = number[:4] + number[5:12]
    assert int(number[-1]) == luhn_check_digit(body)
    # The long serial is in the keywords (and the QR), not printed.
    assert not re.search(r"\b" + re.escape(doc.certificate_serial) + r"\b", text)


def test_blank_after_the_last_entry_and_the_mayor_in_one_place(
    printed: tuple[str, Any, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    kind, _doc, path = printed
    pages = words(path)
    last = pages[-1]
    blank = [w for w in last if w[4] == "以下余白"]
    assert len(blank) == 1, kind
    certification = min(w[1] for w in last if w[4].startswith(("上記", "この写し", "これは")))
    entries = [w for w in last if w[1] < blank[0][1] and w[3] - w[1] <= 14]
    # Entries above it, nothing between it and the certification.
    assert entries and blank[0][1] < certification
    # (The seal impression's characters, larger than any text, stand beside the certification.)
    assert not any(blank[0][3] < w[1] < certification and w[3] - w[1] <= 14 for w in last), kind
    mayor = [w for w in last if w[4] == "加東市長"]
    assert len(mayor) == 1
    reference = _mayor_y(_printed_path("住民票の写し", tmp_path_factory))
    assert abs(mayor[0][1] - reference) < 0.5, (kind, mayor[0][1], reference)


# Sizes whose entries fill their last sheet to the foot, so the certification has no room
# beside them (before, it stood alone on a sheet of its own after 「以下余白」).
FULL_SHEETS: dict[str, tuple[Callable[[], bytes], str]] = {
    # (the document, a word that starts each entry and is not in the sheets' header)
    "戸籍全部事項証明書 of 3": (lambda: render_koseki(s.koseki(3)).pdf, "【名】"),
    "戸籍全部事項証明書 of 6": (lambda: render_koseki(s.koseki(6)).pdf, "【名】"),
    "戸籍の附票の写し of 9": (lambda: render_fuhyo(s.fuhyo(9)).pdf, "氏名"),
    "住民票記載事項証明書 of 8": (lambda: render_kisai(s.kisai(8)).pdf, "氏名"),
}


@pytest.mark.parametrize("case", list(FULL_SHEETS))
def test_the_certification_never_stands_alone_on_a_sheet(case: str, tmp_path: Path) -> None:
    """The last entry moves to the next sheet with the certification: a sheet bearing the
    mayor's seal always shows some of what it certifies, and 「以下余白」 is on that sheet."""
    path = tmp_path / "c.pdf"
    document, entry = FULL_SHEETS[case]
    path.write_bytes(document())
    pages = words(path)
    assert len(pages) >= 2, case
    last = pages[-1]
    blank = [w for w in last if w[4] == "以下余白"]
    assert len(blank) == 1, case
    assert any(w[4].startswith(entry) and w[1] < blank[0][1] for w in last), case
    assert any(w[4].startswith(("これは", "この写し", "上記")) for w in last)
    assert not any(w[4] == "以下余白" for page in pages[:-1] for w in page)


def _printed_path(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("frame") / "c.pdf"
    path.write_bytes(KINDS[kind]()[1])
    return path


def _mayor_y(path: Path) -> float:
    """Where the mayor's line stands on the last page (the reference every kind must match)."""
    return next(w[1] for w in words(path)[-1] if w[4] == "加東市長")


# The 印鑑登録証明書 prints the registered impression as registered (in its colour); every other kind's seal is black.
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "印鑑登録証明書"])
def test_seal_prints_in_black(kind: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = _printed_path(kind, tmp_path_factory)
    pages = words(path)
    run("pdftoppm", "-r", "50", "-png", "-f", str(len(pages)), "-l", str(len(pages)), str(path), str(tmp_path / "p"))
    png = next(tmp_path.glob("p*.png"))
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    coloured = (np.abs(rgb[..., 0] - rgb[..., 1]) > 40) | (np.abs(rgb[..., 0] - rgb[..., 2]) > 40)
    assert not coloured.any(), kind
