"""The virtual My Number card: the JPKI application's APDU protocol over a card file.

>>> card = VirtualCard(Path("card.json"))
>>> card.transmit(bytes.fromhex("00A4040C0AD392F000260100000001")).hex()
'9000'

Supported commands (ISO/IEC 7816-4 and the JPKI application):

=====================  ==========================  ===================================
command                APDU                        notes
=====================  ==========================  ===================================
SELECT AP              00 A4 04 0C 0A <AID>        AID D392F000260100000001 only
SELECT EF              00 A4 02 0C 02 <FID>        000A 0001 0017 0018 001A 001B
READ BINARY            00 B0 <offset> <Le>         000A freely; 0001 after the password
VERIFY                 00 20 00 80 [Lc <secret>]   on 0018 (PIN) or 001B (password)
COMPUTE DIGITAL SIG.   80 2A 00 80 Lc <DigestInfo> on 0017 / 001A after its VERIFY
=====================  ==========================  ===================================

Status words: 9000 ok; 6282 end of file before Le bytes; 63Cx wrong secret
(x tries left); 6983 locked; 6982 security status not satisfied; 6986 no
current EF; 6981 wrong file type for the command; 6A82 file not found; 6A80
bad data; 6A86 bad P1/P2; 6700 bad length; 6B00 offset beyond the file; 6581
memory failure (the counter could not be stored); 6D00 unknown INS; 6E00
unknown CLA.

The security status (which secret was verified) lives in this object, the
way a real card keeps it until it is powered off; the counters live in the
card file and survive the process.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from kofu.jpki.cardfile import PASSWORD_MAX_TRIES, PIN_MAX_TRIES, CardFile, CardImage
from kofu.jpki.errors import CardFileError, CardStateWriteFailed

JPKI_AID = bytes.fromhex("D392F000260100000001")

EF_AUTH_CERT = 0x000A
EF_SIGN_CERT = 0x0001
EF_AUTH_KEY = 0x0017
EF_AUTH_PIN = 0x0018
EF_SIGN_KEY = 0x001A
EF_SIGN_PASSWORD = 0x001B

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_MEMORY_FAILURE = 0x6581
SW_WRONG_LENGTH = 0x6700
SW_INCOMPATIBLE_FILE = 0x6981
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_BLOCKED = 0x6983
SW_NO_CURRENT_EF = 0x6986
SW_WRONG_DATA = 0x6A80
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_WRONG_OFFSET = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00

# DigestInfo prefixes (RFC 8017 9.2 note 1): the card signs DigestInfo = prefix || digest.
DIGEST_INFO_PREFIXES: dict[bytes, hashes.HashAlgorithm] = {
    bytes.fromhex("3021300906052b0e03021a05000414"): hashes.SHA1(),
    bytes.fromhex("3031300d060960864801650304020105000420"): hashes.SHA256(),
    bytes.fromhex("3041300d060960864801650304020205000430"): hashes.SHA384(),
    bytes.fromhex("3051300d060960864801650304020305000440"): hashes.SHA512(),
}


def digest_info(algorithm: hashes.HashAlgorithm, digest: bytes) -> bytes:
    for prefix, alg in DIGEST_INFO_PREFIXES.items():
        if alg.name == algorithm.name:
            return prefix + digest
    raise ValueError(f"no DigestInfo prefix for {algorithm.name}")


@dataclass(frozen=True)
class Apdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None
    """Expected response length; 256 (short) or 65536 (extended) when given as zero."""


class _BadLength(Exception):
    pass


def parse_apdu(apdu: bytes) -> Apdu:
    """Split a command APDU into its parts (ISO/IEC 7816-4 cases 1–4, short and extended)."""
    if len(apdu) < 4:
        raise _BadLength
    cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
    body = apdu[4:]
    if not body:  # case 1
        return Apdu(cla, ins, p1, p2, b"", None)
    if len(body) == 1:  # case 2 short
        return Apdu(cla, ins, p1, p2, b"", body[0] or 256)
    if body[0] != 0:  # short Lc
        lc = body[0]
        rest = body[1:]
        if len(rest) == lc:
            return Apdu(cla, ins, p1, p2, rest, None)
        if len(rest) == lc + 1:
            return Apdu(cla, ins, p1, p2, rest[:lc], rest[lc] or 256)
        raise _BadLength
    # Extended forms start with a zero byte.
    if len(body) == 3:  # case 2 extended
        return Apdu(cla, ins, p1, p2, b"", int.from_bytes(body[1:3], "big") or 65536)
    if len(body) < 3:
        raise _BadLength
    lc = int.from_bytes(body[1:3], "big")
    rest = body[3:]
    if lc == 0:
        raise _BadLength
    if len(rest) == lc:
        return Apdu(cla, ins, p1, p2, rest, None)
    if len(rest) == lc + 2:
        return Apdu(cla, ins, p1, p2, rest[:lc], int.from_bytes(rest[lc:], "big") or 65536)
    raise _BadLength


def _with_tries(image: CardImage, slot: str, tries: int) -> CardImage:
    if slot == "auth":
        return dataclasses.replace(image, pin_tries_left=tries)
    return dataclasses.replace(image, password_tries_left=tries)


def _sw(sw: int, data: bytes = b"") -> bytes:
    return data + sw.to_bytes(2, "big")


class VirtualCard:
    """One powered-on virtual card; :meth:`transmit` answers one APDU."""

    def __init__(self, path: Path) -> None:
        self.file = CardFile(path)
        self.file.read()  # fail early on a missing or corrupt card
        self._ap_selected = False
        self._current_ef: int | None = None
        self._auth_key: rsa.RSAPrivateKey | None = None
        self._sign_key: rsa.RSAPrivateKey | None = None

    def transmit(self, apdu: bytes) -> bytes:
        try:
            command = parse_apdu(bytes(apdu))
        except _BadLength:
            return _sw(SW_WRONG_LENGTH)
        try:
            return self._dispatch(command)
        except CardStateWriteFailed:
            return _sw(SW_MEMORY_FAILURE)
        except CardFileError:
            return _sw(SW_MEMORY_FAILURE)

    def _dispatch(self, c: Apdu) -> bytes:
        if c.cla == 0x00:
            if c.ins == 0xA4:
                return self._select(c)
            if c.ins == 0xB0:
                return self._read_binary(c)
            if c.ins == 0x20:
                return self._verify(c)
            return _sw(SW_INS_NOT_SUPPORTED)
        if c.cla == 0x80:
            if c.ins == 0x2A:
                return self._compute_signature(c)
            return _sw(SW_INS_NOT_SUPPORTED)
        return _sw(SW_CLA_NOT_SUPPORTED)

    # SELECT ---------------------------------------------------------------

    def _select(self, c: Apdu) -> bytes:
        if c.p1 == 0x04:  # by DF name (AID)
            if c.data != JPKI_AID:
                return _sw(SW_FILE_NOT_FOUND)
            self._ap_selected = True
            self._current_ef = None
            return _sw(SW_OK)
        if c.p1 == 0x02:  # EF under the current DF
            if len(c.data) != 2:
                return _sw(SW_WRONG_LENGTH)
            fid = int.from_bytes(c.data, "big")
            known = (EF_AUTH_CERT, EF_SIGN_CERT, EF_AUTH_KEY, EF_AUTH_PIN, EF_SIGN_KEY, EF_SIGN_PASSWORD)
            if not self._ap_selected or fid not in known:
                return _sw(SW_FILE_NOT_FOUND)
            self._current_ef = fid
            return _sw(SW_OK)
        return _sw(SW_WRONG_P1P2)

    # READ BINARY ----------------------------------------------------------

    def _read_binary(self, c: Apdu) -> bytes:
        if self._current_ef is None:
            return _sw(SW_NO_CURRENT_EF)
        if c.p1 & 0x80:  # short EF identifier addressing: not offered
            return _sw(SW_WRONG_P1P2)
        if self._current_ef == EF_AUTH_CERT:
            content = self.file.read().auth_cert_der
        elif self._current_ef == EF_SIGN_CERT:
            # The signing certificate carries the four basic items: readable only
            # after the password, as on the real card.
            if self._sign_key is None:
                return _sw(SW_SECURITY_NOT_SATISFIED)
            content = self.file.read().sign_cert_der
        else:
            return _sw(SW_INCOMPATIBLE_FILE)
        offset = (c.p1 << 8) | c.p2
        if offset > len(content):
            return _sw(SW_WRONG_OFFSET)
        want = c.le if c.le is not None else 256
        chunk = content[offset : offset + want]
        return _sw(SW_OK if len(chunk) == want else SW_END_OF_FILE, chunk)

    # VERIFY ---------------------------------------------------------------

    def _verify(self, c: Apdu) -> bytes:
        if c.p1 != 0x00 or c.p2 != 0x80:
            return _sw(SW_WRONG_P1P2)
        if self._current_ef == EF_AUTH_PIN:
            slot, field, maximum = "auth", "pin_tries_left", PIN_MAX_TRIES
        elif self._current_ef == EF_SIGN_PASSWORD:
            slot, field, maximum = "sign", "password_tries_left", PASSWORD_MAX_TRIES
        elif self._current_ef is None:
            return _sw(SW_NO_CURRENT_EF)
        else:
            return _sw(SW_INCOMPATIBLE_FILE)

        if not c.data:
            # An empty VERIFY asks for the tries left (9000 once verified).
            tries = getattr(self.file.read(), field)
            if tries == 0:
                return _sw(SW_BLOCKED)
            if (self._auth_key if slot == "auth" else self._sign_key) is not None:
                return _sw(SW_OK)
            return _sw(0x63C0 | tries)

        # The procedure a card follows, so that no failure grants a free try:
        # 1. Take the card's lock: no other process reads or writes the counter meanwhile.
        # 2. If the counter is zero, answer "blocked" without looking at the secret.
        # 3. Store the counter minus one, durably. If that fails, stop (6581).
        # 4. Compare the secret (here: decrypt the key with it).
        # 5. If right, store the counter back at its maximum; else answer 63Cx / 6983.
        with self.file.locked():  # 1.
            image = self.file.read()
            tries = getattr(image, field)
            if tries == 0:  # 2.
                return _sw(SW_BLOCKED)
            left = tries - 1
            self.file.write(_with_tries(image, slot, left))  # 3.
            key_blob = image.auth_key if slot == "auth" else image.sign_key
            key = key_blob.decrypt(c.data, image.aad(slot))  # 4.
            if key is None:  # 5.
                self._forget(slot)
                return _sw(SW_BLOCKED if left == 0 else 0x63C0 | left)
            self.file.write(_with_tries(self.file.read(), slot, maximum))
        if slot == "auth":
            self._auth_key = key
        else:
            self._sign_key = key
        return _sw(SW_OK)

    def _forget(self, slot: str) -> None:
        if slot == "auth":
            self._auth_key = None
        else:
            self._sign_key = None

    # COMPUTE DIGITAL SIGNATURE -------------------------------------------

    def _compute_signature(self, c: Apdu) -> bytes:
        if c.p1 != 0x00 or c.p2 != 0x80:
            return _sw(SW_WRONG_P1P2)
        if self._current_ef == EF_AUTH_KEY:
            key, slot, field = self._auth_key, "auth", "pin_tries_left"
        elif self._current_ef == EF_SIGN_KEY:
            key, slot, field = self._sign_key, "sign", "password_tries_left"
        elif self._current_ef is None:
            return _sw(SW_NO_CURRENT_EF)
        else:
            return _sw(SW_INCOMPATIBLE_FILE)
        if key is None:
            return _sw(SW_SECURITY_NOT_SATISFIED)
        # A reset or lock by another process after our VERIFY: honour the lock.
        image: CardImage = self.file.read()
        if getattr(image, field) == 0:
            self._forget(slot)
            return _sw(SW_BLOCKED)
        for prefix, algorithm in DIGEST_INFO_PREFIXES.items():
            if c.data.startswith(prefix) and len(c.data) == len(prefix) + algorithm.digest_size:
                digest = c.data[len(prefix) :]
                signature = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algorithm))
                return _sw(SW_OK, signature)
        return _sw(SW_WRONG_DATA)
