"""The virtual card's storage: one JSON file standing in for the chip's memory.

>>> cf = CardFile(Path("card.json"))
>>> cf.read().pin_tries_left
3
>>> with cf.locked():
...     image = cf.read()
...     cf.write(dataclasses.replace(image, pin_tries_left=2))

What it holds: the two certificates (EF 000A, EF 0001), the two private keys
and the two retry counters.

Threat model (honest: this is a *software* card). Each private key is
encrypted with AES-256-GCM under a key derived by scrypt from the PIN (auth
key) or the password (signing key), so a VERIFY succeeds exactly when the key
decrypts, and a copy of the file alone does not give a usable key. But the
retry counter lives in the same file: whoever can read the file can try all
10,000 PINs offline (about 10 minutes of scrypt), and whoever can write it can
restore the counter. The counter protects against a wrong PIN typed at a
kiosk, not against someone who holds the file. A real card's chip enforces
both; protect the file as you would the card.

Durability. Every change is written to a temporary file in the same
directory, fsynced, then renamed over the card file (``os.replace`` is atomic
on POSIX) and the directory is fsynced, so a crash leaves either the old or
the new file, never a mix. Read-modify-write cycles hold an exclusive
``fcntl.flock`` on ``CARD.lock``, so two processes never both decrement from
the same value.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from kofu.jpki.errors import CardError, CardFileError, CardStateWriteFailed

FORMAT = "kofu-virtual-card/1"
PIN_MAX_TRIES = 3
PASSWORD_MAX_TRIES = 5

# scrypt cost: about 50 ms per VERIFY on a laptop core; it is what an offline
# guess at a stolen file costs too.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1


def validate_pin(pin: str) -> None:
    """The user-authentication PIN is exactly 4 digits."""
    if len(pin) != 4 or not pin.isascii() or not pin.isdigit():
        raise CardError("the PIN must be exactly 4 digits")


def validate_password(password: str) -> None:
    """The signing password is 6–16 upper-case ASCII letters and digits (as JPKI requires)."""
    if not 6 <= len(password) <= 16 or not all(c.isascii() and (c.isupper() or c.isdigit()) for c in password):
        raise CardError("the password must be 6 to 16 upper-case letters A-Z and digits 0-9")


@dataclass(frozen=True)
class EncryptedKey:
    salt: bytes
    nonce: bytes
    ciphertext: bytes
    """AES-256-GCM of the PKCS#8 DER private key; the tag authenticates the PIN."""

    def decrypt(self, secret: bytes, aad: bytes) -> rsa.RSAPrivateKey | None:
        """The key when ``secret`` is right, else ``None`` (a wrong PIN is not an error here)."""
        kek = Scrypt(salt=self.salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(secret)
        try:
            der = AESGCM(kek).decrypt(self.nonce, self.ciphertext, aad)
        except InvalidTag:
            return None
        key = serialization.load_der_private_key(der, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CardFileError("the card holds a key that is not RSA")
        return key

    @classmethod
    def encrypt(cls, key: rsa.RSAPrivateKey, secret: bytes, aad: bytes) -> EncryptedKey:
        salt = secrets.token_bytes(16)
        nonce = secrets.token_bytes(12)
        kek = Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(secret)
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cls(salt, nonce, AESGCM(kek).encrypt(nonce, der, aad))


@dataclass(frozen=True)
class CardImage:
    """Everything the card file holds, immutable; change it with ``dataclasses.replace``."""

    card_id: str
    auth_cert_der: bytes
    """EF 000A: the user-authentication certificate."""
    sign_cert_der: bytes
    """EF 0001: the signing certificate."""
    auth_key: EncryptedKey
    """EF 0017, unlocked by the PIN (EF 0018)."""
    sign_key: EncryptedKey
    """EF 001A, unlocked by the password (EF 001B)."""
    pin_tries_left: int
    password_tries_left: int

    def aad(self, which: str) -> bytes:
        # Binding the ciphertext to the card and slot stops swapping keys between cards.
        return f"{FORMAT}|{self.card_id}|{which}".encode()

    def to_json(self) -> dict[str, Any]:
        def b64(b: bytes) -> str:
            return base64.b64encode(b).decode()

        def key(k: EncryptedKey) -> dict[str, str]:
            return {"salt": b64(k.salt), "nonce": b64(k.nonce), "ciphertext": b64(k.ciphertext)}

        return {
            "format": FORMAT,
            "card_id": self.card_id,
            "files": {"000A": b64(self.auth_cert_der), "0001": b64(self.sign_cert_der)},
            "keys": {"auth": key(self.auth_key), "sign": key(self.sign_key)},
            "state": {"pin_tries_left": self.pin_tries_left, "password_tries_left": self.password_tries_left},
        }

    @classmethod
    def from_json(cls, data: Any) -> CardImage:
        try:
            if data["format"] != FORMAT:
                raise CardFileError(f"not a {FORMAT} card file (format {data['format']!r})")

            def key(k: dict[str, str]) -> EncryptedKey:
                return EncryptedKey(
                    base64.b64decode(k["salt"], validate=True),
                    base64.b64decode(k["nonce"], validate=True),
                    base64.b64decode(k["ciphertext"], validate=True),
                )

            pin = int(data["state"]["pin_tries_left"])
            password = int(data["state"]["password_tries_left"])
            if not (0 <= pin <= PIN_MAX_TRIES and 0 <= password <= PASSWORD_MAX_TRIES):
                raise CardFileError("the card file's retry counters are out of range")
            return cls(
                card_id=str(data["card_id"]),
                auth_cert_der=base64.b64decode(data["files"]["000A"], validate=True),
                sign_cert_der=base64.b64decode(data["files"]["0001"], validate=True),
                auth_key=key(data["keys"]["auth"]),
                sign_key=key(data["keys"]["sign"]),
                pin_tries_left=pin,
                password_tries_left=password,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise CardFileError(f"the card file is corrupt: {type(e).__name__}: {e}") from e

    def auth_certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.auth_cert_der)

    def sign_certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.sign_cert_der)


class CardFile:
    """A card file on disk, with locked, atomic updates."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def read(self) -> CardImage:
        try:
            raw = self.path.read_bytes()
        except OSError as e:
            raise CardFileError(f"cannot read card file {self.path}: {e}") from e
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise CardFileError(f"the card file {self.path} is corrupt: {e}") from e
        return CardImage.from_json(data)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the card's exclusive lock (blocks until other processes release it)."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise CardFileError(f"cannot open the card's lock file {self.lock_path}: {e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def write(self, image: CardImage) -> None:
        """Replace the card file atomically; raises :class:`CardStateWriteFailed` on any failure.

        Call it while holding :meth:`locked`.
        """
        data = (json.dumps(image.to_json(), indent=1) + "\n").encode()
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as e:
            raise CardStateWriteFailed(f"cannot write the card file {self.path}: {e}") from e


def create_card_file(
    path: Path,
    auth_cert: x509.Certificate,
    auth_key: rsa.RSAPrivateKey,
    sign_cert: x509.Certificate,
    sign_key: rsa.RSAPrivateKey,
    *,
    pin: str,
    password: str,
) -> CardImage:
    validate_pin(pin)
    validate_password(password)
    card_id = secrets.token_hex(8)
    aad = f"{FORMAT}|{card_id}|".encode()
    image = CardImage(
        card_id=card_id,
        auth_cert_der=auth_cert.public_bytes(serialization.Encoding.DER),
        sign_cert_der=sign_cert.public_bytes(serialization.Encoding.DER),
        auth_key=EncryptedKey.encrypt(auth_key, pin.encode(), aad + b"auth"),
        sign_key=EncryptedKey.encrypt(sign_key, password.encode(), aad + b"sign"),
        pin_tries_left=PIN_MAX_TRIES,
        password_tries_left=PASSWORD_MAX_TRIES,
    )
    card = CardFile(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with card.locked():
        if path.exists():
            raise CardFileError(f"{path} exists: refusing to overwrite a card")
        card.write(image)
    return image


def reset_card(path: Path) -> CardImage:
    """The municipality's reset: both counters back to their maximum (the PIN stays)."""
    import dataclasses

    card = CardFile(path)
    with card.locked():
        image = dataclasses.replace(
            card.read(), pin_tries_left=PIN_MAX_TRIES, password_tries_left=PASSWORD_MAX_TRIES
        )
        card.write(image)
    return image
