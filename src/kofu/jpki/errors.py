"""Errors of the JPKI context (certificate authority, virtual card, OCSP).

Every error raised by ``kofu.jpki`` derives from :class:`JpkiError`; errors from
``cryptography``, ``sqlite3`` and the file system are wrapped where they enter
(``raise … from e``) so callers catch one tree::

    JpkiError
    ├── CaError                      the certificate authority
    │   ├── CaExists                 ``init`` would overwrite an existing CA
    │   ├── CaNotFound               no CA in the directory (run ``kofu jpki init``)
    │   ├── InvalidHolder            the holder file is malformed (names the field)
    │   └── UnknownSerial            no certificate with that serial was issued
    ├── CardError                    the card or the conversation with it
    │   ├── CardFileError            the card file is missing, unreadable or corrupt
    │   ├── CardStateWriteFailed     the tries counter could not be stored; nothing was granted
    │   ├── CardProtocolError        the card answered an APDU with an unexpected status word
    │   ├── WrongPin                 a wrong PIN / password; ``tries_left`` says how many remain
    │   └── CardLocked               no tries left: only a reset at the municipality unlocks
    └── OcspError                    the OCSP responder could not load its keys or data
"""

from __future__ import annotations


class JpkiError(Exception):
    """Root of the JPKI context's errors."""


class CaError(JpkiError):
    """The certificate authority failed."""


class CaExists(CaError):
    """``kofu jpki init`` refuses to overwrite an existing CA."""


class CaNotFound(CaError):
    """The directory holds no CA."""


class InvalidHolder(CaError):
    """The holder description is malformed; the message names the field."""


class UnknownSerial(CaError):
    """No certificate with this serial was issued by this CA."""


class CardError(JpkiError):
    """The card, or the conversation with it, failed."""


class CardFileError(CardError):
    """The card file is missing, unreadable or corrupt."""


class CardStateWriteFailed(CardError):
    """The tries counter could not be written; the card refused the VERIFY.

    A card decrements its counter before it compares the PIN. If that write
    fails the comparison never happens, so a failing disk never grants a
    free try.
    """


class CardProtocolError(CardError):
    """The card answered with an unexpected status word."""

    def __init__(self, message: str, sw: int) -> None:
        super().__init__(f"{message} (SW {sw:04X})")
        self.sw = sw


class WrongPin(CardError):
    """The PIN or password was wrong; ``tries_left`` tries remain before the card locks."""

    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong PIN: {tries_left} tries left before the card locks")
        self.tries_left = tries_left


class CardLocked(CardError):
    """The PIN or password is locked; only a reset at the municipality office unlocks it."""

    def __init__(self, message: str = "the card is locked: ask the municipality office to reset it") -> None:
        super().__init__(message)


class OcspError(JpkiError):
    """The OCSP responder could not load its signer or its data."""
