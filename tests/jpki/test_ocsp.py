"""The OCSP responder as a real ``kofu serve ocsp`` process, checked with ``openssl ocsp``."""

from __future__ import annotations

import base64
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from kofu.jpki.cardfile import CardFile
from kofu.procs import Service, kofu_argv
from tests.conftest import require_tool
from tests.jpki.conftest import JpkiTestCa, kofu
from tests.ports import start_on_a_free_port


@pytest.fixture(scope="module")
def revocable_ca(test_ca: JpkiTestCa, tmp_path_factory: pytest.TempPathFactory) -> JpkiTestCa:
    """A copy of the test CA that this module may revoke in."""
    root = tmp_path_factory.mktemp("ocsp-ca")
    shutil.copytree(test_ca.dir, root / "ca")
    return JpkiTestCa(root / "ca", test_ca.card, test_ca.issued, test_ca.other_card, test_ca.other_issued)


@pytest.fixture(scope="module")
def responder(revocable_ca: JpkiTestCa, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    log = tmp_path_factory.mktemp("ocsp-log") / "ocsp.log"
    service = start_on_a_free_port(
        "ocsp", lambda port: kofu_argv("serve", "ocsp", "--jpki", str(revocable_ca.dir), "--port", str(port)), log
    )
    yield service
    service.stop()


def _pem(card: Path, which: str, out: Path) -> Path:
    image = CardFile(card).read()
    cert = image.auth_certificate() if which == "auth" else image.sign_certificate()
    out.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return out


def _openssl_ocsp(ca: Path, port: int, *target: str) -> str:
    result = subprocess.run(
        [require_tool("openssl"), "ocsp", "-issuer", str(ca / "ca.pem"), *target,
         "-url", f"http://127.0.0.1:{port}", "-VAfile", str(ca / "ocsp-signer.pem")],
        capture_output=True, text=True, timeout=30,
    )
    out = result.stdout + result.stderr
    assert "Response verify OK" in out, out
    return out


def _wait_for(predicate, timeout: float = 10.0) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        ok, last = predicate()
        if ok:
            return last
        time.sleep(0.2)
    raise AssertionError(f"condition not met in {timeout} s; last output:\n{last}")


def test_openssl_reports_good_then_revoked_with_reason(
    revocable_ca: JpkiTestCa, responder: Service, tmp_path: Path
) -> None:
    auth = _pem(revocable_ca.other_card, "auth", tmp_path / "auth.pem")
    sign = _pem(revocable_ca.other_card, "sign", tmp_path / "sign.pem")
    assert f"{auth}: good" in _openssl_ocsp(revocable_ca.dir, responder.port, "-cert", str(auth))
    assert f"{sign}: good" in _openssl_ocsp(revocable_ca.dir, responder.port, "-cert", str(sign))

    # Revoke only the auth certificate, with the serial as `card info` prints it.
    kofu("jpki", "revoke", str(revocable_ca.dir), revocable_ca.other_issued["auth_serial"],
         "--reason", "keyCompromise")

    def revoked() -> tuple[bool, str]:
        out = _openssl_ocsp(revocable_ca.dir, responder.port, "-cert", str(auth), "-no_nonce")
        return f"{auth}: revoked" in out, out

    # Without a nonce this is the pre-signed response: it must be re-signed after the change.
    out = _wait_for(revoked)
    assert "Reason: keyCompromise" in out and "Revocation Time:" in out
    # With a nonce (openssl's default), freshly signed.
    out = _openssl_ocsp(revocable_ca.dir, responder.port, "-cert", str(auth))
    assert f"{auth}: revoked" in out and "Reason: keyCompromise" in out
    # The signing certificate of the same card stays good.
    assert f"{sign}: good" in _openssl_ocsp(revocable_ca.dir, responder.port, "-cert", str(sign), "-no_nonce")


def test_openssl_reports_unknown_for_a_serial_never_issued(revocable_ca: JpkiTestCa, responder: Service) -> None:
    out = _openssl_ocsp(revocable_ca.dir, responder.port, "-serial", "0x123456789abcdef")
    assert "0x123456789abcdef: unknown" in out


def _request(test_ca: JpkiTestCa, algorithm: hashes.HashAlgorithm, nonce: bytes | None = None) -> bytes:
    ca = x509.load_pem_x509_certificate((test_ca.dir / "ca.pem").read_bytes())
    cert = CardFile(test_ca.card).read().auth_certificate()
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, ca, algorithm)
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def test_get_and_post_with_sha256_and_nonce(revocable_ca: JpkiTestCa, responder: Service) -> None:
    url = f"http://127.0.0.1:{responder.port}"
    nonce = os.urandom(16)
    req = _request(revocable_ca, hashes.SHA256(), nonce)
    r = httpx.post(url, content=req, headers={"content-type": "application/ocsp-request"})
    resp = ocsp.load_der_ocsp_response(r.content)
    assert r.status_code == 200 and resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert resp.hash_algorithm.name == "sha256"
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    assert resp.next_update_utc is not None and resp.next_update_utc > resp.this_update_utc
    # GET with the URL-encoded base64 request (RFC 6960 A.1).
    b64 = base64.b64encode(_request(revocable_ca, hashes.SHA1())).decode()
    r = httpx.get(f"{url}/{b64.replace('+', '%2B').replace('/', '%2F').replace('=', '%3D')}")
    resp = ocsp.load_der_ocsp_response(r.content)
    assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD and resp.serial_number == int(
        revocable_ca.issued["auth_serial"], 16
    )


def _status(content: bytes) -> ocsp.OCSPResponseStatus:
    return ocsp.load_der_ocsp_response(content).response_status


def _with_cert_id_hash(der: bytes, algorithm: str) -> bytes:
    """The same request, well-formed DER, with its CertID claiming another hash algorithm."""
    req = asn1_ocsp.OCSPRequest.load(der)
    cert_id = req["tbs_request"]["request_list"][0]["req_cert"]
    cert_id["hash_algorithm"] = {"algorithm": algorithm}
    return bytes(req.dump(force=True))


def test_fuzzed_requests_never_500_and_the_process_survives(revocable_ca: JpkiTestCa, responder: Service) -> None:
    url = f"http://127.0.0.1:{responder.port}"
    good = _request(revocable_ca, hashes.SHA1())
    rng = random.Random(6960)
    bodies = [b"", b"\x30", b"\x30\x80", b"\x30\x82\xff\xff" + b"\x00" * 10]
    bodies += [good[:n] for n in range(1, len(good))]  # every truncation
    bodies += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300))) for _ in range(200)]
    # Bit flips inside a valid request.
    for _ in range(200):
        b = bytearray(good)
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        bodies.append(bytes(b))
    with httpx.Client(timeout=10) as client:
        for body in bodies:
            r = client.post(url, content=body, headers={"content-type": "application/ocsp-request"})
            assert r.status_code == 200, (body.hex(), r.status_code)
            _status(r.content)  # always a parseable OCSP response
        # MD5 in the CertID: not a hash we accept.
        md5_req = _with_cert_id_hash(good, "md5")
        assert asn1_ocsp.OCSPRequest.load(md5_req)["tbs_request"]["request_list"][0]["req_cert"][
            "hash_algorithm"]["algorithm"].native == "md5"
        r = client.post(url, content=md5_req)
        assert r.status_code == 200 and _status(r.content) == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        # 1 MiB body, and one just over 64 KiB.
        for size in (1024 * 1024, 64 * 1024 + 1):
            r = client.post(url, content=b"\x30" * size)
            assert r.status_code == 200 and _status(r.content) == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        # Garbage GET paths.
        for path in ("/%%%", "/not-base64!", "/" + "A" * 5000, "/MA=="):
            r = client.get(url + path)
            assert r.status_code == 200 and _status(r.content) == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        # A request for another CA's certificate.
        other = bytearray(good)
        other[other.find(bytes.fromhex("0414")) + 2] ^= 0xFF  # corrupt the issuer name hash
        r = client.post(url, content=bytes(other))
        assert r.status_code == 200 and _status(r.content) == ocsp.OCSPResponseStatus.UNAUTHORIZED
        assert client.get(url + "/healthz").status_code == 200
        # Still answering correctly afterwards.
        r = client.post(url, content=good)
        assert ocsp.load_der_ocsp_response(r.content).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert responder.process.poll() is None
    assert "Traceback" not in responder.log.read_text()
