"""The verification site on a phone (issue 17): a phone-sized viewport with touch,
a photo pair (simulated phone photos of the back and the front) uploaded through
the camera inputs, and the result read on the small screen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kofu.procs import Service, free_port, kofu_argv, start_service
from kofu.render.juminhyo import render_juminhyo
from kofu.render.samples import household

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SERIAL = "T-2025-000171"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Center keys, a verify.toml, and two phone photos: the back and the front."""
    from kofu.antiforgery.keys import QrSigner, ScrambleKeyring
    from kofu.antiforgery.printjob import compose_print_job
    from kofu.antiforgery.simulate import Photo, photograph, printed_for_photos, render_page

    d = tmp_path_factory.mktemp("phone")
    (d / "scramble-master.key").write_bytes(bytes(range(32)))
    keyring = ScrambleKeyring.from_file(d / "scramble-master.key")
    signer = QrSigner.generate(d / "qr", "k2025")
    job = compose_print_job(
        render_juminhyo(household(2)).pdf,
        serial=SERIAL,
        municipality="282286",
        kind="juminhyo",
        issued_on=date(2025, 4, 1),
        keyring=keyring,
        signer=signer,
    )
    # A hand-held phone: some 10° off the page's normal, uneven light, a little blur.
    back = Photo(tilt_deg=10, tilt_dir_deg=40, roll_deg=2, fill=0.8, gradient=0.3,
                 shadow=0.15, motion_px=1.5, focus_sigma_px=0.5, desk=60, seed=1)
    front = Photo(tilt_deg=8, tilt_dir_deg=200, roll_deg=-1.5, fill=0.8, gradient=0.25,
                  shadow=0.1, motion_px=1.0, focus_sigma_px=0.4, desk=90, seed=2)
    (d / "back.jpg").write_bytes(photograph(printed_for_photos(render_page(job, 1)), back))
    (d / "front.jpg").write_bytes(photograph(printed_for_photos(render_page(job, 0)), front))
    config = d / "verify.toml"
    config.write_text(
        f'[keys]\nmaster_key = "{d / "scramble-master.key"}"\nqr_keys = "{d / "qr"}"\n', encoding="utf-8"
    )
    return config, d / "back.jpg", d / "front.jpg"


@pytest.fixture(scope="module")
def site(photos: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = photos[0]
    port = free_port()
    svc: Service = start_service(
        "verify",
        kofu_argv("serve", "verify", "--config", str(config), "--port", str(port)),
        port,
        tmp_path_factory.mktemp("verify-phone") / "verify.log",
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        svc.stop()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        locale="ja-JP", viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    p = context.new_page()
    p.set_default_timeout(180_000)  # a 12 MP pair on a shared 2-core machine
    yield p
    context.close()


def test_photo_pair_on_a_phone(
    site: str, photos: tuple[Path, Path, Path], phone: Any, tmp_path: Path
) -> None:
    _, back, front = photos
    phone.goto(site + "/")
    # The inputs open the camera on a phone, the back first, then the front.
    for selector in ("#back", "#front"):
        assert phone.get_attribute(selector, "capture") == "environment"
        assert phone.get_attribute(selector, "accept") == "image/*"
    labels = phone.locator("label").all_inner_texts()
    assert labels[0].startswith("1") and labels[1].startswith("2")
    # Nothing wider than the screen; the button is a full-width touch target.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = phone.locator("#submit").bounding_box()
    assert box["height"] >= 44 and box["width"] >= PHONE["width"] - 40
    phone.set_input_files("#back", str(back))
    phone.set_input_files("#front", str(front))
    with phone.expect_navigation() as nav:
        phone.tap("#submit")
    assert nav.value.status == 200
    phone.screenshot(path=str(tmp_path / "phone-result.png"), full_page=True)
    assert phone.locator("#qr-verdict").get_attribute("data-valid") == "true"
    assert SERIAL in phone.locator("#payload").inner_text()
    assert phone.locator("#tamper-verdict").get_attribute("data-tampered") == "false"
    # Readable on the phone: the verdict and the pictures fit the screen's width.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for img in ("#restored", "#marked"):
        assert phone.eval_on_selector(img, "i => i.complete && i.naturalWidth") > 500
        assert phone.locator(img).bounding_box()["width"] <= PHONE["width"]
