"""Finding the sheet of paper in a scan or a photo, whatever surrounds it.

A scanner with its lid closed shows the page on white; a scanner with the
lid open, a desk or a phone photo shows it on something darker, or on a
pattern, and the page may fill only part of the frame. The marks
(kofu.antiforgery.marks) and the front's alignment (kofu.antiforgery.compare)
look for their shapes within the page, at the scale the page gives.

Steps (numbered as in the code):

1. Work at about 500 px on the long side (area average): the page's outline
   needs no more.
2. Paper is the bright side of the picture: Otsu's threshold on the blurred
   image splits it from a darker surround (a patterned one too, mostly). A
   scan that is bright nearly everywhere has no surround to split off. Under
   uneven light (a gradient, a shadow) brightness does not tell; what the
   outermost sharp edges enclose does (Canny).
3. The page is the largest bright region, its holes (the print on it)
   filled. Its convex hull covers what a finger or a clip takes out of one
   edge; the hull's best four-sided fit (cv2.approxPolyN) gives the corners.
4. Plausible only if it is a quadrilateral of about A4's proportions (within
   the foreshortening of a photo up to 20° off the page's normal), covering a
   fair share of the picture, with a darker surround just outside it (on a
   scanner's white lid the page is not looked for this way: the scrambled
   image or a table would pass for it).
5. Of the candidates (by brightness, by edges), the one whose outline runs
   most along sharp edges.
6. Its sides moved onto the page's edges in the full picture (_refined).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from kofu.antiforgery import layout as L

_WORK_SIDE = 500
_MIN_SHARE = 0.03
"""A page smaller than this share of the picture is not looked for (a photo from afar is
still found, to be refused as too coarse, saying so)."""
_MAX_SHARE = 0.97
"""Bright over more than this share: no surround to tell the page by."""
_ASPECT = L.PAGE_H_MM / L.PAGE_W_MM


@dataclass(frozen=True)
class Page:
    corners: NDArray[np.float32]
    """(4, 2) in picture pixels, clockwise from the corner nearest the top left."""
    px_per_mm: float
    """The page's mean scale (the square root of its area over A4's)."""
    share: float
    """Share of the picture the page covers."""

    def mask(self, shape: tuple[int, int], inset_mm: float, scale: float = 1.0) -> NDArray[np.uint8]:
        """1 inside the page, ``inset_mm`` in from its edges (at the page's mean scale), on
        a picture of ``shape`` that is the original scaled by ``scale``."""
        m = np.zeros(shape, np.uint8)
        cv2.fillConvexPoly(m, np.round((self.corners + 0.5) * scale - 0.5).astype(np.int32), 1)
        k = int(2 * inset_mm * self.px_per_mm * scale) | 1
        if k > 1:
            m = np.asarray(cv2.erode(m, np.ones((k, k), np.uint8)), np.uint8)
        return m

    def skew(self) -> float:
        """How far the outline is from a rectangle (0: a flat scan; a photo at 20° off
        the normal reaches about 0.2): the largest relative difference of opposite sides."""
        c = self.corners.astype(np.float64)
        side = [float(np.linalg.norm(c[(i + 1) % 4] - c[i])) for i in range(4)]
        return max(abs(side[0] - side[2]) / max(side[0], side[2]), abs(side[1] - side[3]) / max(side[1], side[3]))


def order_corners(box: NDArray[np.floating]) -> NDArray[np.float32]:
    """Four corners clockwise (in image coordinates) starting nearest the top left."""
    c = np.asarray(box, np.float64).reshape(4, 2)
    centre = c.mean(axis=0)
    angle = np.arctan2(c[:, 1] - centre[1], c[:, 0] - centre[0])
    c = c[np.argsort(angle)]  # clockwise on screen (y down)
    start = int(np.argmin(c.sum(axis=1)))
    return np.asarray(np.roll(c, -start, axis=0), np.float32)


def find_page(img: NDArray[np.uint8]) -> Page | None:
    """The page in a grayscale picture, or None when no surround sets it apart."""
    h, w = img.shape
    # 1.
    f = min(1.0, _WORK_SIDE / max(h, w))
    shrunk = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    small: NDArray[np.uint8] = np.asarray(cv2.GaussianBlur(shrunk, (0, 0), 2.0), np.uint8)
    edges = _edges(small)
    # (The four-sided fit lies outside the hull, by up to a few pixels.)
    near = np.asarray(cv2.dilate(edges, np.ones((7, 7), np.uint8)), np.uint8)
    best: tuple[float, NDArray[np.float32], float] | None = None
    for region in (_bright(small), _enclosed(edges)):
        if region is None:
            continue
        found = _quad(region, small.size)
        if found is None:
            continue
        corners, area = found
        if not _darker_outside(small, corners):
            continue  # the scrambled image or a table on a scanner's white lid: no page
        # 5. The page's outline runs along sharp edges (a shadow's or the lighting's do
        #    not): the candidate whose sides do most is the page.
        along = _on_edges(corners, near)
        if along >= _MIN_ALONG and (best is None or along > best[0]):
            best = (along, corners, area)
    if best is None:
        return None
    _, corners, quad_area = best
    px_per_mm = float(np.sqrt(quad_area / (L.PAGE_W_MM * L.PAGE_H_MM))) / f
    full = (corners + np.float32(0.5)) / np.float32(f) - np.float32(0.5)  # pixel centres
    # 6.
    full = _refined(img, full, px_per_mm)
    return Page(np.asarray(full, np.float32), px_per_mm, quad_area / small.size)


_REFINE_MM = 3.0
"""6. How far (each way, along the side's normal) the page's edge is looked for around the
side found at the working scale."""
_EDGE_STEP = 8.0
"""A drop from paper to surround of at least this many grey levels over two sigmas of the blur
(a step of some 12 levels) is an edge."""


def _refined(img: NDArray[np.uint8], corners: NDArray[np.float32], px_per_mm: float) -> NDArray[np.float32]:
    """6. The corners moved onto the page's edges in the full picture: along each side (its
    middle 80 %: a finger or a clip over a corner, the back's marks), the strongest drop
    from paper to surround within _REFINE_MM, a line fitted to those points, and the
    corners where the lines meet. The outline at the working scale lies up to a few
    millimetres outside the page (its four-sided fit is outside the hull, the hull outside
    the blurred page): a front photo 19° off the normal on a light desk, its corners 1-2.5 mm
    out, did not align (bench photos pair 68). Unchanged when a side shows no such edge."""
    r = max(2, int(round(_REFINE_MM * px_per_mm)))
    # Blurred over half a millimetre: the underlay's dots and the desk's grain melt, a
    # step stays a step.
    sigma = max(1.0, 0.5 * px_per_mm)
    g = np.asarray(cv2.GaussianBlur(img, (0, 0), sigma), np.float32)
    span = max(1, int(round(sigma)))  # the drop is taken over 2 sigma: 0.68 of the step
    h, w = g.shape
    c = corners.astype(np.float64)
    centre = c.mean(axis=0)
    offs = np.arange(-r, r + 1, dtype=np.float64)
    lines = []
    for i in range(4):
        p, q = c[i], c[(i + 1) % 4]
        d = (q - p) / max(float(np.linalg.norm(q - p)), 1e-9)
        n = np.array([d[1], -d[0]])
        if float(np.dot(n, (p + q) / 2 - centre)) < 0:
            n = -n  # outwards
        pts = p + np.linspace(0.1, 0.9, 60)[:, None] * (q - p)
        at = pts[:, None, :] + offs[None, :, None] * n  # (60, 2r + 1, 2)
        vals = np.asarray(
            cv2.remap(g, at[..., 0].astype(np.float32), at[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=-1.0),
            np.float64,
        )
        inside_picture = (vals >= 0).all(axis=1)
        drop = vals[:, : -2 * span] - vals[:, 2 * span :]  # outwards, paper to surround: positive
        k = np.argmax(drop, axis=1)
        strong = inside_picture & (drop[np.arange(len(k)), k] >= _EDGE_STEP)
        if int(strong.sum()) < 20:
            return corners
        edge = pts[strong] + offs[k[strong] + span][:, None] * n
        vx, vy, x0, y0 = cv2.fitLine(edge.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0], np.float64), np.array([vx, vy], np.float64)))
    out = np.empty((4, 2), np.float64)
    for i in range(4):
        (a, u), (b, v) = lines[(i - 1) % 4], lines[i]  # the sides meeting at corner i
        m = np.array([u, -v]).T
        if abs(float(np.linalg.det(m))) < 1e-6:
            return corners
        t = np.linalg.solve(m, b - a)
        out[i] = a + t[0] * u
    if float(np.abs(out - c).max()) > 1.5 * r or not (0 <= out[:, 0].min() and out[:, 0].max() < w
                                                     and 0 <= out[:, 1].min() and out[:, 1].max() < h):
        return corners
    return np.asarray(out, np.float32)


_MIN_ALONG = 0.6
"""Share of the outline's length that must run along a sharp edge (a finger or a
clip over one edge hides part of one side)."""


def _edges(small: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Sharp edges (Canny; its thresholds from the picture's own gradients), widened a little."""
    # A step of 10 grey levels, blurred as ``small`` is, gives a Sobel gradient of
    # about 30: the edge of a page on a light desk in dim light is no more.
    e = cv2.Canny(small, 15, 30)
    return np.asarray(cv2.dilate(e, np.ones((3, 3), np.uint8)), np.uint8)


def _bright(small: NDArray[np.uint8]) -> NDArray[np.uint8] | None:
    """2. Paper as the bright side of the picture (Otsu), or None when nearly all of it is."""
    _, bright = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    share = float(bright.mean())
    if share > _MAX_SHARE or share < _MIN_SHARE:
        return None
    # Bright patches of a patterned surround, and the links between them and the
    # page, are opened away first: anything narrower than 3 % of the picture.
    k = max(5, int(0.03 * min(small.shape)) | 1)
    return np.asarray(cv2.morphologyEx(bright, cv2.MORPH_OPEN, np.ones((k, k), np.uint8)), np.uint8)


def _enclosed(edges: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """2. (uneven light, a surround nearly as light as paper) What the outermost closed
    edges enclose: the page's outline is a sharp step whatever the lighting."""
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = np.zeros(edges.shape, np.uint8)
    cv2.drawContours(out, contours, -1, 1, thickness=cv2.FILLED)
    return out


def _quad(region: NDArray[np.uint8], size: int) -> tuple[NDArray[np.float32], float] | None:
    """3.-4. The largest part of ``region``, as four corners of about A4's proportions, and
    the quadrilateral's area; None when it is no such thing."""
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    outline = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(outline)
    area = float(cv2.contourArea(hull))
    if area < _MIN_SHARE * size or area > _MAX_SHARE * size:
        return None
    quad = cv2.approxPolyN(hull, 4)
    if quad is None or len(quad.reshape(-1, 2)) != 4:
        return None
    corners = order_corners(quad.reshape(4, 2).astype(np.float64))
    if not cv2.isContourConvex(corners.reshape(-1, 1, 2)):
        return None
    quad_area = float(cv2.contourArea(corners))
    if quad_area > 1.15 * area or quad_area < 0.85 * area:
        return None  # not four-sided: a blob
    c = corners.astype(np.float64)
    sides = [float(np.linalg.norm(c[(i + 1) % 4] - c[i])) for i in range(4)]
    a, b = (sides[0] + sides[2]) / 2, (sides[1] + sides[3]) / 2
    ratio = max(a, b) / max(min(a, b), 1e-9)
    if not (0.75 * _ASPECT < ratio < 1.3 * _ASPECT):
        return None
    return corners, quad_area


def _darker_outside(small: NDArray[np.uint8], corners: NDArray[np.float32]) -> bool:
    """Whether what lies just outside the quadrilateral is darker than what lies just inside
    it (a page on a desk; not a scan on the lid, whose white is the paper's or brighter:
    there the old search, by the scan's width, is kept)."""
    quad = np.zeros(small.shape, np.uint8)
    cv2.fillConvexPoly(quad, np.round(corners).astype(np.int32), 1)
    k = np.ones((9, 9), np.uint8)
    inside = quad.astype(bool) & ~cv2.erode(quad, k).astype(bool)
    outside = cv2.dilate(quad, k).astype(bool) & ~quad.astype(bool)
    if not inside.any() or not outside.any():
        return False
    return float(np.median(small[outside])) < 0.95 * float(np.median(small[inside]))


def _on_edges(corners: NDArray[np.float32], edges: NDArray[np.uint8]) -> float:
    """Share of points along the quadrilateral's sides that lie on an edge."""
    h, w = edges.shape
    hits = total = 0
    for i in range(4):
        p, q = corners[i].astype(np.float64), corners[(i + 1) % 4].astype(np.float64)
        n = max(2, int(np.linalg.norm(q - p)))
        t = np.linspace(0.02, 0.98, n)[:, None]
        pts = np.round(p + t * (q - p)).astype(int)
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        pts = pts[inside]
        total += n
        # A side on the picture's border has no edge to show: it does not count either way.
        hits += int(edges[pts[:, 1], pts[:, 0]].astype(bool).sum())
    return hits / max(total, 1)
