"""The anti-forgery back side against a print-and-scan simulation.

Over a grid of distortions (rotation up to ±3°, scale ±2 %, shift, dot gain,
uneven lighting, noise, JPEG quality down to 70) this prints:

- SSIM of the restored image against the original front raster (median, worst);
- detection of one altered digit or name on the front (per alteration);
- false alarms on untouched fronts;
- verify time per scan (back + front) as a ratio to only decoding the scan files.

Goals (issue 5): median SSIM ≥ 0.90, worst ≥ 0.80; ≥ 99 % detected; ≤ 1 %
false alarms; verify ≤ 2x decode. KOFU_BENCH_AF_LEVELS (default 3) sets how
many distortion levels per rotation are run.
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

from kofu.antiforgery.keys import QrSigner, ScrambleKeyring, published_keys
from kofu.antiforgery.printjob import compose_print_job, front_rasters
from kofu.antiforgery.simulate import Distortion, print_and_scan, ssim
from kofu.antiforgery.verify import load_scan, verify_scan
from kofu.render.juminhyo import render_juminhyo
from kofu.render.samples import document, household, member

LEVELS = int(os.environ.get("KOFU_BENCH_AF_LEVELS", "3"))
VERBOSE = os.environ.get("KOFU_BENCH_AF_VERBOSE") == "1"
ROTATIONS = (-3.0, -1.5, 0.0, 1.5, 3.0)
# (scale offset, shift mm, dot gain, lighting, noise, JPEG quality) from mild to hard
LEVEL_TABLE = (
    (0.0, 0.5, 0.6, 0.0, 1.0, 95),
    (0.01, 2.0, 0.9, 0.12, 3.0, 85),
    (0.02, 3.5, 1.2, 0.25, 6.0, 70),
    (0.015, 1.0, 1.0, 0.2, 5.0, 75),
)


def _grid() -> list[Distortion]:
    out = []
    for i, rot in enumerate(ROTATIONS):
        for j, (ds, sh, gain, light, noise, q) in enumerate(LEVEL_TABLE[:LEVELS]):
            sign = 1 if (i + j) % 2 == 0 else -1
            out.append(
                Distortion(
                    rotate_deg=rot,
                    scale=1.0 + sign * ds,
                    shift_mm=(sign * sh, -sh / 2),
                    dot_gain_sigma_px=gain,
                    lighting=light,
                    noise=noise,
                    jpeg_quality=q,
                    seed=100 * i + j,
                )
            )
    return out


def _front_distortion(d: Distortion) -> Distortion:
    """The front is scanned separately: a different placement, the same scanner."""
    return Distortion(
        rotate_deg=-d.rotate_deg / 2 + 0.4,
        scale=2.0 - d.scale,
        shift_mm=(-d.shift_mm[1], d.shift_mm[0]),
        dot_gain_sigma_px=d.dot_gain_sigma_px,
        lighting=d.lighting,
        noise=d.noise,
        jpeg_quality=d.jpeg_quality,
        seed=d.seed + 50,
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kofu-bench-af-") as tmp:
        root = Path(tmp)
        keyring = ScrambleKeyring.generate(root / "master.key")
        signer = QrSigner.generate(root / "qr", "k2025")
        jwks = published_keys(root / "qr")

        def job(pdf: bytes) -> bytes:
            return compose_print_job(
                pdf,
                serial="B-0001",
                municipality="282286",
                kind="juminhyo",
                issued_on=date(2025, 4, 1),
                keyring=keyring,
                signer=signer,
            )

        genuine_pdf = render_juminhyo(household(2)).pdf
        genuine = job(genuine_pdf)
        altered = {
            "digit 50→58 (address)": job(
                render_juminhyo(household(2, address="兵庫県加東市社58番地")).pdf
            ),
            "digit 50→30 (address)": job(
                render_juminhyo(household(2, address="兵庫県加東市社30番地")).pdf
            ),
            "name 花子→華子": job(
                render_juminhyo(document((member(0), member(1, name="山田 華子")))).pdf
            ),
        }
        reference = front_rasters(genuine_pdf)[0]

        ssims: list[float] = []
        detected = {k: 0 for k in altered}
        false_alarms = 0
        ratios: list[float] = []
        back_only_ratios: list[float] = []
        verify_ms: list[float] = []
        grid = _grid()
        for d in grid:
            back = print_and_scan(genuine, 1, d)
            fd = _front_distortion(d)
            fronts = {"untouched": print_and_scan(genuine, 0, fd)}
            fronts.update({k: print_and_scan(v, 0, fd) for k, v in altered.items()})
            for name, front in fronts.items():
                t0 = time.perf_counter()
                load_scan(back)
                load_scan(front)
                t1 = time.perf_counter()
                r = verify_scan(back, front, keyring=keyring, jwks=jwks)
                t2 = time.perf_counter()
                ratios.append((t2 - t1) / (t1 - t0))
                verify_ms.append((t2 - t1) * 1000)
                if VERBOSE:
                    print(f"    {d} {name}: tampered={r.tampered} {r.regions[:3]}")
                if name == "untouched":
                    false_alarms += bool(r.tampered)
                    restored = np.asarray(
                        Image.open(io.BytesIO(r.restored_png or b"")).convert("L")
                    )
                    ssims.append(ssim(restored, reference))
                    if VERBOSE:
                        print(f"    SSIM {ssims[-1]:.3f}")
                    t3 = time.perf_counter()
                    load_scan(back)
                    t4 = time.perf_counter()
                    verify_scan(back, None, keyring=keyring, jwks=jwks)
                    t5 = time.perf_counter()
                    back_only_ratios.append((t5 - t4) / (t4 - t3))
                else:
                    detected[name] += bool(r.tampered)
        n = len(grid)
        print(
            f"anti-forgery over {n} distortions (rotation ±3°, scale ±2 %, lighting, noise, JPEG 95-70)"
        )
        print(
            f"  restored SSIM: median {statistics.median(ssims):.3f}, worst {min(ssims):.3f}  (goal ≥ 0.90 / ≥ 0.80)"
        )
        for k, v in detected.items():
            print(f"  detected {k}: {v}/{n} = {v / n:.0%}  (goal ≥ 99 %)")
        print(
            f"  false alarms on untouched fronts: {false_alarms}/{n} = {false_alarms / n:.0%}  (goal ≤ 1 %)"
        )
        print(
            f"  verify back+front: median {statistics.median(verify_ms):.0f} ms,"
            f" {statistics.median(ratios):.1f}x decoding the two files (goal ≤ 2x);"
            f" back only: {statistics.median(back_only_ratios):.1f}x"
        )


if __name__ == "__main__":
    main()
