"""The center's anti-forgery keys.

>>> ring = ScrambleKeyring.generate(Path("keys/scramble-master.key"))   # doctest: +SKIP
>>> ring.key_for("T-2025-000123")                                       # doctest: +SKIP
>>> signer = QrSigner.generate(Path("keys/qr"), "k2025")                # doctest: +SKIP
>>> published_keys(Path("keys/qr"))                                     # doctest: +SKIP
{'keys': [{'kty': 'EC', 'crv': 'P-256', 'kid': 'k2025', ...}]}

Two kinds of keys, with opposite audiences:

- the **scramble master key** is secret to the center (and its verification
  service); a per-certificate key is derived from it with HKDF-SHA256 and the
  certificate serial, so no per-certificate key is ever stored or printed;
- the **QR signing keys** (ECDSA P-256) sign the QR payload; their public
  halves are published as a JWK set so that anyone can check a QR offline.
  Rotating means generating a new ``kid`` in the same folder: the old public
  keys stay published, so QRs already printed keep verifying.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kofu.antiforgery.errors import AntiforgeryError

MASTER_KEY_BYTES = 32
_HKDF_INFO = b"kofu-scramble-v1|"
# A kid becomes a file name and sits in every QR: short, no path separators.
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _write_secret(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600, refusing to overwrite (O_EXCL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise AntiforgeryError(f"{path} already exists; refusing to overwrite a key") from e
    with os.fdopen(fd, "wb") as f:
        f.write(data)


class ScrambleKeyring:
    """The scramble master key; derives the key of each certificate."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise AntiforgeryError(
                f"the scramble master key must be {MASTER_KEY_BYTES} bytes, got {len(master_key)}"
            )
        self._master = bytes(master_key)

    def __repr__(self) -> str:  # never show the key
        return "ScrambleKeyring(<secret>)"

    @classmethod
    def from_file(cls, path: Path) -> ScrambleKeyring:
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise AntiforgeryError(f"cannot read the scramble master key {path}: {e}") from e
        return cls(data)

    @staticmethod
    def generate(path: Path) -> ScrambleKeyring:
        key = os.urandom(MASTER_KEY_BYTES)
        _write_secret(Path(path), key)
        return ScrambleKeyring(key)

    def key_for(self, serial: str) -> bytes:
        """The 32-byte key of one certificate (HKDF-SHA256, info names the serial)."""
        return HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=_HKDF_INFO + serial.encode("utf-8"),
        ).derive(self._master)


class QrSigner:
    """An ECDSA P-256 key that signs QR payloads, with its key id."""

    def __init__(self, kid: str, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not _KID.match(kid):
            raise AntiforgeryError(f"key id {kid!r} must be 1-32 of A-Z a-z 0-9 _ -")
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise AntiforgeryError("QR signing keys must be P-256")
        self.kid = kid
        self.private_key = private_key

    def __repr__(self) -> str:
        return f"QrSigner(kid={self.kid!r})"

    @classmethod
    def generate(cls, directory: Path, kid: str) -> QrSigner:
        signer = cls(kid, ec.generate_private_key(ec.SECP256R1()))
        directory = Path(directory)
        pem = signer.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_secret(directory / f"{kid}.key", pem)
        pub = signer.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (directory / f"{kid}.pem").write_bytes(pub)
        return signer

    @classmethod
    def load(cls, directory: Path, kid: str) -> QrSigner:
        if not _KID.match(kid):
            raise AntiforgeryError(f"key id {kid!r} must be 1-32 of A-Z a-z 0-9 _ -")
        path = Path(directory) / f"{kid}.key"
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as e:
            raise AntiforgeryError(f"cannot load the QR signing key {path}: {e}") from e
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise AntiforgeryError(f"{path} is not an EC private key")
        return cls(kid, key)


def _b64url(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode("ascii")


def public_jwk(kid: str, key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    nums = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "kid": kid,
        "x": _b64url(nums.x),
        "y": _b64url(nums.y),
        "alg": "ES256",
        "use": "sig",
    }


def published_keys(directory: Path) -> dict[str, Any]:
    """The JWK set of every public key in ``directory`` (``<kid>.pem``), sorted by kid.

    Only public halves are read, so the verification site can be given a
    folder that holds no private key at all.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise AntiforgeryError(f"the QR key folder {directory} does not exist")
    keys = []
    for pem in sorted(directory.glob("*.pem")):
        kid = pem.stem
        if not _KID.match(kid):
            continue
        try:
            key = serialization.load_pem_public_key(pem.read_bytes())
        except ValueError as e:
            raise AntiforgeryError(f"{pem} is not a PEM public key: {e}") from e
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            raise AntiforgeryError(f"{pem} is not a P-256 public key")
        keys.append(public_jwk(kid, key))
    if not keys:
        raise AntiforgeryError(f"no QR public keys (*.pem) in {directory}")
    return {"keys": keys}
