"""Issue 17: verifying from phone photos (simulated: kofu.antiforgery.simulate.photograph).
How it fares over the whole range is `kofu bench photos`'s job; here, one photo pair
well inside it, and the refusals."""

from __future__ import annotations

import pytest

from kofu.antiforgery.errors import ScrambleNotFound
from kofu.antiforgery.simulate import Photo, photograph, printed_for_photos, render_page
from kofu.antiforgery.verify import check_scan

from .conftest import SERIAL, Center, Jobs

# Where 社50番地 is on the restored image (150 dpi): the altered digit.
ALTERED_AT = (426, 262)  # as in test_verify.py (the header moved it down)

BACK = Photo(tilt_deg=14, tilt_dir_deg=120, roll_deg=-2.5, fill=0.75, gradient=0.45,
             gradient_dir_deg=30, shadow=0.2, motion_px=1.5, focus_sigma_px=0.5, desk=50, seed=3)
FRONT = Photo(tilt_deg=12, tilt_dir_deg=300, roll_deg=182, fill=0.8, gradient=0.35,
              gradient_dir_deg=250, shadow=0.15, motion_px=1.0, focus_sigma_px=0.6, desk=110, seed=4)


@pytest.fixture(scope="module")
def back_photo(jobs: Jobs) -> bytes:
    return photograph(printed_for_photos(render_page(jobs.genuine, 1)), BACK)


def test_photo_pair(jobs: Jobs, center: Center, back_photo: bytes) -> None:
    """An oblique, unevenly lit, slightly blurred back and an upside-down front: the
    back verifies and restores, the untouched front passes, the changed digit is found;
    the diagnostics say what was done."""
    kw = {"keyring": center.keyring, "jwks": center.jwks}
    genuine = check_scan(back_photo, photograph(printed_for_photos(render_page(jobs.genuine, 0)), FRONT), **kw)
    assert genuine.qr_valid and genuine.serial == SERIAL
    assert genuine.tampered is False, (genuine.score, genuine.regions, genuine.diagnostics)
    assert "in a photo" in genuine.diagnostics[-1]
    altered = check_scan(back_photo, photograph(printed_for_photos(render_page(jobs.altered, 0)), FRONT), **kw)
    assert altered.tampered is True, (altered.score, altered.diagnostics)
    assert any(
        r.x <= ALTERED_AT[0] <= r.x + r.width and r.y <= ALTERED_AT[1] <= r.y + r.height
        for r in altered.regions
    ), altered.regions


def test_too_small_a_photo_is_refused(jobs: Jobs, center: Center) -> None:
    """The page filling a fifth of the frame: about 70 dpi on the page, refused saying so."""
    far = Photo(fill=0.2, desk=40, seed=5)
    with pytest.raises(ScrambleNotFound, match=r"about \d+ dpi, too coarse"):
        check_scan(
            photograph(printed_for_photos(render_page(jobs.genuine, 1)), far),
            None,
            keyring=center.keyring,
            jwks=center.jwks,
        )
