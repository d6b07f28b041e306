"""Seal a rendered certificate and read it back as a receiver would.

Each kind's test seals its PDF with a test LGPKI seal, checks the seal with
both pyHanko's validator (:func:`kofu.lgpki.seal.check_seal`) and poppler's
``pdfsig`` against an NSS database trusting the test CA, and returns the text
layer for field-by-field comparison.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from kofu.domain.era import to_wareki
from kofu.domain.ids import issue_number
from kofu.lgpki.ca import LgpkiAuthority
from kofu.lgpki.seal import Sealer, check_seal
from kofu.render.model import CertificateHeader
from tests.render.pdftools import pdftotext, run


@dataclass(frozen=True)
class SealKit:
    sealer: Sealer
    ca_path: Path
    nssdb: str


def make_test_seal(folder: Path) -> SealKit:
    """加東市's seal under a fresh test CA, and an NSS database trusting that CA."""
    ca = LgpkiAuthority.init(folder / "ca")
    cert = ca.issue_seal("282286", "加東市")
    sealer = Sealer.from_files(cert.cert_path, cert.key_path, list(cert.chain))
    if shutil.which("certutil") is None:
        pytest.fail("certutil is missing; run scripts/ensure-system-packages.sh (libnss3-tools)")
    db = folder / "nssdb"
    db.mkdir()
    nss = f"sql:{db}"
    subprocess.run(["certutil", "-N", "-d", nss, "--empty-password"], check=True)
    add = ["certutil", "-A", "-d", nss, "-n", "kofu-test-ca", "-t", "C,C,C"]
    subprocess.run([*add, "-i", str(ca.ca_path)], check=True)
    return SealKit(sealer, ca.ca_path, nss)


def seal_and_read(pdf: bytes, seal: SealKit, doc: CertificateHeader, path: Path) -> str:
    """Seal ``pdf``, verify it two ways, and return its text (see :func:`compact`)."""
    signed = seal.sealer.seal(pdf)
    info = check_seal(signed, trust_roots=[seal.ca_path])
    assert info.binding == doc.binding and info.municipality_code == doc.municipality_code
    path.write_bytes(signed)
    report = run("pdfsig", "-nssdir", seal.nssdb, str(path))
    assert "Signature Validation: Signature is Valid." in report, report
    assert "Certificate Validation: Certificate is Trusted." in report, report
    assert "Total document signed" in report, report
    return pdftotext(path)


def compact(value: str) -> str:
    """Without spaces and line breaks: pdftotext breaks lines where the layout does."""
    return "".join(value.split())


def assert_header(doc: CertificateHeader, text: str) -> None:
    """The fields every certificate prints: 証明書番号, issue date, mayor.

    The long identifiers are not printed (issue 14): neither the serial nor the
    64-hex order binding (checked in the signed keywords by seal_and_read)."""
    flat = compact(text)
    number = issue_number(doc.certificate_serial, doc.issued_on)
    assert "証明書番号" in flat and number in flat
    assert doc.certificate_serial not in flat
    assert doc.binding not in flat and "照合番号" not in flat
    assert to_wareki(doc.issued_on) in flat
    assert compact(doc.mayor_title + doc.mayor_name) in flat
