"""Errors of the anti-forgery context.

::

    Exception
     └── AntiforgeryError        any failure of this package
          ├── QrInvalid          no QR, malformed, unknown key id, bad signature
          │    └── QrMissing     no QR code could be read at all
          ├── ScanRejected       not a readable PNG/JPEG/PDF, an image bomb, too large
          └── ScrambleNotFound   a readable scan without the registration marks
               │                 of a scrambled image (wrong side, cropped, too blurred)
               └── Unjudgeable   a scan or photo too coarse, too blurred or too oblique
                                 to judge (kofu.antiforgery.quality)

Each error carries ``diagnostics``: short, human-readable notes on what was
seen, for the verification page and ``kofu verify --json``.
"""

from __future__ import annotations

from collections.abc import Iterable


class AntiforgeryError(Exception):
    """Any failure of kofu.antiforgery; ``str(e)`` says what to do."""

    def __init__(self, message: str, diagnostics: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.diagnostics: tuple[str, ...] = tuple(diagnostics)


class QrInvalid(AntiforgeryError):
    """The QR code is missing, malformed, signed by an unknown key, or its signature fails."""


class QrMissing(QrInvalid):
    """No QR code could be read on the scan at all (as opposed to one that reads but is
    malformed or does not verify)."""


class ScanRejected(AntiforgeryError):
    """The upload is not a scan we can read safely (format, size, decoded pixels)."""


class ScrambleNotFound(AntiforgeryError):
    """The scan is an image, but no scrambled image with its four marks was found in it."""


class Unjudgeable(ScrambleNotFound):
    """A scan or photo too coarse (too small in the frame), too blurred or too oblique to
    judge; the message says which and what to do."""
