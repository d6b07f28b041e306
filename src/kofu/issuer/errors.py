"""The issuer's service errors, and what the SOAP edge makes of each (``issuer.app.to_fault``).

Errors::

    IssuerError
     ├── Refused           the rules refuse (carries the Refusal: operator code, neutral text)
     ├── InvalidRequest    the request contradicts the offer or itself (code, message)
     ├── SerialConflict    a 電文通番 reused with different parameters
     ├── UnknownIssuance   no issuance with that id
     ├── UnknownRecord     no such municipality or resident in this issuer's data
     │                     (the local ``kofu issuer render``; never over the wide-area interface)
     ├── StateConflict     the issuance is in a state that forbids this (code)
     ├── IssuerUnavailable a transient failure here (seal, renderer, database); retry
     └── Unprintable       the records cannot be printed exactly; staff must fix the data
"""

from __future__ import annotations

from kofu.domain.rules import Refusal


class IssuerError(Exception):
    """Root of the issuer's service errors."""


class Refused(IssuerError):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"refused: {refusal.code.value}")
        self.refusal = refusal


class InvalidRequest(IssuerError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SerialConflict(IssuerError):
    """The message serial was already used for a different request."""


class UnknownIssuance(IssuerError):
    pass


class UnknownRecord(IssuerError):
    """No such municipality, or no such resident in it."""


class StateConflict(IssuerError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class IssuerUnavailable(IssuerError):
    """Transient: the same request (same serial) may succeed later."""


class Unprintable(IssuerError):
    """Not transient: the records hold what the certificate cannot print exactly."""
