"""Identifiers used across the system.

>>> validate_municipality_code("282286")
'282286'
"""

from __future__ import annotations

import hashlib
from datetime import date
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


def luhn_check_digit(digits: str) -> int:
    """The Luhn (modulus 10) check digit of ``digits``."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def issue_number(serial: str, issued_on: date) -> str:
    """The 証明書番号 printed on a certificate: ``YYYY-NNNNNNN-C``.

    The year of issue, seven digits taken from the certificate serial (the
    long identifier that keys the anti-forgery back and travels in its signed
    QR only) and a Luhn check digit over both, e.g. ``2026-0482913-5``. The
    same serial and date always give the same number, so a re-fetched
    certificate and the verification site (which recomputes it from the
    signed serial and date) print what the first copy printed.

    >>> issue_number("28228600000042", date(2026, 11, 21))
    '2026-6769898-1'
    """
    digest = hashlib.sha256(serial.encode("utf-8")).digest()
    body = f"{issued_on.year:04d}{int.from_bytes(digest[:8], 'big') % 10_000_000:07d}"
    return f"{body[:4]}-{body[4:]}-{luhn_check_digit(body)}"
