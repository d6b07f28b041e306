"""The signed QR code of the back side: COSE_Sign1 (RFC 9052) over a CBOR payload.

>>> cose = sign_qr(payload, signer)          # doctest: +SKIP
>>> text = qr_text(cose)                     # what the QR holds: "KF1:" + base45
>>> verify_qr(parse_qr_text(text), jwks)     # doctest: +SKIP
QrPayload(serial='T-2025-000123', ...)

The format follows the EU Digital COVID Certificate: a COSE_Sign1 structure,
ES256 (ECDSA P-256 with SHA-256, signature as r||s), the key id in the
protected header, the payload a CBOR map with small integer keys, and the
whole thing in the QR as a prefix plus base45 text (QR alphanumeric mode packs
base45 as densely as byte mode packs bytes, and every phone reader returns it
unchanged, which is not true of binary byte mode). Unlike the DCC there is no
zlib: the payload is ~110 bytes and does not shrink.

COSE_Sign1 is written by hand with cbor2 and cryptography rather than with
pycose: the structure is four CBOR items and one signature over a fixed
``Sig_structure``; pycose would add a dependency (and its own key objects) for
those thirty lines, and checking them here keeps every rule visible:

1. The data must be a CBOR tag 18 (or an untagged array) of exactly four
   items: protected header (bstr), unprotected header (map), payload (bstr),
   signature (bstr of 64 bytes).
2. The protected header must say alg = ES256 (-7) and carry the kid (4); a
   kid only in the unprotected header is refused (it would not be signed).
3. The kid must be one of the published keys.
4. The signature must verify over
   ``["Signature1", protected, h'', payload]``.
5. The payload must be a map with every field, each of the right type.

Payload keys::

    1 serial (tstr)   2 municipality code (tstr)   3 kind (tstr)
    4 issued on (tstr, ISO date)   5 page (uint)   6 pages (uint)
    7 fields digest (bstr, SHA-256 of the page's text in canonical form)
    8 municipality name (tstr, optional: absent from QRs printed before it)
    9 title (tstr, optional: the certificate's printed title, e.g. 納税証明書;
      absent from QRs printed before it, which then show the kind's category)
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from kofu.antiforgery.errors import QrInvalid
from kofu.antiforgery.keys import QrSigner

QR_PREFIX = "KF1:"
_ALG_ES256 = -7
_HDR_ALG = 1
_HDR_KID = 4
_COSE_SIGN1_TAG = 18
_MAX_COSE_BYTES = 1024  # a QR of the back side holds ~150; refuse anything far larger


@dataclass(frozen=True)
class QrPayload:
    serial: str
    municipality: str
    """The municipality code (全国地方公共団体コード, 6 digits)."""
    kind: str
    issued_on: date
    page: int
    pages: int
    fields_digest: bytes
    """SHA-256 of the front page's text in canonical form (see canonical_text)."""
    municipality_name: str | None = None
    """The municipality's name as the certificate prints it (加東市)."""
    title: str | None = None
    """The certificate's title as printed (戸籍全部事項証明書), from the front's metadata."""


def canonical_text(text: str) -> str:
    """The identifying text of a page, as hashed into the QR.

    Whitespace runs (including the line breaks a PDF text extractor invents)
    collapse to one space; the characters themselves are kept exactly as
    extracted (no NFC/NFKC: a name's MJ glyph and its variation selector are
    part of what is attested).
    """
    return re.sub(r"\s+", " ", text).strip()


def fields_digest(text: str) -> bytes:
    return hashlib.sha256(canonical_text(text).encode("utf-8")).digest()


def _payload_cbor(p: QrPayload) -> bytes:
    fields: dict[int, Any] = {
        1: p.serial,
        2: p.municipality,
        3: p.kind,
        4: p.issued_on.isoformat(),
        5: p.page,
        6: p.pages,
        7: p.fields_digest,
    }
    if p.municipality_name:
        fields[8] = p.municipality_name
    if p.title:
        fields[9] = p.title
    return cbor2.dumps(fields)


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def sign_qr(payload: QrPayload, signer: QrSigner) -> bytes:
    """COSE_Sign1 (tagged, ES256, kid in the protected header) over the payload."""
    protected = cbor2.dumps({_HDR_ALG: _ALG_ES256, _HDR_KID: signer.kid.encode("ascii")})
    body = _payload_cbor(payload)
    der = signer.private_key.sign(_sig_structure(protected, body), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return cbor2.dumps(cbor2.CBORTag(_COSE_SIGN1_TAG, [protected, {}, body, sig]))


def _jwk_public_key(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    def num(field: str) -> int:
        raw = base64.urlsafe_b64decode(jwk[field] + "=" * (-len(jwk[field]) % 4))
        return int.from_bytes(raw, "big")

    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise QrInvalid(f"published key {jwk.get('kid')!r} is not an EC P-256 key")
    try:
        return ec.EllipticCurvePublicNumbers(num("x"), num("y"), ec.SECP256R1()).public_key()
    except (KeyError, ValueError) as e:
        raise QrInvalid(f"published key {jwk.get('kid')!r} is malformed") from e


def verify_qr(data: bytes, jwks: Mapping[str, Any]) -> QrPayload:
    """The payload of a COSE_Sign1 QR, or QrInvalid (see the numbered rules above)."""
    # 1. Structure.
    if len(data) > _MAX_COSE_BYTES:
        raise QrInvalid("the QR data is too long to be a certificate's QR")
    try:
        obj = cbor2.loads(data)
    except Exception as e:  # cbor2 raises several unrelated types on garbage
        raise QrInvalid("the QR data is not CBOR") from e
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != _COSE_SIGN1_TAG:
            raise QrInvalid(f"the QR holds CBOR tag {obj.tag}, not COSE_Sign1 (18)")
        obj = obj.value
    # cbor2 >= 6 decodes arrays inside tags as tuples and maps as frozendicts.
    if not (isinstance(obj, list | tuple) and len(obj) == 4):
        raise QrInvalid("the QR data is not a COSE_Sign1 array of four items")
    protected, unprotected, body, sig = obj
    if not (
        isinstance(protected, bytes)
        and isinstance(unprotected, Mapping)
        and isinstance(body, bytes)
        and isinstance(sig, bytes)
        and len(sig) == 64
    ):
        raise QrInvalid("the COSE_Sign1 items have the wrong types")
    # 2. Protected header: ES256 and a signed kid.
    try:
        header = cbor2.loads(protected)
    except Exception as e:
        raise QrInvalid("the COSE protected header is not CBOR") from e
    if not isinstance(header, Mapping) or header.get(_HDR_ALG) != _ALG_ES256:
        raise QrInvalid("the QR is not signed with ES256")
    kid_raw = header.get(_HDR_KID)
    if not isinstance(kid_raw, bytes):
        raise QrInvalid("the QR's protected header names no key id")
    kid = kid_raw.decode("ascii", "replace")
    # 3. A published key.
    matches = [k for k in jwks.get("keys", []) if k.get("kid") == kid]
    if not matches:
        raise QrInvalid(
            f"the QR was signed with key {kid!r}, which the center does not publish",
            diagnostics=[
                f"published key ids: {', '.join(k.get('kid', '?') for k in jwks.get('keys', []))}"
            ],
        )
    key = _jwk_public_key(matches[0])
    # 4. The signature.
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        key.verify(der, _sig_structure(protected, body), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as e:
        raise QrInvalid("the QR signature does not verify: the QR was altered or forged") from e
    # 5. The payload.
    try:
        m = cbor2.loads(body)
        p = QrPayload(
            serial=m[1],
            municipality=m[2],
            kind=m[3],
            issued_on=date.fromisoformat(m[4]),
            page=m[5],
            pages=m[6],
            fields_digest=m[7],
            municipality_name=m.get(8),
            title=m.get(9),
        )
    except Exception as e:
        raise QrInvalid("the signed QR payload is malformed") from e
    types_ok = (
        all(isinstance(v, str) for v in (p.serial, p.municipality, p.kind))
        and all(isinstance(v, int) and not isinstance(v, bool) for v in (p.page, p.pages))
        and isinstance(p.fields_digest, bytes)
        and (p.municipality_name is None or isinstance(p.municipality_name, str))
        and (p.title is None or isinstance(p.title, str))
        and len(p.fields_digest) == 32
        and 1 <= p.page <= p.pages
    )
    if not types_ok:
        raise QrInvalid("the signed QR payload has fields of the wrong type")
    return p


# ---------------------------------------------------------------- base45 (RFC 9285)

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
        raise QrInvalid("the QR text is not base45") from e
    out = bytearray()
    for i in range(0, len(vals), 3):
        chunk = vals[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 2025
            if n > 0xFFFF:
                raise QrInvalid("the QR text is not base45")
            out += n.to_bytes(2, "big")
        elif len(chunk) == 2:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise QrInvalid("the QR text is not base45")
            out.append(n)
        else:
            raise QrInvalid("the QR text is not base45")
    return bytes(out)


def qr_text(cose: bytes) -> str:
    """What the QR code holds: ``KF1:`` and the COSE bytes in base45."""
    return QR_PREFIX + b45encode(cose)


def parse_qr_text(text: str) -> bytes:
    if not text.startswith(QR_PREFIX):
        raise QrInvalid("the QR code is not a Kofu certificate QR (no KF1: prefix)")
    return b45decode(text[len(QR_PREFIX) :])
