"""戸籍の附票の写し: where each person of one 戸籍 has lived while in it, oldest first.

Since 令和4年1月11日 (住民基本台帳法 改正) 本籍 and 筆頭者 are printed only
when the applicant asks for them; otherwise they read 「省略」. ``scope``
``some`` (一部) lists only the chosen persons and says so in the title.
"""

from __future__ import annotations

from typing import Any

from kofu.render._common import compile_certificate, era, header_data, nonempty, sex
from kofu.render.errors import InvalidDocument
from kofu.render.model import FuhyoDocument, RenderedPdf

OMITTED = "省略"

TITLES = {"all": "戸籍の附票の写し", "some": "戸籍の附票の写し（一部）"}
SENTENCES = {
    "all": "この写しは、戸籍の附票の原本と相違ないことを証明する。",
    "some": "この写しは、戸籍の附票の原本のうち請求のあった者の記載と相違ないことを証明する。",
}


def fuhyo_data(doc: FuhyoDocument) -> dict[str, Any]:
    if doc.scope not in TITLES:
        raise InvalidDocument(f"scope must be all or some, got {doc.scope!r}")
    if not doc.entries:
        raise InvalidDocument("a 戸籍の附票 records at least one person")
    if (doc.honseki is None) != (doc.head_name is None):
        raise InvalidDocument("本籍 and 筆頭者 are printed together or omitted together")
    entries = []
    for i, e in enumerate(doc.entries, start=1):
        if not e.addresses:
            raise InvalidDocument(f"附票 entry {i} has no address")
        entries.append(
            {
                "name": nonempty(e.name, f"entry {i} 氏名"),
                "birth": era(e.birth_date, f"entry {i} 生年月日") if e.birth_date else "",
                "sex": sex(e.sex, f"entry {i}") if e.sex else "",
                "removed": e.removed,
                "addresses": [
                    [nonempty(a, f"entry {i} 住所"), era(d, f"entry {i} 住所を定めた年月日")]
                    for a, d in e.addresses
                ],
            }
        )
    return {
        **header_data(doc, TITLES[doc.scope], SENTENCES[doc.scope]),
        "honseki": OMITTED if doc.honseki is None else nonempty(doc.honseki, "本籍"),
        "head_name": OMITTED if doc.head_name is None else nonempty(doc.head_name, "筆頭者"),
        "entries": entries,
    }


def render_fuhyo(doc: FuhyoDocument) -> RenderedPdf:
    return compile_certificate("fuhyo.typ", fuhyo_data(doc), doc.issued_on)
