"""The signed QR code on the back side: COSE_Sign1 (ES256) in CBOR, base45 in the QR.

>>> signer = QrSigner.generate(tmp, "k1")                       # doctest: +SKIP
>>> blob = sign_qr(payload, signer)                              # doctest: +SKIP
>>> verify_qr(blob, published_keys(tmp)) == payload              # doctest: +SKIP
True

The layout follows the EU Digital COVID Certificate: a COSE_Sign1 structure
(RFC 9052) whose protected header names the algorithm (ES256) and the key id,
and whose payload is a small CBOR map with integer keys. In the QR it is
written as ``KF1:`` + base45 (alphanumeric mode, only ~3% larger than byte
mode, and read the same by every phone scanner, which byte mode is not).

COSE_Sign1 is written here by hand on cbor2 + cryptography (about 30 lines)
rather than with pycose: we need exactly one algorithm, pycose pulls in
further dependencies and changed its API between releases, and a verifier we
can read line by line is easier to trust.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from kofu.antiforgery.errors import QrInvalid
from kofu.antiforgery.keys import QrSigner

__all__ = [
    "PREFIX",
    "QrPayload",
    "b45decode",
    "b45encode",
    "canonical_digest",
    "qr_text",
    "sign_qr",
    "verify_qr",
]

PREFIX = b"KF1:"
_COSE_SIGN1_TAG = 18
_ALG_ES256 = -7
_HDR_ALG, _HDR_KID = 1, 4
_MAX_QR_BYTES = 3000  # a QR holds at most 2953 bytes; anything bigger is not ours


@dataclass(frozen=True)
class QrPayload:
    """What the QR says about one printed page."""

    serial: str
    """Certificate serial (証明書番号)."""
    municipality: str
    """6-digit local government code of the issuing municipality."""
    kind: str
    """Certificate kind, e.g. ``juminhyo``."""
    issued_on: date
    page: int
    """1-based page number of the front this back belongs to."""
    pages: int
    fields_digest: bytes
    """SHA-256 of the page's identifying fields in canonical form (see ``canonical_digest``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "municipality": self.municipality,
            "kind": self.kind,
            "issued_on": self.issued_on.isoformat(),
            "page": self.page,
            "pages": self.pages,
            "fields_digest": self.fields_digest.hex(),
        }


def canonical_digest(text: str) -> bytes:
    """SHA-256 of a page's text: NFC, every run of whitespace one space, trimmed.

    The front's text as extracted from the sealed PDF is the canonical form of
    its identifying fields, so anyone holding the PDF can recompute it.
    """
    canon = " ".join(unicodedata.normalize("NFC", text).split())
    return hashlib.sha256(canon.encode("utf-8")).digest()


# --- base45 (RFC 9285) -------------------------------------------------------
_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_INDEX = {c: i for i, c in enumerate(_B45)}


def b45encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out += [_B45[c], _B45[d], _B45[e]]
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += [_B45[c], _B45[d]]
    return "".join(out)


def b45decode(text: str) -> bytes:
    try:
        vals = [_B45_INDEX[c] for c in text]
    except KeyError as e:
        raise QrInvalid(f"QR text has a character outside base45: {e.args[0]!r}") from e
    out = bytearray()
    for i in range(0, len(vals), 3):
        chunk = vals[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 2025
            if n > 0xFFFF:
                raise QrInvalid("QR text is not valid base45")
            out += n.to_bytes(2, "big")
        elif len(chunk) == 2:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise QrInvalid("QR text is not valid base45")
            out.append(n)
        else:
            raise QrInvalid("QR text is not valid base45 (dangling character)")
    return bytes(out)


def qr_text(cose: bytes) -> str:
    """What is put in the QR code for a signed payload."""
    return PREFIX.decode() + b45encode(cose)


# --- COSE_Sign1 ---------------------------------------------------------------
def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _encode_payload(p: QrPayload) -> bytes:
    return cbor2.dumps(
        {1: p.serial, 2: p.municipality, 3: p.kind, 4: p.issued_on.isoformat(),
         5: p.page, 6: p.pages, 7: p.fields_digest}
    )


def sign_qr(payload: QrPayload, signer: QrSigner) -> bytes:
    """The COSE_Sign1 (tag 18) bytes for ``payload``, signed with ES256."""
    if not (1 <= payload.page <= payload.pages):
        raise ValueError(f"page {payload.page} of {payload.pages}")
    if len(payload.fields_digest) != 32:
        raise ValueError("fields_digest must be a SHA-256 (32 bytes)")
    protected = cbor2.dumps({_HDR_ALG: _ALG_ES256, _HDR_KID: signer.kid.encode("utf-8")})
    body = _encode_payload(payload)
    signature = signer.sign(_sig_structure(protected, body))
    return cbor2.dumps(cbor2.CBORTag(_COSE_SIGN1_TAG, [protected, {}, body, signature]))


def _public_key(jwks: dict[str, Any], kid: str) -> ec.EllipticCurvePublicKey:
    for k in jwks.get("keys", []) if isinstance(jwks, dict) else []:
        if isinstance(k, dict) and k.get("kid") == kid:
            if k.get("crv") != "P-256" or k.get("alg", "ES256") != "ES256":
                raise QrInvalid(f"key {kid!r} is not an ES256 P-256 key")
            try:
                x = int.from_bytes(base64.urlsafe_b64decode(k["x"] + "=" * (-len(k["x"]) % 4)), "big")
                y = int.from_bytes(base64.urlsafe_b64decode(k["y"] + "=" * (-len(k["y"]) % 4)), "big")
                return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
            except (KeyError, ValueError, TypeError) as e:
                raise QrInvalid(f"published key {kid!r} is malformed") from e
    raise QrInvalid(f"QR signed with key {kid!r}, which the center does not publish")


def verify_qr(data: bytes, jwks: dict[str, Any]) -> QrPayload:
    """Check a QR's COSE_Sign1 against the published keys; return its payload or raise QrInvalid.

    ``data`` is either the raw COSE bytes or the QR text (``KF1:`` + base45).
    """
    # 1. Undo the transport encoding, refusing anything larger than a QR can hold.
    if len(data) > 2 * _MAX_QR_BYTES:
        raise QrInvalid("QR data too long")
    if data.startswith(PREFIX):
        try:
            text = data[len(PREFIX) :].decode("ascii")
        except UnicodeDecodeError as e:
            raise QrInvalid("QR text is not ASCII") from e
        data = b45decode(text)
    # 2. Parse COSE_Sign1: [protected bstr, unprotected map, payload bstr, signature bstr].
    try:
        obj = cbor2.loads(data)
    except Exception as e:  # cbor2 raises several types on garbage
        raise QrInvalid("QR is not CBOR") from e
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != _COSE_SIGN1_TAG:
            raise QrInvalid(f"QR has CBOR tag {obj.tag}, expected COSE_Sign1 (18)")
        obj = obj.value
    if not (isinstance(obj, (list, tuple)) and len(obj) == 4):
        raise QrInvalid("QR is not a COSE_Sign1 structure")
    protected, _unprotected, body, signature = obj
    if not (isinstance(protected, bytes) and isinstance(body, bytes) and isinstance(signature, bytes)):
        raise QrInvalid("QR is not a COSE_Sign1 structure")
    # 3. Algorithm and key id come only from the protected (signed) header.
    try:
        hdr = cbor2.loads(protected)
    except Exception as e:
        raise QrInvalid("QR protected header is not CBOR") from e
    if not isinstance(hdr, Mapping) or hdr.get(_HDR_ALG) != _ALG_ES256:
        raise QrInvalid("QR is not signed with ES256")
    kid_raw = hdr.get(_HDR_KID)
    if not isinstance(kid_raw, bytes):
        raise QrInvalid("QR has no key id")
    kid = kid_raw.decode("utf-8", "replace")
    # 4. The key must be one the center publishes.
    key = _public_key(jwks, kid)
    # 5. Verify r || s over the Sig_structure.
    if len(signature) != 64:
        raise QrInvalid("QR signature has the wrong length")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, _sig_structure(protected, body), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as e:
        raise QrInvalid("QR signature does not verify: the code was altered or forged") from e
    # 6. Only now read the payload, and check its types.
    try:
        m = cbor2.loads(body)
        payload = QrPayload(
            serial=m[1], municipality=m[2], kind=m[3], issued_on=date.fromisoformat(m[4]),
            page=m[5], pages=m[6], fields_digest=m[7],
        )
    except Exception as e:
        raise QrInvalid("QR payload is malformed") from e
    if not (isinstance(payload.serial, str) and isinstance(payload.municipality, str)
            and isinstance(payload.kind, str) and isinstance(payload.page, int)
            and isinstance(payload.pages, int) and isinstance(payload.fields_digest, bytes)
            and 1 <= payload.page <= payload.pages):
        raise QrInvalid("QR payload has fields of the wrong type")
    return payload
