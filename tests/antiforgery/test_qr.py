"""The signed QR: one changed byte, an unpublished key, rotation, and the key files."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import date
from pathlib import Path

import cbor2
import pytest

from kofu.antiforgery.errors import AntiforgeryError, QrInvalid
from kofu.antiforgery.keys import QrSigner, ScrambleKeyring, published_keys
from kofu.antiforgery.qr import (
    QrPayload,
    fields_digest,
    parse_qr_text,
    qr_text,
    sign_qr,
    verify_qr,
)

PAYLOAD = QrPayload(
    serial="T-2025-000123",
    municipality="282286",
    kind="juminhyo",
    issued_on=date(2025, 4, 1),
    page=1,
    pages=2,
    fields_digest=fields_digest("住民票 兵庫県加東市社50番地"),
)


@pytest.fixture
def keydir(tmp_path: Path) -> Path:
    QrSigner.generate(tmp_path / "qr", "k2025")
    return tmp_path / "qr"


def test_round_trip_through_qr_text(keydir: Path) -> None:
    cose = sign_qr(PAYLOAD, QrSigner.load(keydir, "k2025"))
    text = qr_text(cose)
    assert text.startswith("KF1:") and len(text) < 300
    assert verify_qr(parse_qr_text(text), published_keys(keydir)) == PAYLOAD


def test_printed_title_is_signed_and_optional(keydir: Path) -> None:
    """The title travels signed (key 9); a QR printed before it still verifies without it."""
    signer, jwks = QrSigner.load(keydir, "k2025"), published_keys(keydir)
    titled = replace(PAYLOAD, municipality_name="加東市", title="戸籍全部事項証明書")
    cose = sign_qr(titled, signer)
    assert dict(cbor2.loads(cbor2.loads(cose).value[2]))[9] == "戸籍全部事項証明書"
    assert verify_qr(cose, jwks) == titled
    old = sign_qr(PAYLOAD, signer)
    assert 9 not in dict(cbor2.loads(cbor2.loads(old).value[2]))
    assert verify_qr(old, jwks).title is None
    with pytest.raises(QrInvalid, match="wrong type"):
        verify_qr(sign_qr(replace(PAYLOAD, title=7), signer), jwks)  # type: ignore[arg-type]


def test_every_single_byte_change_is_rejected(keydir: Path) -> None:
    cose = sign_qr(PAYLOAD, QrSigner.load(keydir, "k2025"))
    jwks = published_keys(keydir)
    for i in range(len(cose)):
        altered = bytearray(cose)
        altered[i] ^= 0x01
        with pytest.raises(QrInvalid):
            verify_qr(bytes(altered), jwks)


def test_changed_payload_field_with_old_signature_is_rejected(keydir: Path) -> None:
    cose = sign_qr(PAYLOAD, QrSigner.load(keydir, "k2025"))
    tag = cbor2.loads(cose)
    protected, unprotected, body, sig = tag.value
    m = dict(cbor2.loads(body))
    m[1] = "T-2025-000124"
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, cbor2.dumps(m), sig]))
    with pytest.raises(QrInvalid, match="signature"):
        verify_qr(forged, published_keys(keydir))


def test_unpublished_key_is_rejected(keydir: Path, tmp_path: Path) -> None:
    rogue = QrSigner.generate(tmp_path / "rogue", "k2025x")
    with pytest.raises(QrInvalid, match="does not publish"):
        verify_qr(sign_qr(PAYLOAD, rogue), published_keys(keydir))
    # Same kid as a published key, different key: the signature fails.
    impostor = QrSigner.generate(tmp_path / "impostor", "k2025")
    with pytest.raises(QrInvalid, match="signature"):
        verify_qr(sign_qr(PAYLOAD, impostor), published_keys(keydir))


def test_rotation_keeps_old_qrs_verifiable(keydir: Path) -> None:
    old = sign_qr(PAYLOAD, QrSigner.load(keydir, "k2025"))
    QrSigner.generate(keydir, "k2026")
    new = sign_qr(PAYLOAD, QrSigner.load(keydir, "k2026"))
    jwks = published_keys(keydir)
    assert {k["kid"] for k in jwks["keys"]} == {"k2025", "k2026"}
    assert verify_qr(old, jwks) == verify_qr(new, jwks) == PAYLOAD
    for k in jwks["keys"]:
        assert set(k) >= {"kty", "crv", "kid", "x", "y", "alg"} and "d" not in k


def test_garbage_and_unsigned_kid_are_rejected(keydir: Path) -> None:
    jwks = published_keys(keydir)
    for junk in (b"", b"\xff\xff", cbor2.dumps([1, 2, 3]), cbor2.dumps(cbor2.CBORTag(98, []))):
        with pytest.raises(QrInvalid):
            verify_qr(junk, jwks)
    cose = cbor2.loads(sign_qr(PAYLOAD, QrSigner.load(keydir, "k2025"))).value
    # A kid moved to the unprotected header is not signed and not accepted.
    unsigned = cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -7}), {4: b"k2025"}, *cose[2:]]))
    with pytest.raises(QrInvalid, match="key id"):
        verify_qr(unsigned, jwks)
    with pytest.raises(QrInvalid):
        parse_qr_text("HC1:ABC")


def test_scramble_keys(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    ring = ScrambleKeyring.generate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ScrambleKeyring.from_file(path).key_for("A") == ring.key_for("A")
    assert ring.key_for("A") != ring.key_for("B") and len(ring.key_for("A")) == 32
    assert "secret" in repr(ring)
    with pytest.raises(AntiforgeryError, match="refusing to overwrite"):
        ScrambleKeyring.generate(path)
    QrSigner.generate(tmp_path / "qr", "k1")
    assert stat.S_IMODE((tmp_path / "qr" / "k1.key").stat().st_mode) == 0o600
    with pytest.raises(AntiforgeryError, match="refusing to overwrite"):
        QrSigner.generate(tmp_path / "qr", "k1")
