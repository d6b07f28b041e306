"""Shared fixtures: the center's keys and print jobs of a real 住民票 (genuine and altered)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from kofu.antiforgery.keys import QrSigner, ScrambleKeyring, published_keys
from kofu.antiforgery.printjob import compose_print_job
from kofu.render.juminhyo import render_juminhyo
from kofu.render.samples import household

SERIAL = "T-2025-000123"
GENUINE_ADDRESS = "兵庫県加東市社50番地"
ALTERED_ADDRESS = "兵庫県加東市社58番地"  # one digit changed


@dataclass(frozen=True)
class Center:
    master_key: Path
    qr_keys: Path
    keyring: ScrambleKeyring
    signer: QrSigner

    @property
    def jwks(self) -> dict:
        return published_keys(self.qr_keys)


@dataclass(frozen=True)
class Jobs:
    front: bytes
    """The issuer's front PDF (genuine)."""
    genuine: bytes
    altered: bytes


@pytest.fixture(scope="session")
def center(tmp_path_factory: pytest.TempPathFactory) -> Center:
    d = tmp_path_factory.mktemp("center-keys")
    # A fixed master key: the block permutation, and so each test's outcome, is the same on
    # every run. How verification fares over many keys and distortions is `make bench`'s job.
    (d / "scramble-master.key").write_bytes(bytes(range(32)))
    keyring = ScrambleKeyring.from_file(d / "scramble-master.key")
    signer = QrSigner.generate(d / "qr", "k2025")
    return Center(d / "scramble-master.key", d / "qr", keyring, signer)


def compose(center: Center, front: bytes) -> bytes:
    return compose_print_job(
        front,
        serial=SERIAL,
        municipality="282286",
        kind="juminhyo",
        issued_on=date(2025, 4, 1),
        keyring=center.keyring,
        signer=center.signer,
    )


def titled_job(kind: str, keyring: ScrambleKeyring, signer: QrSigner) -> bytes:
    """The print job of a sample 納税証明書 (``zeimu``) or 戸籍全部事項証明書 (``koseki``):
    kinds whose printed title differs from their category's name."""
    from kofu.render import render_koseki, render_tax, samples

    front = (
        render_tax(samples.tax_nozei()).pdf
        if kind == "zeimu"
        else render_koseki(samples.koseki()).pdf
    )
    return compose_print_job(
        front,
        serial=SERIAL,
        municipality="282286",
        kind=kind,
        issued_on=date(2026, 11, 21),
        keyring=keyring,
        signer=signer,
    )


@pytest.fixture(scope="session")
def jobs(center: Center) -> Jobs:
    front = render_juminhyo(household(2, address=GENUINE_ADDRESS)).pdf
    altered = render_juminhyo(household(2, address=ALTERED_ADDRESS)).pdf
    return Jobs(front, compose(center, front), compose(center, altered))


@dataclass(frozen=True)
class Spot:
    """A box on the restored front (150 dpi pixels, as ``VerificationResult.regions``)."""

    x0: int
    y0: int
    x1: int
    y1: int

    def near(self, x: int, y: int, width: int, height: int, margin: int) -> bool:
        """Whether the region (x, y, width, height) overlaps this box grown by ``margin`` on every side."""
        return (x < self.x1 + margin and self.x0 - margin < x + width
                and y < self.y1 + margin and self.y0 - margin < y + height)


@cache
def altered_spot() -> Spot:
    """Where the forger's digit is: the pixels that differ between the genuine and the
    altered front as the verifier rasterises them (not a position written down by hand)."""
    import numpy as np

    from kofu.antiforgery.printjob import front_rasters

    genuine = front_rasters(render_juminhyo(household(2, address=GENUINE_ADDRESS)).pdf)[0]
    altered = front_rasters(render_juminhyo(household(2, address=ALTERED_ADDRESS)).pdf)[0]
    ys, xs = np.nonzero(np.abs(genuine.astype(int) - altered.astype(int)) > 32)
    assert len(xs) > 20, "the two fronts do not differ"
    return Spot(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def assert_flags_the_altered_spot(regions: list[dict[str, int]] | tuple) -> None:
    """Some flagged region lies over the altered digit, and none far from it."""
    spot = altered_spot()
    boxes = [(r["x"], r["y"], r["width"], r["height"]) if isinstance(r, dict) else (r.x, r.y, r.width, r.height)
             for r in regions]
    assert boxes, "no region flagged"
    assert any(spot.near(*b, margin=8) for b in boxes), (spot, boxes)
    assert all(spot.near(*b, margin=64) for b in boxes), (spot, boxes)
