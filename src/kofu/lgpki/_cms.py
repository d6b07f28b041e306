"""A minimal CAdES-BES SignedData for PAdES B-B, built from precomputed DER.

pyHanko builds its CMS container through asn1crypto, re-encoding the
certificates and attributes from Python values on every call; that was about
three quarters of a seal's 20 ms. For one signer sealing many documents
everything but the document digest and the signature value is constant, so
this module encodes those parts once and splices the two variable values in.
Not API: :class:`kofu.lgpki.seal.Sealer` is the only user, and every container
it makes is checked by the same validator as any other (pyHanko and poppler
in the tests).

The container (RFC 5652, ETSI EN 319 122-1 CAdES-BES, as PAdES requires)::

    ContentInfo { signedData, SignedData {
        version 1, digestAlgorithms {sha256}, encapContentInfo {data} (detached),
        certificates [0] { signer, chain… },
        signerInfos { SignerInfo {
            version 1, issuerAndSerialNumber, sha256,
            signedAttrs [0] { contentType data, messageDigest,
                              signingCertificateV2 { ESSCertIDv2 { sha256(cert), issuerSerial } } },
            signatureAlgorithm, signature } } } }

No signingTime attribute: PAdES puts the claimed time in the signature
dictionary's /M instead (pyHanko writes it).
"""

from __future__ import annotations

import hashlib
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _len(len(content)) + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _set(*parts: bytes) -> bytes:
    # DER: the members of a SET OF are sorted by their encodings.
    return _tlv(0x31, b"".join(sorted(parts)))


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _int(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big", signed=False)
    # Minimal two's complement: drop a leading zero unless the next bit is set.
    while len(body) > 1 and body[0] == 0 and body[1] < 0x80:
        body = body[1:]
    return _tlv(0x02, body)


_NULL: Final = b"\x05\x00"
_DATA: Final = _oid("1.2.840.113549.1.7.1")
_SIGNED_DATA: Final = _oid("1.2.840.113549.1.7.2")
_SHA256: Final = _seq(_oid("2.16.840.1.101.3.4.2.1"))
_CONTENT_TYPE: Final = _oid("1.2.840.113549.1.9.3")
_MESSAGE_DIGEST: Final = _oid("1.2.840.113549.1.9.4")
_SIGNING_CERT_V2: Final = _oid("1.2.840.113549.1.9.16.2.47")
_ECDSA_SHA256: Final = _seq(_oid("1.2.840.10045.4.3.2"))
_RSA_SHA256: Final = _seq(_oid("1.2.840.113549.1.1.11"), _NULL)


class FastCmsSigner:
    """Makes detached CAdES-BES containers for one key and certificate chain."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
        cert: x509.Certificate,
        chain: list[x509.Certificate],
    ) -> None:
        if isinstance(key, ec.EllipticCurvePrivateKey):
            self._signature_algorithm = _ECDSA_SHA256
        elif isinstance(key, rsa.RSAPrivateKey):
            self._signature_algorithm = _RSA_SHA256
        else:
            raise TypeError(f"unsupported seal key type {type(key).__name__}")
        self._key = key
        cert_der = cert.public_bytes(serialization.Encoding.DER)
        issuer = cert.issuer.public_bytes()
        serial = _int(cert.serial_number)
        # ESSCertIDv2 with the default hash (SHA-256, so omitted) and IssuerSerial
        # naming the issuer as a directoryName ([4], explicit).
        ess_cert_id = _seq(
            _tlv(0x04, hashlib.sha256(cert_der).digest()),
            _seq(_seq(_tlv(0xA4, issuer)), serial),
        )
        self._fixed_attrs = (
            _seq(_CONTENT_TYPE, _set(_DATA)),
            _seq(_SIGNING_CERT_V2, _set(_seq(_seq(ess_cert_id)))),
        )
        certs = [cert_der] + [
            c.public_bytes(serialization.Encoding.DER) for c in chain if c != cert
        ]
        self._certificates = _tlv(0xA0, b"".join(certs))
        self._sid = _seq(issuer, serial)

    def sign_digest(self, document_digest: bytes) -> bytes:
        """The DER ContentInfo sealing a document whose /ByteRange SHA-256 is given."""
        if len(document_digest) != 32:
            raise ValueError("expected a SHA-256 digest")
        attrs = [*self._fixed_attrs, _seq(_MESSAGE_DIGEST, _set(_tlv(0x04, document_digest)))]
        signed_attrs = _set(*attrs)
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            signature = self._key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        else:
            signature = self._key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        signer_info = _seq(
            _int(1),
            self._sid,
            _SHA256,
            b"\xa0" + signed_attrs[1:],  # the same SET, retagged [0] IMPLICIT
            self._signature_algorithm,
            _tlv(0x04, signature),
        )
        signed_data = _seq(
            _int(1),
            _set(_SHA256),
            _seq(_DATA),
            self._certificates,
            _set(signer_info),
        )
        return _seq(_SIGNED_DATA, _tlv(0xA0, signed_data))
