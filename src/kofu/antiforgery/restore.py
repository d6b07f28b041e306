"""From a located scan of the back side to the QR text and the restored front.

Steps (numbered as in the code):

1. QR: the QR box (with its quiet zone) is warped upright to ~10 px/mm and
   read with zxing-cpp; if that fails, the whole scan is tried.
2. Map the scrambled area's own pixel grid (1248 x 1760) into the scan:
   the raster pixel centre (u + ½, v + ½) lies at a known millimetre
   position, and the marks' homography takes it there. The seams between
   blocks, read from the scan without warping it (_Seams.sampled), correct
   that placement to a twentieth of a pixel (_grid_correction); then the
   scan is warped once, registered (_register).
3. Lighting: the key says which blocks were printed inverted. Plain blocks
   are mostly paper (their bright level is the local white), inverted blocks
   mostly solid ink (their dark level is the local black); both levels,
   read from 25 pixels of each block, are smoothed over the page, and each
   block is put on that scale.
4. Unscramble: invert the inverted blocks back and put every block in its
   place.
5. Tone: map paper to white and ink to black (clip the sensor noise).

place() does steps 2 (up to the correction) and 3; preview() gives a
half-resolution restoration from that alone, to align a front scan to while
finish() does the rest. (Step 3 also sharpens, by as much as the seams show
blur: see finish.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from kofu.antiforgery import layout as L
from kofu.antiforgery.scramble import flip_map, unscramble

_QR_PX_MM = 10.0
_SHARPEN = 2.0
_SHARPEN_SIGMA = 1.2
_INK, _PAPER = 0.2, 0.6


def read_qr(
    img: NDArray[np.uint8], h_mm: NDArray[np.float64], *, anywhere: bool = True
) -> str | None:
    """The QR code's text, read in its box (where ``h_mm`` puts it) or, if ``anywhere``,
    failing that in the whole scan."""
    import zxingcpp

    box = L.QR_BOX
    pad = 2.0
    size = int((box.w + 2 * pad) * _QR_PX_MM)
    a = np.array(
        [[1 / _QR_PX_MM, 0, box.x - pad], [0, 1 / _QR_PX_MM, box.y - pad], [0, 0, 1]], np.float64
    )
    m = h_mm @ a
    crop = cv2.warpPerspective(
        img, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=255
    )
    fmt = zxingcpp.BarcodeFormat.QRCode
    for candidate in (crop, img) if anywhere else (crop,):
        found = zxingcpp.read_barcodes(candidate, formats=fmt)  # type: ignore[arg-type]  # one format is a set of one
        for r in found:
            if r.valid and r.text:
                return str(r.text)
    return None


def raster_to_scan(h_mm: NDArray[np.float64]) -> NDArray[np.float64]:
    """3x3: raster pixel (u, v) of the scrambled image → scan pixel (cv2 centre convention)."""
    s = L.SCRAMBLE_W / L.RASTER_W
    a = np.array([[s, 0, L.SCRAMBLE_X + s / 2], [0, s, L.SCRAMBLE_Y + s / 2], [0, 0, 1]])
    return np.asarray(h_mm @ a, np.float64)


def _warp(img: NDArray[np.uint8], m: NDArray[np.float64]) -> NDArray[np.uint8]:
    # The 8-bit scan, warped in 8 bits: 3x faster than in floats, and a
    # 255th of the paper level is far below the scan's noise.
    w = cv2.warpPerspective(
        img,
        m,
        (L.RASTER_W, L.RASTER_H),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderValue=255,
    )
    return np.asarray(w, np.uint8)


def _lattice(
    scan: NDArray[np.uint8], m: NDArray[np.float64], rows: tuple[int, int, int], cols: tuple[int, int, int]
) -> NDArray[np.uint8]:
    """The warp's pixels on a lattice of the raster grid (``rows`` and ``cols`` as
    (first, step, count)) and no others: what warping the whole scan would give there."""
    (r0, sr, nr), (c0, sc, nc) = rows, cols
    lattice = np.array([[sc, 0, c0], [0, sr, r0], [0, 0, 1.0]])
    out = cv2.warpPerspective(
        scan, m @ lattice, (nc, nr), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=255
    )
    return np.asarray(out, np.uint8)


Levels = tuple[NDArray[np.float32], NDArray[np.float32]]
"""(GRID_H, GRID_W) each: every block's local black and its span from black to white."""


def _register(
    img: NDArray[np.uint8],
    m: NDArray[np.float64],
    correction: NDArray[np.float64] | None,
    levels: Levels,
    flips: NDArray[np.bool_],
) -> NDArray[np.uint8]:
    """2. (second part) The scan warped onto the raster grid, registered to a fraction
    of a pixel by ``correction`` (None: it could not be measured).

    The marks place the grid to a pixel or so (a mark found a pixel off tilts
    the homography in perspective), and the printer places the image a few
    tenths off the marks (a raster image is drawn on whole device pixels:
    measured 0.1-0.5 px with pdfium at 600 and 300 dpi). That is enough to
    move a line of one block into its neighbour. The seams between blocks
    of opposite polarity tell the rest (_grid_correction); one correction
    leaves under 0.05 px on the benchmark's scans, and a scan that was more
    than a third of a pixel off gets one more round.
    """
    if correction is None:
        return _warp(img, m)
    m = m @ correction
    warped = _warp(img, m)
    corners = np.array(
        [[0, 0, 1], [L.RASTER_W, 0, 1], [0, L.RASTER_H, 1], [L.RASTER_W, L.RASTER_H, 1]],
        np.float64,
    )
    moved = corners @ correction.T
    if np.abs(moved[:, :2] / moved[:, 2:] - corners[:, :2]).max() >= 0.33:
        again = _grid_correction(
            [_Seams(warped, flips, vertical=v, step=4) for v in (True, False)], levels
        )
        if again is not None:
            warped = _warp(img, m @ again)
    return warped


def _grid_correction(seams: list[_Seams], levels: Levels) -> NDArray[np.float64] | None:
    """3x3: the projective map of raster pixels that puts each seam where ``seams`` (of
    both directions, every 4th pixel along them) show it.

    At a seam with edge pixels a1 | b1 and the pixels one further in a2, b2
    (standing for the two blocks' true values), the share of b in a1 is
    (a1 - a2) / (b2 - a2) and the share of a in b1 is (b2 - b1) / (b2 - a2);
    centred, the two are equal; shifted by d (under a pixel), one is about d
    larger. A weighted least-squares fit over every seam pixel of both
    directions. Hand-written: no library registers a block grid.
    """
    # Unknowns (a, b, c, d, e, f, g, h) of the correction [[1+a, b, c], [d, 1+e, f], [g, h, 1]]
    # in page-centred coordinates scaled by the width (U, V): to first order it
    # moves (U, V) by (aU + bV + c - gU² - hUV, dU + eV + f - gUV - hV²). The
    # perspective part matters: the marks' homography errs in it when one
    # mark is found a pixel off.
    # Every 4th pixel along each seam is plenty (some 30,000) and 4x faster.
    ata, atb = np.zeros((8, 8)), np.zeros(8)
    fits = []
    for z in seams:
        vertical = z.vertical
        a2, a1, b1, b2 = z.levels(levels)
        d = b2 - a2
        sel = z.on & (np.abs(d) > 0.6)
        if sel.sum() < 50:
            return None
        dd = d[sel].astype(np.float64)
        shift = ((b2 - b1) - (a1 - a2))[sel] / dd / L.RASTER_W  # cb - ca, scaled
        u = z.u[sel] / L.RASTER_W - 0.5
        v = (z.v[sel] - L.RASTER_H / 2) / L.RASTER_W
        one = np.ones_like(u)
        # The seam tells the shift across it: along u for a vertical seam, v for a horizontal one.
        cols = [0, 1, 2, 6, 7] if vertical else [3, 4, 5, 6, 7]
        x = np.stack([u, v, one, -u * u, -u * v] if vertical else [u, v, one, -u * v, -v * v])
        fits.append((cols, x, shift, dd * dd))

    def solve(keep: list[NDArray[np.bool_]] | None) -> NDArray[np.float64]:
        ata[:], atb[:] = 0.0, 0.0
        for i, (cols, x, t, w) in enumerate(fits):
            if keep is not None:
                w = w * keep[i]
            ata[np.ix_(cols, cols)] += (x * w) @ x.T
            atb[cols] += (x * w) @ t
        return np.asarray(np.linalg.solve(ata, atb), np.float64)

    q = solve(None)
    # Once more without the pixels the fit explains worst (content next to a seam).
    res = [np.abs(t - q[cols] @ x) for cols, x, t, _ in fits]
    limit = max(3.0 * float(np.median(np.concatenate(res))), 0.05 / L.RASTER_W)
    a, b, c, d_, e, f, g, h = solve([r < limit for r in res])
    norm = np.array(
        [
            [1.0 / L.RASTER_W, 0, -0.5],
            [0, 1.0 / L.RASTER_W, -L.RASTER_H / (2 * L.RASTER_W)],
            [0, 0, 1],
        ]
    )
    return np.asarray(
        np.linalg.inv(norm) @ np.array([[1 + a, b, c], [d_, 1 + e, f], [g, h, 1.0]]) @ norm,
        np.float64,
    )


class _Seams:
    """The pixels on either side of every block seam of one direction, as strided
    views of the image (a1 | b1 the edge pixels, a2 and b2 one further in),
    ``on`` where the two blocks were printed with opposite polarity, and each
    seam pixel's position (u, v) on the raster; with ``step``, every step-th
    pixel along the seams. Views, not copies: writing a1 or b1 writes the image
    (sampled() gives copies read from the scan instead)."""

    a2: NDArray[Any]
    a1: NDArray[Any]
    b1: NDArray[Any]
    b2: NDArray[Any]

    def __init__(
        self, img: NDArray[Any], flips: NDArray[np.bool_], *, vertical: bool, step: int = 1
    ) -> None:
        b = L.BLOCK
        # (No transposed view for the horizontal seams: whole rows are faster to work on.)
        if vertical:
            rows = img[::step]
            self.a2, self.a1 = rows[:, b - 2 : -b : b], rows[:, b - 1 : -b : b]
            self.b1, self.b2 = rows[:, b::b], rows[:, b + 1 :: b]
        else:
            cols = img[:, ::step]
            self.a2, self.a1 = cols[b - 2 : -b : b], cols[b - 1 : -b : b]
            self.b1, self.b2 = cols[b::b], cols[b + 1 :: b]
        self._place(flips, vertical=vertical, step=step)

    def _place(self, flips: NDArray[np.bool_], *, vertical: bool, step: int) -> None:
        """Which seam pixels count (on), and where they are (u, v, tile, along)."""
        b = L.BLOCK
        self.vertical = vertical
        if vertical:
            along = np.arange(0, L.RASTER_H, step) // b  # each seam pixel's block row
            self.on = (flips[:, 1:] != flips[:, :-1])[along]
        else:
            along = np.arange(0, L.RASTER_W, step) // b  # each seam pixel's block column
            self.on = (flips[1:] != flips[:-1])[:, along]
        self.along = along
        rows_n, cols_n = self.on.shape
        y = np.arange(rows_n, dtype=np.float64)[:, None]
        x = np.arange(cols_n, dtype=np.float64)[None, :]
        # Raster positions: a seam lies half a pixel before the block that follows it.
        if vertical:
            self.u, self.v = np.broadcast_arrays((x + 1) * b - 0.5, y * step)
            tile = (y * step // (8 * b)) * 16 + x // 8
        else:
            self.u, self.v = np.broadcast_arrays(x * step, (y + 1) * b - 0.5)
            tile = (y // 8) * 16 + x * step // (8 * b)
        self.tile = tile.astype(np.intp)

    @classmethod
    def sampled(
        cls,
        scan: NDArray[np.uint8],
        m: NDArray[np.float64],
        flips: NDArray[np.bool_],
        *,
        vertical: bool,
        step: int,
    ) -> _Seams:
        """The seams' pixels sampled from the scan where ``m`` puts the raster, without
        warping the rest: the same values a warp would give there, for a tenth of it."""
        b = L.BLOCK
        z = cls.__new__(cls)
        if vertical:
            along = (0, step, -(-L.RASTER_H // step))
            z.a2, z.a1, z.b1, z.b2 = (
                _lattice(scan, m, along, (b + d, b, L.GRID_W - 1)) for d in (-2, -1, 0, 1)
            )
        else:
            along = (0, step, -(-L.RASTER_W // step))
            z.a2, z.a1, z.b1, z.b2 = (
                _lattice(scan, m, (b + d, b, L.GRID_H - 1), along) for d in (-2, -1, 0, 1)
            )
        z._place(flips, vertical=vertical, step=step)
        return z

    def levels(self, levels: Levels) -> tuple[NDArray[np.float32], ...]:
        """(a2, a1, b1, b2) of a warped 8-bit image on the 0 (ink) .. 1 (paper) scale
        of the blocks they belong to."""
        black, span = levels
        if self.vertical:
            ka, kb = black[self.along, :-1], black[self.along, 1:]
            sa, sb = span[self.along, :-1], span[self.along, 1:]
        else:
            ka, kb = black[:-1][:, self.along], black[1:][:, self.along]
            sa, sb = span[:-1][:, self.along], span[1:][:, self.along]
        return (
            np.clip((self.a2 - ka) / sa, 0.0, 1.0),
            np.clip((self.a1 - ka) / sa, 0.0, 1.0),
            np.clip((self.b1 - kb) / sb, 0.0, 1.0),
            np.clip((self.b2 - kb) / sb, 0.0, 1.0),
        )


def sharpen(w: NDArray[np.uint8], amount: float) -> NDArray[np.float32]:
    """Unsharp mask (in grey levels, as floats): toner spread and the scanner's
    optics blur each block into its neighbours; after unscrambling those
    neighbours are elsewhere and the blur would show as a grey grid.
    Sharpening undoes most of it (measured: worst-case SSIM 0.76 -> 0.87 on
    the benchmark's grid); on a scan that is already sharp it would only
    ring, so ``amount`` follows the blur measured at the seams (see finish)."""
    blur = cv2.GaussianBlur(w, (0, 0), _SHARPEN_SIGMA) if amount > 0 else w
    return np.asarray(cv2.addWeighted(w, 1 + amount, blur, -amount, 0, dtype=cv2.CV_32F))


def _smooth_field(values: NDArray[np.float32], known: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Fill a block-grid field from its known cells (normalised convolution)."""
    v = np.where(known, values, 0).astype(np.float32)
    k = known.astype(np.float32)
    num = cv2.GaussianBlur(v, (0, 0), 2.5)
    den = cv2.GaussianBlur(k, (0, 0), 2.5)
    return np.asarray(num / np.maximum(den, 1e-6), np.float32)


_INNER = np.arange(3, L.BLOCK - 3, 2)
"""The pixels of a block (along each side) that tell its levels: every other one, away
from the border, which carries the neighbours' blur. 25 pixels tell them well enough:
they are smoothed over some 40 blocks."""


def _block_levels(scan: NDArray[np.uint8], m: NDArray[np.float64], flips: NDArray[np.bool_]) -> Levels:
    """3. Each block's local black and span from black to white, from the scan where
    ``m`` puts the raster. Both vary smoothly over the page: over one block, by
    far less than the scan's noise, so one value per block serves its pixels.

    The levels are the 10th and 90th percentiles of each block's 25 pixels:
    the third smallest and the third largest, kept while the 25 lattices of
    the scan are read (a sorting network over whole arrays: 40x faster than
    numpy's partition along a short axis)."""
    lo = [np.full((L.GRID_H, L.GRID_W), 255, np.uint8) for _ in range(3)]
    hi = [np.zeros((L.GRID_H, L.GRID_W), np.uint8) for _ in range(3)]
    for i in _INNER:
        for j in _INNER:
            x = _lattice(scan, m, (int(i), L.BLOCK, L.GRID_H), (int(j), L.BLOCK, L.GRID_W))
            # Insert x into lo[0] <= lo[1] <= lo[2] and hi[0] >= hi[1] >= hi[2].
            lo[2] = np.minimum(lo[2], np.maximum(lo[1], x))
            lo[1] = np.minimum(lo[1], np.maximum(lo[0], x))
            lo[0] = np.minimum(lo[0], x)
            hi[2] = np.maximum(hi[2], np.minimum(hi[1], x))
            hi[1] = np.maximum(hi[1], np.minimum(hi[0], x))
            hi[0] = np.maximum(hi[0], x)
    # Plain blocks tell the white, inverted blocks the black.
    white = _smooth_field(hi[2].astype(np.float32), ~flips)
    black = _smooth_field(lo[2].astype(np.float32), flips)
    return black, np.maximum(white - black, 8.0)


def _levels(scr: NDArray[np.float32], levels: Levels) -> NDArray[np.float32]:
    """The warped image on a 0 (ink) .. 1 (paper) scale, as printed (not yet unflipped); in place."""
    black, span = levels
    v = scr.reshape(L.GRID_H, L.BLOCK, L.GRID_W, L.BLOCK)
    v -= black[:, None, :, None]
    v *= (1.0 / span)[:, None, :, None]
    return np.asarray(np.clip(scr, 0.0, 1.0, out=scr), np.float32)


@dataclass(frozen=True)
class Placed:
    """A back scan with the mapping ``m`` of the scrambled image's raster into it (step 2),
    the blocks' levels (step 3) and the registration the seams ask for (None: the
    seams did not tell)."""

    scan: NDArray[np.uint8]
    m: NDArray[np.float64]
    levels: Levels
    seams: tuple[_Seams, _Seams]
    """Every 4th pixel along the vertical, then the horizontal seams (before registration)."""
    correction: NDArray[np.float64] | None
    key: bytes
    page: int

    @property
    def flips(self) -> NDArray[np.bool_]:
        return flip_map(self.key, self.page)


def place(img: NDArray[np.uint8], h_mm: NDArray[np.float64], key: bytes, page: int) -> Placed:
    """Steps 2 (the mapping, and the correction it needs) and 3 (levels) on a back scan
    whose marks gave ``h_mm``: from samples of the scan where the levels and the
    seams are read (a fifth of the pixels), not a warp of it."""
    m = raster_to_scan(h_mm)
    flips = flip_map(key, page)
    levels = _block_levels(img, m, flips)
    seams = (
        _Seams.sampled(img, m, flips, vertical=True, step=4),
        _Seams.sampled(img, m, flips, vertical=False, step=4),
    )
    return Placed(img, m, levels, seams, _grid_correction(list(seams), levels), key, page)


_HALF = np.array([[2.0, 0, 0.5], [0, 2.0, 0.5], [0, 0, 1]])
"""Half-resolution raster pixel -> raster pixel (pixel centres)."""
_PREVIEW_BLUR = 0.6
"""Sampling the scan at a quarter of the raster's pixels aliases its noise; this blur
(in preview pixels) takes that out."""


def preview(placed: Placed) -> NDArray[np.uint8]:
    """The restored front at half resolution (75 dpi) and toned: the scan sampled there
    with the registration, sharpened, levelled and unscrambled (no mending):
    enough to align a front scan to, in a tenth of the time of the restoration,
    so the two can run at once. (Without the registration, the preview's blocks
    would carry the marks' error on average, and so would the front aligned to it.)"""
    half = (L.RASTER_W // 2, L.RASTER_H // 2)
    m = placed.m if placed.correction is None else placed.m @ placed.correction
    small = cv2.warpPerspective(
        placed.scan, m @ _HALF, half, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=255
    )
    small = cv2.GaussianBlur(small, (0, 0), _PREVIEW_BLUR)
    # Sharpened as finish does (a stroke the blur left grey would tone away).
    blur = cv2.GaussianBlur(small, (0, 0), _SHARPEN_SIGMA / 2)
    sharp = np.asarray(
        cv2.addWeighted(small, 1 + _SHARPEN, blur, -_SHARPEN, 0, dtype=cv2.CV_32F), np.float32
    )
    b = L.BLOCK // 2
    black, span = placed.levels
    v = sharp.reshape(L.GRID_H, b, L.GRID_W, b)
    v -= black[:, None, :, None]
    v *= (255.0 / span)[:, None, :, None]
    scr = np.asarray(cv2.convertScaleAbs(sharp), np.uint8)  # rounds and clips to 0..255
    return toned(np.asarray(unscramble(scr, placed.key, placed.page), np.uint8))


def finish(placed: Placed) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Steps 2 (the registered warp) to 4: the restored front (150 dpi, on a linear
    scale: 0 ink .. 255 paper) and the pixels of it that are a guess (see restore)."""
    flips = placed.flips
    warped = _register(placed.scan, placed.m, placed.correction, placed.levels, flips)
    # How much to sharpen: the share of a block's edge pixel that its
    # opposite-polarity neighbour bleeds into it, scaled so that the blur of
    # a typical laser print and 300 dpi scan (~0.2) gets the full _SHARPEN.
    mixing = seam_mixing(placed.seams[0], placed.levels)
    amount = float(np.clip(mixing / 0.2, 0.0, 1.0) * _SHARPEN)
    # The sharpened image keeps the unsharpened one's levels (the unsharp
    # mask does not move a block's paper or ink level).
    scr = _levels(sharpen(warped, amount), placed.levels)
    _mend_seams(scr, flips)
    return restore(scr, placed.key, placed.page)


def restore_scrambled(
    img: NDArray[np.uint8], h_mm: NDArray[np.float64], key: bytes, page: int
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Steps 2-4 on a back scan whose marks gave ``h_mm``: the restored front
    (150 dpi, on a linear scale: 0 ink .. 255 paper) and the pixels of it that
    are a guess (see restore).

    ``toned`` (step 5) makes the picture; the comparison with a front scan
    uses this linear image, whose mid-greys (a red seal, small grey print)
    are kept rather than clipped."""
    return finish(place(img, h_mm, key, page))


def seam_mixing(seams: _Seams, levels: Levels) -> float:
    """The median share c of the neighbour in an edge pixel across opposite-polarity seams.

    Each side's share is off by the grid's misregistration (one more, the
    other less): their mean is not, so the seams read before registration serve."""
    a2, a1, b1, b2 = seams.levels(levels)
    d = b2 - a2
    sel = seams.on & (np.abs(d) > 0.6)
    if sel.sum() < 100:
        return 0.0
    return float(np.median((a1 - a2)[sel] / d[sel]) + np.median((b2 - b1)[sel] / d[sel])) / 2


def _seam_share(z: _Seams) -> float:
    """The median share of the neighbour in an edge pixel across ``z``'s opposite-polarity
    seams, on an image already on the 0 (ink) .. 1 (paper) scale."""
    d = z.b2 - z.a2
    sel = z.on & (np.abs(d) > 0.6)
    return float(np.median((z.a1 - z.a2)[sel] / d[sel])) if sel.sum() >= 100 else 0.0


def _mend_seams(img: NDArray[np.float32], flips: NDArray[np.bool_]) -> None:
    """Undo the blur across seams between printed blocks of opposite polarity (in place).

    Two pixels facing each other across a seam each carry a share ``c`` of
    the other (toner spread, scanner blur, sub-pixel misregistration):
    a' = (1-c)a + cb, b' = (1-c)b + ca. After unscrambling those neighbours
    are far apart and the mixture would show as dashes along block edges.
    ``c`` is measured on this very scan from the seams themselves (the pixel
    one further in stands for the true value), then the 2x2 mixture is
    inverted. Copying the inner row instead would erase table lines that
    happen to lie on a seam. Since the seams register the image and set the
    sharpening, this is left to do only on scans more blurred than the
    benchmark's (on all of those, the restored image was the same to 2 grey
    levels without it).
    """
    # The sharpening has usually taken all of it (the median share is 0 on every
    # scan of the benchmark): a sample of the seams tells whether there is anything to do.
    if _seam_share(_Seams(img, flips, vertical=True, step=8)) < 0.01:
        return
    seams = (_Seams(img, flips, vertical=True), _Seams(img, flips, vertical=False))
    # c varies over the page (rotation, scale): one value per tile of 8 x 8
    # blocks, measured on every other pixel along the seams (plenty).
    ratios, tiles = [], []
    for z in seams:
        k = np.s_[::2, :] if z.vertical else np.s_[:, ::2]
        a1, a2, b2 = z.a1[k], z.a2[k], z.b2[k]
        d = b2 - a2
        sel = z.on[k] & (np.abs(d) > 0.6)
        ratios.append((a1 - a2)[sel] / d[sel])
        tiles.append(np.broadcast_to(z.tile[k], sel.shape)[sel])
    ratio, t_sel = np.concatenate(ratios), np.concatenate(tiles)
    if ratio.size < 100:
        return
    cmap = np.full(16 * 16, float(np.median(ratio)), np.float32)
    # Each tile's median at once, from a histogram per tile (bins of 0.005
    # over 0..0.45, the range c is clipped to; 5x faster than sorting).
    bins = 90
    b = np.clip((ratio * (bins / 0.45)).astype(np.intp), 0, bins - 1)
    hist = np.bincount(t_sel * bins + b, minlength=256 * bins).reshape(256, bins)
    counts = hist.sum(axis=1)
    enough = counts >= 20
    middle = (np.cumsum(hist, axis=1) > counts[:, None] // 2).argmax(axis=1)
    cmap[enough] = (middle[enough] + 0.5) * (0.45 / bins)
    cmap = np.clip(cmap, 0.0, 0.45)
    for z in seams:
        # Whole seam arrays, then kept where the blocks' polarity differs:
        # faster than gathering those pixels out of strided views.
        c = cmap[z.tile]
        p, q = np.array(z.a1), np.array(z.b1)
        d = 1 - 2 * c
        np.copyto(z.a1, np.clip(((1 - c) * p - c * q) / d, 0, 1), where=z.on)
        np.copyto(z.b1, np.clip(((1 - c) * q - c * p) / d, 0, 1), where=z.on)


_TONE = np.clip((np.arange(256) / 255 - _INK) / (_PAPER - _INK), 0.0, 1.0)
_TONE_LUT = (_TONE * 255 + 0.5).astype(np.uint8)


def restore(
    scr_norm: NDArray[np.float32], key: bytes, page: int
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """4. The restored front on a linear 0 (ink) .. 255 (paper) scale, before the
    tone curve, and where it is a guess (the block edges that _drop_dashes replaced).
    Eight bits carry it: a 255th of the paper level is far below the scan's noise."""
    scr = np.asarray(cv2.convertScaleAbs(scr_norm, alpha=255.0), np.uint8)  # rounds
    plain = np.asarray(unscramble(scr, key, page), np.uint8)
    return plain, _drop_dashes(plain)


def toned(plain: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """5. The restored front as a picture: above _PAPER is paper, below _INK is ink
    (tuned on the benchmark's grid)."""
    return np.asarray(cv2.LUT(plain, _TONE_LUT), np.uint8)


def _drop_dashes(img: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Remove what seam unmixing left: a dark edge row/column of one block with
    paper on both sides of it and no continuation in the neighbouring blocks
    (a real rule line continues; a seam remnant stops at the block's ends).

    In place; returns the pixels it replaced. A short stroke that really lies
    on a block's edge looks the same and is replaced too, so a comparison
    must not trust those pixels.
    """
    v = img.reshape(L.GRID_H, L.BLOCK, L.GRID_W, L.BLOCK)
    replaced = np.zeros(img.shape, bool)
    r = replaced.reshape(L.GRID_H, L.BLOCK, L.GRID_W, L.BLOCK)

    def dark(rows: NDArray[np.uint8], axis: int) -> NDArray[np.float64]:
        # (An integer sum: 3x faster than a mean, which works in float64.)
        return np.asarray(1.0 - rows.sum(axis=axis, dtype=np.uint32) / (255.0 * L.BLOCK))

    for edge, inner, across in ((0, 1, -1), (-1, -2, 0)):
        e = dark(v[:, edge, :, :], 2)  # (GH, GW) darkness of the edge row
        i = dark(v[:, inner, :, :], 2)
        o = np.roll(dark(v[:, across, :, :], 2), -1 if edge == -1 else 1, axis=0)
        side = np.maximum(np.roll(e, 1, axis=1), np.roll(e, -1, axis=1))
        dash = (e > 0.25) & (i < 0.08) & (o < 0.08) & (side < 0.15)
        gy, gx = np.nonzero(dash)
        v[gy, edge, gx, :] = v[gy, inner, gx, :]
        r[gy, edge, gx, :] = True
        e = dark(v[:, :, :, edge], 1)
        i = dark(v[:, :, :, inner], 1)
        o = np.roll(dark(v[:, :, :, across], 1), -1 if edge == -1 else 1, axis=1)
        side = np.maximum(np.roll(e, 1, axis=0), np.roll(e, -1, axis=0))
        dash = (e > 0.25) & (i < 0.08) & (o < 0.08) & (side < 0.15)
        gy, gx = np.nonzero(dash)
        v[gy, :, gx, edge] = v[gy, :, gx, inner]
        r[gy, :, gx, edge] = True
    # A remnant on both sides of one seam, at the pixel level: ink on the two pixels facing
    # each other across a seam, paper two pixels away on either side, in a run of half a
    # block to two blocks along it (from oblique, blurred phone photos of the back:
    # 2 px dashes about one block long, sometimes running on into the next block, which the
    # test above misses as each side has ink across; seen as false alarms on untouched
    # fronts, issue 17). A character's stroke across the seam has ink beyond it.
    d = 255 - img.astype(np.int16)
    for axis in (1, 0):
        m = d if axis == 1 else d.T
        a = np.arange(L.BLOCK, m.shape[1] - 2, L.BLOCK) - 1  # the last pixel before each seam
        seam = np.maximum(m[:, a], m[:, a + 1]) > 64
        paper = np.maximum(m[:, a - 2], m[:, a + 3]) < 26
        on = (seam & paper).view(np.uint8)
        run = cv2.morphologyEx(on, cv2.MORPH_OPEN, np.ones((L.BLOCK // 2 + 1, 1), np.uint8)).astype(bool)
        # Longer than two blocks: a line printed on the seam, kept.
        long = cv2.morphologyEx(on, cv2.MORPH_OPEN, np.ones((2 * L.BLOCK + 1, 1), np.uint8))
        run &= ~long.astype(bool)
        ys, ks = np.nonzero(run)
        if not ys.size:
            continue
        view, rep = (img, replaced) if axis == 1 else (img.T, replaced.T)
        view[ys, a[ks]], view[ys, a[ks] + 1] = view[ys, a[ks] - 2], view[ys, a[ks] + 3]
        rep[ys, a[ks]], rep[ys, a[ks] + 1] = True, True
    return replaced
