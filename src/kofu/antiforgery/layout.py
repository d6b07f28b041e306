"""Where things sit on the back side (A4 portrait), in millimetres from the top left.

The print job draws from these numbers and the verifier reads by them: the
four registration marks' centres define the mapping from a scan to the page,
and from it to the scrambled image's own pixel grid.

::

    ┌──────────────────────────────┐
    │ ■                          ■ │   registration marks (5 mm, solid K)
    │   ┌──────────────────────┐   │
    │   │  scrambled image     │   │   160 mm wide, the front page's aspect
    │   │  (78 x 110 blocks)   │   │
    │   └──────────────────────┘   │
    │ ■                          ■ │
    │ [QR]  けん制文字 band  [桜] │   QR, copy-evident band, latent image
    └──────────────────────────────┘
"""

from __future__ import annotations

from dataclasses import dataclass

MM = 72 / 25.4
"""Points per millimetre."""

PAGE_W_MM = 210.0
PAGE_H_MM = 297.0

RASTER_DPI = 150
"""Resolution of the front page as scrambled (and as restored)."""
BLOCK = 16
"""Side of a scramble block, in raster pixels (2.7 mm on the front)."""
GRID_W = 78
GRID_H = 110
RASTER_W = GRID_W * BLOCK  # 1248 >= 1241, the front at 150 dpi, padded with white
RASTER_H = GRID_H * BLOCK  # 1760 >= 1754
PAGE_W_PX = 1241
PAGE_H_PX = 1754
"""The A4 front as pdfium renders it at RASTER_DPI (the rest of the raster is padding)."""

SCRAMBLE_X = 25.0
SCRAMBLE_Y = 12.0
SCRAMBLE_W = 160.0
SCRAMBLE_H = SCRAMBLE_W * RASTER_H / RASTER_W  # 225.64 mm

MARK_SIZE = 5.0
MARK_OFFSET = 5.5
"""Marks sit diagonally outside the scrambled area's corners, centre to corner."""


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


def mark_centres() -> list[tuple[float, float]]:
    """Top left, top right, bottom right, bottom left (mm)."""
    x0, y0 = SCRAMBLE_X - MARK_OFFSET, SCRAMBLE_Y - MARK_OFFSET
    x1, y1 = SCRAMBLE_X + SCRAMBLE_W + MARK_OFFSET, SCRAMBLE_Y + SCRAMBLE_H + MARK_OFFSET
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


BAND_Y = SCRAMBLE_Y + SCRAMBLE_H + MARK_OFFSET + MARK_SIZE  # 248.1 mm
QR_BOX = Box(18.0, BAND_Y + 2.0, 36.0, 36.0)
LATENT_BOX = Box(156.0, BAND_Y + 2.0, 36.0, 36.0)
PANTOGRAPH_BOX = Box(60.0, BAND_Y + 2.0, 90.0, 36.0)
