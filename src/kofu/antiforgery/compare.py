"""Comparing a scan of the front with the restored image: where do they differ?

Steps (numbered as in the code):

1. Find the page in the front scan: the copy-evident underlay tints the
   whole page, so the page is the large region darker than the scanner lid;
   its minimum-area rectangle gives the four corners (rotation, scale, shift).
2. Warp the front onto the restored image's grid (150 dpi) by those corners.
3. Refine the alignment: corners are found to a few pixels (or worse when
   the scanner cut a corner off), text must line up to a fraction of one.
   Each 2 cm tile of the page is located by phase correlation
   (cv2.phaseCorrelate) and an affine correction is fitted to the tiles'
   shifts with RANSAC (cv2.estimateAffine2D), twice: a wide search at half
   resolution, then a fine one. This replaced ECC (cv2.findTransformECC),
   which took 260 ms; this takes about 30.
4. Normalise both to their local paper level (the underlay's tint and uneven
   lighting divide out) and take the ink of each: darker than the paper by
   more than a threshold after a slight blur.
5. Ink in one image with no ink within one pixel in the other is a
   difference (block seams and the page's outer 5 mm excepted); differences
   are counted in a sliding window of about one character, and windows over
   the threshold join into regions.

The thresholds are calibrated on the benchmark's distortion grid so that
untouched pages are not flagged (benchmarks/bench_antiforgery.py).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from kofu.antiforgery import layout as L

_WORK_DPI = 50.0
_SIGMA = 1.0
_INK = 0.45
_PAPER = 0.2
_EDGE = 30
_RULE = 40
"""A straight run of ink this long (6.8 mm) is a rule line, not part of a character."""
_TILE = 128
"""Side of the tiles whose shifts refine the alignment (2 cm at 150 dpi)."""
_TILE_TEXT = 8.0
"""A tile with less contrast than this (grey levels, standard deviation) holds no text to align on."""
_TILE_PEAK = 0.3
"""Weaker phase-correlation peaks are not trusted."""
_WINDOW = 24
_WINDOW_MIN = 4
"""Differing pixels within a 24 x 24 window (4 mm, about one character at
150 dpi) that flag it. Measured on the benchmark's grid: untouched pages
reach at most 3, a changed digit 5-11 (5→3 is the hardest: the two share
most strokes), a changed name character 26 or more."""


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    width: int
    height: int


def _order(box: NDArray[np.float32]) -> NDArray[np.float32]:
    """TL, TR, BR, BL from any four corners."""
    s, d = box.sum(axis=1), np.diff(box, axis=1).ravel()
    return np.array(
        [box[np.argmin(s)], box[np.argmin(d)], box[np.argmax(s)], box[np.argmax(d)]], np.float32
    )


def page_corners(img: NDArray[np.uint8]) -> NDArray[np.float32] | None:
    """1. The page's four corners in scan pixels, or None."""
    h, w = img.shape
    dpi = w / (L.PAGE_W_MM + 10) * 25.4
    f = min(1.0, _WORK_DPI / dpi)
    small = cv2.resize(img, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 1.5)
    k = max(15, int(small.shape[1] / 6) | 1)
    white = cv2.dilate(small, np.ones((k, k), np.uint8))
    page = (small.astype(np.float32) < 0.94 * white.astype(np.float32)).astype(np.uint8)
    page = cv2.morphologyEx(page, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    contours, _ = cv2.findContours(page, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    if cv2.contourArea(c) < 0.3 * small.size:
        return None
    box = cv2.boxPoints(cv2.minAreaRect(c)).astype(np.float32)
    return _order(box) / f


def _texture(img: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """What the tiles correlate: the image slightly blurred (phase correlation
    ignores the paper level; the Hanning window hides the tile's edges)."""
    return np.asarray(cv2.GaussianBlur(img, (0, 0), 1.5), np.uint8)


def _tile_shifts(
    ref: NDArray[np.uint8], moving: NDArray[np.uint8], tile: int, max_shift: float
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Tile centres in ``ref`` and where each one's content lies in ``moving`` (phase correlation).

    Tiles without text, or whose correlation peak is weak or far, are left out.
    """
    win = cv2.createHanningWindow((tile, tile), cv2.CV_32F)
    edge = _EDGE * tile // _TILE
    src, dst = [], []
    for y in range(edge, ref.shape[0] - tile - edge, tile):
        for x in range(edge, ref.shape[1] - tile - edge, tile):
            t = ref[y : y + tile, x : x + tile]
            if float(t.std()) < _TILE_TEXT:
                continue
            m = moving[y : y + tile, x : x + tile]
            (dx, dy), peak = cv2.phaseCorrelate(t.astype(np.float32), m.astype(np.float32), win)
            if peak < _TILE_PEAK or abs(dx) > max_shift or abs(dy) > max_shift:
                continue
            c = (x + (tile - 1) / 2, y + (tile - 1) / 2)
            src.append(c)
            dst.append((c[0] + dx, c[1] + dy))
    return np.array(src, np.float32).reshape(-1, 2), np.array(dst, np.float32).reshape(-1, 2)


def _affine_correction(
    src: NDArray[np.float32], found: NDArray[np.float32], tolerance: float
) -> NDArray[np.float64] | None:
    """3x3: the affine map that best takes tile centres to where they were found (RANSAC)."""
    if len(src) < 6:
        return None
    a, _ = cv2.estimateAffine2D(src, found, method=cv2.RANSAC, ransacReprojThreshold=tolerance)
    return None if a is None else np.vstack([a, [0.0, 0.0, 1.0]])


def align_front(
    front: NDArray[np.uint8], restored: NDArray[np.uint8]
) -> NDArray[np.float32] | None:
    """The front scan (best at 150 dpi) warped onto the restored grid, or None if no page is found."""
    corners = page_corners(front)
    if corners is None:
        return None
    # 2. Page corners in raster pixels (pixel centres at integers: the page edge is at -0.5).
    pw = L.PAGE_W_MM / 25.4 * L.RASTER_DPI
    ph = L.PAGE_H_MM / 25.4 * L.RASTER_DPI
    dst = np.array(
        [[-0.5, -0.5], [pw - 0.5, -0.5], [pw - 0.5, ph - 0.5], [-0.5, ph - 0.5]], np.float32
    )
    h = cv2.getPerspectiveTransform(dst, corners)  # raster -> scan
    size = (L.RASTER_W, L.RASTER_H)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    # 3. A wide search at half resolution (a page cut off by the scanner's
    #    edge has wrong corners), then a fine one at full resolution; each
    #    fits an affine correction to the tiles' shifts, robust to the tiles
    #    a forger changed (RANSAC).
    half = (size[0] // 2, size[1] // 2)
    s = np.array([[2.0, 0, 0.5], [0, 2.0, 0.5], [0, 0, 1]])  # half-res pixel -> full-res pixel
    ref_half = _texture(cv2.resize(restored, half, interpolation=cv2.INTER_AREA))
    moving = _texture(cv2.warpPerspective(front, h @ s, half, flags=flags, borderValue=255))
    a = _affine_correction(*_tile_shifts(ref_half, moving, _TILE // 2, 20.0), 1.0)
    if a is not None:
        h = h @ s @ a @ np.linalg.inv(s)
    moving = _texture(cv2.warpPerspective(front, h, size, flags=flags, borderValue=255))
    a = _affine_correction(*_tile_shifts(_texture(restored), moving, _TILE, 3.0), 0.5)
    if a is not None:
        h = h @ a
    out = cv2.warpPerspective(front, h, size, flags=flags, borderValue=255)
    return np.asarray(out, np.float32)


def _darkness(img: NDArray[np.float32], sigma: float) -> NDArray[np.float32]:
    """0 = the local paper, 1 = black; after a blur that melts the underlay's dots into its tint."""
    blur = cv2.GaussianBlur(img, (0, 0), sigma)
    # The paper level is smooth: estimate it at a quarter of the resolution (4x faster).
    h, w = blur.shape
    small = cv2.resize(blur, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(cv2.dilate(small, np.ones((3, 3), np.uint8)), (0, 0), 2.0)
    paper = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return 1.0 - np.clip(blur / np.maximum(paper, 1.0), 0.0, 1.0)


def _paper_normalised(img: NDArray[np.float32]) -> NDArray[np.float32]:
    return 1.0 - _darkness(img, 1.0)


def differences(front: NDArray[np.float32], restored: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """4.-5. Pixels (150 dpi grid) with clear ink in one image and paper all round in the other.

    Mid-greys (a red seal, light small print) are rendered differently by a
    scanner and by the print-scan-restore path, so only ink against paper
    counts: darker than _INK on one side, lighter than _PAPER within a pixel
    on the other.
    """
    d_f = _darkness(front, _SIGMA)
    d_r = _darkness(restored.astype(np.float32), _SIGMA)
    k = np.ones((3, 3), np.uint8)
    diff = ((d_f > _INK) & (cv2.dilate(d_r, k) < _PAPER)) | (
        (d_r > _INK) & (cv2.dilate(d_f, k) < _PAPER)
    )
    # Rule lines (longer than any character's stroke) run along block seams
    # for long stretches, where a restoration is least sure; the table's
    # frame is not what a forger changes, so near a rule nothing counts.
    ink_any = ((d_f > _INK) | (d_r > _INK)).astype(np.uint8)
    rules = cv2.morphologyEx(
        ink_any, cv2.MORPH_OPEN, np.ones((1, _RULE), np.uint8)
    ) | cv2.morphologyEx(ink_any, cv2.MORPH_OPEN, np.ones((_RULE, 1), np.uint8))
    diff &= ~cv2.dilate(rules, np.ones((5, 5), np.uint8)).astype(bool)
    # Seams: a block's edge rows are where the restoration is least sure (a
    # rule line lying exactly on a seam can break); they do not count.
    seam = (np.arange(L.RASTER_H) % L.BLOCK)[:, None], (np.arange(L.RASTER_W) % L.BLOCK)[None, :]
    diff &= ~((seam[0] == 0) | (seam[0] == L.BLOCK - 1) | (seam[1] == 0) | (seam[1] == L.BLOCK - 1))
    # The page's outer 5 mm carry no certificate content, only the edge of the paper.
    m = _EDGE
    diff[:m, :] = diff[-m:, :] = False
    diff[:, :m] = False
    diff[:, -m - (L.RASTER_W - 1241) :] = False
    diff[-m - (L.RASTER_H - 1754) :, :] = False
    return diff


def regions(diff: NDArray[np.bool_]) -> tuple[Region, ...]:
    """Windows of _WINDOW px (about a character) holding at least _WINDOW_MIN differing pixels,
    merged where they touch, as boxes on the restored image."""
    counts = cv2.boxFilter(diff.astype(np.float32), -1, (_WINDOW, _WINDOW), normalize=False)
    flagged = (counts >= _WINDOW_MIN - 0.5).astype(np.uint8)
    if not flagged.any():
        return ()
    n, _, stats, _ = cv2.connectedComponentsWithStats(flagged)
    out = [Region(int(x), int(y), int(w), int(h)) for x, y, w, h, _area in stats[1:]]
    return tuple(sorted(out, key=lambda r: (r.y, r.x)))


def marked_png(front: NDArray[np.float32], found: tuple[Region, ...]) -> bytes:
    """The aligned front with each region framed in red, as a palette PNG.

    A palette (254 greys and red) instead of RGB: a third of the bytes to
    compress, which is most of the time this picture costs.
    """
    from PIL import Image

    idx = (np.clip(front, 0, 255) * (253 / 255)).astype(np.uint8)
    for r in found:
        cv2.rectangle(idx, (r.x - 3, r.y - 3), (r.x + r.width + 3, r.y + r.height + 3), 255, 3)
    palette = [v for i in range(254) for v in (i * 255 // 253,) * 3] + [128, 128, 128, 230, 0, 0]
    im = Image.fromarray(idx, "P")
    im.putpalette(palette)
    out = io.BytesIO()
    im.save(out, "PNG", compress_level=1)
    return out.getvalue()
