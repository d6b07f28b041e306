"""住民票記載事項証明書: the chosen items of the chosen members, certified.

>>> render_kisai(doc).pages        # doctest: +SKIP
1
"""

from __future__ import annotations

from typing import Any

from kofu.render._common import compile_certificate, header_data
from kofu.render.errors import InvalidDocument
from kofu.render.juminhyo import member_data
from kofu.render.model import KISAI_ITEMS, KisaiDocument, RenderedPdf

# The item names as printed → the keys of juminhyo.member_data's rows.
_KEYS = {
    "氏名": "name",
    "ふりがな": "kana",
    "生年月日": "birth",
    "性別": "sex",
    "続柄": "relationship",
    "住民となった年月日": "became_resident",
    "住所を定めた年月日": "address_since",
    "届出日": "notified",
    "従前の住所": "previous_address",
    "本籍": "domicile",
    "筆頭者": "domicile_head",
}
# Items of the household, printed once above the members.
_HOUSEHOLD_ITEMS = ("住所", "世帯主")


def kisai_data(doc: KisaiDocument) -> dict[str, Any]:
    if not doc.members:
        raise InvalidDocument("a 住民票記載事項証明書 needs at least one member")
    unknown = [i for i in doc.items if i not in KISAI_ITEMS]
    if unknown:
        raise InvalidDocument(f"unknown 記載事項 {unknown}; known: {', '.join(KISAI_ITEMS)}")
    items = [i for i in KISAI_ITEMS if i in doc.items or i == "氏名"]  # 氏名 always, in print order
    columns = [i for i in items if i not in _HOUSEHOLD_ITEMS]
    rows = []
    for no, m in enumerate(doc.members, start=1):
        values = member_data(no, m)
        rows.append([values[_KEYS[c]] for c in columns])
    return {
        **header_data(
            doc, "住民票記載事項証明書", "上記の事項は、住民票の記載事項と相違ないことを証明する。"
        ),
        "address": doc.address if "住所" in items else None,
        "householder": doc.householder if "世帯主" in items else None,
        "columns": columns,
        "rows": rows,
        "purpose": doc.purpose or "",
    }


def render_kisai(doc: KisaiDocument) -> RenderedPdf:
    return compile_certificate("kisai.typ", kisai_data(doc), doc.issued_on)
