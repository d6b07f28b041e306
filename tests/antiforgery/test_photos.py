"""Issue 17: verifying from phone photos (simulated: kofu.antiforgery.simulate.photograph).
How it fares over the whole range is `kofu bench photos`'s job; here, one photo pair
well inside it, and the refusals."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from datetime import date

import numpy as np
import pytest

from kofu.antiforgery import layout as L
from kofu.antiforgery.compare import Region
from kofu.antiforgery.errors import Unjudgeable
from kofu.antiforgery.keys import ScrambleKeyring
from kofu.antiforgery.page import find_page
from kofu.antiforgery.printjob import compose_print_job
from kofu.antiforgery.scanio import load_scan
from kofu.antiforgery.simulate import (
    PHOTO_SIZE,
    Photo,
    photo_homography,
    photograph,
    printed_for_photos,
    random_photo,
    render_page,
)
from kofu.antiforgery.verify import check_scan
from kofu.render.juminhyo import render_juminhyo
from kofu.render.samples import household

from .conftest import ALTERED_ADDRESS, SERIAL, Center, Jobs

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
    with pytest.raises(Unjudgeable, match=r"about \d+ dpi, too coarse"):
        check_scan(
            photograph(printed_for_photos(render_page(jobs.genuine, 1)), far),
            None,
            keyring=center.keyring,
            jwks=center.jwks,
        )


def _covers(regions: tuple[Region, ...], at: tuple[int, int]) -> bool:
    return any(r.x <= at[0] <= r.x + r.width and r.y <= at[1] <= r.y + r.height for r in regions)


def _glare(p: Photo, at_mm: tuple[float, float]) -> Photo:
    """``p`` with a strong glare centred on the page's point ``at_mm``."""
    x, y, w = photo_homography(p) @ np.array([at_mm[0], at_mm[1], 1.0])
    return dataclasses.replace(
        p, glare=0.7, glare_at=(float(x / w / PHOTO_SIZE[0]), float(y / w / PHOTO_SIZE[1])), glare_radius=0.05
    )


def test_glare_is_not_checked(jobs: Jobs, center: Center, back_photo: bytes) -> None:
    """Glare over the foot of the front: that part is not checked (and said so), the rest
    is: the untouched front passes, the changed digit is found. Glare over the digit
    itself: the digit lies in a part not checked, never in one judged unaltered."""
    kw = {"keyring": center.keyring, "jwks": center.jwks}
    genuine_front = printed_for_photos(render_page(jobs.genuine, 0))
    altered_front = printed_for_photos(render_page(jobs.altered, 0))
    foot = _glare(FRONT, (140.0, 220.0))
    genuine = check_scan(back_photo, photograph(genuine_front, foot), **kw)
    assert genuine.tampered is False, (genuine.score, genuine.regions, genuine.diagnostics)
    assert genuine.unchecked, genuine.diagnostics
    # The glare's centre (140 mm, 220 mm: 827, 1299 restored pixels) is in a part not checked.
    assert _covers(genuine.unchecked, (827, 1299)), genuine.unchecked
    assert any("could not be judged" in d for d in genuine.diagnostics)
    altered = check_scan(back_photo, photograph(altered_front, foot), **kw)
    assert altered.tampered is True and _covers(altered.regions, ALTERED_AT), altered.regions
    over_digit = check_scan(back_photo, photograph(altered_front, _glare(FRONT, (72.0, 44.0))), **kw)
    assert over_digit.tampered is not False or _covers(over_digit.unchecked, ALTERED_AT), (
        over_digit.regions,
        over_digit.unchecked,
    )


def test_light_desk_front_is_placed_by_its_content(jobs: Jobs, center: Center, back_photo: bytes) -> None:
    """A front on a desk as light as the tinted paper: no outline to find the page by, so it
    is placed by its content; the untouched front passes, the changed digit is found."""
    light = dataclasses.replace(FRONT, desk=195, gradient=0.1, shadow=0.0)
    kw = {"keyring": center.keyring, "jwks": center.jwks}
    genuine = check_scan(back_photo, photograph(printed_for_photos(render_page(jobs.genuine, 0)), light), **kw)
    assert genuine.tampered is False, (genuine.score, genuine.regions, genuine.diagnostics)
    assert any("placed by its content" in d for d in genuine.diagnostics), genuine.diagnostics
    altered = check_scan(back_photo, photograph(printed_for_photos(render_page(jobs.altered, 0)), light), **kw)
    assert altered.tampered is True and _covers(altered.regions, ALTERED_AT), altered.regions


@pytest.mark.parametrize(
    ("photo", "reason"),
    [
        (Photo(tilt_deg=35, tilt_dir_deg=80, fill=0.8, desk=60, seed=9), r"too oblique to judge \(the page foreshortened"),
        (Photo(tilt_deg=8, fill=0.75, motion_px=7, focus_sigma_px=2.5, desk=60, seed=9), r"too blurred to judge \(about 0\.\d\d mm"),
    ],
    ids=["oblique", "blurred"],
)
def test_unjudgeable_back_is_refused_saying_why(jobs: Jobs, center: Center, photo: Photo, reason: str) -> None:
    """Beyond the issue's ranges (35° off the normal; 7 px of motion and σ 2.5 px of focus
    blur, whose QR code does not even read): refused as unjudgeable, saying why."""
    with pytest.raises(Unjudgeable, match=reason):
        check_scan(
            photograph(printed_for_photos(render_page(jobs.genuine, 1)), photo),
            None,
            keyring=center.keyring,
            jwks=center.jwks,
        )


def test_a_whole_line_changed_in_a_photo_is_never_passed(jobs: Jobs, center: Center, back_photo: bytes) -> None:
    """A large change (the whole address line) is most of a band's deviation: the photo's
    noise level, raised to that band's own noise, must not rise over it."""
    from kofu.render.juminhyo import render_juminhyo
    from kofu.render.samples import household

    from .conftest import compose

    forged = compose(center, render_juminhyo(household(2, address="大阪府大阪市北区梅田三丁目一番地二十五号梅田第一ビル九階")).pdf)
    r = check_scan(back_photo, photograph(printed_for_photos(render_page(forged, 0)), FRONT),
                   keyring=center.keyring, jwks=center.jwks)
    assert r.tampered is True, (r.score, r.regions, r.diagnostics)



def test_an_added_person_in_a_photo_is_never_passed(jobs: Jobs, center: Center, back_photo: bytes) -> None:
    """A person added to the household (a whole block of new lines) must be flagged or left
    unchecked, never passed as unaltered (found in review, with the changed address line)."""
    from kofu.render.juminhyo import render_juminhyo
    from kofu.render.samples import household

    from .conftest import compose

    forged = compose(center, render_juminhyo(household(3)).pdf)
    r = check_scan(back_photo, photograph(printed_for_photos(render_page(forged, 0)), FRONT),
                   keyring=center.keyring, jwks=center.jwks)
    assert r.tampered is not False, (r.score, r.regions, r.diagnostics)


def test_seam_remnants_of_a_photo_are_no_print() -> None:
    """A 2 px dash on both sides of a block seam, with paper around it (what an oblique,
    blurred back photo leaves after unmixing), is taken out of the restored image and
    marked a guess; a rule line along the seam and a stroke across it stay."""
    from kofu.antiforgery import layout as L
    from kofu.antiforgery.restore import _drop_dashes

    img = np.full((L.RASTER_H, L.RASTER_W), 255, np.uint8)
    b = L.BLOCK
    img[10 * b + 2 : 11 * b + 4, 20 * b - 1 : 20 * b + 1] = 100  # the dash, running a little into the next block
    img[30 * b : 34 * b, 40 * b - 1 : 40 * b + 1] = 0  # a rule line four blocks long on a seam
    img[50 * b + 5 : 50 * b + 7, 10 * b - 6 : 10 * b + 6] = 0  # a stroke across a seam
    before = img.copy()
    guessed = _drop_dashes(img)
    assert (img[10 * b + 2 : 11 * b + 4, 20 * b - 1 : 20 * b + 1] == 255).all()
    assert guessed[10 * b + 2 : 11 * b + 4, 20 * b - 1 : 20 * b + 1].all()
    assert (img[30 * b : 34 * b] == before[30 * b : 34 * b]).all()
    assert (img[50 * b : 51 * b] == before[50 * b : 51 * b]).all()


def test_glare_over_most_of_the_print_is_never_judged_unaltered(jobs: Jobs, center: Center) -> None:
    """A lamp's glare over the table, where most of the print is (over a third of the page
    clipped): the changed digit washed out under it was judged unaltered ("matches") before
    the glare was told from the paper by the page's lower quartile. Now it is not checked."""
    kw = {"keyring": center.keyring, "jwks": center.jwks}
    back = photograph(printed_for_photos(render_page(jobs.genuine, 1)), Photo(tilt_deg=6, fill=0.8, desk=50, seed=3))
    lamp = Photo(tilt_deg=6, fill=0.8, desk=110, seed=4, glare=0.9, glare_radius=0.15, glare_at=(0.45, 0.32))
    altered = check_scan(back, photograph(printed_for_photos(render_page(jobs.altered, 0)), lamp), **kw)
    assert altered.tampered is not False, altered.diagnostics
    assert altered.tampered is True or _covers(altered.unchecked, ALTERED_AT), (altered.regions, altered.unchecked)
    assert any("could not be judged" in d for d in altered.diagnostics), altered.diagnostics


def test_a_half_whose_photo_noise_reaches_its_cap_is_not_checked(
        jobs: Jobs, center: Center, back_photo: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the cap, the noise level no longer follows what the photos show, and a change as
    large as most of a half could hide under it: such a half is not checked, never judged
    unaltered (found in review). The cap is lowered here so that both halves reach it."""
    from kofu.antiforgery import compare

    monkeypatch.setattr(compare, "_PHOTO_NOISE_MAX", 0.05)
    r = check_scan(back_photo, photograph(printed_for_photos(render_page(jobs.genuine, 0)), FRONT),
                   keyring=center.keyring, jwks=center.jwks)
    assert r.tampered is None and r.unchecked, (r.score, r.diagnostics)
    assert any("noise reached its limit" in d for d in r.diagnostics), r.diagnostics


def _bench_pair(n: int, center: Center) -> tuple[ScrambleKeyring, Callable[[str | None], bytes], Photo, Photo]:
    """The photo bench's pair ``n`` (benchmarks/bench_photos.py, seed 1017): its key (case_key),
    a print job of its serial for the 住民票 with ``address`` (None: the genuine one), and the
    back and front photos' parameters."""
    keyring = ScrambleKeyring(hashlib.blake2b(f"kofu bench photos, case {n}".encode(), digest_size=32).digest())

    def job(address: str | None) -> bytes:
        changes = {"address": address} if address else {}
        return compose_print_job(render_juminhyo(household(2, **changes)).pdf, serial=f"P-{n:04d}",
                                 municipality="282286", kind="juminhyo", issued_on=date(2025, 4, 1),
                                 keyring=keyring, signer=center.signer)

    draw = np.random.default_rng(1017)  # pair n is the draw's photos 2n and 2n + 1
    photos = [random_photo(draw, i) for i in range(2 * n + 2)]
    return keyring, job, photos[2 * n], photos[2 * n + 1]


def _untouched_passes_changed_digit_found(n: int, center: Center) -> None:
    """The bench's pair ``n`` photographed: the untouched front passes, the changed digit is found."""
    keyring, job, back, front = _bench_pair(n, center)
    genuine_job = job(None)
    kw = {"keyring": keyring, "jwks": center.jwks}
    b = photograph(printed_for_photos(render_page(genuine_job, 1)), back)
    genuine = check_scan(b, photograph(printed_for_photos(render_page(genuine_job, 0)), front), **kw)
    assert genuine.tampered is False, (genuine.score, genuine.regions, genuine.diagnostics)
    altered = check_scan(b, photograph(printed_for_photos(render_page(job(ALTERED_ADDRESS), 0)), front), **kw)
    assert altered.tampered is True and _covers(altered.regions, ALTERED_AT), (altered.score, altered.regions)


def test_the_far_marks_of_an_oblique_photo_are_found(center: Center) -> None:
    """The bench's pair 43: a back 18° off the normal, whose far marks are some 11 px at the
    working scale; a pixel of blur at one corner of one made it fill less of its rectangle
    than a flat scan's marks do, and the back was "not found". It verifies."""
    keyring, job, back, _ = _bench_pair(43, center)
    r = check_scan(photograph(printed_for_photos(render_page(job(None), 1)), back), None,
                   keyring=keyring, jwks=center.jwks)
    assert r.qr_valid and r.serial == "P-0043" and r.restored is not None


def test_a_sharp_front_and_a_blurred_back_photo_do_not_differ(center: Center) -> None:
    """The bench's pair 29: a back photo blurred by motion and focus, a sharp front. The front
    photo blurred to match the restoration lost the insides of small glyphs (the 日 of 昭 on a
    date line) and the untouched front was flagged (1.65, from 1.5). Only the restoration is
    blurred to match: the untouched front passes, the changed digit is still found."""
    _untouched_passes_changed_digit_found(29, center)


def test_a_very_oblique_front_on_a_light_desk_aligns(center: Center) -> None:
    """The bench's pair 68: a front photo 19° off the normal on a light desk. The page's
    outline found at the working scale lay 1-2.5 mm outside the page, the front did not
    align, and the genuine front was judged "not this certificate". Its sides are now put
    on the page's edges: the page is found to a millimetre, the untouched front passes and
    the changed digit is found."""
    keyring, job, back, front = _bench_pair(68, center)
    genuine_job = job(None)
    printed = printed_for_photos(render_page(genuine_job, 0))
    picture = photograph(printed, front)
    page = find_page(load_scan(picture))
    assert page is not None
    a4 = [(0.0, 0.0), (L.PAGE_W_MM, 0.0), (L.PAGE_W_MM, L.PAGE_H_MM), (0.0, L.PAGE_H_MM)]
    truth = np.array([(v[:2] / v[2]) for v in (photo_homography(front) @ np.array([x, y, 1.0]) for x, y in a4)])
    assert np.abs(page.corners - truth).max() < page.px_per_mm, (page.corners, truth)
    kw = {"keyring": keyring, "jwks": center.jwks}
    b = photograph(printed_for_photos(render_page(genuine_job, 1)), back)
    genuine = check_scan(b, picture, **kw)
    assert genuine.tampered is False, (genuine.score, genuine.diagnostics)
    altered = check_scan(b, photograph(printed_for_photos(render_page(job(ALTERED_ADDRESS), 0)), front), **kw)
    assert altered.tampered is True and _covers(altered.regions, ALTERED_AT), (altered.score, altered.regions)


def test_print_the_restoration_lost_does_not_raise_the_contrast_around_it(center: Center) -> None:
    """The bench's pair 70: a blurred back photo whose restoration lost most of a table's
    rule beside the 昭 of a date line (restoration errors). The front's contrast was matched
    to the restored one over several characters, the lost rule included: the restored 昭
    was then scaled up, and the untouched front was flagged (1.96, from 1.5). The contrast is
    matched robustly (what the restoration lost, or a forger changed, weighs little): the
    untouched front passes, the changed digit is found."""
    _untouched_passes_changed_digit_found(70, center)
