"""Errors of the certificate renderer.

Exceptions::

    Exception
     └── RenderError            a certificate could not be rendered
          ├── FontMissing       the MJ font is not installed (names the package)
          ├── InvalidDocument   the values cannot make a valid certificate
          │    │                 (empty household, a malformed binding …)
          │    └── UnprintableCharacter  a character or variation sequence the
          │                      MJ font lacks (it would print as an empty box)
          └── LayoutError       the typst template failed; a bug, not bad data
"""

from __future__ import annotations


class RenderError(Exception):
    """A certificate could not be rendered."""


class FontMissing(RenderError):
    """The IPAmj明朝 font is missing; the message names the package to install."""


class InvalidDocument(RenderError):
    """The document's values cannot make a valid certificate."""


class UnprintableCharacter(InvalidDocument):
    """A string holds a character the MJ font cannot print exactly."""


class LayoutError(RenderError):
    """The typst template failed to compile."""
