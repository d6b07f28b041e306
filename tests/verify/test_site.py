"""The verification site as a receiver uses it: ``kofu serve verify`` as a
real process, real print jobs from the anti-forgery core, scans simulated
from them, uploaded through Debian's chromium.

1. The center's keys are generated (scramble master key, QR signing key).
2. A 住民票 is rendered and composed into a duplex print job.
3. The back page (and the front, or a front with one digit changed) is
   "scanned": rasterised at 300 dpi, turned slightly, saved as JPEG.
4. In the browser: open the page, choose the files, submit, read the result.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from kofu.procs import Service, kofu_argv
from kofu.render.juminhyo import render_juminhyo
from kofu.render.samples import household
from tests.antiforgery.conftest import (
    ALTERED_ADDRESS,
    GENUINE_ADDRESS,
    assert_flags_the_altered_spot,
    titled_job,
)
from tests.ports import start_on_a_free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SERIAL = "T-2025-000123"


@dataclass(frozen=True)
class Scans:
    back: Path
    front: Path
    altered_front: Path


def scan(pdf: bytes, page: int, *, degrees: float = 0.8, quality: int = 85) -> bytes:
    """One page of ``pdf`` as a 300 dpi scanner would return it: turned a little, JPEG."""
    import pypdfium2
    from PIL import Image

    doc = pypdfium2.PdfDocument(pdf)
    try:
        image = doc[page].render(scale=300 / 72).to_pil().convert("RGB")
    finally:
        doc.close()
    image = image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def center_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any, Any]:
    from kofu.antiforgery.keys import QrSigner, ScrambleKeyring

    d = tmp_path_factory.mktemp("center-keys")
    # A fixed master key, so the scramble (and with it this test) is the same on every run;
    # the false-alarm rate over many keys and distortions is what `make bench` measures.
    (d / "scramble-master.key").write_bytes(bytes(range(32)))
    keyring = ScrambleKeyring.from_file(d / "scramble-master.key")
    signer = QrSigner.generate(d / "qr", "k2025")
    return d / "scramble-master.key", d / "qr", keyring, signer


@pytest.fixture(scope="module")
def scans(
    center_keys: tuple[Path, Path, Any, Any], tmp_path_factory: pytest.TempPathFactory
) -> Scans:
    from kofu.antiforgery.printjob import compose_print_job

    _, _, keyring, signer = center_keys
    d = tmp_path_factory.mktemp("scans")

    def job(address: str) -> bytes:
        front = render_juminhyo(household(2, address=address)).pdf
        return compose_print_job(
            front,
            serial=SERIAL,
            municipality="282286",
            kind="juminhyo",
            issued_on=date(2025, 4, 1),
            keyring=keyring,
            signer=signer,
        )

    genuine = job(GENUINE_ADDRESS)
    # The forger's paper: the same certificate with 50 changed to 58.
    forged = job(ALTERED_ADDRESS)
    s = Scans(d / "back.jpg", d / "front.jpg", d / "altered-front.jpg")
    s.back.write_bytes(scan(genuine, 1))
    s.front.write_bytes(scan(genuine, 0, degrees=-0.5))
    s.altered_front.write_bytes(scan(forged, 0, degrees=-0.5))
    return s


@pytest.fixture(scope="module")
def site(
    center_keys: tuple[Path, Path, Any, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Service]]:
    master, qr, _, _ = center_keys
    d = tmp_path_factory.mktemp("verify-site")
    config = d / "verify.toml"
    config.write_text(f'[keys]\nmaster_key = "{master}"\nqr_keys = "{qr}"\n', encoding="utf-8")
    svc = start_on_a_free_port(
        "verify", lambda port: kofu_argv("serve", "verify", "--config", str(config), "--port", str(port)),
        d / "verify.log",
    )
    try:
        yield f"http://127.0.0.1:{svc.port}", svc
    finally:
        svc.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="ja-JP")
    p = context.new_page()
    p.set_default_timeout(120_000)  # a restoration takes seconds on a shared 2-core machine
    yield p
    context.close()


def submit(page: Any, url: str, back: Path | None, front: Path | None = None) -> int:
    page.goto(url + "/")
    if back is not None:
        page.set_input_files("#back", str(back))
    if front is not None:
        page.set_input_files("#front", str(front))
    with page.expect_navigation() as nav:
        page.click("#submit")
    return int(nav.value.status)


def test_genuine_paper(site: tuple[str, Service], scans: Scans, page: Any, tmp_path: Path) -> None:
    url, _ = site
    assert submit(page, url, scans.back, scans.front) == 200
    page.screenshot(path=str(tmp_path / "genuine.png"), full_page=True)
    assert page.locator("#qr-verdict").get_attribute("data-valid") == "true"
    assert "有効" in page.locator("#qr-verdict").inner_text()
    assert SERIAL in page.locator("#payload").inner_text()
    assert page.eval_on_selector("#restored", "i => i.complete && i.naturalWidth") > 500
    assert page.locator("#tamper-verdict").get_attribute("data-tampered") == "false"
    assert "改ざんの疑いなし" in page.locator("#tamper-verdict").inner_text()


def test_altered_digit_is_marked(
    site: tuple[str, Service], scans: Scans, page: Any, tmp_path: Path
) -> None:
    url, _ = site
    assert submit(page, url, scans.back, scans.altered_front) == 200
    page.screenshot(path=str(tmp_path / "altered.png"), full_page=True)
    assert page.locator("#qr-verdict").get_attribute("data-valid") == "true"
    assert page.locator("#tamper-verdict").get_attribute("data-tampered") == "true"
    assert "改ざんの疑いあり" in page.locator("#tamper-verdict").inner_text()
    cells = page.eval_on_selector_all(
        "#regions tbody tr", "rows => rows.map(r => [...r.cells].slice(1).map(c => Number(c.textContent)))"
    )
    regions = [dict(zip(("x", "y", "width", "height"), row, strict=True)) for row in cells]
    assert_flags_the_altered_spot(regions)  # the rows name where: over the altered digit
    assert f"{len(regions)} か所" in page.locator("#tamper-verdict").inner_text()
    assert page.eval_on_selector("#marked", "i => i.complete && i.naturalWidth") > 500
    assert page.eval_on_selector("#restored", "i => i.complete && i.naturalWidth") > 500


def test_back_only_shows_restored_image(site: tuple[str, Service], scans: Scans, page: Any) -> None:
    url, _ = site
    assert submit(page, url, scans.back) == 200
    assert page.locator("#qr-verdict").get_attribute("data-valid") == "true"
    assert page.eval_on_selector("#restored", "i => i.complete && i.naturalWidth") > 500
    assert page.locator("#tamper-verdict").count() == 0


@pytest.fixture(scope="module")
def titled_backs(
    center_keys: tuple[Path, Path, Any, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Back scans of a 納税証明書 and a 戸籍全部事項証明書 (kinds whose category differs)."""
    _, _, keyring, signer = center_keys
    d = tmp_path_factory.mktemp("titled")
    out = {}
    for kind in ("zeimu", "koseki"):
        job = titled_job(kind, keyring, signer)
        out[kind] = d / f"{kind}-back.jpg"
        out[kind].write_bytes(scan(job, 1))
    return out


@pytest.mark.parametrize(
    ("kind", "title", "category"),
    [("zeimu", "納税証明書", "各種税証明書"), ("koseki", "戸籍全部事項証明書", "戸籍証明書")],
)
def test_shows_the_title_the_certificate_prints(
    site: tuple[str, Service],
    titled_backs: dict[str, Path],
    page: Any,
    kind: str,
    title: str,
    category: str,
) -> None:
    url, _ = site
    assert submit(page, url, titled_backs[kind]) == 200
    assert page.locator("#qr-verdict").get_attribute("data-valid") == "true"
    rows = page.eval_on_selector_all(
        "#payload tr", "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])"
    )
    shown = {label.split()[0]: value.strip() for label, value in rows}
    assert shown["証明書の種類"] == title, shown
    assert shown["市区町村"] == "加東市（282286）" and shown["発行日"] == "令和8年11月21日", shown
    assert category not in page.locator("#payload").inner_text()


def test_garbage_is_refused_clearly(site: tuple[str, Service], page: Any, tmp_path: Path) -> None:
    url, _ = site
    junk = tmp_path / "scan.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 100)
    assert submit(page, url, junk) == 400
    assert "画像として読み取れませんでした" in page.locator("#error-message").inner_text()


def test_image_bomb_is_refused(site: tuple[str, Service], page: Any, tmp_path: Path) -> None:
    """A small PNG that decodes to 100,000 x 100,000 pixels (10 Gpx)."""
    from PIL import Image

    bomb = tmp_path / "bomb.png"
    # A 1-bit image compresses to almost nothing; its header is what counts.
    Image.new("1", (100_000, 1)).save(bomb)
    data = bytearray(bomb.read_bytes())
    # IHDR height is bytes 20..24: claim 100,000 rows (the CRC then fails too;
    # either way the decoder must refuse before allocating).
    data[20:24] = (100_000).to_bytes(4, "big")
    bomb.write_bytes(bytes(data))
    assert submit(page, url := site[0], bomb) == 400
    assert page.locator("#error-message").is_visible()
    assert httpx.get(url + "/healthz").text == "ok"


def test_oversized_upload_is_refused_and_server_lives(
    site: tuple[str, Service], scans: Scans, page: Any, tmp_path: Path
) -> None:
    url, svc = site
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"\0" * (20 * 1024 * 1024))
    assert submit(page, url, big) == 413
    assert "ファイルが大きすぎます" in page.locator("#error-message").inner_text()

    # Straight to the API, without declaring a length (chunked): refused while streaming.
    def body() -> Iterator[bytes]:
        yield b'--XX\r\nContent-Disposition: form-data; name="back"; filename="b.jpg"\r\n\r\n'
        for _ in range(21):
            yield b"\0" * (1024 * 1024)
        yield b"\r\n--XX--\r\n"

    r = httpx.post(
        url + "/api/verify",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=XX"},
        timeout=60,
    )
    assert r.status_code == 413 and "20 MiB" in r.json()["error"]
    assert svc.process.poll() is None
    # And it still verifies.
    assert submit(page, url, scans.back) == 200


def test_bad_config_is_refused_with_a_message(tmp_path: Path) -> None:
    import subprocess

    config = tmp_path / "verify.toml"
    config.write_text('[keys]\nmaster_key = "m"\n', encoding="utf-8")
    r = subprocess.run(
        kofu_argv("serve", "verify", "--config", str(config)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "keys.qr_keys is required" in r.stderr


def test_api_json(site: tuple[str, Service], scans: Scans) -> None:
    url, _ = site
    r = httpx.post(
        url + "/api/verify",
        files={
            "back": ("back.jpg", scans.back.read_bytes(), "image/jpeg"),
            "front": ("front.jpg", scans.altered_front.read_bytes(), "image/jpeg"),
        },
        timeout=180,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["qr_valid"] is True and body["serial"] == SERIAL
    # The title as the sample 住民票 prints it, next to the kind's category name.
    assert body["certificate"]["title"] == "世帯全員の住民票の写し"
    assert body["certificate"]["kind_name"] == "住民票の写し"
    assert body["tampered"] is True
    assert all({"x", "y", "width", "height"} <= set(r) for r in body["regions"]), body["regions"]
    assert_flags_the_altered_spot(body["regions"])
    assert body["restored_png_base64"]
    assert r.headers["cache-control"] == "no-store"
