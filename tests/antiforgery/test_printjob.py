"""The print job as printed: duplex order, signed QR, copy-evident pattern, latent image."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pypdfium2
import pytest
from PIL import Image

from kofu.antiforgery import layout as L
from kofu.antiforgery.colour import delta_e76
from kofu.antiforgery.latent import _blossom, mark_mask
from kofu.antiforgery.pantograph import word_mask
from kofu.antiforgery.qr import parse_qr_text, verify_qr
from kofu.antiforgery.simulate import photocopy, render_page, viewing
from kofu.render.samples import BINDING
from tests.conftest import require_tool

from .conftest import SERIAL, Center, Jobs


def _px(mm: float, dpi: int) -> int:
    return int(round(mm / 25.4 * dpi))


def test_duplex_order_and_front_unchanged(jobs: Jobs) -> None:
    job = pypdfium2.PdfDocument(jobs.genuine)
    front = pypdfium2.PdfDocument(jobs.front)
    assert len(job) == 2 * len(front)
    # The front page still carries the certificate's text; the back carries none.
    text = job[0].get_textpage().get_text_range()
    assert "兵庫県加東市社50番地" in text
    # The 64-hex order binding is not printed (it stays in the sealed front's keywords).
    assert BINDING not in "".join(text.split()) and "照合番号" not in text
    assert job[1].get_textpage().get_text_range().strip() == ""


def test_back_qr_reads_and_verifies(jobs: Jobs, center: Center) -> None:
    import zxingcpp

    back = render_page(jobs.genuine, 1, 300)
    found = zxingcpp.read_barcodes(back, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1
    p = verify_qr(parse_qr_text(found[0].text), center.jwks)
    assert (p.serial, p.municipality, p.kind, p.page, p.pages) == (
        SERIAL,
        "282286",
        "juminhyo",
        1,
        1,
    )
    # The municipality's name, from the sealed front's metadata, is signed with the rest.
    assert p.municipality_name == "加東市"
    # So is the title the front prints (the sample is a 世帯全員 copy), from the same metadata.
    assert p.title == "世帯全員の住民票の写し"
    # The altered certificate's text hashes differently.
    altered = zxingcpp.read_barcodes(render_page(jobs.altered, 1, 300))[0].text
    assert verify_qr(parse_qr_text(altered), center.jwks).fields_digest != p.fields_digest


def _areas(word: np.ndarray, erode: int) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    k = np.ones((erode, erode), np.uint8)
    inside = cv2.erode(word.astype(np.uint8), k).astype(bool)
    outside = ~cv2.dilate(word.astype(np.uint8), k).astype(bool)
    return inside, outside


@pytest.mark.parametrize("where", ["back band", "front, below the certificate"])
def test_copy_shows_fukusha_original_does_not(jobs: Jobs, where: str) -> None:
    if where == "back band":
        page, box = 1, L.PANTOGRAPH_BOX
        x, y, w, h = box.x, box.y, box.w, box.h
        word600 = word_mask(_px(w, 600), _px(h, 600))
    else:
        # The front underlay covers the whole page from its top left corner; the area
        # between 「以下余白」 and the certification block is blank paper.
        page, x, y, w, h = 0, 15.0, 136.0, 180.0, 88.0
        full = word_mask(_px(L.PAGE_W_MM, 600), _px(L.PAGE_H_MM, 600))
        word600 = full[
            _px(y, 600) : _px(y, 600) + _px(h, 600), _px(x, 600) : _px(x, 600) + _px(w, 600)
        ]

    copy = photocopy(jobs.genuine, page)  # 300 dpi, True = toner
    c = copy[_px(y, 300) : _px(y, 300) + _px(h, 300), _px(x, 300) : _px(x, 300) + _px(w, 300)]
    inside, outside = _areas(word600[::2, ::2][: c.shape[0], : c.shape[1]], 9)
    copy_contrast = c[inside].mean() - c[outside].mean()
    assert copy_contrast >= 0.15, copy_contrast

    view = viewing(jobs.genuine, page)  # 100 dpi, 1 = white
    v = view[_px(y, 100) : _px(y, 100) + _px(h, 100), _px(x, 100) : _px(x, 100) + _px(w, 100)]
    inside, outside = _areas(word600[::6, ::6][: v.shape[0], : v.shape[1]], 3)
    view_contrast = abs(v[inside].mean() - v[outside].mean())
    assert view_contrast <= 0.02, view_contrast
    # A light tint (it read grey at 0.78 before), yet a tint, not blank paper.
    assert 0.82 <= v[outside].mean() < 0.95, v[outside].mean()


def _latent_region(dpi: int) -> tuple[slice, slice, int]:
    b = L.LATENT_BOX
    n = _px(b.w, dpi)
    return slice(_px(b.y, dpi), _px(b.y, dpi) + n), slice(_px(b.x, dpi), _px(b.x, dpi) + n), n


def test_latent_mark_in_black_ink_only(jobs: Jobs, tmp_path: Path) -> None:
    """The K separation (what an infrared view sees) shows 証; the visible colours match."""
    import cv2

    require_tool("gs")  # ghostscript: `make test` installs it; missing, the test fails

    (tmp_path / "job.pdf").write_bytes(jobs.genuine)
    subprocess.run(
        [
            "gs",
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dSAFER",
            "-sDEVICE=tiffsep",
            "-r300",
            "-dFirstPage=2",
            "-dLastPage=2",
            f"-sOutputFile={tmp_path / 'sep.tif'}",
            str(tmp_path / "job.pdf"),
        ],
        check=True,
        timeout=120,
    )
    k_sep = np.asarray(Image.open(tmp_path / "sep(Black).tif").convert("L"), np.float64)
    ys, xs, n = _latent_region(300)
    k = 1.0 - k_sep[ys, xs] / 255.0  # tiffsep: 255 = no ink
    mark = mark_mask(n)
    inside = cv2.erode(mark.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    outside = ~cv2.dilate(mark.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    assert k[inside].mean() - k[outside].mean() >= 0.3

    # Visible view: pdfium's colour rendering; per tone of the picture, the
    # mean colour inside the mark against the same tone outside it (CIE76).
    rgb = render_page(jobs.genuine, 1, 300, colour=True)[ys, xs][..., ::-1]  # BGR -> RGB
    tones = _blossom(n)
    # Away from the mark's edges, where resampling mixes the two ink recipes.
    inside = cv2.erode(mark.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    checked = 0
    for t in range(3):
        tone = cv2.erode((tones == t).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        a, b = inside & tone, outside & tone
        if a.sum() < 200:
            continue
        checked += 1
        de = float(delta_e76(rgb[a].mean(axis=0), rgb[b].mean(axis=0)))
        assert de <= 3.0, (t, de)
    assert checked >= 2
