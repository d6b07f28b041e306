"""Center keys: the scramble master key and the QR signing keys.

>>> ring = ScrambleKeyring(b"\\x00" * 32)
>>> len(ring.key_for("28228600000042"))
32

The scramble key of a certificate is HKDF-SHA256(master, info="kofu-scramble-v1|"
+ serial); it never leaves the center. QR keys are ECDSA P-256 pairs named by a
key id (kid); ``published_keys`` is the JWK set served at the center's
well-known URL, holding every public key still in the directory so that old
certificates stay verifiable after a rotation.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["QrSigner", "ScrambleKeyring", "published_keys"]

_INFO = b"kofu-scramble-v1|"
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start: never a moment where the key is world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


class ScrambleKeyring:
    """Derives the per-certificate scramble key from the center master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) < 32:
            raise ValueError("master_key must be at least 32 bytes")
        self._master = bytes(master_key)

    @classmethod
    def from_file(cls, path: Path) -> ScrambleKeyring:
        return cls(Path(path).read_bytes())

    @classmethod
    def generate(cls, path: Path) -> ScrambleKeyring:
        """Write 32 random bytes to ``path`` (mode 0600, must not exist) and load them."""
        key = os.urandom(32)
        _write_private(Path(path), key)
        return cls(key)

    def key_for(self, serial: str) -> bytes:
        if not serial:
            raise ValueError("serial must not be empty")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + serial.encode("utf-8"))
        return hkdf.derive(self._master)

    def __repr__(self) -> str:  # never print the key
        return "ScrambleKeyring(<secret>)"


class QrSigner:
    """An ECDSA P-256 private key with its key id."""

    def __init__(self, kid: str, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not _KID.match(kid):
            raise ValueError(f"kid {kid!r}: use 1-64 of A-Z a-z 0-9 . _ -")
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("QR keys are P-256")
        self.kid = kid
        self.private_key = private_key

    @classmethod
    def generate(cls, directory: Path, kid: str) -> QrSigner:
        """Create DIR/<kid>.key (PKCS#8, 0600) and DIR/<kid>.pem (public key)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        signer = cls(kid, key)
        _write_private(
            directory / f"{kid}.key",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        (directory / f"{kid}.pem").write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return signer

    @classmethod
    def load(cls, directory: Path, kid: str) -> QrSigner:
        key = serialization.load_pem_private_key((Path(directory) / f"{kid}.key").read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{kid}.key is not an EC key")
        return cls(kid, key)

    def sign(self, message: bytes) -> bytes:
        """ECDSA-SHA256 over ``message``, as COSE wants it: r || s, 32 bytes each."""
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(self.private_key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _b64url(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode("ascii")


def published_keys(directory: Path) -> dict:  # type: ignore[type-arg]
    """The JWK set of every public key (``*.pem``) in ``directory``, sorted by kid."""
    keys = []
    for pem in sorted(Path(directory).glob("*.pem")):
        pub = serialization.load_pem_public_key(pem.read_bytes())
        if not isinstance(pub, ec.EllipticCurvePublicKey) or not isinstance(pub.curve, ec.SECP256R1):
            continue
        nums = pub.public_numbers()
        keys.append({"kty": "EC", "kid": pem.stem, "alg": "ES256", "crv": "P-256",
                     "use": "sig", "x": _b64url(nums.x), "y": _b64url(nums.y)})
    return {"keys": keys}
