"""``kofu verify`` as a user runs it, on simulated scans."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from kofu.antiforgery.simulate import Distortion, print_and_scan
from kofu.procs import kofu_argv

from .conftest import SERIAL, Center, Jobs, assert_flags_the_altered_spot, titled_job

SCAN = Distortion(
    rotate_deg=-1.8, scale=1.01, shift_mm=(1.0, 2.0), lighting=0.1, noise=3, jpeg_quality=80, seed=3
)


@pytest.fixture(scope="module")
def scans(jobs: Jobs, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli-scans")
    files = {
        "back": (jobs.genuine, 1),
        "front": (jobs.genuine, 0),
        "altered": (jobs.altered, 0),
    }
    out = {}
    for name, (pdf, page) in files.items():
        out[name] = d / f"{name}.jpg"
        out[name].write_bytes(print_and_scan(pdf, page, SCAN))
    return out


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(kofu_argv("verify", *args), capture_output=True, text=True, timeout=120)


def keys(center: Center) -> list[str]:
    return ["--keys", str(center.qr_keys), "--master-key", str(center.master_key)]


def test_genuine(center: Center, scans: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "restored.png"
    r = run(
        str(scans["back"]),
        "--front",
        str(scans["front"]),
        "--out",
        str(out),
        "--json",
        *keys(center),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    body = json.loads(r.stdout)
    assert body["qr_valid"] is True and body["serial"] == SERIAL
    assert body["tampered"] is False and body["regions"] == []
    assert body["restored"] == str(out) and Image.open(out).width > 1000


def test_altered_front_exits_1_with_regions(
    center: Center, scans: dict[str, Path], tmp_path: Path
) -> None:
    demo = tmp_path / "demo.json"
    demo.write_text(
        json.dumps(
            {"antiforgery": {"keys": str(center.qr_keys), "master_key": str(center.master_key)}}
        )
    )
    r = run(
        str(scans["back"]), "--front", str(scans["altered"]), "--json", "--demo-file", str(demo)
    )
    assert r.returncode == 1, r.stdout + r.stderr
    body = json.loads(r.stdout)
    assert body["tampered"] is True
    assert all({"x", "y", "width", "height"} == set(r) for r in body["regions"]), body["regions"]
    assert_flags_the_altered_spot(body["regions"])


def test_human_output_and_refusals(center: Center, scans: dict[str, Path], tmp_path: Path) -> None:
    r = run(str(scans["back"]), *keys(center))
    assert r.returncode == 0 and SERIAL in r.stdout and "valid" in r.stdout
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 50)
    r = run(str(junk), *keys(center))
    assert r.returncode == 2 and "kofu verify:" in r.stderr
    r = run(str(scans["back"]))
    assert r.returncode == 2 and "--keys" in r.stderr
    # The front given as the back: readable, but nothing to verify.
    r = run(str(scans["front"]), "--json", *keys(center))
    assert r.returncode == 1 and "error" in json.loads(r.stdout)

def test_a_front_that_cannot_be_judged_is_reported_not_checked_and_exits_1(
    jobs: Jobs, center: Center, tmp_path: Path
) -> None:
    """A front photo washed out by a lamp's glare over most of its print: the back verifies,
    the front gets no verdict, and that is never reported as "matches" (exit 1)."""
    from kofu.antiforgery.simulate import Photo, photograph, printed_for_photos, render_page

    back, front = tmp_path / "back.jpg", tmp_path / "front.jpg"
    back.write_bytes(photograph(printed_for_photos(render_page(jobs.genuine, 1)),
                                Photo(tilt_deg=6, fill=0.8, desk=50, seed=3)))
    front.write_bytes(photograph(printed_for_photos(render_page(jobs.genuine, 0)),
                                 Photo(tilt_deg=6, fill=0.8, desk=110, seed=4, glare=0.9, glare_radius=0.12,
                                       glare_at=(0.45, 0.3))))
    r = run(str(back), "--front", str(front), *keys(center))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "QR: valid" in r.stdout and "front: NOT CHECKED" in r.stdout, r.stdout
    assert "matches the restored image" not in r.stdout and "ALTERED" not in r.stdout, r.stdout
    j = run(str(back), "--front", str(front), "--json", *keys(center))
    body = json.loads(j.stdout)
    assert j.returncode == 1 and body["qr_valid"] is True and body["tampered"] is None, j.stdout


@pytest.mark.parametrize(
    ("kind", "title", "category"),
    [("zeimu", "納税証明書", "各種税証明書"), ("koseki", "戸籍全部事項証明書", "戸籍証明書")],
)
def test_shows_the_title_the_certificate_prints(
    center: Center, tmp_path: Path, kind: str, title: str, category: str
) -> None:
    """A receiver compares the title with the paper: 納税証明書, not the category 各種税証明書."""
    job = titled_job(kind, center.keyring, center.signer)
    back = tmp_path / "back.jpg"
    back.write_bytes(print_and_scan(job, 1, SCAN))
    r = run(str(back), *keys(center))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{title}  証明書番号" in r.stdout and category not in r.stdout, r.stdout
    assert "加東市（282286）  発行日 令和8年11月21日" in r.stdout, r.stdout
    body = json.loads(run(str(back), "--json", *keys(center)).stdout)
    assert (body["title"], body["kind_name"], body["kind"]) == (title, category, kind)
