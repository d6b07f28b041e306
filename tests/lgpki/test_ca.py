"""The LGPKI-role CA: files, subjects, and that its certificates work for TLS."""

from __future__ import annotations

import socket
import ssl
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kofu.lgpki.ca import AuthorityExists, AuthorityMissing, InvalidRequest, LgpkiAuthority


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LgpkiAuthority:
    return LgpkiAuthority.init(tmp_path_factory.mktemp("lgpki") / "ca")


def test_init_refuses_to_overwrite(ca: LgpkiAuthority) -> None:
    before = (ca.directory / "ca.key").read_bytes()
    with pytest.raises(AuthorityExists):
        LgpkiAuthority.init(ca.directory)
    assert (ca.directory / "ca.key").read_bytes() == before
    assert stat.S_IMODE((ca.directory / "ca.key").stat().st_mode) == 0o600


def test_open_missing_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(AuthorityMissing, match="kofu lgpki init"):
        LgpkiAuthority.open(tmp_path)


def test_open_loads_the_same_ca(ca: LgpkiAuthority) -> None:
    again = LgpkiAuthority.open(ca.directory)
    assert again.certificate == ca.certificate
    leaf = again.issue_client("c", "center", "C1")
    leaf.certificate.verify_directly_issued_by(ca.certificate)


def test_seal_subject_and_usage(ca: LgpkiAuthority) -> None:
    seal = ca.issue_seal("282286", "加東市")
    cert = seal.certificate
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "加東市長"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "加東市"
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "282286"
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    assert seal.chain == (ca.ca_path,)
    assert x509.load_pem_x509_certificate(seal.cert_path.read_bytes()) == cert
    assert stat.S_IMODE(seal.key_path.stat().st_mode) == 0o600


def test_bad_requests_are_refused(ca: LgpkiAuthority) -> None:
    with pytest.raises(InvalidRequest, match="check digit"):
        ca.issue_seal("282287", "加東市")
    with pytest.raises(InvalidRequest, match="role"):
        ca.issue_client("x", "kiosk", "S1")
    with pytest.raises(InvalidRequest, match="host"):
        ca.issue_server("x", ["bad host!"])


def test_client_subject(ca: LgpkiAuthority) -> None:
    c = ca.issue_client("Store One", "store-operator", "S001").certificate
    assert c.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "S001"
    assert c.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "store-operator"
    eku = c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_mutual_tls_on_loopback(ca: LgpkiAuthority, host: str) -> None:
    """A real TLS handshake: the server cert is valid for its hosts, the client cert is required."""
    server = ca.issue_server("issuer")
    client = ca.issue_client("center-east", "center", "CENTER")

    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(server.cert_path, server.key_path)
    sctx.load_verify_locations(ca.ca_path)
    sctx.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: dict[str, object] = {}

    def serve() -> None:
        conn, _ = listener.accept()
        with sctx.wrap_socket(conn, server_side=True) as tls:
            seen["peer"] = tls.getpeercert()
            tls.sendall(b"ok")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    cctx = ssl.create_default_context(cafile=str(ca.ca_path))
    cctx.load_cert_chain(client.cert_path, client.key_path)
    with socket.create_connection((host, port), timeout=5) as raw:
        with cctx.wrap_socket(raw, server_hostname=host) as tls:
            assert tls.recv(2) == b"ok"
    t.join(5)
    listener.close()
    peer = seen["peer"]
    assert isinstance(peer, dict)
    assert ("commonName", "center-east") in [rdn[0] for rdn in peer["subject"]]


def test_server_cert_is_rejected_for_another_host(ca: LgpkiAuthority) -> None:
    server = ca.issue_server("issuer", ["127.0.0.1"])
    cctx = ssl.create_default_context(cafile=str(ca.ca_path))
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(server.cert_path, server.key_path)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            sctx.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError, match="localhost"):
            cctx.wrap_socket(raw, server_hostname="localhost")
    t.join(5)
    listener.close()


def test_cli_init_and_issue(tmp_path: Path) -> None:
    kofu = [sys.executable, "-m", "kofu"]
    d = tmp_path / "ca"
    r = subprocess.run([*kofu, "lgpki", "init", str(d)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*kofu, "lgpki", "init", str(d)], capture_output=True, text=True)
    assert r.returncode == 1 and "already holds a CA" in r.stderr
    out = tmp_path / "seal"
    r = subprocess.run(
        [
            *kofu,
            "lgpki",
            "issue",
            str(d),
            "--kind",
            "seal",
            "--municipality",
            "282286",
            "--name",
            "加東市",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    cert = x509.load_pem_x509_certificate((tmp_path / "seal.pem").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "加東市長"
    assert (tmp_path / "seal.key").exists()
    r = subprocess.run(
        [*kofu, "lgpki", "issue", str(d), "--kind", "client", "--name", "x", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1 and "--role" in r.stderr
