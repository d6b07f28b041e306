"""The copy-evident pattern (けん制文字): a void pantograph of 「複写」.

>>> mask = pantograph_mask(4961, 7016)   # 600 dpi, True = ink

Two dot screens of nearly the same ink coverage (20 %), so the original reads
as a light, flat tint at any normal viewing distance:

- the background: 2 x 2 dots every 4 px down and 5 px across at 600 dpi. A
  copier sampling at 300 dpi sees each dot as at most a pixel, and its blur
  and threshold wipe them out;
- the word 「複写」: 6 x 6 dots every 12 px down and 14 px across (21 %). Each
  dot is a full 3 x 3 block at 300 dpi and survives the copier's threshold,
  so the word appears.

Lighter than this the word no longer shows on a copy at the measured contrast
with dots the verifier's blur still melts (kofu.antiforgery.compare: a 3 px
period at 150 dpi): the copy contrast of a dot screen is its coverage times
a gain below 1 for dots this small, so a page of lightness 0.85 (15 % ink)
gives about 0.14; larger, sparser dots (0.47 mm every 1 mm) reach 0.16 at
0.86 but show as strokes to the verifier (measured for issue 14).

On a screen the word still shows (issue 14, open; tests/antiforgery/test_printjob.py::
test_fukusha_does_not_show_on_screen, an expected failure): a viewer's box filter at
72-150 dpi is about as wide as the copier's blur, so the big dots, which survive the
copier, also stand out in texture (local standard deviation 3.5-5.3 times the
background's in pdfium and poppler; the means differ by only 0.005-0.03). A background
carrying the same texture below the copier's threshold (dithered blobs of the word dots'
ink, density capped at 0.45-0.5, on the same grid, jittered by a pixel: ratio 2.0; patches
of 75 % / 40 % density every 16 px: 1.6, copy contrast 0.17, lightness 0.835) hides the
word, but the verifier then reads that texture in phone photos as ink: untouched fronts of
the photo bench (pairs 5, 68, 70) were flagged (1.9-2.5; 1.1-1.3 with this pattern), and
glare was no longer told from the paper (the paper's local maximum rose above 238).

Tried next (December 2026, not adopted; figures in docs/certificates.md): a 16 px cell
grid, in each cell an 8 x 8 patch at 75 % in the word and an 11 x 11 one at 40 % around
it (true coverage 0.187 either way), with the verifier's blur raised to melt the 4 px
period (compare._SIGMA 1.5) and glare() smoothing before its maximum. The smoothing kept
the glare tests passing; the rest failed on the photo bench. Jitter of the patches
(±1-2 px) is what hides the word on screen best, and it is broadband noise no blur melts
(one of the photo tests' pairs 29, 68, 70 flagged at each σ tried, 1.0 to 2.0). Without
jitter (16 dithers of each patch, chosen per cell) the screen test and the photo tests
pass at σ 1.5, but the bench gave 7/30 false alarms (highest 3.94), and main's own tint
with σ 1.5 gave 6/30 (7.89): the verifier is calibrated at σ 1.0, where the same
unjittered tint gave 4/30 (4.47); main 0/30 (1.10). That tint also kept the copy
contrast on the front (0.153) but not in the back band (0.130, its grid on an odd 600 dpi
pixel, probably the cause), and its per-cell choices deflate to 1.6 MB a page.

A third attempt (7 December 2026; docs/certificates.md) put the word and the paper on one
12 x 14 px grid with no jitter. The word got a 6 x 7 patch at 80 % (ordered dither) and the
paper an 11 x 7 one at 39 %. It passed both tint tests: texture ratio at most 1.69, copy
contrast 0.164-0.175, lightness 0.824. But the photo verifier read its texture next to
strokes as ink (false alarms on untouched fronts). A fourth (8 December 2026) untinted the
front in the verifier instead (docs/experiments/tint-12x14-untinting-verifier.patch): no false
alarm on the photo bench, but one in the glare set, verification 2.5 times slower, and
fronts printed with this tint flagged; not adopted (docs/certificates.md).

The glyphs come from the MJ font the certificates already use, thickened
(Mincho strokes are thinner than the 12 px screen period).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

WORD = "複写"
PRINT_DPI = 600
INK_K = 1.0
"""Tint of the pattern (K): dark enough for a copier to keep the big dots."""
_GLYPH_PX = 560  # ~24 mm at 600 dpi
_FINE, _FINE_DOT = (4, 5), 2
_COARSE, _COARSE_DOT = (12, 14), 6
"""(period down, period across) and dot size, in 600 dpi pixels."""


def _screen(h: int, w: int, period: tuple[int, int], dot: int) -> NDArray[np.bool_]:
    yy = (np.arange(h) % period[0] < dot)[:, None]
    xx = (np.arange(w) % period[1] < dot)[None, :]
    return yy & xx


@lru_cache(maxsize=4)
def word_mask(w: int, h: int) -> NDArray[np.bool_]:
    """Where the word 「複写」 is, tiled in staggered rows over a (h, w) area at 600 dpi."""
    import cv2
    from PIL import Image, ImageDraw, ImageFont

    from kofu.render.fonts import mj_font_file

    font = ImageFont.truetype(str(mj_font_file()), _GLYPH_PX)
    tile_w, tile_h = int(_GLYPH_PX * 3.2), int(_GLYPH_PX * 1.6)
    tile = Image.new("L", (tile_w, tile_h), 0)
    ImageDraw.Draw(tile).text((_GLYPH_PX // 4, _GLYPH_PX // 4), WORD, fill=255, font=font)
    t = np.asarray(tile) > 127
    t = cv2.dilate(t.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    reps_y, reps_x = h // tile_h + 2, w // tile_w + 2
    rows = []
    for r in range(reps_y):
        row = np.tile(t, (1, reps_x))
        rows.append(np.roll(row, (tile_w // 2) * (r % 2), axis=1))
    return np.ascontiguousarray(np.vstack(rows)[:h, :w])


@lru_cache(maxsize=4)
def pantograph_mask(w: int, h: int) -> NDArray[np.bool_]:
    """(h, w) at 600 dpi, True where the pattern puts ink."""
    text = word_mask(w, h)
    fine = _screen(h, w, _FINE, _FINE_DOT)
    coarse = _screen(h, w, _COARSE, _COARSE_DOT)
    return np.where(text, coarse, fine)
