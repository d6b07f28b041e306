"""The directory service as a real ``kofu serve jpki`` process, over HTTP and mutual TLS."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kofu.procs import kofu_argv
from kofu.web import client_ssl_context
from tests.jpki.conftest import JpkiTestCa
from tests.ports import start_on_a_free_port


def test_lookup_over_plain_http(test_ca: JpkiTestCa, tmp_path: Path) -> None:
    svc = start_on_a_free_port(
        "jpki", lambda port: kofu_argv("serve", "jpki", "--jpki", str(test_ca.dir), "--port", str(port)),
        tmp_path / "jpki.log",
    )
    port = svc.port
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").status_code == 200
        serial = test_ca.other_issued["auth_serial"]
        r = httpx.get(f"{base}/v1/holders/{serial}")
        assert r.status_code == 200
        body = r.json()
        assert body["serial"] == serial and body["municipality"] == "282286"
        assert body["resident_link"] == "link-of-hanako-0001"
        assert body["status"] == "good"  # never revoked in this CA (tests/jpki/test_ocsp.py revokes in a copy)
        assert datetime.fromisoformat(body["not_after"]) > datetime.now(UTC)
        assert "山田" not in r.text and "name" not in body
        # Upper case with colons is the same serial.
        even = serial.upper().rjust(len(serial) + len(serial) % 2, "0")  # whole bytes, as openssl prints them
        colon = ":".join(even[i : i + 2] for i in range(0, len(even), 2))
        assert ":" in colon
        same = httpx.get(f"{base}/v1/holders/{colon}").json()
        assert same["resident_link"] == "link-of-hanako-0001" and same["serial"] == serial
        # The signing certificate's serial does not identify a holder here.
        assert httpx.get(f"{base}/v1/holders/{test_ca.other_issued['sign_serial']}").status_code == 404
        r = httpx.get(f"{base}/v1/holders/abcdef0123")
        assert r.status_code == 404 and "error" in r.json()
        r = httpx.get(f"{base}/v1/holders/not-hex")
        assert r.status_code == 400 and "error" in r.json()
    finally:
        svc.stop()


def _pki(tmp: Path) -> dict[str, Path]:
    """A throw-away TLS CA with a server and a client certificate."""
    now = datetime.now(UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, stem: str) -> None:
        (tmp / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (tmp / f"{stem}-key.pem").write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("test TLS CA")).issuer_name(name("test TLS CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write(ca_key, ca, "tls-ca")
    for stem, san, eku in (
        ("server", [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))], x509.oid.ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", [x509.DNSName("center.test")], x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            # The client is the center: role (O) "center", as the LGPKI CA names it.
            x509.CertificateBuilder()
            .subject_name(name(stem) if stem == "server" else x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "center"), x509.NameAttribute(NameOID.COMMON_NAME, stem)]))
            .issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        write(key, cert, stem)
    return {p.stem: p for p in tmp.glob("*.pem")}


def test_lookup_over_mutual_tls(test_ca: JpkiTestCa, tmp_path: Path) -> None:
    files = _pki(tmp_path)
    svc = start_on_a_free_port(
        "jpki",
        lambda port: kofu_argv("serve", "jpki", "--jpki", str(test_ca.dir), "--port", str(port),
                               "--tls-cert", str(files["server"]), "--tls-key", str(files["server-key"]),
                               "--client-ca", str(files["tls-ca"])),
        tmp_path / "jpki.log",
    )
    port = svc.port
    try:
        url = f"https://127.0.0.1:{port}/v1/holders/{test_ca.issued['auth_serial']}"
        ctx = client_ssl_context(files["tls-ca"], files["client"], files["client-key"])
        r = httpx.get(url, verify=ctx)
        assert r.status_code == 200 and r.json()["resident_link"] == test_ca.issued["resident_link"]
        # Without a client certificate the handshake fails.
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, ssl.SSLError)):
            httpx.get(url, verify=client_ssl_context(files["tls-ca"])).raise_for_status()
    finally:
        svc.stop()
