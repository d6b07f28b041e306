"""The kiosk's view of a My Number card: certificates, PIN, signatures, over APDUs.

>>> card = JpkiCard(VirtualCardReader("card.json"))
>>> card.pin_tries_left()
3
>>> card.verify_pin("1234")
>>> signature = card.sign_with_auth_key(challenge)
>>> card.auth_certificate().public_key().verify(signature, challenge, PKCS1v15(), SHA256())

Every method speaks only through :meth:`CardReader.transmit`, so a PC/SC
reader with a real card works the same way. Failures raise (see
:mod:`kofu.jpki.errors`); nothing returns a bare ``False``.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from kofu.jpki.card import (
    EF_AUTH_CERT,
    EF_AUTH_KEY,
    EF_AUTH_PIN,
    EF_SIGN_CERT,
    EF_SIGN_KEY,
    EF_SIGN_PASSWORD,
    JPKI_AID,
    SW_BLOCKED,
    SW_END_OF_FILE,
    SW_MEMORY_FAILURE,
    SW_OK,
    digest_info,
)
from kofu.jpki.cardfile import PASSWORD_MAX_TRIES, PIN_MAX_TRIES
from kofu.jpki.errors import (
    CardError,
    CardLocked,
    CardProtocolError,
    CardStateWriteFailed,
    WrongPin,
)
from kofu.jpki.reader import CardReader


class JpkiCard:
    """The JPKI application of one card in ``reader``."""

    def __init__(self, reader: CardReader) -> None:
        self.reader = reader

    # APDU plumbing ----------------------------------------------------------

    def _send(self, apdu: bytes) -> tuple[bytes, int]:
        response = self.reader.transmit(apdu)
        if len(response) < 2:
            raise CardError(f"the card sent a response of {len(response)} bytes, too short for a status word")
        return response[:-2], int.from_bytes(response[-2:], "big")

    def _expect_ok(self, apdu: bytes, what: str) -> bytes:
        data, sw = self._send(apdu)
        if sw != SW_OK:
            raise CardProtocolError(f"{what} failed", sw)
        return data

    def _select_ap(self) -> None:
        self._expect_ok(bytes([0x00, 0xA4, 0x04, 0x0C, len(JPKI_AID)]) + JPKI_AID, "SELECT of the JPKI application")

    def _select_ef(self, fid: int) -> None:
        self._select_ap()
        self._expect_ok(bytes([0x00, 0xA4, 0x02, 0x0C, 0x02]) + fid.to_bytes(2, "big"), f"SELECT EF {fid:04X}")

    def _read_ef(self, fid: int) -> bytes:
        self._select_ef(fid)
        # The certificate's DER header says how long it is: read 4 bytes, then the rest.
        head, sw = self._send(bytes([0x00, 0xB0, 0x00, 0x00, 0x04]))
        if sw != SW_OK or len(head) != 4 or head[0] != 0x30 or head[1] != 0x82:
            raise CardProtocolError(f"EF {fid:04X} does not start with a certificate", sw)
        total = 4 + int.from_bytes(head[2:4], "big")
        content = bytearray(head)
        while len(content) < total:
            offset = len(content)
            want = min(256, total - offset)
            apdu = bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, want & 0xFF])
            chunk, sw = self._send(apdu)
            if sw not in (SW_OK, SW_END_OF_FILE) or not chunk:
                raise CardProtocolError(f"READ BINARY of EF {fid:04X} at {offset} failed", sw)
            content += chunk
        return bytes(content[:total])

    def _certificate(self, fid: int) -> x509.Certificate:
        der = self._read_ef(fid)
        try:
            return x509.load_der_x509_certificate(der)
        except ValueError as e:
            raise CardError(f"EF {fid:04X} holds no valid certificate: {e}") from e

    def _tries_left(self, fid: int, maximum: int) -> int:
        self._select_ef(fid)
        _, sw = self._send(bytes([0x00, 0x20, 0x00, 0x80]))
        if sw == SW_OK:
            return maximum  # already verified in this session: the counter is full
        if sw == SW_BLOCKED:
            return 0
        if sw & 0xFFF0 == 0x63C0:
            return sw & 0x000F
        raise CardProtocolError("VERIFY (tries left) failed", sw)

    def _verify(self, fid: int, secret: str) -> None:
        self._select_ef(fid)
        body = secret.encode("ascii", errors="replace")
        if not 1 <= len(body) <= 255:
            raise CardError("the PIN or password must be 1 to 255 characters")
        _, sw = self._send(bytes([0x00, 0x20, 0x00, 0x80, len(body)]) + body)
        if sw == SW_OK:
            return
        if sw == SW_BLOCKED:
            raise CardLocked()
        if sw & 0xFFF0 == 0x63C0:
            raise WrongPin(sw & 0x000F)
        if sw == SW_MEMORY_FAILURE:
            raise CardStateWriteFailed("the card could not store its tries counter; the PIN was not checked")
        raise CardProtocolError("VERIFY failed", sw)

    def _sign(self, key_fid: int, message: bytes) -> bytes:
        digest = hashes.Hash(hashes.SHA256())
        digest.update(message)
        info = digest_info(hashes.SHA256(), digest.finalize())
        self._select_ef(key_fid)
        data, sw = self._send(bytes([0x80, 0x2A, 0x00, 0x80, len(info)]) + info + b"\x00")
        if sw == SW_BLOCKED:
            raise CardLocked()
        if sw != SW_OK:
            raise CardProtocolError("COMPUTE DIGITAL SIGNATURE failed (was the PIN verified?)", sw)
        return data

    # The kiosk's API ---------------------------------------------------------

    def auth_certificate(self) -> x509.Certificate:
        """The user-authentication certificate (EF 000A); readable without the PIN."""
        return self._certificate(EF_AUTH_CERT)

    def sign_certificate(self) -> x509.Certificate:
        """The signing certificate (EF 0001); call :meth:`verify_password` first."""
        return self._certificate(EF_SIGN_CERT)

    def pin_tries_left(self) -> int:
        return self._tries_left(EF_AUTH_PIN, PIN_MAX_TRIES)

    def password_tries_left(self) -> int:
        return self._tries_left(EF_SIGN_PASSWORD, PASSWORD_MAX_TRIES)

    def verify_pin(self, pin: str) -> None:
        """Verify the user-authentication PIN; raises :class:`WrongPin` or :class:`CardLocked`."""
        self._verify(EF_AUTH_PIN, pin)

    def verify_password(self, password: str) -> None:
        """Verify the signing password; raises :class:`WrongPin` or :class:`CardLocked`."""
        self._verify(EF_SIGN_PASSWORD, password)

    def sign_with_auth_key(self, message: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-256 over ``message``, by the card's authentication key."""
        return self._sign(EF_AUTH_KEY, message)

    def sign_with_sign_key(self, message: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-256 over ``message``, by the card's signing key."""
        return self._sign(EF_SIGN_KEY, message)
