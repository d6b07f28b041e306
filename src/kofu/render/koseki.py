"""戸籍証明書: 全部事項証明書 (everyone in the 戸籍) and 個人事項証明書 (the persons chosen
from it, by default the applicant).

The computerised (横書き) layout of 戸籍法施行規則 付録第22号様式: 本籍 and
氏名 of the 筆頭者, the 戸籍事項, then one block per person recorded
(戸籍に記録されている者) with 【名】 (the given name only), 【生年月日】,
【配偶者区分】 (夫/妻, for a married person), 【父】, 【母】, 【続柄】 (to the birth
parents), for an adoptee 【養父】, 【養母】 and 【続柄】 養子/養女, then the
身分事項, and 「除　籍」 beside anyone who has left it.
"""

from __future__ import annotations

from typing import Any

from kofu.render._common import compile_certificate, era, header_data, nonempty, sex
from kofu.render.errors import InvalidDocument
from kofu.render.model import KosekiDocument, KosekiPerson, RenderedPdf

SENTENCES = {
    "all": ("戸籍全部事項証明書", "これは、戸籍に記録されている事項の全部を証明した書面である。"),
    "self": (
        "戸籍個人事項証明書",
        "これは、戸籍中の一部の者について記録されている事項を証明した書面である。",
    ),
}


def _events(events: tuple[tuple[str, str], ...]) -> list[list[Any]]:
    """(label, text) pairs; a text's lines (【出生日】…, 【出生地】…) print as lines."""
    return [[label, [line for line in text.split("\n") if line.strip()]] for label, text in events]


def _spouse_role(value: str, where: str) -> str:
    if value not in ("", "夫", "妻"):
        raise InvalidDocument(f"{where}: 配偶者区分 must be 夫 or 妻, got {value!r}")
    return value


def _adoptive(p: KosekiPerson, where: str) -> str:
    if p.adoptive_relationship not in ("", "養子", "養女"):
        raise InvalidDocument(f"{where}: the 続柄 to adoptive parents is 養子 or 養女, got {p.adoptive_relationship!r}")
    if p.adoptive_relationship and not (p.adoptive_father or p.adoptive_mother):
        raise InvalidDocument(f"{where}: {p.adoptive_relationship} without a 養父 or 養母")
    if (p.adoptive_father or p.adoptive_mother) and not p.adoptive_relationship:
        raise InvalidDocument(f"{where}: 養父・養母 without their 続柄 (養子 or 養女)")
    return p.adoptive_relationship


def _person(p: KosekiPerson, where: str) -> dict[str, Any]:
    return {
        "name": nonempty(p.name, f"{where} 名"),
        "birth": era(p.birth_date, f"{where} 生年月日"),
        "sex": sex(p.sex, where),
        "spouse_role": _spouse_role(p.spouse_role, where),
        "father": p.father,
        "mother": p.mother,
        "relationship": p.relationship,
        "adoptive_father": p.adoptive_father,
        "adoptive_mother": p.adoptive_mother,
        "adoptive_relationship": _adoptive(p, where),
        "events": _events(p.events),
        "removed": p.removed,
    }


def koseki_data(doc: KosekiDocument) -> dict[str, Any]:
    if doc.scope not in SENTENCES:
        raise InvalidDocument(f"scope must be all or self, got {doc.scope!r}")
    if not doc.persons:
        raise InvalidDocument("a 戸籍 records at least one person")
    if doc.scope == "self":
        indices = doc.chosen or (doc.self_index,)
        for i in indices:
            if not 0 <= i < len(doc.persons):
                raise InvalidDocument(f"person index {i} is not one of the {len(doc.persons)} persons")
        if list(indices) != sorted(set(indices)):
            raise InvalidDocument(f"chosen persons {indices} must be distinct and in register order")
        persons = [_person(doc.persons[i], f"person {i + 1}") for i in indices]
    else:
        persons = [_person(p, f"person {i + 1}") for i, p in enumerate(doc.persons)]
    title, sentence = SENTENCES[doc.scope]
    return {
        **header_data(doc, title, sentence),
        "honseki": nonempty(doc.honseki, "本籍"),
        "head_name": nonempty(doc.head_name, "筆頭者"),
        "koseki_events": _events(doc.koseki_events),
        "persons": persons,
    }


def render_koseki(doc: KosekiDocument) -> RenderedPdf:
    return compile_certificate("koseki.typ", koseki_data(doc), doc.issued_on)
