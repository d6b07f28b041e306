"""Card authentication at the center fails closed.

Real JPKI material (CA, delegated OCSP signer, a virtual card); the OCSP
responder and the directory are httpx ``MockTransport`` doubles here so each
test can make them answer wrongly in one precise way. The real responder is
exercised end to end in tests/e2e and tests/jpki.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kofu.center.errors import AuthenticationFailed, CardRevoked, TrustServiceUnavailable
from kofu.center.trust import CardTrust
from kofu.jpki import ca as jpki_ca
from kofu.jpki.client import JpkiCard
from kofu.jpki.reader import VirtualCardReader


def now() -> datetime:
    """The instant of this very step: the card is valid from its issue − 5 min, so a
    time taken once at import would fail a module that waits its turn longer."""
    return datetime.now(UTC)


CHALLENGE = b"c" * 32


@pytest.fixture(scope="module")
def jpki(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("jpki")
    material = jpki_ca.init_ca(root / "ca")
    holder = jpki_ca.Holder.from_json(
        {"name": "試験 太郎", "birth_date": "1980-01-01", "sex": "male", "address": "兵庫県加東市社1番地",
         "municipality": "282286", "resident_link": "link-test-0001"}
    )
    jpki_ca.issue_card(root / "ca", holder, "1234", "ABCD1234", root / "t.card")
    card = JpkiCard(VirtualCardReader(root / "t.card"))
    card.verify_pin("1234")
    cert = card.auth_certificate()
    card.verify_password("ABCD1234")
    global _SIGNING
    _SIGNING = (card.sign_certificate(), card.sign_with_sign_key(CHALLENGE))
    return material, cert, card.sign_with_auth_key(CHALLENGE)


_SIGNING: tuple[x509.Certificate, bytes] | None = None
"""The same card's signing certificate and its signature over CHALLENGE (set by the fixture)."""


def _self_signed(name: str, *, ocsp_signing: bool = False, issuer=None, issuer_key=None, days=(-1, 30)):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = now()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start + timedelta(days=days[0]))
        .not_valid_after(start + timedelta(days=days[1]))
    )
    if ocsp_signing:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256()), key


Answer = Callable[[ocsp.OCSPRequest], bytes]


def answer(
    material,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    nonce: str = "echo",
    next_update: timedelta = timedelta(hours=1),
    signer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
) -> Answer:
    def build(request: ocsp.OCSPRequest) -> bytes:
        cert_obj, key = signer or (material.ocsp_cert, material.ocsp_key)
        at = now()
        subject_cert = _CERTS[request.serial_number]
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=subject_cert, issuer=material.ca_cert, algorithm=hashes.SHA1(), cert_status=status,
                this_update=at - timedelta(minutes=1), next_update=at + next_update,
                revocation_time=at - timedelta(days=1) if status == ocsp.OCSPCertStatus.REVOKED else None,
                revocation_reason=x509.ReasonFlags.key_compromise if status == ocsp.OCSPCertStatus.REVOKED else None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, cert_obj)
            .certificates([cert_obj])
        )
        if nonce == "echo":
            value = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
            builder = builder.add_extension(x509.OCSPNonce(value), critical=False)
        elif nonce == "wrong":
            builder = builder.add_extension(x509.OCSPNonce(b"x" * 16), critical=False)
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    return build


_CERTS: dict[int, x509.Certificate] = {}
"""The certificates the OCSP double answers about, by serial."""


def trust_with(material, cert: x509.Certificate, ocsp_answer: Answer | Exception, directory: dict | None = None) -> CardTrust:
    _CERTS[cert.serial_number] = cert

    def ocsp_handler(req: httpx.Request) -> httpx.Response:
        if isinstance(ocsp_answer, Exception):
            raise ocsp_answer
        return httpx.Response(200, content=ocsp_answer(ocsp.load_der_ocsp_request(req.content)))

    def directory_handler(req: httpx.Request) -> httpx.Response:
        body = directory or {"municipality": "282286", "resident_link": "link-test-0001", "status": "good"}
        return httpx.Response(200, content=json.dumps(body))

    return CardTrust(
        material.ca_cert.public_bytes(serialization.Encoding.PEM),
        "http://ocsp.test",
        "https://jpki.test",
        httpx.Client(transport=httpx.MockTransport(directory_handler)),
        httpx.Client(transport=httpx.MockTransport(ocsp_handler)),
    )


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def test_genuine_card_is_accepted(jpki) -> None:
    material, cert, sig = jpki
    holder = trust_with(material, cert, answer(material)).authenticate(der(cert), CHALLENGE, sig, now())
    assert holder.municipality == "282286" and holder.resident_link == "link-test-0001"


@pytest.mark.parametrize(
    "make,error",
    [
        (lambda m: httpx.ConnectError("refused"), TrustServiceUnavailable),
        (lambda m: lambda req: b"\x30\x03garbage", TrustServiceUnavailable),
        (lambda m: answer(m, nonce="none"), TrustServiceUnavailable),
        (lambda m: answer(m, nonce="wrong"), TrustServiceUnavailable),
        (lambda m: answer(m, next_update=timedelta(hours=-2)), TrustServiceUnavailable),
        (lambda m: answer(m, status=ocsp.OCSPCertStatus.UNKNOWN), CardRevoked),
        (lambda m: answer(m, status=ocsp.OCSPCertStatus.REVOKED), CardRevoked),
        (lambda m: answer(m, signer=_self_signed("rogue responder", ocsp_signing=True)), TrustServiceUnavailable),
        (lambda m: answer(m, signer=_expired_delegate(m)), TrustServiceUnavailable),
    ],
    ids=["unreachable", "malformed", "no-nonce", "wrong-nonce", "stale", "unknown", "revoked", "rogue-signer", "expired-signer"],
)
def test_ocsp_fails_closed(jpki, make, error) -> None:
    material, cert, sig = jpki
    with pytest.raises(error):
        trust_with(material, cert, make(material)).authenticate(der(cert), CHALLENGE, sig, now())


def _expired_delegate(material) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    return _self_signed(
        "old responder", ocsp_signing=True, issuer=material.ca_cert, issuer_key=material.ca_key, days=(-60, -30)
    )


def test_card_from_another_ca_is_refused(jpki) -> None:
    material, cert, _ = jpki
    foreign, key = _self_signed("foreign card")
    from cryptography.hazmat.primitives.asymmetric import padding

    sig = key.sign(CHALLENGE, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(AuthenticationFailed, match="not issued by the JPKI root"):
        trust_with(material, foreign, answer(material)).authenticate(der(foreign), CHALLENGE, sig, now())


def test_signature_over_another_challenge_is_refused(jpki) -> None:
    material, cert, sig = jpki
    with pytest.raises(AuthenticationFailed, match="does not verify"):
        trust_with(material, cert, answer(material)).authenticate(der(cert), b"d" * 32, sig, now())


def test_directory_revoked_or_malformed(jpki) -> None:
    material, cert, sig = jpki
    with pytest.raises(CardRevoked):
        trust_with(material, cert, answer(material), {"municipality": "282286", "resident_link": "x", "status": "revoked"}).authenticate(
            der(cert), CHALLENGE, sig, now()
        )
    with pytest.raises(TrustServiceUnavailable):
        trust_with(material, cert, answer(material), {"municipality": "282287", "resident_link": "x"}).authenticate(
            der(cert), CHALLENGE, sig, now()
        )




def test_signing_certificate_is_refused_by_key_usage_not_by_the_directory(jpki) -> None:
    """Finding 7: step 2 promises a user-authentication certificate. The directory double
    here answers "good" for any serial, so only the key-usage check can refuse."""
    material, _cert, _sig = jpki
    assert _SIGNING is not None
    sign_cert, sign_sig = _SIGNING
    with pytest.raises(AuthenticationFailed, match="not a user-authentication certificate") as e:
        trust_with(material, sign_cert, answer(material)).authenticate(der(sign_cert), CHALLENGE, sign_sig, now())
    assert e.value.code == "not-an-authentication-certificate"


def test_recheck_by_serial_follows_revocation(jpki) -> None:
    """A session keeps only the card serial; the re-check before print data asks OCSP by it."""
    material, cert, _sig = jpki
    serial = format(cert.serial_number, "x")
    trust_with(material, cert, answer(material)).recheck(serial, now())
    with pytest.raises(CardRevoked):
        trust_with(material, cert, answer(material, status=ocsp.OCSPCertStatus.REVOKED)).recheck(serial, now())
    with pytest.raises(TrustServiceUnavailable):
        trust_with(material, cert, httpx.ConnectError("down")).recheck(serial, now())
