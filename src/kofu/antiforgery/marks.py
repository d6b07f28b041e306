"""Finding the back side in a scan: the four registration marks and the page mapping.

Steps (numbered as in the code):

0. Find the page first (kofu.antiforgery.page): on a dark, patterned or
   busy surround (a scanner with its lid open, a desk, a phone photo) the
   surround is ink-dark, and a dark frame around the page made every mark a
   hole in one big blob of "ink". Within the page (its outer 1.5 mm
   left out), at the scale the page gives, steps 1-5 run as on a scan; a
   scan whose page shows no surround (on the lid, edge to edge) is searched
   whole, at the scale its width gives.
1. Work on every 4th pixel of a 300 dpi scan, ~75 dpi (fast; the marks are 5 mm = 15 px).
2. Ink is what is clearly darker than the local paper white (a large max
   filter estimates the white, so uneven lighting does not matter).
3. Candidates: solid, square-ish blobs about the size of a mark.
4. The marks are the four candidates, one near each corner, that form the
   rectangle of the layout (side ratio and right angles within a few
   percent); inverted blocks of the scrambled image can look like a mark,
   but not four of them at those places.
5. Each mark's centre is refined at full resolution as the darkness-weighted
   centroid (sub-pixel, symmetric blur does not move it).
6. The homography from page millimetres to scan pixels.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
from numpy.typing import NDArray

from kofu.antiforgery import layout as L
from kofu.antiforgery.errors import ScrambleNotFound
from kofu.antiforgery.page import Page, find_page

_WORK_DPI = 75.0
_FIT = 0.06
"""How far (side ratios, angles) four marks may be from the layout's rectangle on a flat scan."""
_FIT_PHOTO = 0.3
"""The same on a page seen in perspective (a photo up to 20-25° off the page's normal:
sides foreshortened by up to a quarter, the angles skewed); the QR read in its box
then confirms the marks (kofu.antiforgery.verify.locate_back)."""
_POOL = 6
"""Candidates looked at towards each corner. (4 was enough on flat scans; in a photo, blurred
and foreshortened, parts of the latent image and the QR code pass for marks too, further
towards the bottom corners than the marks.)"""
_SKEWED = 0.02
"""A page whose opposite sides differ by more than this is seen in perspective (a photo)."""
_NEAR_MM = 8.0
"""How far from where the page's corners put it a mark may be found (the corners are
found to a few millimetres; the nearest other mark-like shape is some 5 mm off)."""
_FILLED = 0.8
"""How much of its minimum-area rectangle a mark's blob fills, at least (its contour's area)."""
_FILLED_OBLIQUE = 0.7
"""The same on a page seen in perspective. On the far side of a photo 18° off the normal a
mark is some 11 px at the working scale, and one pixel of blur or JPEG at one corner widens
its rectangle by a pixel: the contour then filled 0.79 of it, and the back was not found
("no scrambled image found", bench photos pair 43). The photo's marks are picked by where
the page puts them (_by_page), so a looser shape admits no stray candidate there."""
_PAGE_INSET_MM = 1.5
"""The top marks' outer edges lie 4 mm in from the paper's edge; 1.5 mm in leaves the
page's outline (found to a few pixels) out, and the opening of step 3 the rest of it."""


def _ink(img: NDArray[np.uint8], k: int) -> NDArray[np.uint8]:
    white = cv2.dilate(img, np.ones((k, k), np.uint8))
    white = cv2.blur(white, (k, k))
    return ((img.astype(np.int16) * 2) < white.astype(np.int16)).astype(np.uint8)


def _candidates(
    ink: NDArray[np.uint8], side_px: float, oblique: bool = False
) -> list[tuple[float, float]]:
    """Solid, square-ish blobs about a mark's size (``side_px``); with ``oblique`` (a page
    seen in perspective) squares foreshortened by up to a half and scaled by the
    perspective pass too (the photo's marks are then picked by where the page puts them)."""
    # Specks of noise and print are no marks: opened away first (a noisy scan has
    # thousands, each a contour to look at).
    ink = np.asarray(cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)), np.uint8)
    contours, _ = cv2.findContours(ink, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    expected = side_px * side_px
    for c in contours:
        area = cv2.contourArea(c)
        if not ((0.2 if oblique else 0.35) * expected < area < (3.0 if oblique else 2.5) * expected):
            continue
        (cx, cy), (rw, rh), _ = cv2.minAreaRect(c)
        squat = 2.0 if oblique else 1.43
        filled = _FILLED_OBLIQUE if oblique else _FILLED
        if rw <= 0 or rh <= 0 or not (1 / squat < rw / rh < squat) or area < filled * rw * rh:
            continue
        x, y, w, h = cv2.boundingRect(c)
        if ink[y : y + h, x : x + w].mean() < 0.75 * area / (w * h):
            continue  # holes inside: not solid
        out.append((cx, cy))
    return out


def _scores(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """How far each set of four points (n, 4, 2: TL, TR, BR, BL) is from the layout's
    rectangle (0 = exact; inf when it is mirrored or upside down)."""
    ref = np.array(L.mark_centres())
    top, bottom = p[:, 1] - p[:, 0], p[:, 2] - p[:, 3]
    left, right = p[:, 3] - p[:, 0], p[:, 2] - p[:, 1]
    rw, rh = ref[1, 0] - ref[0, 0], ref[3, 1] - ref[0, 1]
    nt, nb = np.linalg.norm(top, axis=1), np.linalg.norm(bottom, axis=1)
    nl, nr = np.linalg.norm(left, axis=1), np.linalg.norm(right, axis=1)
    s = (nt + nb) / (2 * rw)
    with np.errstate(divide="ignore", invalid="ignore"):
        errs = np.stack(
            [
                np.abs(nt / (s * rw) - 1),
                np.abs(nb / (s * rw) - 1),
                np.abs(nl / (s * rh) - 1),
                np.abs(nr / (s * rh) - 1),
                np.abs((top * left).sum(axis=1)) / (nt * nl),
                np.abs((bottom * right).sum(axis=1)) / (nb * nr),
            ]
        ).max(axis=0)
    # Lengths and angles do not tell a rectangle from its mirror image: the
    # top edge must run rightwards and the left edge downwards (no page is
    # scanned upside down by more than a few degrees, nor mirrored).
    cross = top[:, 0] * left[:, 1] - top[:, 1] * left[:, 0]
    upright = (s > 0) & (top[:, 0] > 0) & (left[:, 1] > 0) & (cross > 0)
    return np.where(upright & np.isfinite(errs), errs, np.inf)


def _refine(img: NDArray[np.uint8], cx: float, cy: float, half: int) -> tuple[float, float]:
    h, w = img.shape
    x0, y0 = max(0, int(cx) - half), max(0, int(cy) - half)
    x1, y1 = min(w, int(cx) + half + 1), min(h, int(cy) + half + 1)
    roi = img[y0:y1, x0:x1]
    n = roi.size - 1
    lo, hi = int(0.03 * n), int(0.95 * n)
    part = np.partition(roi.ravel(), (lo, hi))  # both percentiles from one partial sort
    black, white = float(part[lo]), float(part[hi])
    if white - black < 20:
        return cx, cy
    dark = np.clip((white - roi.astype(np.float32)) / (white - black), 0, 1)
    # Only the mark's own blob: everything connected to the centre.
    blob = (dark > 0.5).astype(np.uint8)
    n, labels = cv2.connectedComponents(blob)
    lab = (
        labels[int(cy) - y0, int(cx) - x0]
        if 0 <= int(cy) - y0 < roi.shape[0] and 0 <= int(cx) - x0 < roi.shape[1]
        else 0
    )
    if lab == 0:
        return cx, cy
    region = cv2.dilate((labels == lab).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    mom = cv2.moments(np.asarray(dark * region, np.float32))
    return mom["m10"] / mom["m00"] + x0, mom["m01"] / mom["m00"] + y0


def find_marks(
    img: NDArray[np.uint8], page: Page | None = None, *, looked: bool = False
) -> NDArray[np.float64]:
    """(4, 2) mark centres in scan pixels: top left, top right, bottom right, bottom left.

    ``page`` is the page found in ``img`` (find_page), if it was looked for already
    (``looked``: it was, and None is what was found)."""
    # 0.
    page = find_page(img) if page is None and not looked else page
    if page is not None:
        try:
            return _find_marks(img, page.px_per_mm * 25.4, page)
        except ScrambleNotFound as e:
            first: ScrambleNotFound | None = e
    else:
        first = None
    try:
        return _find_marks(img, img.shape[1] / (L.PAGE_W_MM + 10) * 25.4, None)
    except ScrambleNotFound as e:
        if first is not None:
            raise ScrambleNotFound(
                str(first), diagnostics=[*first.diagnostics, "(page found within a surround)"]
            ) from e
        raise


def _find_marks(img: NDArray[np.uint8], dpi: float, page: Page | None) -> NDArray[np.float64]:
    # 1. A scan of A4 is about 215 mm wide: that sets the working scale (or the page does).
    # Every n-th pixel (not an average: the marks are solid, and step 5 works at
    # full resolution; a quarter of the time of an area resize).
    n = max(1, round(dpi / _WORK_DPI))
    small, f = np.ascontiguousarray(img[n // 2 :: n, n // 2 :: n]), 1.0 / n
    side = L.MARK_SIZE / 25.4 * dpi * f
    # 2.-3.
    ink = _ink(small, max(15, int(side * 3) | 1))
    if page is not None:
        # (The sub-sampled pixel i sits at n * i + n // 2 of the original.)
        shifted = Page(page.corners - np.float32(n // 2), page.px_per_mm, page.share)
        ink &= shifted.mask(ink.shape, _PAGE_INSET_MM, f)
    oblique = page is not None and page.skew() >= _SKEWED
    cands = _candidates(ink, side, oblique)
    if len(cands) < 4:
        raise ScrambleNotFound(
            "no scrambled image found: the four corner marks are not in the scan",
            diagnostics=[f"{len(cands)} mark-like shapes found"],
        )
    c = np.array(cands)
    if oblique:
        assert page is not None
        best = _by_page(c, page, f, n)
        if best is not None:
            half = int(side / f * 1.2)
            return np.array([_refine(img, x / f, y / f, half) for x, y in best])
    # 4. The few most extreme candidates towards each corner, then the best rectangle.
    dirs = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    pools = [np.argsort(-(c @ np.array(d)))[:_POOL] for d in dirs]
    combos = np.array(list(itertools.product(*pools)))
    combos = combos[[len(set(k)) == 4 for k in combos]]  # four different candidates
    scores = _scores(c[combos]) if len(combos) else np.array([np.inf])
    i = int(np.argmin(scores))
    best_score = float(scores[i])
    best = c[combos[i]] if len(combos) else None
    fit = _FIT if page is None or page.skew() < 0.02 else _FIT_PHOTO
    if best is None or best_score > fit:
        raise ScrambleNotFound(
            "no scrambled image found: the corner marks do not form the expected rectangle",
            diagnostics=[f"best fit off by {best_score:.1%}"],
        )
    # 5.
    half = int(side / f * 1.2)
    return np.array([_refine(img, x / f, y / f, half) for x, y in best])


def _by_page(
    c: NDArray[np.float64], page: Page, f: float, n: int
) -> NDArray[np.float64] | None:
    """4. (a page seen in perspective) The candidate nearest where each mark should be,
    by the page's corners; the page's way up (0 or 180°) is the one whose marks are
    all found nearest. None when a mark has no candidate within _NEAR_MM.

    The rectangle test does not tell a photo's marks: foreshortened, their quadrilateral
    is no rectangle, and an inverted block of the scrambled image beside a mark made
    one that looked more like it (seen)."""
    a4 = np.array([[0, 0], [L.PAGE_W_MM, 0], [L.PAGE_W_MM, L.PAGE_H_MM], [0, L.PAGE_H_MM]], np.float32)
    small = (page.corners + np.float32(0.5)) * np.float32(f) - np.float32(0.5)
    best: tuple[float, NDArray[np.float64]] | None = None
    for turn in (0, 2):
        h = cv2.getPerspectiveTransform(a4, np.roll(small, -turn, axis=0).astype(np.float32))
        want = cv2.perspectiveTransform(np.array([L.mark_centres()], np.float64), h)[0]
        if turn:
            want = np.roll(want, 2, axis=0)  # back to the picture's TL, TR, BR, BL
        d = np.linalg.norm(c[None, :, :] - want[:, None, :], axis=2)  # (4 marks, candidates)
        pick = d.argmin(axis=1)
        worst = float(d[np.arange(4), pick].max()) / (page.px_per_mm * f)
        if len(set(pick.tolist())) == 4 and worst <= _NEAR_MM and (best is None or worst < best[0]):
            best = (worst, c[pick])
    return None if best is None else best[1]


def page_homography(marks: NDArray[np.float64]) -> NDArray[np.float64]:
    """3x3 mapping page millimetres (x right, y down) to scan pixels."""
    src = np.array(L.mark_centres(), np.float32)
    return np.asarray(cv2.getPerspectiveTransform(src, marks.astype(np.float32)), np.float64)
