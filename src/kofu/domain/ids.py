"""Identifiers used across the system.

>>> validate_municipality_code("282286")
'282286'
"""

from __future__ import annotations

from typing import NewType

MunicipalityCode = NewType("MunicipalityCode", str)
"""全国地方公共団体コード: 5 digits plus a check digit."""

CertSerial = NewType("CertSerial", str)
"""A certificate serial number, lower-case hex without separators."""

MessageSerial = NewType("MessageSerial", str)
"""電文通番: the idempotency key of one wide-area request."""

ResidentLink = NewType("ResidentLink", str)
"""The opaque id JPKI gives a card holder; the issuer maps it to a resident."""


class InvalidIdentifier(ValueError):
    """An identifier is malformed; the message says which and why."""


def municipality_check_digit(first5: str) -> int:
    """The check digit of a 全国地方公共団体コード (modulus 11, weights 6..2).

    Defined by the 総務省 code specification: sum the five digits weighted
    6, 5, 4, 3, 2; the check digit is the last digit of 11 minus the
    remainder mod 11 (埼玉県 110001: remainder 0 gives 1; 栃木県 090000:
    remainder 1 gives 0).
    """
    if len(first5) != 5 or not first5.isascii() or not first5.isdigit():
        raise InvalidIdentifier(f"expected 5 digits, got {first5!r}")
    total = sum(int(d) * w for d, w in zip(first5, (6, 5, 4, 3, 2), strict=True))
    remainder = total % 11
    return (11 - remainder) % 10


def validate_municipality_code(code: str) -> MunicipalityCode:
    """Return ``code`` if it is a valid 6-digit municipality code, else raise."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise InvalidIdentifier(f"municipality code must be 6 digits, got {code!r}")
    expected = municipality_check_digit(code[:5])
    if int(code[5]) != expected:
        raise InvalidIdentifier(
            f"municipality code {code} has check digit {code[5]}, expected {expected}"
        )
    return MunicipalityCode(code)
