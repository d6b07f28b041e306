"""Issue 17: a back (and front) lying on something darker than paper, or on a pattern,
the page not filling the scan, a finger over an edge: the page is found first, then
the marks within it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kofu.antiforgery.printjob import front_rasters
from kofu.antiforgery.simulate import Distortion, print_and_scan, render_page, ssim
from kofu.antiforgery.verify import check_scan

from .conftest import SERIAL, Center, Jobs


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def _framed(page: np.ndarray, background: np.ndarray, x: int, y: int) -> np.ndarray:
    out = background.copy()
    out[y : y + page.shape[0], x : x + page.shape[1]] = page
    return out


@pytest.fixture(scope="module")
def back200(jobs: Jobs) -> np.ndarray:
    return render_page(jobs.genuine, 1, 200)


def test_dark_grey_border_verifies(jobs: Jobs, center: Center, back200: np.ndarray) -> None:
    """The issue's case: the 200 dpi back framed by a dark grey border, nothing else changed."""
    framed = cv2.copyMakeBorder(back200, 80, 80, 80, 80, cv2.BORDER_CONSTANT, value=60)
    r = check_scan(_png(framed), None, keyring=center.keyring, jwks=center.jwks)
    assert r.qr_valid and r.serial == SERIAL and r.restored is not None
    assert ssim(r.restored, front_rasters(jobs.front)[0]) >= 0.9


@pytest.mark.parametrize("surround", ["black", "light", "pattern", "small-and-finger"])
def test_page_found_whatever_surrounds_it(jobs: Jobs, center: Center, surround: str) -> None:
    """Dark, light or patterned background (a fine pattern: cells of 2-5 mm; a coarse
    checkerboard whose bright cells touch the page is not told from it); the page filling 60 % of the frame with a
    finger over one edge: the back verifies, and the front compares untouched."""
    rng = np.random.default_rng(17)
    # Scans (300 dpi, simulated print and scan) cut to the page: the bed's white margin
    # would be a surround of its own.
    m = round(6.0 / 25.4 * 300)
    page, front = (
        cv2.imdecode(np.frombuffer(print_and_scan(jobs.genuine, k, Distortion(seed=k)), np.uint8), 0)[m:-m, m:-m]
        for k in (1, 0)
    )
    h, w = page.shape
    if surround == "small-and-finger":
        size = (int(w / 0.6), int(h / 0.6) + 40)
    else:
        size = (w + 300, h + 240)
    if surround == "pattern":
        yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
        bg = (110 + 60 * np.sign(np.sin(xx / 12.0) * np.sin(yy / 8.0))).astype(np.uint8)
        bg = np.clip(bg + rng.normal(0, 8, bg.shape), 0, 255).astype(np.uint8)
    else:
        level = {"black": 15, "light": 225, "small-and-finger": 80}[surround]
        bg = np.full((size[1], size[0]), level, np.uint8)
    x, y = (size[0] - w) // 3, (size[1] - h) // 2
    scans = []
    for p in (page, front):
        img = _framed(p, bg, x, y)
        if surround == "small-and-finger":
            # A finger (a dark rounded blob) over the left edge, mid-height.
            cv2.ellipse(img, (x, y + h // 2), (135, 60), 0, 0, 360, 70, -1)
        scans.append(_png(img))
    r = check_scan(scans[0], scans[1], keyring=center.keyring, jwks=center.jwks)
    assert r.qr_valid and r.serial == SERIAL and r.restored is not None
    assert ssim(r.restored, front_rasters(jobs.front)[0]) >= 0.9
    assert r.tampered is False, (r.score, r.regions, r.diagnostics)
