"""HEIC photos (iPhones' default) are read through the optional pillow-heif package;
without it they are refused, saying what to do."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from kofu.antiforgery.errors import ScanRejected
from kofu.antiforgery.scanio import load_scan


def _heic(w: int, h: int) -> bytes:
    import pillow_heif  # a dev dependency: the test fails, never skips, without it
    from PIL import Image

    pillow_heif.register_heif_opener()
    grad = np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))
    out = io.BytesIO()
    Image.fromarray(grad).convert("RGB").save(out, "HEIF", quality=90)
    return out.getvalue()


def test_heic_is_read_as_grayscale() -> None:
    data = _heic(240, 320)
    img = load_scan(data)
    assert img.shape == (320, 240) and img.dtype == np.uint8
    assert abs(int(img[160, 120]) - 128) < 12  # the middle of the gradient
    assert load_scan(data, halve=True).shape == (160, 120)
    with pytest.raises(ScanRejected, match="megapixels"):
        load_scan(data, max_pixels=10_000)


def test_heic_without_the_decoder_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _heic(64, 64)
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if not installed
    with pytest.raises(ScanRejected, match="pillow-heif"):
        load_scan(data)
