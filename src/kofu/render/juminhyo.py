"""住民票の写し: from :class:`JuminhyoDocument` to an A4 PDF.

>>> pdf = render_juminhyo(doc)          # doctest: +SKIP
>>> pdf.pages
1

The layout follows the example in seed 000 (「住民票(例)」): 住所 and 世帯主
on top, then one block per member (氏名 with ふりがな, 生年月日, 性別, 続柄,
住民となった年月日, 住所を定めた年月日, 届出日, 従前の住所), then the
certification sentence, the date, the mayor's name with the seal impression,
and 「N枚中M枚目」 when there is more than one page. Five members fit a page;
the address block repeats on every page so each sheet names its household.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any, Final

from kofu.clock import JST
from kofu.domain.era import EraError, to_wareki
from kofu.render.engine import engine
from kofu.render.errors import InvalidDocument
from kofu.render.fonts import mj_coverage
from kofu.render.model import JuminhyoDocument, JuminhyoMember, RenderedPdf

MEMBERS_PER_PAGE: Final = 5
OMITTED: Final = "省略"
BINDING_KEYWORD: Final = "kofu-binding:"
_BINDING_RE: Final = re.compile(r"[0-9a-f]{64}")
_SEX: Final = {"male": "男", "female": "女"}


def _era(d: Any, what: str) -> str:
    try:
        return to_wareki(d)
    except EraError as e:
        raise InvalidDocument(f"{what}: {e}") from e


def _member(no: int, m: JuminhyoMember, doc: JuminhyoDocument) -> dict[str, Any]:
    if m.sex not in _SEX:
        raise InvalidDocument(f"member {no}: sex must be male or female, got {m.sex!r}")
    if not m.name.strip():
        raise InvalidDocument(f"member {no}: the name is empty")
    return {
        "no": no,
        "name": m.name,
        "kana": m.name_kana,
        "birth": _era(m.birth_date, f"member {no} birth date"),
        "sex": _SEX[m.sex],
        "relationship": m.relationship if doc.show_householder_relationship else OMITTED,
        "became_resident": _era(m.became_resident_on, f"member {no} 住民となった年月日"),
        "address_since": _era(m.address_since, f"member {no} 住所を定めた年月日"),
        "notified": _era(m.notified_on, f"member {no} 届出日"),
        "previous_address": m.previous_address or "",
        # None hides the row; the template never prints 個人番号 for None.
        "individual_number": (m.individual_number or "") if doc.show_individual_number else None,
    }


def juminhyo_data(doc: JuminhyoDocument) -> dict[str, Any]:
    """The view model the template lays out: every value already a printable string."""
    if not doc.members:
        raise InvalidDocument("a 住民票の写し needs at least one member")
    if not _BINDING_RE.fullmatch(doc.binding):
        raise InvalidDocument("binding must be 64 lower-case hex characters")
    if not doc.certificate_serial or any(c.isspace() for c in doc.certificate_serial):
        raise InvalidDocument(
            f"certificate serial {doc.certificate_serial!r} is empty or has spaces"
        )
    if doc.scope == "household":
        title = "世帯全員の住民票の写し"
        sentence = "この写しは、世帯全員の住民票の原本と相違ないことを証明する。"
    elif doc.scope == "members":
        title = "住民票の写し"
        sentence = "この写しは、住民票の原本と相違ないことを証明する。"
    else:
        raise InvalidDocument(f"scope must be household or members, got {doc.scope!r}")
    return {
        "title": title,
        "keywords": [BINDING_KEYWORD + doc.binding, "kofu-serial:" + doc.certificate_serial],
        "municipality": doc.municipality_name,
        "municipality_code": doc.municipality_code,
        "serial": doc.certificate_serial,
        "binding": doc.binding,
        "address": doc.address,
        "householder": doc.householder if doc.show_householder_relationship else OMITTED,
        "domicile": (doc.domicile or "") if doc.show_domicile else OMITTED,
        "domicile_head": (doc.domicile_head or "") if doc.show_domicile else OMITTED,
        "members": [_member(i, m, doc) for i, m in enumerate(doc.members, start=1)],
        "members_per_page": MEMBERS_PER_PAGE,
        "certification": sentence,
        "issued": _era(doc.issued_on, "issue date"),
        "mayor_title": doc.mayor_title,
        "mayor_name": doc.mayor_name,
        "seal_legend": doc.mayor_title + "之印",
    }


def render_juminhyo(doc: JuminhyoDocument) -> RenderedPdf:
    """Render ``doc`` as an A4 PDF with IPAmj明朝 embedded as a subset.

    The same document always gives the same bytes: the PDF's date is the
    issue date (midnight, Japan time), and no system font can take part.
    """
    data = juminhyo_data(doc)
    _check_printable(data)
    stamp = datetime.combine(doc.issued_on, time(0, 0), JST)
    return engine().compile("juminhyo.typ", data, stamp)


def _check_printable(data: dict[str, Any]) -> None:
    """Refuse any string the MJ font would print as an empty box or a wrong glyph."""
    coverage = mj_coverage()
    for key, value in data.items():
        if isinstance(value, str):
            coverage.check(key, value)
    for member in data["members"]:
        for key, value in member.items():
            if isinstance(value, str):
                coverage.check(f"member {member['no']} {key}", value)
