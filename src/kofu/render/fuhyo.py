"""戸籍の附票の写し: where each person of one 戸籍 has lived, oldest first."""

from __future__ import annotations

from typing import Any

from kofu.render._common import compile_certificate, era, header_data, nonempty, sex
from kofu.render.errors import InvalidDocument
from kofu.render.model import FuhyoDocument, RenderedPdf


def fuhyo_data(doc: FuhyoDocument) -> dict[str, Any]:
    if not doc.entries:
        raise InvalidDocument("a 戸籍の附票 records at least one person")
    entries = []
    for i, e in enumerate(doc.entries, start=1):
        if not e.addresses:
            raise InvalidDocument(f"附票 entry {i} has no address")
        entries.append(
            {
                "name": nonempty(e.name, f"entry {i} 氏名"),
                "birth": era(e.birth_date, f"entry {i} 生年月日") if e.birth_date else "",
                "sex": sex(e.sex, f"entry {i}") if e.sex else "",
                "addresses": [
                    [nonempty(a, f"entry {i} 住所"), era(d, f"entry {i} 住所を定めた年月日")]
                    for a, d in e.addresses
                ],
            }
        )
    return {
        **header_data(
            doc, "戸籍の附票の写し", "この写しは、戸籍の附票の原本と相違ないことを証明する。"
        ),
        "honseki": nonempty(doc.honseki, "本籍"),
        "head_name": nonempty(doc.head_name, "筆頭者"),
        "entries": entries,
    }


def render_fuhyo(doc: FuhyoDocument) -> RenderedPdf:
    return compile_certificate("fuhyo.typ", fuhyo_data(doc), doc.issued_on)
