"""Shared fixtures: the center's keys and print jobs of a real 住民票 (genuine and altered)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
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


@pytest.fixture(scope="session")
def jobs(center: Center) -> Jobs:
    front = render_juminhyo(household(2, address=GENUINE_ADDRESS)).pdf
    altered = render_juminhyo(household(2, address=ALTERED_ADDRESS)).pdf
    return Jobs(front, compose(center, front), compose(center, altered))
