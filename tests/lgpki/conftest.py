"""A test LGPKI-role CA with 加東市's seal, created once per test session."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from kofu.lgpki.ca import IssuedCert, LgpkiAuthority
from kofu.lgpki.seal import Sealer


@pytest.fixture(scope="session")
def lgpki(tmp_path_factory: pytest.TempPathFactory) -> LgpkiAuthority:
    return LgpkiAuthority.init(tmp_path_factory.mktemp("lgpki-seal") / "ca")


@pytest.fixture(scope="session")
def seal_cert(lgpki: LgpkiAuthority) -> IssuedCert:
    return lgpki.issue_seal("282286", "加東市")


@pytest.fixture(scope="session")
def sealer(seal_cert: IssuedCert) -> Sealer:
    return Sealer.from_files(seal_cert.cert_path, seal_cert.key_path, seal_cert.chain)


@pytest.fixture(scope="session")
def nssdb(lgpki: LgpkiAuthority, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An NSS database trusting the test CA, so pdfsig can judge the chain too."""
    if shutil.which("certutil") is None:
        pytest.fail("certutil is missing; run scripts/ensure-system-packages.sh (libnss3-tools)")
    db = tmp_path_factory.mktemp("nssdb")
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
    subprocess.run(
        [
            "certutil",
            "-A",
            "-d",
            f"sql:{db}",
            "-n",
            "kofu-lgpki",
            "-t",
            "C,C,C",
            "-i",
            str(lgpki.ca_path),
        ],
        check=True,
    )
    return f"sql:{db}"
