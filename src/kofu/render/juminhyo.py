"""住民票の写し: from :class:`JuminhyoDocument` to an A4 PDF.

>>> pdf = render_juminhyo(doc)          # doctest: +SKIP
>>> pdf.pages
1

The layout follows the example in seed 000 (「住民票(例)」): 住所 and 世帯主
on top, then one block per member (氏名 with ふりがな, 生年月日, 性別, 続柄,
住民となった年月日, 住所を定めた年月日, 届出日, 従前の住所, and 個人番号
when the document asks for it), then the certification sentence, the date,
the mayor's name with the seal impression, and 「N枚中M枚目」 when there is
more than one page. Five members fit a page; the address block repeats on
every page so each sheet names its household.
"""

from __future__ import annotations

from typing import Any, Final

from kofu.render._common import BINDING_KEYWORD, compile_certificate, era, header_data, sex
from kofu.render.errors import InvalidDocument
from kofu.render.model import JuminhyoDocument, JuminhyoMember, RenderedPdf

__all__ = ["BINDING_KEYWORD", "MEMBERS_PER_PAGE", "OMITTED", "juminhyo_data", "render_juminhyo"]

MEMBERS_PER_PAGE: Final = 5
OMITTED: Final = "省略"


def member_data(no: int, m: JuminhyoMember, show_relationship: bool = True) -> dict[str, Any]:
    """One member's printable values (shared with the 記載事項証明書)."""
    if not m.name.strip():
        raise InvalidDocument(f"member {no}: the name is empty")
    return {
        "no": no,
        "name": m.name,
        "kana": m.name_kana,
        "birth": era(m.birth_date, f"member {no} birth date"),
        "sex": sex(m.sex, f"member {no}"),
        "relationship": m.relationship if show_relationship else OMITTED,
        "became_resident": era(m.became_resident_on, f"member {no} 住民となった年月日"),
        "address_since": era(m.address_since, f"member {no} 住所を定めた年月日"),
        "notified": era(m.notified_on, f"member {no} 届出日"),
        "previous_address": m.previous_address or "",
        # 異動事由 with its date: 「令和2年4月1日 転入」, 「平成21年7月11日 出生」.
        "change": (
            f"{era(m.change_on, f'member {no} 異動日')}　{m.change_reason}"
            if m.change_reason and m.change_on
            else (m.change_reason or "")
        ),
        "domicile": m.domicile or "",
        "domicile_head": m.domicile_head or "",
    }


def juminhyo_data(doc: JuminhyoDocument) -> dict[str, Any]:
    """The view model the template lays out: every value already a printable string."""
    if not doc.members:
        raise InvalidDocument("a 住民票の写し needs at least one member")
    if doc.scope == "household":
        title = "世帯全員の住民票の写し"
        sentence = "この写しは、世帯全員の住民票の原本と相違ないことを証明する。"
    elif doc.scope == "members":
        title = "住民票の写し"
        sentence = "この写しは、住民票の原本と相違ないことを証明する。"
    else:
        raise InvalidDocument(f"scope must be household or members, got {doc.scope!r}")
    members = []
    for i, m in enumerate(doc.members, start=1):
        row = member_data(i, m, doc.show_householder_relationship)
        # None hides the row: without show_individual_number nothing about it prints.
        row["individual_number"] = (
            (m.individual_number or "") if doc.show_individual_number else None
        )
        members.append(row)
    return {
        **header_data(doc, title, sentence),
        "address": doc.address,
        "householder": doc.householder if doc.show_householder_relationship else OMITTED,
        "domicile": (doc.domicile or "") if doc.show_domicile else OMITTED,
        "domicile_head": (doc.domicile_head or "") if doc.show_domicile else OMITTED,
        "members": members,
        "members_per_page": MEMBERS_PER_PAGE,
    }


def render_juminhyo(doc: JuminhyoDocument) -> RenderedPdf:
    """Render ``doc`` as an A4 PDF with IPAmj明朝 embedded as a subset.

    The same document always gives the same bytes: the PDF's date is the
    issue date (midnight, Japan time), and no system font can take part.
    """
    return compile_certificate("juminhyo.typ", juminhyo_data(doc), doc.issued_on)
