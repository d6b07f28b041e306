"""Where the 文字情報基盤 (MJ) font lives.

Certificates print names in IPAmj明朝, the font of the 文字情報基盤 project,
which covers the MJ character set including characters outside the BMP and
the Ideographic Variation Sequences a person's registered name may need.
Debian ships it as ``fonts-ipamj-mincho``. ``KOFU_MJ_FONT`` may point at the
``ipamjm.ttf`` file elsewhere.

>>> mj_font_file().name       # doctest: +SKIP
'ipamjm.ttf'
"""

from __future__ import annotations

import functools
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from kofu.render.errors import FontMissing, UnprintableCharacter

_CANDIDATES: Final = (
    Path("/usr/share/fonts/truetype/ipamj/ipamjm.ttf"),
    Path("/usr/share/fonts/opentype/ipamj/ipamjm.ttf"),
    Path("/usr/local/share/fonts/ipamjm.ttf"),
)


def mj_font_file() -> Path:
    """The IPAmj明朝 font file; raises FontMissing naming the package to install."""
    override = os.environ.get("KOFU_MJ_FONT")
    if override:
        path = Path(override)
        if path.is_file():
            return path
        raise FontMissing(f"KOFU_MJ_FONT={override} is not a file; point it at ipamjm.ttf")
    for path in _CANDIDATES:
        if path.is_file():
            return path
    raise FontMissing(
        "the IPAmj明朝 font (ipamjm.ttf) is not installed; install the Debian package "
        "fonts-ipamj-mincho (`apt-get install fonts-ipamj-mincho`, or `make setup`) "
        "or set KOFU_MJ_FONT to the file"
    )


def mj_font_dir() -> Path:
    """The folder holding the MJ font (typst searches folders, not single files)."""
    return mj_font_file().parent


def _is_selector(cp: int) -> bool:
    return 0xE0100 <= cp <= 0xE01EF or 0xFE00 <= cp <= 0xFE0F


@dataclass(frozen=True)
class FontCoverage:
    """Which characters and variation sequences the MJ font can print.

    typst draws an empty box for a character the font lacks, without a
    warning, and falls back to the base glyph for an unknown variation
    sequence. A certificate must print each name exactly, so the renderer
    checks every string against this first and refuses what would be wrong.
    """

    codepoints: frozenset[int]
    sequences: frozenset[tuple[int, int]]
    """(base character, variation selector) pairs in the font's cmap format 14."""

    def check(self, what: str, text: str) -> None:
        """Raise UnprintableCharacter naming the first character ``text`` cannot print."""
        chars = [ord(c) for c in text]
        for i, cp in enumerate(chars):
            if _is_selector(cp):
                base = chars[i - 1] if i > 0 else None
                if base is None or (base, cp) not in self.sequences:
                    shown = "" if base is None else chr(base)
                    raise UnprintableCharacter(
                        f"{what}: the variation sequence {shown}+U+{cp:04X} is not in "
                        f"IPAmj明朝, so {text!r} cannot be printed exactly"
                    )
                continue
            if cp in self.codepoints or unicodedata.category(chr(cp)) == "Zs":
                continue
            raise UnprintableCharacter(
                f"{what}: {chr(cp)!r} (U+{cp:04X}) is not in IPAmj明朝, so {text!r} "
                "cannot be printed; correct the record or use the MJ character"
            )


@functools.cache
def mj_coverage() -> FontCoverage:
    """The MJ font's coverage, read once per process (about 0.1 s)."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(mj_font_file()), lazy=True)
    try:
        cmap = font.getBestCmap() or {}
        sequences: set[tuple[int, int]] = set()
        for table in font["cmap"].tables:
            if table.format == 14:
                for selector, pairs in table.uvsDict.items():
                    sequences.update((base, selector) for base, _glyph in pairs)
    finally:
        font.close()
    return FontCoverage(frozenset(cmap), frozenset(sequences))
