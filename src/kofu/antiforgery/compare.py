"""Comparing a scan of the front with the restored image: where do they differ?

Steps (numbered as in the code):

1. Find the page in the front scan: the copy-evident underlay tints the
   whole page, so the page is the large region darker than the scanner lid;
   its minimum-area rectangle gives the four corners (rotation, scale, shift).
   A scan with no lid around the page (edge to edge) is the page itself.
2. Map the front onto the restored image's grid (150 dpi) by those corners
   (a finer scan is first averaged down to about 150 dpi: at_raster_dpi).
3. Refine the alignment: corners are found to a few pixels (or worse when
   the scanner cut a corner off), text must line up to a fraction of one.
   It is done against a half-resolution preview of the restoration
   (kofu.antiforgery.restore.preview), so that it runs while the back is
   still being restored. Coarse: each 2 cm tile is located by phase
   correlation at half resolution, and an affine correction is fitted to
   the tiles' shifts with RANSAC. Fine: Gauss-Newton steps of an affine
   correction over the whole page (see _refine_affine). Its last step's
   correlation is the likeness: below MIN_LIKENESS the front is not this
   certificate. Then the front is warped (FrontScan.on_raster).
4. The ink of each image: blurred (which melts the underlay's dots), then a
   black top-hat (which drops tint, shaded cells and uneven lighting).
   reference() prepares the restored image's side: its ink, the rule lines
   (found at half resolution) and what does not count, and the gradient
   sums of step 5.
5. Each 16 px block of the restored image gets a sub-pixel offset from its
   neighbours' Lucas-Kanade estimates at half resolution: the blocks were
   printed at scattered places of the back, and the front's alignment
   leaves some error too. The restored ink is put on the scan's scale.
6. Local gain (contrast varies over both pages; in photos fitted robustly,
   so that what one image lacks does not set it), then the deviation: how
   much more or less ink the front has than predicted, in solid strokes.
   Rule lines and the page's outer 5 mm do not count.
7. The deviation beyond a noise level is summed over 2 mm windows; windows
   over the threshold join into regions. Steps 5 (applied) to 7 work on the
   top and the bottom half of the page at once, in two threads.

Calibration: _NOISE and THRESHOLD were chosen on 70 scans (45 simulated as
in benchmarks/bench_antiforgery.py, 25 sharp pdfium renders turned up to 3°,
each with its own key). On those, the largest deviation of any pixel of an
untouched front was 0.63 stroke; the changed pixels of a 5 turned into a 6
(35→36, the smallest change tried: at 150 dpi the two glyphs differ by a
few pixels of curve) reached at least 0.81. With _NOISE at 0.6 the highest
window on an untouched front scored 0.05, the lowest on 35→36 0.60 (50→30
3.5, a name character 5.8). Checked on 100 of the benchmark's scans (highest
untouched 0.07, lowest 35→36 0.61) and on 300 more untouched ones (highest
0.20): THRESHOLD (0.3) sits between, with a factor of 1.5 to 2 either way at
the extremes. What makes the margin is the restoration's registration
(kofu.antiforgery.restore) and a raster rendered without snapping thin rules
to whole pixels (kofu.antiforgery.printjob.rasterise_front). Mid-grey print
(the red seal, grey labels) is restored least surely; a change there must
be in dark ink to be seen.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from kofu.antiforgery import layout as L
from kofu.antiforgery.page import Page
from kofu.antiforgery.scanio import shrink

_WORK_DPI = 50.0
_EDGE = 30
_TILE = 128
"""Side (in 150 dpi pixels: 2 cm) of the tiles whose shifts give the coarse alignment."""
_TILE_TEXT = 4.0
"""A tile with less contrast than this (grey levels, standard deviation) holds no text to align on.
(On the half-resolution preview blank tiles measure 0-2, tiles of the table's small text 3-7:
at 8, a 住民票 kept 10 tiles, too few for a photo's homography, and the affine fitted to
those at the top put the certification block at the foot 4-7 px off.)"""
_TILE_PEAK = 0.3
"""Weaker phase-correlation peaks are not trusted."""
_SIGMA = 1.0
"""Blur before taking the ink: melts the underlay's 複写 dots (a 3 px period at 150 dpi)."""
_HAT = np.ones((7, 7), np.uint8)
"""Wider than any stroke at 150 dpi: the top-hat keeps strokes whole."""
_MAX_SHIFT = 1.0
"""A block's offset beyond this (px) is no misregistration but different content or noise
(estimated at half resolution, a 1.5 px limit let noisy blocks mislead their neighbours:
an untouched front scored 0.24 instead of 0.07)."""
_AROUND = np.exp(-(np.arange(-3, 4)[:, None] ** 2 + np.arange(-3, 4)[None, :] ** 2) / 2.0).astype(
    np.float32
)
_AROUND[3, 3] = 0.0  # the block itself does not count
_COLUMNS = np.arange(L.RASTER_W, dtype=np.float32)[None, :]
"""Each raster column's own coordinate, for cv2.remap."""
_LK_STEPS = 5
"""Gauss-Newton steps of the fine alignment, at most: each takes the error to about a
fifth; a step under a tenth of a (full-resolution) pixel ends it."""
_GAIN_WINDOW = 65
"""Side (px, 11 mm) of the window over which the two inks' contrast is matched: several characters."""
_ROBUST_GAIN = 0.2
"""In photos, the local gain is fitted a second time with each pixel weighted by
1 / (1 + (r / c)^2), r its residual after the first fit and c this share of a solid stroke:
ink that one of the two images lacks (print the restoration lost, a character a forger
changed) then weighs little in the contrast matched to the rest. With one least-squares fit,
a table's rule the restoration of a blurred back photo had mostly lost (bench photos pair 70)
pulled the gain up over its 11 mm window, the restored 昭 beside it was scaled past the
photo's, and the untouched front was flagged (1.96); fitted robustly 0.89, while the same
pair's changed digit and name character scored higher than before (6.48 to 6.81, 11.66 to
17.61): the changed character no longer explains itself away through the gain."""
_RULE = 40
"""A straight run of ink this long (6.8 mm) is a rule line, not part of a character."""
_NOISE = 0.6
"""Deviation (in solid strokes) that restoration and scanning produce on untouched pages."""
MIN_LIKENESS = 0.3
"""Below this likeness (align_front) the front scan does not show this certificate (a
blank page, another document, a page upside down): genuine fronts give 0.68-0.71, one
upside down, turned a quarter, blank, or the back given as the front -0.02-0.02
(measured on the benchmark's scans)."""
_WINDOW = 12
"""2 mm: about half a character at 150 dpi."""
THRESHOLD = 0.3
"""Summed deviation in a window that flags it (see Calibration above)."""


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


def page_corners(img: NDArray[np.uint8]) -> list[NDArray[np.float32]]:
    """1. Where the page may lie in the scan: its four corners, the likeliest first
    (none: no page).

    The page is the large region darker than the scanner lid. A scanner set
    to A4 returns the page edge to edge, with no lid around it: then an
    image of the page's shape is the page itself (step 3 corrects the few
    pixels this is off), and as no lid is seen, a region found inside it
    (a table) is not trusted alone."""
    out = []
    found = _page_region(img)
    if found is not None:
        out.append(found)
    h, w = img.shape
    if abs(max(h, w) / min(h, w) - L.PAGE_H_MM / L.PAGE_W_MM) < 0.03 * L.PAGE_H_MM / L.PAGE_W_MM:
        out.append(np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32) - 0.5)
    return out


def at_raster_dpi(img: NDArray[np.uint8], dpi: float | None = None) -> NDArray[np.uint8]:
    """A front scan area-averaged to about the raster's 150 dpi, if it is much finer
    (``dpi``: the page's, when known; else the scan's short side is taken as 220 mm).

    The alignment's warp samples bilinearly, which from 300 dpi or more
    aliases the underlay's fine screen into a moiré that reads as ink
    (measured: untouched 600 dpi fronts scored up to 12, flagged).
    """
    if dpi is None:
        dpi = min(img.shape) / (L.PAGE_W_MM + 10) * 25.4  # an A4 scan is about 220 mm across
    if dpi < 1.25 * L.RASTER_DPI:
        return img
    f = L.RASTER_DPI / dpi
    size = (round(img.shape[1] * f), round(img.shape[0] * f))
    return np.asarray(cv2.resize(img, size, interpolation=cv2.INTER_AREA), np.uint8)


def _warp(
    img: NDArray[Any], h: NDArray[np.float64], size: tuple[int, int], flags: int, border: float = 0.0
) -> NDArray[Any]:
    """``img`` sampled where the 3x3 ``h`` (with WARP_INVERSE_MAP in ``flags``) says: an
    affine warp when ``h`` is affine (a scan), a perspective one otherwise (a photo)."""
    if abs(h[2, 0]) < 1e-12 and abs(h[2, 1]) < 1e-12 and abs(h[2, 2] - 1.0) < 1e-12:
        return np.asarray(cv2.warpAffine(img, h[:2], size, flags=flags, borderValue=border))
    return np.asarray(cv2.warpPerspective(img, h, size, flags=flags, borderValue=border))


def _page_region(img: NDArray[np.uint8]) -> NDArray[np.float32] | None:
    """The page as the large region darker than the scanner lid, or None."""
    h, w = img.shape
    dpi = w / (L.PAGE_W_MM + 10) * 25.4
    small, f = shrink(img, dpi, _WORK_DPI)
    small = np.asarray(cv2.GaussianBlur(small, (0, 0), 1.5), np.uint8)
    k = max(15, int(small.shape[1] / 6) | 1)
    white = cv2.dilate(small, np.ones((k, k), np.uint8))
    page = (small.astype(np.float32) < 0.94 * white.astype(np.float32)).astype(np.uint8)
    page = np.asarray(cv2.morphologyEx(page, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8)), np.uint8)
    contours, _ = cv2.findContours(page, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    if cv2.contourArea(c) < 0.3 * small.size:
        return None
    box = cv2.boxPoints(cv2.minAreaRect(c)).astype(np.float32)
    return _order(box) / f


_ORB_FEATURES = 6000
_ORB_SHORT_SIDE = 0.7
"""The fallback below assumes the page spans about this share of a photo's short side
(60-90 % of a 12 MP frame's height is 57-85 % of its width; ORB's pyramid takes the rest)."""
_MIN_INLIERS = 12
"""Matched features a homography must explain to place the page by its content (light-desk
photos of the bench's ranges: 23-170). Not the guard against another document: the
alignment's likeness that follows is (MIN_LIKENESS)."""


def page_by_content(img: NDArray[np.uint8], reference: NDArray[np.uint8]) -> Page | None:
    """The page in a photo whose outline did not show (a desk as light as the paper, the page's
    edge hidden), placed by its content: ORB features of the photo matched to those of the
    restored image (``reference``: kofu.antiforgery.restore.preview, 75 dpi), and the
    homography that explains most matches (RANSAC). None when too few agree (not this page).

    Only a fallback, tried when the page's outline gave nothing (a second or so on two
    cores): a scan or a photo on a darker desk never gets here. OpenCV's ORB (SIFT found
    a tenth of the matches on small text at these resolutions, and took longer)."""
    # The restored image at 150 dpi, the photo at about the same scale.
    ref = np.asarray(cv2.resize(reference, (L.RASTER_W, L.RASTER_H), interpolation=cv2.INTER_LINEAR), np.uint8)
    f = L.RASTER_W / _ORB_SHORT_SIDE / min(img.shape)
    small = np.asarray(
        cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR),
        np.uint8,
    )
    orb = cv2.ORB_create(nfeatures=_ORB_FEATURES, fastThreshold=5)  # type: ignore[attr-defined]  # missing from the stubs
    k1, d1 = orb.detectAndCompute(ref, None)
    k2, d2 = orb.detectAndCompute(small, None)
    if d1 is None or d2 is None or len(k1) < _MIN_INLIERS or len(k2) < _MIN_INLIERS:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(d1, d2, k=2)
    # Distinct (the ratio test) and mutual: the underlay's repeated dots in the photo drew
    # many features of the restored image to one place, and RANSAC to a degenerate map (seen).
    mutual = {m.queryIdx: m.trainIdx for m in matcher.match(d2, d1)}
    good = [
        p[0]
        for p in pairs
        if len(p) == 2 and p[0].distance < 0.8 * p[1].distance and mutual.get(p[0].trainIdx) == p[0].queryIdx
    ]
    if len(good) < _MIN_INLIERS:
        return None
    src = np.array([k1[m.queryIdx].pt for m in good], np.float32)
    dst = np.array([k2[m.trainIdx].pt for m in good], np.float32)
    h, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 6.0)
    if h is None or inliers is None or int(inliers.sum()) < _MIN_INLIERS:
        return None
    pw, ph = L.PAGE_W_MM / 25.4 * L.RASTER_DPI, L.PAGE_H_MM / 25.4 * L.RASTER_DPI
    quad = np.array([[[-0.5, -0.5], [pw - 0.5, -0.5], [pw - 0.5, ph - 0.5], [-0.5, ph - 0.5]]], np.float32)
    corners = np.asarray(cv2.perspectiveTransform(quad, h)[0], np.float32)
    corners = (corners + np.float32(0.5)) / np.float32(f) - np.float32(0.5)
    if not cv2.isContourConvex(corners.reshape(-1, 1, 2)):
        return None
    area = float(cv2.contourArea(corners))
    c = corners.astype(np.float64)
    sides = [float(np.linalg.norm(c[(i + 1) % 4] - c[i])) for i in range(4)]
    ratio = (sides[1] + sides[3]) / max(sides[0] + sides[2], 1e-9)
    if area < 0.03 * img.size or not 0.75 < ratio / (L.PAGE_H_MM / L.PAGE_W_MM) < 1.3:
        return None  # no page seen in a photo up to 20-25° off its normal
    return Page(corners, float(np.sqrt(area / (L.PAGE_W_MM * L.PAGE_H_MM))), area / img.size)


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
            if float(cv2.meanStdDev(t)[1][0, 0]) < _TILE_TEXT:  # 10x numpy's std on small arrays
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


def _homography_correction(
    src: NDArray[np.float32], found: NDArray[np.float32], tolerance: float
) -> NDArray[np.float64] | None:
    """3x3: the homography that best takes tile centres to where they were found (RANSAC)."""
    if len(src) < 12:
        return None
    m, _ = cv2.findHomography(src, found, cv2.RANSAC, tolerance)
    return None if m is None else np.asarray(m, np.float64)


class FrontScan:
    """A front scan (best at 150 dpi) and what aligning it needs of it alone: prepared
    before the restored image is there (see verify)."""

    def __init__(
        self,
        image: NDArray[np.uint8],
        page: Page | None = None,
        notes: tuple[str, ...] = (),
        source: NDArray[np.uint8] | None = None,
    ) -> None:
        self.image = image
        self.source = source
        """The decoded picture, kept when no page outline was found in it: the page may
        still be placed by its content (page_by_content)."""
        self.notes = notes
        """What was found of the scan (for the diagnostics)."""
        self.corners = page_corners(image)
        self.perspective = False
        """The page was seen in perspective (a photo): aligned by a homography."""
        if page is not None:
            # A page found within its surround (kofu.antiforgery.page) comes first.
            self.corners.insert(0, page.corners)
            # Even a camera 1.5° off the normal bends the page by 5 px at 150 dpi (seen),
            # more than an affine map leaves to step 5: any page seen in a surround is
            # mapped by a homography.
            self.perspective = True
        half, _ = shrink(image, 2.0, 1.0)
        self.texture = _lk_texture(half)

    def on_raster(
        self,
        h: NDArray[np.float64],
        image: NDArray[np.uint8],
        front_ink: NDArray[np.float32],
        y0: int,
        y1: int,
    ) -> None:
        """Rows y0:y1 of the front scan warped onto the restored grid by ``h`` (raster ->
        scan, from align_front) into ``image``, and of its ink into ``front_ink``.
        By rows, so that two threads can share the work. (The ink taken first and
        warped instead: measured slower, and blurred by the warp, a changed digit
        scored lower.)"""
        # With a margin wider than ink()'s filters reach (9 rows).
        a, b = max(0, y0 - 16), min(L.RASTER_H, y1 + 16)
        shifted = h @ np.array([[1.0, 0, 0], [0, 1, a], [0, 0, 1]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        part = _warp(self.image, shifted, (L.RASTER_W, b - a), flags, 255)
        image[y0:y1] = part[y0 - a : y1 - a]
        front_ink[y0:y1] = ink(np.asarray(part, np.uint8))[y0 - a : y1 - a]


def align_front(
    front: FrontScan, corners: NDArray[np.float32], reference: NDArray[np.uint8]
) -> tuple[NDArray[np.float64], float]:
    """3x3: the affine map of restored-grid pixels into the front scan, whose page
    corners are ``corners``; and how much the front looks like the restored
    image there: the correlation of the two images' texture (1: the same
    page, 0: nothing in common; see MIN_LIKENESS). ``reference`` is the
    restored image at half resolution (kofu.antiforgery.restore.preview)."""
    # 2. Page corners in raster pixels (pixel centres at integers: the page edge is at -0.5).
    #    (Four corners of a rectangle: the map is affine.)
    pw = L.PAGE_W_MM / 25.4 * L.RASTER_DPI
    ph = L.PAGE_H_MM / 25.4 * L.RASTER_DPI
    dst = np.array([[-0.5, -0.5], [pw - 0.5, -0.5], [-0.5, ph - 0.5]], np.float32)
    #    A page seen in perspective (a photo: opposite sides of different lengths)
    #    maps by all four corners instead; the corrections below stay affine.
    if front.perspective:
        quad = np.array([[-0.5, -0.5], [pw - 0.5, -0.5], [pw - 0.5, ph - 0.5], [-0.5, ph - 0.5]], np.float32)
        h = np.asarray(cv2.getPerspectiveTransform(quad, corners.astype(np.float32)), np.float64)
    else:
        h = np.vstack([cv2.getAffineTransform(dst, corners[[0, 1, 3]]), [0.0, 0.0, 1.0]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    # 3. A wide search at half resolution (a page cut off by the scanner's
    #    edge has wrong corners): an affine correction fitted to the tiles'
    #    shifts, robust to the tiles a forger changed (RANSAC). Then the
    #    fine fit (_refine_affine).
    half = (L.RASTER_W // 2, L.RASTER_H // 2)
    s = np.array([[2.0, 0, 0.5], [0, 2.0, 0.5], [0, 0, 1]])  # half-res pixel -> full-res pixel
    texture = _texture(reference)
    # A photo's page corners are found to a few pixels, and each one's error bends the
    # perspective: its correction is a homography (the tiles' shifts show the bend),
    # searched twice (the second time from the first's: a page whose corners were
    # far off aligned only in part after one, seen).
    for search in (20.0, 6.0) if front.perspective else (20.0,):
        moving = _texture(np.asarray(_warp(front.image, h @ s, half, flags, 255), np.uint8))
        src, found = _tile_shifts(texture, moving, _TILE // 2, search)
        a = _homography_correction(src, found, 1.0) if front.perspective else None
        if a is None:
            a = _affine_correction(src, found, 1.0)
        if a is not None:
            h = h @ s @ a @ np.linalg.inv(s)
    return _refine_affine(front, h, reference)


def _lk_texture(img: NDArray[np.uint8]) -> NDArray[np.float32]:
    """What the fine alignment matches: the ink, slightly blurred, above its local mean.
    (The blurs in 8 bits: their rounding is far below the text's contrast.)"""
    b = cv2.GaussianBlur(img, (0, 0), 1.2)
    return np.asarray(cv2.subtract(cv2.blur(b, (15, 15)), b, dtype=cv2.CV_32F), np.float32)


def _refine_affine(
    front: FrontScan, h: NDArray[np.float64], reference: NDArray[np.uint8]
) -> tuple[NDArray[np.float64], float]:
    """3. (fine) Gauss-Newton steps of an affine correction, from the whole page;
    and the correlation of the two textures at the last step (the likeness).

    Phase correlation's sub-pixel peak is biased by up to half a pixel
    (measured: a 0.3 px shift reads as 0.45), so the fine alignment is a
    Lucas-Kanade fit instead; ECC (cv2.findTransformECC) does the same but
    took 260 ms. It runs at half resolution (a tenth of a pixel there is
    enough: step 5 takes up what is left), and its sums are taken per block
    with the block's centre standing for its pixels' positions, which makes
    each step a few block sums and one 6 x 6 solve. (Starting at a quarter of
    the resolution saved no step at half: measured.)
    """
    # Half-resolution pixel -> full-resolution pixel (pixel centres).
    s = np.array([[2.0, 0, 0.5], [0, 2.0, 0.5], [0, 0, 1]])
    hh, likeness = _lk_steps(
        front.texture, np.linalg.inv(s) @ h @ s, reference, _LK_STEPS, 0.05, front.perspective
    )
    return np.asarray(s @ hh @ np.linalg.inv(s), np.float64), likeness


def _lk_steps(
    front_texture: NDArray[np.float32],
    hh: NDArray[np.float64],
    reference: NDArray[np.uint8],
    steps: int,
    stop: float,
    homography: bool = False,
) -> tuple[NDArray[np.float64], float]:
    """Up to ``steps`` Gauss-Newton steps at one resolution (that of ``reference``; ``hh``
    maps its pixels to the front's, whose _lk_texture is ``front_texture``), until a step
    moves less than ``stop`` pixels.

    The sums are taken over every other pixel of every other row (the
    textures are blurred over more than that): a quarter of the work, and
    still some 30,000 pixels with text for six unknowns.

    With ``homography`` (a photo) each step is a homography instead (eight
    unknowns: the affine six and the two of perspective, whose displacement is
    -X (g1 X + g2 Y), -Y (g1 X + g2 Y) to first order); the sums are the same.
    """
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    t = _lk_texture(reference)
    gx = (cv2.Sobel(t, cv2.CV_32F, 1, 0, ksize=3) / 8)[::2, ::2]
    gy = (cv2.Sobel(t, cv2.CV_32F, 0, 1, ksize=3) / 8)[::2, ::2]
    t = np.ascontiguousarray(t[::2, ::2])
    tt = float(np.vdot(t, t))
    size = (t.shape[1], t.shape[0])
    every_other = np.diag([2.0, 2.0, 1.0])  # sampled pixel -> pixel
    sxx, sxy, syy = _block_sums(gx * gx), _block_sums(gx * gy), _block_sums(gy * gy)
    # Block centres (the mean of their sampled pixels), scaled to about 1 for a
    # well-conditioned system.
    block = L.BLOCK * reference.shape[1] // L.RASTER_W
    by, bx = np.mgrid[0 : L.GRID_H, 0 : L.GRID_W].astype(np.float64)
    c = 1.25 / (L.PAGE_W_PX * block / L.BLOCK)
    xs = (bx * block + (block - 2) / 2) * c
    ys = (by * block + (block - 2) / 2) * c
    p = np.stack([xs, ys, np.ones_like(xs)], axis=-1)  # (GH, GW, 3)
    pp = p[..., :, None] * p[..., None, :]  # (GH, GW, 3, 3)
    zero = np.zeros_like(xs)
    bx = np.stack([xs, ys, zero + 1, zero, zero, zero, -xs * xs, -xs * ys], axis=-1)
    by = np.stack([zero, zero, zero, xs, ys, zero + 1, -xs * ys, -ys * ys], axis=-1)
    inside = np.zeros((L.GRID_H, L.GRID_W), bool)
    m = _EDGE // L.BLOCK + 1
    inside[m : L.PAGE_H_PX // L.BLOCK - m, m : L.PAGE_W_PX // L.BLOCK - m] = True
    likeness = 0.0
    # The front's texture was taken once (FrontScan) and is sampled at each
    # step: the warp is close to a shift, with which the texture's filters commute.
    for _ in range(steps):
        mv = _warp(front_texture, hh @ every_other, size, flags)
        mt, mm = float(np.vdot(mv, t)), float(np.vdot(mv, mv))
        likeness = mt / max(float(np.sqrt(mm * tt)), 1e-9)
        # The front's texture put on the reference's energy (not regressed on it: a
        # regression gain shrinks with the misalignment, and each step with it).
        d = mv * np.float32(np.sqrt(tt / max(mm, 1e-9))) - t
        sxd, syd = _block_sums(gx * d), _block_sums(gy * d)
        # Blocks that disagree most (a forger's change, a stain) do not pull.
        energy = _block_sums(d * d)
        w = (inside & (energy <= np.percentile(energy[inside], 98))).astype(np.float64)
        if homography:
            hm = (
                np.einsum("ij,ijk,ijl->kl", w * sxx, bx, bx)
                + np.einsum("ij,ijk,ijl->kl", w * sxy, bx, by)
                + np.einsum("ij,ijk,ijl->kl", w * sxy, by, bx)
                + np.einsum("ij,ijk,ijl->kl", w * syy, by, by)
            )
            b = -(np.einsum("ij,ijk->k", w * sxd, bx) + np.einsum("ij,ijk->k", w * syd, by))
        else:
            hm = np.zeros((6, 6))
            hm[:3, :3] = np.einsum("ij,ijkl->kl", w * sxx, pp)
            hm[:3, 3:] = hm[3:, :3] = np.einsum("ij,ijkl->kl", w * sxy, pp)
            hm[3:, 3:] = np.einsum("ij,ijkl->kl", w * syy, pp)
            b = -np.concatenate(
                [np.einsum("ij,ijk->k", w * sxd, p), np.einsum("ij,ijk->k", w * syd, p)]
            )
        try:
            u = np.linalg.solve(hm, b)
        except np.linalg.LinAlgError:
            break
        # The displacement u(x) = (u0 X + u1 Y + u2, u3 X + u4 Y + u5) with X = c x, Y = c y
        # (and, for a homography, the perspective row).
        g = (c * c * u[6], c * c * u[7]) if homography else (0.0, 0.0)
        step = np.array(
            [[1 + c * u[0], c * u[1], u[2]], [c * u[3], 1 + c * u[4], u[5]], [g[0], g[1], 1.0]]
        )
        hh = hh @ step
        if np.abs(u).max() < stop:
            break
    return hh, likeness


def ink(img: NDArray[np.uint8]) -> NDArray[np.float32]:
    """4. Ink above the local paper (0..1; the image is 0..255, 255 = paper): blurred,
    then a black top-hat, which keeps strokes and drops the underlay's tint,
    shaded cells and uneven lighting. The blur melts the underlay's dots
    (period 3 px). In 8 bits: 3x faster than in floats, and a 255th of a
    stroke is far below what counts."""
    blur = cv2.GaussianBlur(img, (0, 0), _SIGMA)
    hat = cv2.morphologyEx(blur, cv2.MORPH_BLACKHAT, _HAT)
    return np.multiply(hat, np.float32(1 / 255), dtype=np.float32)


def _block_sums(x: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    """(GRID_H, GRID_W): the sum over each block of ``x`` (the raster or a scaled copy
    of it), by OpenCV's area resize: 10x numpy's reshape-and-sum."""
    means = cv2.resize(
        np.asarray(x, np.float32), (L.GRID_W, L.GRID_H), interpolation=cv2.INTER_AREA
    )
    return np.asarray(means * (x.size / (L.GRID_W * L.GRID_H)), np.float32)


def _half(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Area-averaged to half the resolution."""
    size = (x.shape[1] // 2, x.shape[0] // 2)
    return np.asarray(cv2.resize(x, size, interpolation=cv2.INTER_AREA), np.float32)


def _block_shifts(
    f: NDArray[np.float32], ref: Reference, k: float
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """5. Each block's sub-pixel offset (in raster pixels) between the front's ink
    ``f`` and the restored ink (``ref``) times ``k``, both at half resolution.

    One Lucas-Kanade step per block (the blocks come from different places
    of the back, so each carries its own small error, and the front's
    alignment leaves some too). A block's own estimate is not used for it:
    each block gets the weighted mean of its neighbours' (a Gaussian with a
    hole in the middle), so a changed character cannot shift itself into
    agreement. Half resolution tells the offsets as well (the inks are
    blurred) for a quarter of the work.
    """
    # The restored ink's parts were summed by reference(), without k.
    k2 = k * k
    sxx, sxy, syy = k2 * ref.sxx, k2 * ref.sxy, k2 * ref.syy
    d = f - np.float32(k) * ref.half_ink
    sxd, syd = k * _block_sums(ref.gx * d), k * _block_sums(ref.gy * d)
    det = sxx * syy - sxy * sxy
    ok = det > 1e-4 * max(float(np.percentile(det, 90)), 1e-12)
    safe = np.where(ok, det, 1.0)
    dx = np.where(ok, (syy * sxd - sxy * syd) / safe, 0.0) * 2.0
    dy = np.where(ok, (sxx * syd - sxy * sxd) / safe, 0.0) * 2.0
    ok &= (np.abs(dx) < _MAX_SHIFT) & (np.abs(dy) < _MAX_SHIFT)
    w = np.where(ok, np.minimum(sxx, syy), 0.0).astype(np.float32)

    def around(z: NDArray[np.floating]) -> NDArray[np.float32]:
        return np.asarray(
            cv2.filter2D(z.astype(np.float32), -1, _AROUND, borderType=cv2.BORDER_CONSTANT),
            np.float32,
        )

    den = np.maximum(around(w), 1e-9)
    return np.asarray(around(dx * w) / den, np.float32), np.asarray(
        around(dy * w) / den, np.float32
    )


@dataclass(frozen=True)
class Reference:
    """What the comparison needs of the restored image (see reference)."""

    ink: NDArray[np.float32]
    """ink() of the linear restoration."""
    half_ink: NDArray[np.float32]
    """The same at half resolution."""
    gx: NDArray[np.float32]
    gy: NDArray[np.float32]
    """The gradient of half_ink; and its sums per block, for _block_shifts:"""
    sxx: NDArray[np.float32]
    sxy: NDArray[np.float32]
    syy: NDArray[np.float32]
    counts: NDArray[np.uint8]
    """1 where a deviation counts: not near a rule line, nor where the restoration
    guessed, nor in the page's outer 5 mm."""


def _stroke_level(ink_img: NDArray[np.float32], gain: float = 1.0) -> float:
    """The ink of a solid stroke in ``ink_img`` times ``gain``: the 95th percentile of the
    inked pixels (a sample)."""
    sample = ink_img[::4, ::4] * np.float32(gain)
    strokes = sample[sample > 0.05]
    if not strokes.size:
        return 1.0
    k = int(0.95 * (strokes.size - 1))
    return max(float(np.partition(strokes, k)[k]), 0.05)


def reference(restored: NDArray[np.uint8], unsure: NDArray[np.bool_]) -> Reference:
    """4. and 6. (masks) for the restored image (linear, 0..255) and the pixels of it
    that are a guess: done while the front is being aligned."""
    g = ink(restored)
    gh = _half(g)
    # Rule lines (longer than any character's stroke) are the table, which
    # no forger changes, and where a seam can break them: nothing counts near
    # one. (A line a forger adds to the front is no rule of the restored
    # image: it counts.) Found at half resolution, a quarter of the work: a
    # one-pixel rule keeps half its ink there, hence the lower threshold.
    inked = (gh > 0.2 * _stroke_level(g)).view(np.uint8)
    across = cv2.morphologyEx(inked, cv2.MORPH_OPEN, np.ones((1, _RULE // 2), np.uint8))
    down = cv2.morphologyEx(inked, cv2.MORPH_OPEN, np.ones((_RULE // 2, 1), np.uint8))
    rules = cv2.dilate(cv2.bitwise_or(across, down), np.ones((3, 3), np.uint8))
    ignore = cv2.bitwise_or(
        cv2.resize(rules, (L.RASTER_W, L.RASTER_H), interpolation=cv2.INTER_NEAREST),
        cv2.dilate(unsure.view(np.uint8), np.ones((3, 3), np.uint8)),
    )
    counts = np.asarray(cv2.threshold(ignore, 0, 1, cv2.THRESH_BINARY_INV)[1], np.uint8)
    # The page's outer 5 mm carry no certificate content, only the edge of the paper.
    m = _EDGE
    counts[:m], counts[L.PAGE_H_PX - m :] = 0, 0
    counts[:, :m], counts[:, L.PAGE_W_PX - m :] = 0, 0
    gx = np.asarray(cv2.Sobel(gh, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8), np.float32)
    gy = np.asarray(cv2.Sobel(gh, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8), np.float32)
    return Reference(
        g, gh, gx, gy, _block_sums(gx * gx), _block_sums(gx * gy), _block_sums(gy * gy), counts
    )


_BLURS = (0.4, 0.6, 0.8, 1.0, 1.3)
"""Gaussian sigmas (150 dpi pixels) tried to match a photo's blur."""


def blurred(restored: NDArray[np.uint8], sigma: float) -> NDArray[np.uint8]:
    """The restored image blurred by ``sigma`` px (Gaussian)."""
    return np.asarray(cv2.GaussianBlur(restored, (0, 0), sigma), np.uint8)


def blur_difference(front_ink: NDArray[np.float32], restored: NDArray[np.uint8], ref: Reference) -> float:
    """How much more blurred the front (a photo, aligned; its ink ``front_ink``) is than the
    restored image: the sigma (0 or one of _BLURS) whose blurring of the restored image makes
    the two inks correlate best, over the pixels that count (every other row and column).

    Only the restoration is ever blurred, never the front photo, even when the back photo was
    the more blurred one. The restoration of a blurred back is sharpened (kofu.antiforgery.
    restore.finish): its thin strokes are fainter, but small glyphs keep their open insides,
    and the ink's top-hat (ink) finds their strokes whole. Blurring the sharp front photo
    instead closes those insides (the 日 of 昭 on a date line: its strokes lost half their
    ink), so the front then showed less ink than the restoration where nothing was changed.
    Over the photo bench's first 30 pairs (seed 1017) the front was blurred in 11: untouched
    fronts scored up to 1.65 (flagged from PHOTO_THRESHOLD); with the restoration blurred
    instead (0.4-0.6 px, still the best-correlating of its blurs there), up to 0.88, while the
    lowest changed digit (4.39) and name character (2.02) scored as before."""
    counts = ref.counts[::2, ::2].astype(bool)

    def corr(f: NDArray[np.float32], g: NDArray[np.float32]) -> float:
        x, y = f[::2, ::2][counts], g[::2, ::2][counts]
        return float(np.dot(x, y) / max(float(np.sqrt(np.dot(x, x) * np.dot(y, y))), 1e-9))

    best, best_c = 0.0, corr(front_ink, ref.ink)
    for sigma in _BLURS:
        c = corr(front_ink, ink(blurred(restored, sigma)))
        if c > best_c:
            best, best_c = sigma, c
    return best


def difference_score(
    front_ink: NDArray[np.float32], ref: Reference, photo: bool = False,
    capped: list[tuple[int, int]] | None = None,
) -> NDArray[np.float32]:
    """5.-7. Per window of _WINDOW px: the summed deviation beyond _NOISE, in solid strokes.

    ``front_ink`` is ink() of the aligned scan, ``ref`` the restored image's reference();
    ``photo``: the two are photos, whose noise level is measured (_PHOTO_NOISE). The rows
    (y0, y1) of a band whose photo noise level reached _PHOTO_NOISE_MAX are appended to
    ``capped``: a difference there may hide below that level, so they cannot be judged."""
    f = front_ink
    fh, gh = _half(f), ref.half_ink
    # The two inks on one scale (the scan's black is not the restoration's):
    # k, by which the restored ink is multiplied (the local gain of step 6 takes it in).
    sel = gh > 0.1
    gs = gh[sel]
    k = max(float((fh[sel] * gs).sum() / max(float((gs * gs).sum()), 1e-9)), 1e-3)
    # 5.
    dx, dy = _block_shifts(fh, ref, k)
    # The unit: a solid stroke, as the restored image shows it on the front's scale
    # (the front's own is lower on a blurred scan, and its noise would count more).
    scale = _stroke_level(ref.ink, k)
    # 6.-7. The top and the bottom half of the page at once, in two threads
    #    (OpenCV and numpy release the GIL): each is worked on with a margin
    #    wider than any filter below reaches, then cut to its rows.
    mid = L.RASTER_H // 2
    score = np.empty((L.RASTER_H, L.RASTER_W), np.float32)
    with ThreadPoolExecutor(max_workers=1) as pool:
        top = pool.submit(_band_score, f, ref, dx, dy, k, scale, score, 0, mid, photo, capped)
        _band_score(f, ref, dx, dy, k, scale, score, mid, L.RASTER_H, photo, capped)
        top.result()
    return score


_PHOTO_NOISE = 1.4
"""In photos, the noise level is at least this multiple of the pair's measured deviation
(_photo_noise_level, in strokes; _band_score). Set first as a multiple of the band's own 99th
percentile (measured then on photos of the bench's draw, seed 1017, other keys: 0.23-0.38 on
most pairs, 0.46-0.49 on the noisiest, whose untouched fronts then scored 0.3 instead of
1.3-2.0 with the fixed level); kept at 1.4 with the per-tile level: over the bench's first 30
pairs with one fixed key each, untouched fronts up to 2.5 (1 of 30 over PHOTO_THRESHOLD), a
changed name character at least 1.75, a changed digit 4.5. With random keys the bench found
4-6 untouched fronts of 30 over the threshold (restoration errors: docs/verify.md)."""
_PHOTO_NOISE_MAX = 1.0
"""The most _PHOTO_NOISE may raise the level to (strokes): a backstop only, and a band that
reaches it is not checked (difference_score's ``capped``: a change as large as most of the
band could raise its tiles' level this far, and a deviation is about one stroke at most). A deviation is
at most about one stroke, so this cap alone did not keep a large change from raising the
level over itself (a whole address line changed passed at 0.20 on the bench's photos with
the band's own 99th percentile as the level); what does is measuring the level per tile."""
_TILE_NOISE = 96
"""Side (px) of the tiles over which a photo pair's noise is measured (_photo_noise_level)."""
_NOISE_QUANTILE = 75
"""Which of the tiles' levels is the band's: the upper quartile."""


def _photo_noise_level(e: NDArray[Any], sel: NDArray[np.bool_]) -> float | None:
    """A photo pair's noise in one band: the 99th percentile of the deviation ``e`` over the
    inked pixels ``sel`` of each 16 mm tile, and the upper quartile of those (None: too few
    inked tiles). A change a forger makes is local: a whole address line changed, or a
    person added, is in a few tiles and moves the upper quartile little, where it was
    most of the band's own 99th percentile (that level let such fronts pass, found in review
    and over the bench's draw: a changed line scored 0.20). Over the bench's first 30 pairs,
    a changed line then scores 11 or more."""
    t = _TILE_NOISE
    levels = []
    for y in range(0, e.shape[0] - t // 2, t):
        for x in range(0, e.shape[1] - t // 2, t):
            s = sel[y : y + t, x : x + t]
            if int(s.sum()) >= 200:
                levels.append(float(np.percentile(e[y : y + t, x : x + t][s], 99)))
    if len(levels) < 4:
        return None
    return float(np.percentile(levels, _NOISE_QUANTILE))


_MARGIN = 48
"""Rows around a band that its filters see: the window, the gain's window (33 px);
a multiple of the block (the offsets are per block) and of 4 (the gain works at a
quarter of the resolution)."""


def _band_score(
    f: NDArray[np.float32],
    ref: Reference,
    dx: NDArray[np.float32],
    dy: NDArray[np.float32],
    k: float,
    scale: float,
    score: NDArray[np.float32],
    y0: int,
    y1: int,
    photo: bool = False,
    capped: list[tuple[int, int]] | None = None,
) -> None:
    """Steps 5 (the offsets applied) to 7 for the rows y0:y1 of the raster, into ``score``
    (``capped``: see difference_score)."""
    a, b = max(0, y0 - _MARGIN), min(L.RASTER_H, y1 + _MARGIN)
    f = f[a:b]
    rows, size = b - a, (L.RASTER_W, b - a)
    # 5. Each block of the restored ink moved by its offset: remap's maps are
    #    each pixel's own coordinates plus its block's offset (built a block row
    #    at a time: twice as fast as resizing the offsets to pixels).
    blocks, n = slice(a // L.BLOCK, b // L.BLOCK), (b - a) // L.BLOCK
    map_x = np.empty((n, L.BLOCK, L.RASTER_W), np.float32)
    map_x[:] = (_COLUMNS + np.repeat(dx[blocks], L.BLOCK, axis=1))[:, None, :]
    ys = np.arange(a, b, dtype=np.float32).reshape(n, L.BLOCK, 1)
    map_y = ys + np.repeat(dy[blocks], L.BLOCK, axis=1)[:, None, :]
    g = np.asarray(
        cv2.remap(
            ref.ink,
            map_x.reshape(size[1], size[0]),
            map_y.reshape(size[1], size[0]),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        ),
        np.float32,
    )
    # 6. Local gain: contrast varies over both pages (lighting, dot gain); a
    #    window of several characters keeps one changed character from
    #    being explained away. (With k in it; the regularisation is on the
    #    front's scale.)
    #    The gain is smooth: it is worked out at a quarter of the resolution.
    quarter = (L.RASTER_W // 4, rows // 4)
    box = (_GAIN_WINDOW // 4, _GAIN_WINDOW // 4)
    fh, gh = _half(f), _half(g)
    fg = cv2.boxFilter(cv2.resize(fh * gh, quarter, interpolation=cv2.INTER_AREA), -1, box)
    gg = cv2.boxFilter(cv2.resize(gh * gh, quarter, interpolation=cv2.INTER_AREA), -1, box)
    gain = (fg + 2e-4 / k) / (gg + 2e-4 / (k * k))
    if photo:
        # Robustly, in photos: what fits the first gain badly weighs little (_ROBUST_GAIN).
        r = fh - gh * cv2.resize(gain, (fh.shape[1], fh.shape[0]), interpolation=cv2.INTER_LINEAR)
        r *= np.float32(1.0 / (_ROBUST_GAIN * scale))
        w = 1.0 / (1.0 + r * r)
        fg = cv2.boxFilter(cv2.resize(w * fh * gh, quarter, interpolation=cv2.INTER_AREA), -1, box)
        gg = cv2.boxFilter(cv2.resize(w * gh * gh, quarter, interpolation=cv2.INTER_AREA), -1, box)
        gain = (fg + 2e-4 / k) / (gg + 2e-4 / (k * k))
    g *= cv2.resize(gain, size, interpolation=cv2.INTER_LINEAR)
    # The deviation beyond the noise, where it counts, in ink levels (strokes at the end).
    e = cv2.absdiff(f, g)
    noise = _NOISE
    if photo:
        # A pair of photos is as noisy as it is: the noise level is raised to a multiple of
        # the deviation's level over the band's inked tiles (_photo_noise_level: a change a
        # forger makes does not move it).
        sel = ref.counts[a:b].astype(bool) & (np.maximum(f, g) > 0.05)
        level = _photo_noise_level(e, sel)
        if level is not None:
            raised = _PHOTO_NOISE * level / scale
            if raised >= _PHOTO_NOISE_MAX and capped is not None:
                capped.append((y0, y1))  # (list.append is atomic: the other band's thread)
            noise = max(noise, min(raised, _PHOTO_NOISE_MAX))
    np.subtract(e, np.float32(noise * scale), out=e)
    cv2.threshold(e, 0.0, 0.0, cv2.THRESH_TOZERO, dst=e)
    np.multiply(e, ref.counts[a:b], out=e)
    # 7. Windows over rows where something counts (on a genuine page, few or none):
    #    the rest of the band scores 0.
    score[y0:y1] = 0.0
    counting = np.flatnonzero(cv2.reduce(e, 1, cv2.REDUCE_MAX).ravel() > 0)
    if counting.size:
        # The first and last rows any window reaching a counting row covers.
        r0 = max(int(counting[0]) - _WINDOW, y0 - a)
        r1 = min(int(counting[-1]) + _WINDOW + 1, y1 - a)
        if r0 < r1:
            # (Rows beyond the counting ones are 0: the filter's border there is exact.)
            lo, hi = max(r0 - _WINDOW, 0), min(r1 + _WINDOW, b - a)
            window = cv2.boxFilter(e[lo:hi], -1, (_WINDOW, _WINDOW), normalize=False)
            np.multiply(window[r0 - lo : r1 - lo], np.float32(1.0 / scale), out=score[a + r0 : a + r1])


MIN_BLOCK_DPI = 120.0
"""A block of the back photographed coarser than this (locally: the far side of an oblique
photo) restores too unsurely to judge the front by (at 120 dpi a genuine page restores
with false differences: kofu.antiforgery.verify.MIN_DPI)."""
MIN_BLOCK_SPAN = 40.0
"""A block of the back with less contrast than this between paper and ink (grey levels:
glare, a deep shadow) restores too unsurely to judge (the photos of the bench's ranges
measured 150 or more)."""
_GLARE_LEVEL = 250
"""Paper this bright in the aligned front is clipped: glare, where the print is washed out."""
_GLARE_ABOVE = 12
"""...when the page's paper elsewhere (its lower quartile) is at least this much darker (a photo exposed so that
all its paper clips has no glare to tell, and its print is no less dark for it)."""
_GLARE_MM = 4.0
"""Glare is looked for over windows of this side, and what it covers widened by as much."""
MAX_UNCHECKED = 0.5
"""When more than this share of the front's print cannot be judged, the front is not
checked at all."""


def back_unjudged(m: NDArray[np.float64], span: NDArray[np.float32], key: bytes, page: int) -> NDArray[np.bool_]:
    """(GRID_H, GRID_W) on the restored grid: the blocks that the back photo shows too coarsely
    (MIN_BLOCK_DPI) or with too little contrast (MIN_BLOCK_SPAN) to judge the front by.
    ``m`` maps scrambled-raster pixels to back-photo pixels (kofu.antiforgery.restore.Placed),
    ``span`` is each printed block's paper-to-ink span (its levels)."""
    from kofu.antiforgery.scramble import plan

    by, bx = np.mgrid[0 : L.GRID_H, 0 : L.GRID_W].astype(np.float64)
    centres = np.stack([(bx + 0.5) * L.BLOCK, (by + 0.5) * L.BLOCK], axis=-1).reshape(1, -1, 2)

    def at(d: tuple[float, float]) -> NDArray[np.float64]:
        return np.asarray(cv2.perspectiveTransform(centres + np.array(d), m)[0], np.float64)

    (a, c), (b, d) = (at((0.5, 0)) - at((-0.5, 0))).T, (at((0, 0.5)) - at((0, -0.5))).T
    # The Jacobian's smaller singular value (photo pixels per raster pixel, the coarser
    # way), in closed form: 20x numpy's batched SVD.
    t, det = a * a + b * b + c * c + d * d, np.abs(a * d - b * c)
    finest = np.sqrt(np.maximum(t - np.sqrt(np.maximum(t * t - 4 * det * det, 0.0)), 0.0) / 2)
    poor = (finest * L.RASTER_DPI < MIN_BLOCK_DPI) | (span.ravel() < MIN_BLOCK_SPAN)
    perm, _ = plan(key, page)
    out = np.empty(poor.size, bool)
    out[perm] = poor  # scrambled position j shows block perm[j]
    return out.reshape(L.GRID_H, L.GRID_W)


def glare(front: NDArray[np.uint8], counts: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Where the aligned front photo is clipped by glare (see _GLARE_LEVEL, _GLARE_ABOVE):
    the local paper level (a max over _GLARE_MM) at the clip, the page's paper below it."""
    k = max(3, int(_GLARE_MM / 25.4 * L.RASTER_DPI) | 1)
    paper = np.asarray(cv2.dilate(front[::2, ::2], np.ones((k // 2 | 1, k // 2 | 1), np.uint8)), np.uint8)
    inside = counts[::2, ::2].astype(bool)
    if not inside.any():
        return np.zeros(front.shape, bool)
    # The paper elsewhere: its lower quartile over the page (the median over the print
    # missed a glare over the table, where most of the print is: over a third of the
    # page clipped, and the washed-out digits under it were judged unaltered).
    elsewhere = float(np.percentile(paper, 25))
    if elsewhere > _GLARE_LEVEL - _GLARE_ABOVE:
        return np.zeros(front.shape, bool)
    clipped = (paper >= _GLARE_LEVEL).view(np.uint8)
    clipped = np.asarray(cv2.dilate(clipped, np.ones((k, k), np.uint8)), np.uint8)
    return np.asarray(cv2.resize(clipped, (L.RASTER_W, L.RASTER_H), interpolation=cv2.INTER_NEAREST), bool)


def unchecked_regions(unjudged: NDArray[np.bool_], counts: NDArray[np.uint8]) -> tuple[Region, ...]:
    """The parts of the page where something would count (``counts``) but cannot be judged,
    as boxes on the restored image (each part's bounding box)."""
    mask = (unjudged & counts.astype(bool)).view(np.uint8)
    if not mask.any():
        return ()
    # Parts a few millimetres apart are one region.
    joined = np.asarray(cv2.dilate(mask, np.ones((2 * _WINDOW + 1, 2 * _WINDOW + 1), np.uint8)), np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined)
    out = []
    for i in range(1, n):
        ys, xs = np.nonzero((labels == i) & mask.astype(bool))
        if xs.size:
            out.append(Region(int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)))
    return tuple(sorted(out, key=lambda r: (r.y, r.x)))


PHOTO_THRESHOLD = 1.5
"""THRESHOLD for a phone photo of the front (found within a surround, in perspective).
Chosen on simulated photos (kofu.antiforgery.simulate.random_photo, seed 17, not the
bench's draw): untouched fronts scored up to 1.2 (a restoration from a coarse, oblique
photo of the back is less sure, and the two photos' blur differs), a changed digit
(50→58) or name character (花子→華子) at least 3.4. A change as small as a 5 turned
into a 6 (0.6 on a scan) is not looked for in photos."""
MAX_PHOTO_REGIONS = 6
"""More regions than this over a photo's front, scattered (see scattered), are no forger's
change but photos too blurred, oblique or unevenly lit to compare: the front is then not
checked."""
_CLUSTER_MM = 25.0
"""Regions closer than this belong to one change (a line rewritten, a person added)."""


def scattered(found: tuple[Region, ...]) -> bool:
    """Whether the regions lie in more than one place of the page (regions within _CLUSTER_MM
    of each other joined). Many regions in one place are one large change (a whole address
    line changed, a person added: 9 to 30 regions in the bench's photos), flagged; in
    several places, the photos' fault."""
    if not found:
        return False
    gap = int(_CLUSTER_MM / 25.4 * L.RASTER_DPI)
    mask = np.zeros((L.RASTER_H // 4 + 1, L.RASTER_W // 4 + 1), np.uint8)
    for r in found:
        x0, y0 = max(r.x - gap // 2, 0) // 4, max(r.y - gap // 2, 0) // 4
        mask[y0 : (r.y + r.height + gap // 2) // 4 + 1, x0 : (r.x + r.width + gap // 2) // 4 + 1] = 1
    n, _ = cv2.connectedComponents(mask)
    return n - 1 > 1


def regions(score: NDArray[np.float32], threshold: float = THRESHOLD) -> tuple[Region, ...]:
    """Windows scoring at least ``threshold``, merged where they touch, as boxes on the restored image."""
    flagged = (score >= threshold).astype(np.uint8)
    if not flagged.any():
        return ()
    n, _, stats, _ = cv2.connectedComponentsWithStats(flagged)
    half = _WINDOW // 2
    out = [
        Region(int(x) - half, int(y) - half, int(w) + _WINDOW, int(h) + _WINDOW)
        for x, y, w, h, _area in stats[1:]
    ]
    return tuple(sorted(out, key=lambda r: (r.y, r.x)))


def marked_png(
    front: NDArray[np.uint8], found: tuple[Region, ...], unchecked: tuple[Region, ...] = ()
) -> bytes:
    """The aligned front with each region framed in red, and each part not checked
    hatched in blue (kofu.antiforgery.verify.VerificationResult.unchecked), as a palette PNG.

    A palette (253 greys, red and blue) instead of RGB: a third of the bytes to
    compress, which is most of the time this picture costs.
    """
    from PIL import Image

    idx = (front * (252 / 255)).astype(np.uint8)
    for r in unchecked:
        box = idx[max(r.y, 0) : r.y + r.height, max(r.x, 0) : r.x + r.width]
        yy, xx = np.mgrid[0 : box.shape[0], 0 : box.shape[1]]
        box[((xx + yy + r.x + r.y) % 12) < 2] = 254  # diagonal hatching
        cv2.rectangle(idx, (r.x, r.y), (r.x + r.width, r.y + r.height), 254, 2)
    for r in found:
        cv2.rectangle(idx, (r.x - 3, r.y - 3), (r.x + r.width + 3, r.y + r.height + 3), 255, 3)
    palette = [v for i in range(253) for v in (i * 255 // 252,) * 3] + [128, 128, 128, 0, 90, 220, 230, 0, 0]
    im = Image.fromarray(idx, "P")
    im.putpalette(palette)
    out = io.BytesIO()
    im.save(out, "PNG", compress_level=1)
    return out.getvalue()
