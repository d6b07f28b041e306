"""Verification of simulated print-and-scan: restoration, tamper detection, refusals."""

from __future__ import annotations

import io
import random
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kofu.antiforgery import layout as L
from kofu.antiforgery.errors import QrInvalid, QrMissing, ScanRejected, ScrambleNotFound
from kofu.antiforgery.keys import QrSigner, ScrambleKeyring, published_keys
from kofu.antiforgery.printjob import front_rasters
from kofu.antiforgery.simulate import (
    PRINT_DPI,
    Distortion,
    print_and_scan,
    render_page,
    scan_printed,
    ssim,
)
from kofu.antiforgery.verify import check_scan, load_scan
from kofu.render.juminhyo import render_juminhyo
from kofu.render.samples import household

from .conftest import ALTERED_ADDRESS, GENUINE_ADDRESS, SERIAL, Center, Jobs, compose

HARD = Distortion(
    rotate_deg=2.5,
    scale=1.015,
    shift_mm=(2.0, -2.5),
    lighting=0.2,
    noise=5,
    jpeg_quality=70,
    seed=7,
)
FRONT = Distortion(
    rotate_deg=-1.2,
    scale=0.99,
    shift_mm=(-1.5, 1.0),
    lighting=0.15,
    noise=4,
    jpeg_quality=75,
    seed=8,
)

# Where 社50番地 is on the restored image (150 dpi): the altered digit.
ALTERED_AT = (426, 262)  # moved down with the header (証明書番号 on its own line)


@pytest.fixture(scope="module")
def back_scan(jobs: Jobs) -> bytes:
    return print_and_scan(jobs.genuine, 1, HARD)


def test_restored_image_matches_the_front(jobs: Jobs, center: Center, back_scan: bytes) -> None:
    r = check_scan(back_scan, None, keyring=center.keyring, jwks=center.jwks)
    assert r.qr_valid and r.serial == SERIAL and r.payload is not None
    assert r.tampered is None and r.regions == ()
    restored = np.asarray(Image.open(io.BytesIO(r.restored_png)).convert("L"))
    assert ssim(restored, front_rasters(jobs.front)[0]) >= 0.90


def _inside(point: tuple[int, int], regions: tuple) -> bool:
    x, y = point
    return any(
        g.x <= x + 8 < g.x + g.width + 16 and g.y <= y + 8 < g.y + g.height + 16 for g in regions
    )


def test_one_altered_digit_is_found(jobs: Jobs, center: Center, back_scan: bytes) -> None:
    forged_front = print_and_scan(jobs.altered, 0, FRONT)
    r = check_scan(back_scan, forged_front, keyring=center.keyring, jwks=center.jwks)
    assert r.qr_valid and r.tampered is True
    assert _inside(ALTERED_AT, r.regions), r.regions
    assert len(r.regions) <= 2
    marked = Image.open(io.BytesIO(r.marked_png))
    assert marked.width > 500
    # The regions are framed in red.
    rgb = np.asarray(marked.convert("RGB")).reshape(-1, 3)
    assert ((rgb[:, 0] > 200) & (rgb[:, 1] < 40)).sum() > 100


def test_untouched_front_is_not_flagged(jobs: Jobs, center: Center, back_scan: bytes) -> None:
    front = print_and_scan(jobs.genuine, 0, FRONT)
    r = check_scan(back_scan, front, keyring=center.keyring, jwks=center.jwks)
    assert r.qr_valid and r.tampered is False and r.regions == (), r.regions


def test_unpublished_key_gives_an_invalid_verdict_and_nothing_restored(
    jobs: Jobs, center: Center, tmp_path
) -> None:
    from .conftest import Center as C

    rogue = C(center.master_key, tmp_path, center.keyring, QrSigner.generate(tmp_path, "rogue"))
    job = compose(rogue, jobs.front)
    r = check_scan(
        print_and_scan(job, 1, Distortion(rotate_deg=1.0)),
        None,
        keyring=center.keyring,
        jwks=published_keys(center.qr_keys),
    )
    assert r.qr_valid is False and r.restored_png is None and r.serial is None
    assert any("does not publish" in d for d in r.diagnostics)


def test_rotated_keys_keep_old_paper_verifiable(
    jobs: Jobs, center: Center, back_scan: bytes, tmp_path
) -> None:
    import shutil

    keys = tmp_path / "qr"
    shutil.copytree(center.qr_keys, keys)
    QrSigner.generate(keys, "k2026")
    r = check_scan(back_scan, None, keyring=center.keyring, jwks=published_keys(keys))
    assert r.qr_valid and r.serial == SERIAL


def test_front_side_given_as_back_is_not_a_scramble(jobs: Jobs, center: Center) -> None:
    with pytest.raises((ScrambleNotFound, QrInvalid)):
        check_scan(print_and_scan(jobs.genuine, 0), None, keyring=center.keyring, jwks=center.jwks)



def _back_with_qr_box(jobs: Jobs, text: str | None) -> bytes:
    """A scan of the genuine back with its QR box blanked, then (if ``text``) another
    QR code holding ``text`` printed in it."""
    import segno

    page = render_page(jobs.genuine, 1).copy()
    px = PRINT_DPI / 25.4
    box = L.QR_BOX
    x0, y0 = int((box.x - 1) * px), int((box.y - 1) * px)
    x1, y1 = int((box.x + box.w + 1) * px), int((box.y + box.h + 1) * px)
    page[y0:y1, x0:x1] = 255
    if text is not None:
        rows = np.array([list(r) for r in segno.make(text, micro=False).matrix_iter(border=4)])
        module = int(box.w * px) // len(rows)
        code = np.where(np.kron(rows, np.ones((module, module), np.uint8)) > 0, 0, 255)
        top, left = int(box.y * px), int(box.x * px)
        page[top : top + code.shape[0], left : left + code.shape[1]] = code
    return scan_printed(page, Distortion(rotate_deg=0.8, seed=3))


def test_a_back_without_a_qr_code_is_refused(jobs: Jobs, center: Center) -> None:
    """No QR code read at all: an error (QrMissing, still a QrInvalid), not a verdict."""
    with pytest.raises(QrMissing, match="^no QR code could be read on the back side$") as e:
        check_scan(_back_with_qr_box(jobs, None), None, keyring=center.keyring, jwks=center.jwks)
    assert isinstance(e.value, QrInvalid)


def test_a_qr_code_that_is_not_kofus_is_an_invalid_verdict(jobs: Jobs, center: Center) -> None:
    """A QR code that reads but is not a signed Kofu QR: a verdict, qr_valid=False."""
    back = _back_with_qr_box(jobs, "https://example.com/not-a-certificate")
    r = check_scan(back, None, keyring=center.keyring, jwks=center.jwks)
    assert r.qr_valid is False and r.serial is None and r.restored_png is None
    assert any("no KF1: prefix" in d for d in r.diagnostics), r.diagnostics


def _png(w: int, h: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (w, h), 255).save(out, "PNG")
    return out.getvalue()


def test_refusals() -> None:
    with pytest.raises(ScanRejected, match="not a PNG, JPEG or PDF"):
        load_scan(b"GIF89a" + b"\0" * 100)
    with pytest.raises(ScanRejected):
        load_scan(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 100)
    with pytest.raises(ScanRejected):
        load_scan(b"\xff\xd8\xff" + b"\0" * 1000)
    with pytest.raises(ScanRejected, match="larger than"):
        load_scan(_png(10, 10), max_bytes=10)
    with pytest.raises(ScanRejected, match="megapixels"):
        load_scan(_png(3000, 3000), max_pixels=1_000_000)
    with pytest.raises(ScanRejected):
        load_scan(b"%PDF-1.7\n garbage")


def test_bomb_is_refused_before_decoding() -> None:
    """A valid PNG that inflates to 100,000 x 100,000 pixels (10 Gpx) of zeros."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    w = h = 100_000
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (1 + w // 8) * 64)  # a few rows; the header is what counts
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    assert len(data) < 10_000
    with pytest.raises(ScanRejected, match="megapixels"):
        load_scan(data)


def test_pdf_scan_is_read(jobs: Jobs, center: Center) -> None:
    """A scanner that saves PDF: the back page as an image inside a PDF."""
    scan = Image.open(io.BytesIO(print_and_scan(jobs.genuine, 1, Distortion(rotate_deg=0.7))))
    out = io.BytesIO()
    scan.save(out, "PDF", resolution=300)
    r = check_scan(out.getvalue(), None, keyring=center.keyring, jwks=center.jwks)
    assert r.qr_valid and r.serial == SERIAL


def _pdfium_scan(pdf: bytes, page: int, *, degrees: float = 0.0, dpi: int = 300) -> bytes:
    """A scan as a scanner set to A4 returns it: the page edge to edge (no lid
    around it), sharp, JPEG. pdfium places the scrambled image on whole device
    pixels, a few tenths of a pixel off the registration marks."""
    import pypdfium2

    doc = pypdfium2.PdfDocument(pdf)
    try:
        image = doc[page].render(scale=dpi / 72).to_pil().convert("L")
    finally:
        doc.close()
    if degrees:
        image = image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.mark.parametrize("master", [3, 6, 22])
def test_sharp_edge_to_edge_scans(tmp_path: Path, master: int) -> None:
    """Sharp scans with no lid around the page, over several scramble keys: the
    untouched front is not flagged, the changed digit is."""
    keyring = ScrambleKeyring(random.Random(master).randbytes(32))
    c = Center(tmp_path / "unused", tmp_path / "qr", keyring, QrSigner.generate(tmp_path / "qr", "k1"))
    kw = {"keyring": keyring, "jwks": c.jwks}

    def job(address: str) -> bytes:
        return compose(c, render_juminhyo(household(2, address=address)).pdf)

    genuine = job(GENUINE_ADDRESS)
    back = _pdfium_scan(genuine, 1, degrees=1.3)
    untouched = check_scan(back, _pdfium_scan(genuine, 0), **kw)
    assert untouched.tampered is False, (untouched.score, untouched.regions)
    altered = check_scan(back, _pdfium_scan(job(ALTERED_ADDRESS), 0), **kw)
    assert altered.tampered is True and _inside(ALTERED_AT, altered.regions), altered.regions


def test_a_mark_found_off_does_not_blur_the_restoration(
    jobs: Jobs, center: Center, back_scan: bytes
) -> None:
    """The marks' homography with one mark 0.2 mm (2-3 scan pixels) off: the seams
    between blocks re-register the image, and it restores as well as with the
    true marks."""
    import cv2

    from kofu.antiforgery import layout as L
    from kofu.antiforgery.marks import find_marks, page_homography
    from kofu.antiforgery.restore import restore_scrambled, toned

    img = load_scan(back_scan)
    h_mm = page_homography(find_marks(img))
    marks = np.array(L.mark_centres(), np.float32)
    moved = marks.copy()
    moved[0] += (0.2, 0.2)
    off = h_mm @ cv2.getPerspectiveTransform(marks, moved).astype(np.float64)
    key = center.keyring.key_for(SERIAL)
    reference = front_rasters(jobs.front)[0]
    true = ssim(toned(restore_scrambled(img, h_mm, key, 1)[0]), reference)
    shifted = ssim(toned(restore_scrambled(img, off, key, 1)[0]), reference)
    assert true >= 0.95 and shifted >= true - 0.005, (true, shifted)


def test_a_600_dpi_front(jobs: Jobs, center: Center, back_scan: bytes) -> None:
    """A front scanned at 600 dpi: brought down to 150 dpi by averaging (a plain
    bilinear warp aliases the underlay's fine screen into false ink)."""
    untouched = check_scan(
        back_scan, _pdfium_scan(jobs.genuine, 0, dpi=600), keyring=center.keyring, jwks=center.jwks
    )
    assert untouched.tampered is False, (untouched.score, untouched.regions)
    altered = check_scan(
        back_scan, _pdfium_scan(jobs.altered, 0, dpi=600), keyring=center.keyring, jwks=center.jwks
    )
    assert altered.tampered is True and _inside(ALTERED_AT, altered.regions), altered.regions


def test_back_scanned_upside_down(jobs: Jobs, center: Center) -> None:
    """A back laid upside down on the scanner: the marks form the same rectangle,
    the QR's place tells the way up, and the page restores."""
    r = check_scan(
        _pdfium_scan(jobs.genuine, 1, degrees=180.6),
        _pdfium_scan(jobs.genuine, 0, degrees=0.4),
        keyring=center.keyring,
        jwks=center.jwks,
    )
    assert r.qr_valid and r.serial == SERIAL and r.restored is not None
    assert ssim(r.restored, front_rasters(jobs.front)[0]) >= 0.9
    assert r.tampered is False, (r.score, r.regions)


def test_turned_fronts_and_fronts_of_nothing(jobs: Jobs, center: Center, back_scan: bytes) -> None:
    """A front scanned upside down or sideways (edge to edge, so no lid shows the
    page) is turned and compared; a blank page, or the back given as the front,
    is not this certificate: flagged as a whole, and said so."""
    kw = {"keyring": center.keyring, "jwks": center.jwks}
    for degrees in (179.6, 90.0):
        turned = check_scan(back_scan, _pdfium_scan(jobs.genuine, 0, degrees=degrees), **kw)
        assert turned.tampered is False, (degrees, turned.score, turned.regions)
    for degrees in (180.3, 270.0):
        altered = check_scan(back_scan, _pdfium_scan(jobs.altered, 0, degrees=degrees), **kw)
        assert altered.tampered is True and _inside(ALTERED_AT, altered.regions), altered.regions
    blank = io.BytesIO()
    Image.new("L", (2480, 3508), 235).save(blank, "JPEG")
    for front in (blank.getvalue(), back_scan):
        r = check_scan(back_scan, front, **kw)
        assert r.tampered is True and len(r.regions) == 1, r.regions
        assert r.regions[0].width > 1200 and r.regions[0].height > 1700
        assert "does not show this certificate" in r.diagnostics[-1]


def test_coarse_scans(jobs: Jobs, center: Center, back_scan: bytes) -> None:
    """A front at 200 dpi is compared at its full resolution (halved, it would be
    too coarse); a back or front under 140 dpi is refused, saying why."""
    kw = {"keyring": center.keyring, "jwks": center.jwks}
    untouched = check_scan(back_scan, _pdfium_scan(jobs.genuine, 0, dpi=200), **kw)
    assert untouched.tampered is False, (untouched.score, untouched.regions)
    altered = check_scan(back_scan, _pdfium_scan(jobs.altered, 0, dpi=200), **kw)
    assert altered.tampered is True and _inside(ALTERED_AT, altered.regions), altered.regions
    with pytest.raises(ScrambleNotFound, match=r"back scan is about 1[01]\d dpi"):
        check_scan(_pdfium_scan(jobs.genuine, 1, dpi=110), None, **kw)
    with pytest.raises(ScrambleNotFound, match=r"front scan is about \d+ dpi"):
        check_scan(back_scan, _pdfium_scan(jobs.genuine, 0, dpi=110), **kw)


_FAULTS_SCRIPT = """
import resource, sys
from pathlib import Path
from kofu.antiforgery.keys import ScrambleKeyring, published_keys
from kofu.antiforgery.verify import keep_freed_memory, check_scan

master, qr, back, front, mode = sys.argv[1:]
kw = {"keyring": ScrambleKeyring.from_file(Path(master)), "jwks": published_keys(Path(qr))}
back_scan, front_scan = Path(back).read_bytes(), Path(front).read_bytes()
if mode == "keep":
    assert keep_freed_memory() is True  # this is glibc
check_scan(back_scan, front_scan, **kw)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
check_scan(back_scan, front_scan, **kw)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_a_verifying_process_keeps_its_freed_memory(
    jobs: Jobs, center: Center, back_scan: bytes, tmp_path: Path
) -> None:
    """kofu serve verify keeps freed memory (keep_freed_memory): a verification after the
    first faults in next to no fresh pages (some 12,000 per verification otherwise).

    Measured in processes of their own: mallopt changes the allocator of the
    whole process, and a page-fault count of this pytest process would count
    whatever else it does."""
    import subprocess
    import sys

    (tmp_path / "back.jpg").write_bytes(back_scan)
    (tmp_path / "front.jpg").write_bytes(print_and_scan(jobs.genuine, 0, FRONT))

    def faults(mode: str) -> int:
        argv = [sys.executable, "-c", _FAULTS_SCRIPT, str(center.master_key), str(center.qr_keys),
                str(tmp_path / "back.jpg"), str(tmp_path / "front.jpg"), mode]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split()[-1])

    kept, default = faults("keep"), faults("default")
    assert kept < 2_000, (kept, default)
    # The measure tells the two apart: without keep_freed_memory the same verification faults far more.
    assert default > 5 * max(kept, 1_000), (kept, default)
