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

import os
from pathlib import Path
from typing import Final

from kofu.render.errors import FontMissing

MJ_FAMILY: Final = "IPAmjMincho"
"""The family name typst and CSS know the font by."""

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
