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


# --- Phone photos (issue 17) ------------------------------------------------

PHOTO_SIZE = (3000, 4000)
"""A 12 MP phone camera held upright: width, height in pixels."""
PHOTO_FOCAL_PX = 3100.0
"""Its focal length in pixels (a 26 mm-equivalent main camera: about 65° across the long side)."""


@dataclass(frozen=True)
class Photo:
    """One phone photo of a printed page lying on a desk (documented ranges: issue 17).

    Built by ``random_photo`` within the ranges; each field can be set by hand."""

    tilt_deg: float = 0.0
    """The camera's angle off the page's normal, 0..20."""
    tilt_dir_deg: float = 0.0
    """Which way it leans (0: the camera is to the page's right), any."""
    roll_deg: float = 0.0
    """The page turned in the frame, a few degrees either way (180 more: upside down)."""
    fill: float = 0.8
    """The share of the frame's height the page spans, 0.6..0.9."""
    offset: tuple[float, float] = (0.0, 0.0)
    """The page's centre off the frame's, as a share of the room left on each side (-1..1)."""
    gradient: float = 0.0
    """Brightness falls by this share across the frame, 0..0.5."""
    gradient_dir_deg: float = 0.0
    shadow: float = 0.0
    """A soft shadow (the phone, a hand) over part of the frame darkens it by this share, 0..0.3."""
    motion_px: float = 0.0
    """Motion blur, length in pixels (0..4)."""
    focus_sigma_px: float = 0.0
    """Focus blur, Gaussian sigma in pixels (0..1.2)."""
    desk: int = 70
    """The desk's grey level (0..255; textured)."""
    noise: float = 3.0
    jpeg_quality: int = 88
    seed: int = 0
    glare: float = 0.0
    """A specular glare (a lamp reflected by the paper) adds up to this share of white,
    0..1 (the paper clips, the print within washes out). Not in random_photo's draw:
    the issue's ranges do not bound it."""
    glare_at: tuple[float, float] = (0.5, 0.5)
    """Its centre, as shares of the frame's width and height."""
    glare_radius: float = 0.08
    """Its radius (a Gaussian's sigma) as a share of the frame's width."""


def random_photo(rng: np.random.Generator, seed: int) -> Photo:
    """A photo drawn uniformly within the issue's ranges (the bench's and tests' generator)."""
    return Photo(
        tilt_deg=float(rng.uniform(0, 20)),
        tilt_dir_deg=float(rng.uniform(0, 360)),
        roll_deg=float(rng.uniform(-4, 4)) + (180.0 if rng.random() < 0.1 else 0.0),
        fill=float(rng.uniform(0.6, 0.9)),
        offset=(float(rng.uniform(-0.8, 0.8)), float(rng.uniform(-0.8, 0.8))),
        gradient=float(rng.uniform(0, 0.5)),
        gradient_dir_deg=float(rng.uniform(0, 360)),
        shadow=float(rng.uniform(0, 0.3)),
        motion_px=float(rng.uniform(0, 3)),
        focus_sigma_px=float(rng.uniform(0, 1.0)),
        desk=int(rng.integers(20, 200)),
        noise=float(rng.uniform(1, 4)),
        jpeg_quality=int(rng.integers(80, 95)),
        seed=seed,
    )


def photo_homography(p: Photo) -> NDArray[np.float64]:
    """3x3: page millimetres (x right, y down, the page's top left at 0) -> photo pixels.

    A pinhole camera looking at the page's centre from ``tilt_deg`` off its normal: the
    page is turned about an axis in its plane, then about the optical axis, set at the
    distance where its height spans ``fill`` of the frame, and shifted in the frame."""
    from kofu.antiforgery import layout as L

    fw, fh = PHOTO_SIZE
    t, d, r = np.radians(p.tilt_deg), np.radians(p.tilt_dir_deg), np.radians(p.roll_deg)
    axis = np.array([-np.sin(d), np.cos(d), 0.0]) * t  # tilting towards direction d
    tilt, _ = cv2.Rodrigues(axis)
    roll = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1.0]])
    rot = roll @ tilt
    corners = np.array(
        [[0, 0], [L.PAGE_W_MM, 0], [L.PAGE_W_MM, L.PAGE_H_MM], [0, L.PAGE_H_MM]], np.float64
    )
    centred = np.c_[corners - [L.PAGE_W_MM / 2, L.PAGE_H_MM / 2], np.zeros(4)]
    dist = PHOTO_FOCAL_PX * L.PAGE_H_MM / (p.fill * fh)
    cam = centred @ rot.T + [0, 0, dist]
    uv = PHOTO_FOCAL_PX * cam[:, :2] / cam[:, 2:3]
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    room = np.maximum(np.array([fw, fh]) - (hi - lo), 0) / 2 * 0.9
    centre = np.array([fw / 2, fh / 2]) - (lo + hi) / 2 + np.array(p.offset) * room
    uv = uv + centre
    return np.asarray(
        cv2.getPerspectiveTransform(corners.astype(np.float32), uv.astype(np.float32)), np.float64
    )


def printed_for_photos(raster: NDArray[np.uint8], raster_dpi: int = PRINT_DPI) -> NDArray[np.uint8]:
    """A page rasterised at ``raster_dpi`` as printed (toner spread and dot gain as in
    scan_printed), at 300 dpi: what ``photograph`` takes (print once, photograph many
    times; the finest photo in the ranges is some 310 dpi)."""
    img = raster.astype(np.float32)
    img = np.asarray(cv2.GaussianBlur(img, (0, 0), 0.8 * raster_dpi / PRINT_DPI), np.float32)
    img = np.asarray(255.0 * (img / 255.0) ** 1.15, np.float32)
    f = SCAN_DPI / raster_dpi
    out = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    return np.clip(out, 0, 255).astype(np.uint8)


def photograph(printed: NDArray[np.uint8], p: Photo) -> bytes:
    """A phone photo (grayscale JPEG, 12 MP) of a printed page (printed_for_photos).

    1. The lens's blur (at the printed resolution).
    2. The page laid on a textured desk, seen through the camera (photo_homography).
    3. Lighting: a gradient across the frame, a soft-edged shadow, glare; focus and
       motion blur; sensor noise; JPEG. (Grayscale: the verifier reads a colour photo as
       grayscale anyway.)
    """
    from kofu.antiforgery import layout as L

    rng = np.random.default_rng(p.seed)
    fw, fh = PHOTO_SIZE
    h_mm = photo_homography(p)
    # 1. The lens: no camera resolves the print's finest dots. Its blur (0.7 photo
    #    pixels), taken at the printed resolution, also keeps the warp from aliasing
    #    the underlay's screen (without it the 複写 showed, as on a photocopy).
    photo_dpi = p.fill * fh / L.PAGE_H_MM * 25.4
    lens = 0.7 * SCAN_DPI / photo_dpi
    img = np.asarray(cv2.GaussianBlur(printed.astype(np.float32), (0, 0), lens), np.float32)
    px_mm = img.shape[1] / L.PAGE_W_MM
    # Raster pixel centre (i + 0.5) / px_mm mm.
    to_mm = np.array([[1 / px_mm, 0, 0.5 / px_mm], [0, 1 / px_mm, 0.5 / px_mm], [0, 0, 1]])
    # 2.
    coarse = np.full((fh // 8, fw // 8), float(p.desk), np.float32)
    coarse += rng.normal(0, 12, coarse.shape).astype(np.float32)
    desk = cv2.resize(cv2.GaussianBlur(coarse, (0, 0), 2), (fw, fh), interpolation=cv2.INTER_CUBIC)
    page_mask = cv2.warpPerspective(
        np.ones(img.shape, np.float32), h_mm @ to_mm, (fw, fh), flags=cv2.INTER_LINEAR
    )
    page = cv2.warpPerspective(img, h_mm @ to_mm, (fw, fh), flags=cv2.INTER_LINEAR)
    frame: NDArray[np.float32] = np.asarray(page * page_mask + desk * (1 - page_mask), np.float32)
    # 3.
    yy, xx = np.mgrid[0:fh, 0:fw].astype(np.float32)
    g = np.radians(p.gradient_dir_deg)
    ramp = ((xx - fw / 2) * np.cos(g) + (yy - fh / 2) * np.sin(g)) / np.hypot(fw, fh) + 0.5
    light = np.asarray(1.0 - p.gradient * np.clip(ramp, 0, 1), np.float32)
    if p.shadow > 0:
        a = rng.uniform(0, 2 * np.pi)
        px, py = rng.uniform(0.2, 0.8) * fw, rng.uniform(0.2, 0.8) * fh
        side = (xx - px) * np.cos(a) + (yy - py) * np.sin(a)
        light *= np.asarray(1.0 - p.shadow / (1.0 + np.exp(-side / 60.0)), np.float32)  # a soft edge ~200 px wide
    frame *= light
    if p.glare > 0:
        r2 = (xx - p.glare_at[0] * fw) ** 2 + (yy - p.glare_at[1] * fh) ** 2
        frame += np.asarray(255.0 * p.glare * np.exp(-r2 / (2 * (p.glare_radius * fw) ** 2)), np.float32)
    if p.focus_sigma_px > 0:
        frame = np.asarray(cv2.GaussianBlur(frame, (0, 0), p.focus_sigma_px), np.float32)
    if p.motion_px >= 1:
        n = int(np.ceil(p.motion_px)) | 1
        k = np.zeros((n, n), np.float32)
        k[n // 2, :] = 1.0
        rot = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        k = np.asarray(cv2.warpAffine(k, rot, (n, n)), np.float32)
        frame = np.asarray(cv2.filter2D(frame, -1, k / max(float(k.sum()), 1e-6)), np.float32)
    frame += rng.normal(0, p.noise, frame.shape).astype(np.float32)
    out = np.clip(frame, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, p.jpeg_quality])
    assert ok
    return buf.tobytes()
