"""The print job as printed: duplex order, signed QR, copy-evident pattern, latent image."""

from __future__ import annotations

import io
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


TINT_AREAS = ["back band", "front, below the certificate"]


def _tint_area(where: str) -> tuple[int, tuple[float, float, float, float], np.ndarray]:
    """A blank area of the tint: its page, its box (x, y, w, h in mm from the page's top left)
    and where the word is in it (600 dpi, True = the word)."""
    if where == "back band":
        box = L.PANTOGRAPH_BOX
        return 1, (box.x, box.y, box.w, box.h), word_mask(_px(box.w, 600), _px(box.h, 600))
    # The front underlay covers the whole page from its top left corner; the area
    # between 「以下余白」 and the certification block is blank paper.
    x, y, w, h = 15.0, 136.0, 180.0, 88.0
    full = word_mask(_px(L.PAGE_W_MM, 600), _px(L.PAGE_H_MM, 600))
    return (
        0,
        (x, y, w, h),
        full[_px(y, 600) : _px(y, 600) + _px(h, 600), _px(x, 600) : _px(x, 600) + _px(w, 600)],
    )


@pytest.mark.parametrize("where", TINT_AREAS)
def test_copy_shows_fukusha_original_does_not(jobs: Jobs, where: str) -> None:
    page, (x, y, w, h), word600 = _tint_area(where)

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


SCREEN_DPI = (72, 96, 150)
"""Resolutions a receiver's PDF viewer draws a page at: 72 (100 % in points), 96 (Chrome's
100 %), 150 (zoomed in)."""
SCREEN_MEAN_DIFF = 0.02
SCREEN_TEXTURE_RATIO = 1.8
"""The word does not show on a screen when its mean is within SCREEN_MEAN_DIFF of the
background's and its local texture (standard deviation over 5 x 5 screen pixels) at most
SCREEN_TEXTURE_RATIO times the background's. Chosen by looking at renderings of candidate
tints at 96 dpi (issue 14): at ratios of 3.5-5.3 (the tint of main) 「複写」 is plainly read
all over the page; at 2.4 it is still made out; at 2.0 it is not read in pdfium's rendering
but its outline shows faintly in poppler's; at 1.6-1.7 nothing shows in either. The word's
mean alone differs by 0.005-0.03: it is its texture that shows."""


def on_screen(pdf: bytes, page: int, dpi: int, viewer: str) -> np.ndarray:
    """A page (0-based) as a PDF viewer draws it: grayscale, 0..1 (1 = white); ``viewer``
    is pdfium (Chrome's PDF engine) or poppler (pdftoppm: evince, okular, most Linux viewers)."""
    if viewer == "pdfium":
        return render_page(pdf, page, dpi).astype(np.float32) / 255
    require_tool("pdftoppm")
    n = str(page + 1)
    out = subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-gray", "-f", n, "-l", n, "-"],
        input=pdf,
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    return np.asarray(Image.open(io.BytesIO(out)), np.float32) / 255


def screen_contrast(img: np.ndarray, word600: np.ndarray) -> tuple[float, float]:
    """How the word stands out in ``img`` (a screen rendering of the area ``word600`` maps,
    0..1): its mean minus the background's, and its local texture over the background's
    (mean standard deviation over 5 x 5 pixels). Pixels within 2 px of the word's edge are
    neither."""
    import cv2

    h, w = img.shape
    cover = cv2.resize(word600.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    k = np.ones((5, 5), np.uint8)
    inside = cv2.erode((cover > 0.98).astype(np.uint8), k).astype(bool)
    outside = ~cv2.dilate((cover > 0.02).astype(np.uint8), k).astype(bool)
    mean = cv2.blur(img, (5, 5))
    std = np.sqrt(np.maximum(cv2.blur(img * img, (5, 5)) - mean * mean, 0))
    return (
        float(img[inside].mean() - img[outside].mean()),
        float(std[inside].mean() / max(float(std[outside].mean()), 1e-6)),
    )


@pytest.mark.xfail(
    strict=True,
    reason="issue 14, open: 「複写」 shows on screen by its texture (ratio 3.5-5.3). A 12 x 14 px "
    "tint passes this test and the copy test; the photo verifier reads its texture as ink "
    "(untouched fronts flagged), and a verifier that untints the front (0/30 false alarms on "
    "the photo bench) flags one glare case, is 2.5 times slower and flags fronts printed with the "
    "present tint; see docs/certificates.md and docs/experiments/",
)
@pytest.mark.parametrize("where", TINT_AREAS)
def test_fukusha_does_not_show_on_screen(jobs: Jobs, where: str) -> None:
    page, (x, y, w, h), word600 = _tint_area(where)
    shown = []
    for viewer in ("pdfium", "poppler"):
        for dpi in SCREEN_DPI:
            img = on_screen(jobs.genuine, page, dpi, viewer)
            area = img[
                _px(y, dpi) : _px(y, dpi) + _px(h, dpi), _px(x, dpi) : _px(x, dpi) + _px(w, dpi)
            ]
            diff, texture = screen_contrast(area, word600)
            if abs(diff) > SCREEN_MEAN_DIFF or texture > SCREEN_TEXTURE_RATIO:
                shown.append(f"{viewer} {dpi} dpi: mean {diff:+.3f}, texture x{texture:.2f}")
    assert not shown, shown


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
