"""sRGB → CIELAB and ΔE (CIE76), for the latent image's colour match.

CIE76 (Euclidean distance in L*a*b*) is the stricter of the usual measures
for these mid-tones: CIEDE2000 weighs lightness and chroma differences down,
so a ΔE76 ≤ 3 is also a ΔE00 ≤ 3 here.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_M = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_WHITE = np.array([0.95047, 1.0, 1.08883])


def srgb_to_lab(rgb: NDArray[np.generic]) -> NDArray[np.float64]:
    """``rgb``: (..., 3) in 0..255; returns (..., 3) L*a*b* (D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _M.T / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    L = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([L, a, b], axis=-1)


def delta_e76(rgb1: NDArray[np.generic], rgb2: NDArray[np.generic]) -> NDArray[np.float64]:
    """ΔE (CIE76) between sRGB colours, (..., 3) in 0..255 each; (...) out."""
    return np.asarray(np.linalg.norm(srgb_to_lab(rgb1) - srgb_to_lab(rgb2), axis=-1))
