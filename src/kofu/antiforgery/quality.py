"""Whether a photo can be judged at all: how blurred and how oblique it is (issue 17).

A photo far outside what the verification is built for (a camera held far off
the page's normal, a shaken or unfocused shot) is refused, saying why, rather
than judged badly. Only photos get here: a page found within a surround
(kofu.antiforgery.page). Both measures are cheap (a crop of the page, a few
dozen points of a homography), so they are also taken when a photo's marks or
QR code were not found, to say why.

- Blur: the sharpest edges of the page's print. A black-on-white edge blurred by
  a Gaussian of sigma s (in pixels) has a steepest slope of contrast / (s √(2π));
  the 99.9th percentile of the gradient over a crop of the page, against the
  crop's contrast, gives s, in millimetres on the page by its scale. Motion
  blur is no Gaussian; its steepest slope tells the same.
- Obliquity: how much the page's mapping foreshortens it, the smaller singular
  value of its Jacobian over the larger, at the worst of a grid of points on
  the page (1 seen from straight above; about 0.8 at the issue's 20° with a
  phone's wide lens, seen: the lens adds its own off-axis foreshortening).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from kofu.antiforgery import layout as L
from kofu.antiforgery.page import Page

MAX_BLUR_MM = 0.22
"""A photo of the back blurred more than this (Gaussian sigma, on the page) is refused as
too blurred. On the bench's 30 backs (seed 1017: motion blur up to 3 px, focus blur up
to σ 1 px, 60-90 % of a 12 MP frame) it measured 0.09-0.17 mm; 4 px of motion with σ
1.5 px of focus 0.21 mm, and 7 px with σ 2.5 px (whose QR code no longer reads) 0.30.
(Only the back: its scrambled image has sharp edges all over, where a front may show
blank paper at its centre.)"""
MIN_FORESHORTENING = 0.7
"""A photo whose page is foreshortened more than this anywhere is refused as too oblique.
Measured on the bench's 60 photos (up to 20° off the page's normal): 0.78 at least; at
28° 0.69, at 35° 0.61."""
_CROP_MM = 60.0
"""Side of the crop, at the page's centre, whose edges tell the blur."""


def blur_mm(img: NDArray[np.uint8], page: Page) -> float:
    """The photo's blur on the page, as a Gaussian sigma in millimetres (see above)."""
    centre = page.corners.astype(np.float64).mean(axis=0)
    half = max(8, int(_CROP_MM / 2 * page.px_per_mm))
    x0, y0 = max(0, int(centre[0]) - half), max(0, int(centre[1]) - half)
    crop = img[y0 : y0 + 2 * half, x0 : x0 + 2 * half]
    if crop.size < 256:
        return float("inf")
    # A light blur first: sensor noise and JPEG's blocks make steep slopes of their own.
    c = np.asarray(cv2.GaussianBlur(crop, (0, 0), 0.7), np.float32)
    gx = cv2.Sobel(c, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
    gy = cv2.Sobel(c, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
    slope = float(np.percentile(cv2.magnitude(gx, gy), 99.9))
    lo, hi = np.percentile(c, (1, 99))
    if slope <= 1e-6:
        return float("inf")
    sigma = float(hi - lo) / (slope * np.sqrt(2 * np.pi))
    # The measuring blur (0.7 px) taken out, in quadrature.
    return float(np.sqrt(max(sigma * sigma - 0.49, 0.0))) / page.px_per_mm


def foreshortening(h_mm: NDArray[np.float64]) -> float:
    """The smallest ratio of the singular values of the mapping's Jacobian (page millimetres
    to picture pixels, ``h_mm``) over a grid of points on the page."""
    xs, ys = np.meshgrid(np.linspace(5, L.PAGE_W_MM - 5, 5), np.linspace(5, L.PAGE_H_MM - 5, 7))
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1)
    e = 0.5

    def at(p: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(cv2.perspectiveTransform(p[None], h_mm)[0], np.float64)

    jx = (at(pts + [e, 0]) - at(pts - [e, 0])) / (2 * e)
    jy = (at(pts + [0, e]) - at(pts - [0, e])) / (2 * e)
    j = np.stack([jx, jy], axis=2)  # (n, 2, 2)
    s = np.linalg.svd(j, compute_uv=False)
    return float((s[:, 1] / np.maximum(s[:, 0], 1e-12)).min())


def page_mapping(page: Page) -> NDArray[np.float64]:
    """3x3: page millimetres to picture pixels by the page's corners (its orientation, 0 or
    180°, does not matter to the measures above)."""
    a4 = np.array([[0, 0], [L.PAGE_W_MM, 0], [L.PAGE_W_MM, L.PAGE_H_MM], [0, L.PAGE_H_MM]], np.float32)
    return np.asarray(cv2.getPerspectiveTransform(a4, page.corners.astype(np.float32)), np.float64)


def judge(
    img: NDArray[np.uint8], page: Page, h_mm: NDArray[np.float64] | None, side: str
) -> str | None:
    """Why the photo of ``side`` ("back", "front") cannot be judged, or None when it can.
    ``h_mm`` is the page's mapping by its marks, when found (else its corners give it)."""
    fore = foreshortening(h_mm if h_mm is not None else page_mapping(page))
    if fore < MIN_FORESHORTENING:
        return (
            f"the {side} photo is too oblique to judge (the page foreshortened to {fore:.0%},"
            f" {MIN_FORESHORTENING:.0%} at least): take it from straight above the page"
        )
    if side != "back":
        return None
    blur = blur_mm(img, page)
    if blur > MAX_BLUR_MM:
        return (
            f"the {side} photo is too blurred to judge (about {blur:.2f} mm on the page,"
            f" {MAX_BLUR_MM:g} mm at most): hold the phone still and let it focus"
        )
    return None
