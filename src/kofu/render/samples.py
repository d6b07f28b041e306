"""Sample 住民票 documents for tests, benchmarks and demos.

>>> from kofu.render.samples import household
>>> len(household(7).members)
7

The names exercise what real records hold: a character outside the BMP
(𠮷, U+20BB7) and an Ideographic Variation Sequence (辻 + U+E0102).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any, Literal

from kofu.render.model import JuminhyoDocument, JuminhyoMember

# Seven people, with an out-of-BMP character (𠮷, U+20BB7) and a variation sequence.
NAMES: list[tuple[str, str, str, Literal["male", "female"], date]] = [
    ("山田 太郎", "やまだ たろう", "世帯主", "male", date(1958, 3, 14)),
    ("山田 花子", "やまだ はなこ", "妻", "female", date(1960, 12, 1)),
    ("山田 一郎", "やまだ いちろう", "子", "male", date(1989, 1, 7)),
    ("山田 𠮷子", "やまだ よしこ", "子", "female", date(1989, 1, 8)),
    ("山田 辻\U000e0102平", "やまだ つじへい", "子", "male", date(2019, 5, 1)),
    ("山田 ハル", "やまだ はる", "母", "female", date(1926, 12, 24)),
    ("山田 六郎", "やまだ ろくろう", "子", "male", date(2020, 2, 29)),
]
BINDING = "0123456789abcdef" * 4


def member(i: int, name: str | None = None) -> JuminhyoMember:
    """The i-th sample person (cycling through seven)."""
    n, kana, rel, sex, born = NAMES[i % len(NAMES)]
    return JuminhyoMember(
        name=name if name is not None else n,
        name_kana=kana,
        birth_date=born,
        sex=sex,
        relationship=rel,
        became_resident_on=date(2001, 4, 1),
        address_since=date(2001, 4, 1),
        notified_on=date(2001, 4, 10),
        previous_address="兵庫県三木市上の丸町10番30号" if i % 2 == 0 else None,
    )


def document(members: tuple[JuminhyoMember, ...], **changes: Any) -> JuminhyoDocument:
    """A 加東市 document for ``members``, with ``changes`` applied."""
    doc = JuminhyoDocument(
        municipality_code="282286",
        municipality_name="加東市",
        mayor_title="加東市長",
        mayor_name="安田 正義",
        address="兵庫県加東市社50番地",
        householder="山田 太郎",
        domicile="兵庫県加東市社50番地",
        domicile_head="山田 太郎",
        members=members,
        show_householder_relationship=True,
        show_domicile=False,
        issued_on=date(2026, 11, 21),
        certificate_serial="28228600000042",
        binding=BINDING,
    )
    return replace(doc, **changes)


def household(n: int, **changes: Any) -> JuminhyoDocument:
    """A document for the first ``n`` sample people, with ``changes`` applied."""
    return document(tuple(member(i) for i in range(n)), **changes)
