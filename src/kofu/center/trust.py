"""Card authentication at the center: is this the genuine, unrevoked card of a
holder, and who is their municipality?

The procedure, applied to every kiosk session (each step raises; nothing
returns a bare ``False``):

1. The challenge was issued by this center, is fresh and is used once
   (checked by the caller, :mod:`kofu.center.service`, atomically in the database).
2. The certificate parses as DER X.509 and is a user-authentication
   certificate (key usage digitalSignature without nonRepudiation, extended
   key usage clientAuth when present) directly issued by the JPKI root we
   trust, valid now.
3. The card's signature over the challenge verifies with the certificate's
   key (RSA PKCS#1 v1.5, SHA-256: what COMPUTE DIGITAL SIGNATURE produces).
4. The OCSP responder says ``good`` for this certificate, in a response
   signed by the CA or its delegated OCSP signer, matching our nonce, and
   current. No answer, a bad answer or ``unknown`` means no issuance (fail
   closed).
5. The JPKI directory maps the certificate serial to the holder's
   municipality code and opaque resident link (never a name).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from kofu.center.errors import AuthenticationFailed, CardRevoked, TrustServiceUnavailable
from kofu.domain.ids import validate_municipality_code

OCSP_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class AuthenticatedHolder:
    auth_serial: str
    """The user-authentication certificate serial, lower-case hex."""
    municipality: str
    resident_link: str


class CardTrust:
    """Steps 2–5 above. One instance per process; it reuses HTTP connections."""

    def __init__(
        self,
        jpki_ca_pem: bytes,
        ocsp_url: str,
        directory_url: str,
        directory_client: httpx.Client,
        ocsp_client: httpx.Client | None = None,
    ) -> None:
        self.ca = x509.load_pem_x509_certificate(jpki_ca_pem)
        self.ocsp_url = ocsp_url
        self.directory_url = directory_url
        self.directory = directory_client
        self.ocsp = ocsp_client or httpx.Client(timeout=3.0)

    def authenticate(self, cert_der: bytes, challenge: bytes, signature: bytes, now: datetime) -> AuthenticatedHolder:
        # 2. Certificate: parse, issued by our JPKI root, valid now.
        try:
            cert = x509.load_der_x509_certificate(cert_der)
        except ValueError as e:
            raise AuthenticationFailed(f"card certificate is not DER X.509: {e}") from e
        try:
            cert.verify_directly_issued_by(self.ca)
        except (ValueError, TypeError, InvalidSignature) as e:
            raise AuthenticationFailed("card certificate was not issued by the JPKI root") from e
        if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
            raise AuthenticationFailed("card certificate is expired or not yet valid", code="certificate-expired")
        _check_user_authentication(cert)
        public_key = cert.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise AuthenticationFailed("card certificate key is not RSA")

        # 3. The card's signature over our challenge.
        try:
            public_key.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as e:
            raise AuthenticationFailed("card signature over the challenge does not verify") from e

        # 4. Revocation status, fail closed.
        self._check_ocsp(cert, now)

        # 5. Directory: municipality and resident link.
        return self._lookup(format(cert.serial_number, "x"))

    def recheck(self, auth_serial: str, now: datetime) -> None:
        """Step 4 again for a session authenticated earlier: a card revoked since then
        ends the session's rights (checked before print data is handed out)."""
        try:
            serial = int(auth_serial, 16)
        except ValueError as e:
            raise AuthenticationFailed("session has no usable card serial") from e
        self._check_ocsp_serial(serial, now)

    def _check_ocsp(self, cert: x509.Certificate, now: datetime) -> None:
        self._check_ocsp_serial(cert.serial_number, now)

    def _check_ocsp_serial(self, serial_number: int, now: datetime) -> None:
        nonce = os.urandom(16)
        # The CertID from the serial and our CA (RFC 6960 4.1.1), so that a later re-check
        # needs only the serial the session kept, not the card's certificate.
        name_hash = hashes.Hash(hashes.SHA1())
        name_hash.update(self.ca.subject.public_bytes())
        key_hash = x509.SubjectKeyIdentifier.from_public_key(self.ca.public_key()).digest
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate_by_hash(name_hash.finalize(), key_hash, serial_number, hashes.SHA1())
            .add_extension(x509.OCSPNonce(nonce), critical=False)
            .build()
        )
        try:
            reply = self.ocsp.post(
                self.ocsp_url,
                content=request.public_bytes(serialization.Encoding.DER),
                headers={"Content-Type": "application/ocsp-request"},
            )
        except httpx.HTTPError as e:
            raise TrustServiceUnavailable(f"OCSP responder unreachable: {e}") from e
        if reply.status_code != 200:
            raise TrustServiceUnavailable(f"OCSP responder answered HTTP {reply.status_code}")
        try:
            response = ocsp.load_der_ocsp_response(reply.content)
            if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
                raise TrustServiceUnavailable(f"OCSP responder status {response.response_status.name}")
            self._verify_ocsp_signature(response, now)
            # The single response must be about this very certificate of this very issuer.
            if (
                response.serial_number != serial_number
                or response.issuer_key_hash != request.issuer_key_hash
                or response.issuer_name_hash != request.issuer_name_hash
            ):
                raise TrustServiceUnavailable("OCSP response is for another certificate")
            status = response.certificate_status
            this_update = response.this_update_utc
            next_update = response.next_update_utc
            revocation_reason = response.revocation_reason if status == ocsp.OCSPCertStatus.REVOKED else None
        except (ValueError, UnsupportedAlgorithm) as e:
            # Malformed, several single responses, an algorithm we do not accept: no answer.
            raise TrustServiceUnavailable(f"OCSP response unusable: {e}") from e
        try:
            got_nonce = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound as e:
            raise TrustServiceUnavailable("OCSP response has no nonce (replay protection)") from e
        if got_nonce != nonce:
            raise TrustServiceUnavailable("OCSP response nonce does not match the request")
        if this_update > now + OCSP_CLOCK_SKEW or (next_update is not None and next_update < now - OCSP_CLOCK_SKEW):
            raise TrustServiceUnavailable("OCSP response is not current")
        if status == ocsp.OCSPCertStatus.REVOKED:
            reason = revocation_reason.name if revocation_reason else "unspecified"
            raise CardRevoked(f"card certificate revoked ({reason})")
        if status != ocsp.OCSPCertStatus.GOOD:
            raise CardRevoked("OCSP does not know this card certificate", code="card-unknown")

    def _verify_ocsp_signature(self, response: ocsp.OCSPResponse, now: datetime) -> None:
        # The signer is the CA itself or a delegated responder it issued for OCSP signing
        # (RFC 6960 4.2.2.2), valid now, and named by the response's ResponderID.
        signer = self.ca
        for candidate in response.certificates:
            try:
                candidate.verify_directly_issued_by(self.ca)
                eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
                continue
            if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
                continue
            if not (candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc):
                raise TrustServiceUnavailable("OCSP signer certificate is expired or not yet valid")
            signer = candidate
            break
        if not _names_responder(response, signer):
            raise TrustServiceUnavailable("OCSP ResponderID does not name the signing certificate")
        key = signer.public_key()
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(
                    response.signature,
                    response.tbs_response_bytes,
                    padding.PKCS1v15(),
                    response.signature_hash_algorithm or hashes.SHA256(),
                )
            else:
                from cryptography.hazmat.primitives.asymmetric import ec

                if not isinstance(key, ec.EllipticCurvePublicKey):
                    raise TrustServiceUnavailable("OCSP signer key type not supported")
                key.verify(
                    response.signature,
                    response.tbs_response_bytes,
                    ec.ECDSA(response.signature_hash_algorithm or hashes.SHA256()),
                )
        except InvalidSignature as e:
            raise TrustServiceUnavailable("OCSP response signature does not verify") from e

    def _lookup(self, serial_hex: str) -> AuthenticatedHolder:
        try:
            reply = self.directory.get(f"{self.directory_url}/v1/holders/{serial_hex}")
        except httpx.HTTPError as e:
            raise TrustServiceUnavailable(f"JPKI directory unreachable: {e}") from e
        if reply.status_code == 404:
            raise CardRevoked("JPKI directory does not know this card", code="card-unknown")
        if reply.status_code != 200:
            raise TrustServiceUnavailable(f"JPKI directory answered HTTP {reply.status_code}")
        try:
            body = reply.json()
            municipality = validate_municipality_code(str(body["municipality"]))
            link = str(body["resident_link"])
            status = body.get("status", "good")
        except (ValueError, KeyError, TypeError) as e:
            raise TrustServiceUnavailable(f"JPKI directory answer malformed: {e}") from e
        if status != "good":
            raise CardRevoked(f"JPKI directory reports the card as {status}")
        return AuthenticatedHolder(auth_serial=serial_hex, municipality=municipality, resident_link=link)


def _names_responder(response: ocsp.OCSPResponse, signer: x509.Certificate) -> bool:
    """Does the response's ResponderID (by name or by key hash) name ``signer``?"""
    if response.responder_name is not None:
        return response.responder_name == signer.subject
    # byKey is the SHA-1 of the subjectPublicKey BIT STRING (RFC 6960 4.2.1), which is
    # exactly how RFC 5280's method 1 derives a subject key identifier.
    return response.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(signer.public_key()).digest


def _check_user_authentication(cert: x509.Certificate) -> None:
    """Step 2's "user-authentication certificate": digitalSignature without nonRepudiation
    (the signing certificate has both), and clientAuth when an extended key usage is given."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as e:
        raise AuthenticationFailed("card certificate has no key usage", code="not-an-authentication-certificate") from e
    if not usage.digital_signature or usage.content_commitment:
        raise AuthenticationFailed(
            "card certificate is not a user-authentication certificate (key usage)",
            code="not-an-authentication-certificate",
        )
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    if ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
        raise AuthenticationFailed(
            "card certificate is not a user-authentication certificate (extended key usage)",
            code="not-an-authentication-certificate",
        )
