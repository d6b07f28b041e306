"""Errors of the anti-forgery context (back side, QR, scan verification).

::

    AntiforgeryError            root: anything this package refuses
    ├── QrInvalid               QR missing, malformed, unknown kid, bad signature
    ├── ScanRejected            upload is not a readable PNG/JPEG/PDF, too big, a bomb
    └── ScrambleNotFound        no registration marks / scrambled image in the scan

Every error carries a message a receiver at the verification site can act on.
"""

from __future__ import annotations

__all__ = ["AntiforgeryError", "QrInvalid", "ScanRejected", "ScrambleNotFound"]


class AntiforgeryError(Exception):
    """Root of the anti-forgery errors."""

    def diagnostics(self) -> str:
        return str(self)


class QrInvalid(AntiforgeryError):
    """The QR code is absent, malformed, from an unpublished key or not authentic."""


class ScanRejected(AntiforgeryError):
    """The uploaded scan cannot be accepted (format, size, decompression bomb)."""


class ScrambleNotFound(AntiforgeryError):
    """The registration marks of the scrambled image were not found in the scan."""
