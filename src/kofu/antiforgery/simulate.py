"""A print-and-scan simulation, for tests and the benchmark (not for production).

>>> jpeg = print_and_scan(job_pdf, 1, Distortion(rotate_deg=2.0, jpeg_quality=70))

``print_and_scan`` models a laser print scanned at 300 dpi:

1. rasterise the PDF page at 600 dpi (the printer's resolution), grayscale;
2. dot gain: a Gaussian blur (toner spreads) and a slight darkening;
3. resample to 300 dpi (the scanner), area-averaging;
4. place the page on a scanner bed a little larger than A4, rotated up to a
   few degrees, scaled by a percent or two and shifted;
5. uneven lighting (a linear fall-off plus vignetting), sensor noise;
6. encode as JPEG (or PNG).

``photocopy`` models a monochrome copier (600 → 300 dpi, blur, a fixed
threshold at 0.6 of white); ``viewing`` what an eye sees at reading distance (0.25 mm
resolution).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from kofu.antiforgery._pdfium import PDFIUM_LOCK

PRINT_DPI = 600
SCAN_DPI = 300
BED_MARGIN_MM = 6.0


@dataclass(frozen=True)
class Distortion:
    rotate_deg: float = 0.0
    scale: float = 1.0
    shift_mm: tuple[float, float] = (0.0, 0.0)
    dot_gain_sigma_px: float = 0.8
    """Blur at 600 dpi (0.8 px = 34 µm)."""
    lighting: float = 0.0
    """Fall-off of brightness across the bed, 0..0.3."""
    noise: float = 0.0
    """Standard deviation of sensor noise, in grey levels."""
    jpeg_quality: int | None = 90
    """None: PNG."""
    seed: int = 0


def render_page(
    pdf: bytes, page: int, dpi: int = PRINT_DPI, *, colour: bool = False
) -> NDArray[np.uint8]:
    import pypdfium2

    with PDFIUM_LOCK:
        doc = pypdfium2.PdfDocument(pdf)
        try:
            img = doc[page].render(scale=dpi / 72, grayscale=not colour).to_numpy()
        finally:
            doc.close()
    if not colour and img.ndim == 3:
        img = img[..., 0]
    return np.ascontiguousarray(img)


def print_and_scan(pdf: bytes, page: int, d: Distortion = Distortion()) -> bytes:
    # 1.
    return scan_printed(render_page(pdf, page), d)


def scan_printed(printed: NDArray[np.uint8], d: Distortion = Distortion()) -> bytes:
    """Steps 2-6 on a page already rasterised at PRINT_DPI (render once, scan many times)."""
    img = printed.astype(np.float32)
    # 2. Toner spreads: blur, and dark wins a little where it meets light.
    if d.dot_gain_sigma_px > 0:
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), d.dot_gain_sigma_px), np.float32)
    img = 255.0 * (img / 255.0) ** 1.15
    # 3.
    h, w = img.shape
    small = cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    # 4. On the bed: rotate about the page centre, scale, shift.
    px_mm = SCAN_DPI / 25.4
    margin = int(BED_MARGIN_MM * px_mm)
    bh, bw = small.shape[0] + 2 * margin, small.shape[1] + 2 * margin
    centre = (small.shape[1] / 2, small.shape[0] / 2)
    m = cv2.getRotationMatrix2D(centre, d.rotate_deg, d.scale)
    m[0, 2] += margin + d.shift_mm[0] * px_mm
    m[1, 2] += margin + d.shift_mm[1] * px_mm
    bed = cv2.warpAffine(
        small, m, (bw, bh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255
    )
    # 5. Lighting and noise.
    rng = np.random.default_rng(d.seed)
    if d.lighting > 0:
        yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
        ramp = xx / bw * 0.6 + yy / bh * 0.4
        vignette = ((xx / bw - 0.5) ** 2 + (yy / bh - 0.5) ** 2) * 2
        bed = bed * (1.0 - d.lighting * (0.7 * ramp + 0.3 * vignette))
    if d.noise > 0:
        bed = bed + np.asarray(rng.normal(0.0, d.noise, size=bed.shape), np.float32)
    out = np.clip(bed, 0, 255).astype(np.uint8)
    # 6.
    if d.jpeg_quality is None:
        ok, buf = cv2.imencode(".png", out)
    else:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, d.jpeg_quality])
    assert ok
    return buf.tobytes()


def photocopy(pdf: bytes, page: int, *, threshold: float = 0.6) -> NDArray[np.bool_]:
    """A monochrome copy at 300 dpi: True where the copier puts toner.

    The threshold (0.6 of white) is a copier set, as office copiers are by
    default, to keep light originals (pencil, stamp impressions).
    """
    img = render_page(pdf, page).astype(np.float32) / 255.0
    h, w = img.shape
    small = cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 0.8)
    return np.asarray(small < threshold)


def viewing(pdf: bytes, page: int) -> NDArray[np.float32]:
    """The page as an eye sees it at reading distance: 600 dpi averaged over 0.25 mm."""
    img = render_page(pdf, page).astype(np.float32) / 255.0
    h, w = img.shape
    return np.asarray(cv2.resize(img, (w // 6, h // 6), interpolation=cv2.INTER_AREA), np.float32)


def ssim(a: NDArray[np.generic], b: NDArray[np.generic]) -> float:
    """Mean SSIM (Wang et al. 2004: Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03, L = 255)."""
    x = a.astype(np.float64)
    y = b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def g(z: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(cv2.GaussianBlur(z, (11, 11), 1.5), np.float64)

    mx, my = g(x), g(y)
    sxx, syy, sxy = g(x * x) - mx * mx, g(y * y) - my * my, g(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())
