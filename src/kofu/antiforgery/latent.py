"""The latent image (偽造防止検出画像): a cherry blossom with a hidden 証.

>>> cmyk = latent_image(420)    # (420, 420, 4) uint8, DeviceCMYK, 300 dpi over 36 mm

Every tone of the picture is printed two ways that look the same: outside the
mark as a CMY composite (K = 0), inside the mark (証 in a circle) with black
ink K = 0.42 and less CMY. In visible light the two match (ΔE76 < 1 through
pdfium's CMYK → sRGB conversion); under infrared only carbon black absorbs,
so the mark stands out in the K channel, and a colour copier, which rebuilds
every colour from its own CMYK separation, does not keep it.

The pairs were matched by rendering swatches with pdfium and searching the
CMY cube for the composite nearest in CIELAB to each K-bearing colour (see
``kofu.antiforgery.colour``); tests/antiforgery re-check the match on the
rendered print job. A real press needs the same calibration against its own
profile, as real latent images are calibrated per press.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

MARK_K = 0.42
# tone: (inside the mark: C, M, Y, K), (outside: C, M, Y, 0)
TONES: dict[str, tuple[tuple[float, float, float, float], tuple[float, float, float, float]]] = {
    "background": ((0.0, 0.10, 0.03, MARK_K), (0.3875, 0.3825, 0.3275, 0.0)),
    "petal": ((0.0, 0.40, 0.12, MARK_K), (0.42, 0.635, 0.4475, 0.0)),
    "centre": ((0.0, 0.70, 0.45, MARK_K), (0.4475, 0.8775, 0.7825, 0.0)),
}


def _blossom(n: int) -> NDArray[np.uint8]:
    """Tone index per pixel: 0 background, 1 petal, 2 centre (five notched petals)."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    c = (n - 1) / 2
    dx, dy = (xx - c) / (n / 2), (yy - c) / (n / 2)
    r = np.hypot(dx, dy)
    th = np.arctan2(dy, dx) + np.pi / 2
    # A petal: radius swells and falls five times round; a notch at each tip.
    phase = (th * 5 / (2 * np.pi)) % 1.0
    outline = (
        0.55 + 0.35 * np.sin(np.pi * phase) ** 0.6 - 0.12 * np.exp(-(((phase - 0.5) / 0.05) ** 2))
    )
    tones = np.zeros((n, n), np.uint8)
    tones[r < outline] = 1
    tones[r < 0.2] = 2
    return tones


def mark_mask(n: int) -> NDArray[np.bool_]:
    """True where the mark (証 in a circle) is."""
    import cv2
    from PIL import Image, ImageDraw, ImageFont

    from kofu.render.fonts import mj_font_file

    img = Image.new("L", (n, n), 0)
    d = ImageDraw.Draw(img)
    w = max(2, n // 28)
    d.ellipse((n * 0.2, n * 0.2, n * 0.8, n * 0.8), outline=255, width=w)
    font = ImageFont.truetype(str(mj_font_file()), int(n * 0.36))
    d.text((n / 2, n / 2), "証", fill=255, font=font, anchor="mm")
    m = np.asarray(img) > 127
    # Mincho hairlines would be lost in print; thicken to ~0.4 mm.
    return cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


@lru_cache(maxsize=2)
def latent_image(n: int) -> NDArray[np.uint8]:
    """(n, n, 4) DeviceCMYK samples, 0..255 per ink."""
    tones = _blossom(n)
    mark = mark_mask(n)
    names = ("background", "petal", "centre")
    out = np.zeros((n, n, 4), np.float64)
    for i, name in enumerate(names):
        inside, outside = TONES[name]
        sel = tones == i
        out[sel & mark] = inside
        out[sel & ~mark] = outside
    return np.round(out * 255).astype(np.uint8)
