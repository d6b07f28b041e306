"""The issuer's service errors, and what the SOAP edge makes of each (``issuer.app.to_fault``).

Errors::

    IssuerError
     ├── IssuanceRefused         the rules refuse (carries the Refusal: operator code, neutral text)
     ├── BadRequest              the request contradicts the offer or itself (code, message)
     ├── SerialConflict          a 電文通番 reused with different parameters
     ├── UnknownIssuance         no issuance with that id
     ├── UnknownRecord           no such municipality or resident in this issuer's data
     │                           (the local ``kofu issuer render``; never over the wide-area interface)
     ├── StateConflict           the issuance is in a state that forbids this (code)
     ├── TemporarilyUnavailable  a transient failure here (seal, renderer, database); retry
     └── Unprintable             the records cannot be printed exactly; staff must fix the data

The names differ from the center's (:mod:`kofu.center.errors`: ``Refused``,
``IssuerUnavailable``), which are what the center makes of the faults these become.
"""

from __future__ import annotations

from kofu.domain.rules import Refusal


class IssuerError(Exception):
    """Root of the issuer's service errors."""


class IssuanceRefused(IssuerError):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"refused: {refusal.code.value}")
        self.refusal = refusal


class _Coded(IssuerError):
    """An error with a machine-readable ``code`` (the SOAP fault's Code) beside its message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class BadRequest(_Coded):
    """The request contradicts the offer or itself."""


class SerialConflict(IssuerError):
    """The message serial was already used for a different request."""


class UnknownIssuance(IssuerError):
    """No issuance with that id."""


class UnknownRecord(IssuerError):
    """No such municipality, or no such resident in it."""


class StateConflict(_Coded):
    """The issuance is in a state that forbids this."""


class TemporarilyUnavailable(IssuerError):
    """Transient: the same request (same serial) may succeed later."""


class Unprintable(IssuerError):
    """Not transient: the records hold what the certificate cannot print exactly."""
