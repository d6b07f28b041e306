"""印鑑登録証明書: the registered seal impression, with the holder's particulars.

The impression is the PNG the municipality registered; it passes to typst as
bytes (a JSON array of integers, since ``sys.inputs`` carries only strings)
and is printed in a bordered box no larger than 25 mm.
"""

from __future__ import annotations

import struct
from typing import Any

from kofu.render._common import compile_certificate, era, header_data, nonempty, sex
from kofu.render.errors import InvalidDocument
from kofu.render.model import InkanDocument, RenderedPdf

MAX_SEAL_MM = 25.0
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size_mm(png: bytes) -> tuple[float, float] | None:
    """The PNG's printed size when it records its resolution (pHYs in metres), else None."""
    if not png.startswith(_PNG_MAGIC) or len(png) < 33:
        raise InvalidDocument("the seal impression is not a PNG image")
    width, height = struct.unpack(">II", png[16:24])
    pos = 8
    while pos + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        if kind == b"pHYs" and length == 9:
            ppu_x, ppu_y, unit = struct.unpack(">IIB", png[pos + 8 : pos + 17])
            if unit == 1 and ppu_x and ppu_y:
                return width / ppu_x * 1000, height / ppu_y * 1000
        if kind in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    return None


def inkan_data(doc: InkanDocument) -> dict[str, Any]:
    size = _png_size_mm(doc.seal_image_png)
    if size is not None:
        scale = min(1.0, MAX_SEAL_MM / max(size))
        width_mm = size[0] * scale
    else:
        width_mm = MAX_SEAL_MM
    return {
        **header_data(
            doc, "印鑑登録証明書", "この写しは、登録されている印影と相違ないことを証明する。"
        ),
        "seal_png": list(doc.seal_image_png),
        "seal_width_mm": round(width_mm, 2),
        "registration_number": nonempty(doc.registration_number, "登録番号"),
        "name": nonempty(doc.name, "氏名"),
        "kana": doc.name_kana,
        "birth": era(doc.birth_date, "生年月日"),
        "sex": sex(doc.sex, "性別"),
        "address": nonempty(doc.address, "住所"),
    }


def render_inkan(doc: InkanDocument) -> RenderedPdf:
    return compile_certificate("inkan.typ", inkan_data(doc), doc.issued_on)
