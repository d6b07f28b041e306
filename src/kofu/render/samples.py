"""Sample documents of every kind for tests, benchmarks and demos.

>>> from kofu.render.samples import household, koseki
>>> len(household(7).members)
7
>>> koseki().scope
'all'

``household`` and ``document`` make 住民票の写し; ``kisai``, ``inkan``,
``tax_shotoku``, ``tax_nozei``, ``koseki`` and ``fuhyo`` make the other kinds;
``seal_impression_png`` draws a registered seal (印影) for ``inkan``.

The names exercise what real records hold: a character outside the BMP
(𠮷, U+20BB7) and an Ideographic Variation Sequence (辻 + U+E0102).
"""

from __future__ import annotations

import functools
import io
from dataclasses import replace
from datetime import date, timedelta
from typing import Any, Final, Literal

from kofu.domain.tax import Dependant, LocalRate, TaxReturn, assess, due_date, instalments
from kofu.render.model import (
    FuhyoDocument,
    FuhyoEntry,
    InkanDocument,
    JuminhyoDocument,
    JuminhyoMember,
    KisaiDocument,
    KosekiDocument,
    KosekiPerson,
    TaxCertificateDocument,
    TaxItem,
)

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


HEADER: Final[dict[str, Any]] = {
    "municipality_code": "282286",
    "municipality_name": "加東市",
    "mayor_title": "加東市長",
    "mayor_name": "安田 正義",
    "issued_on": date(2026, 11, 21),
    "certificate_serial": "28228600000042",
    "binding": BINDING,
}
"""The fields every sample certificate shares (加東市, 令和8年11月21日)."""


def kisai(n: int = 2, **changes: Any) -> KisaiDocument:
    """住民票記載事項証明書 of the first ``n`` sample people: 氏名, 生年月日, 性別, 住所."""
    doc = KisaiDocument(
        **HEADER,
        address="兵庫県加東市社50番地",
        members=tuple(member(i) for i in range(n)),
        items=("氏名", "生年月日", "性別", "住所", "住所を定めた年月日"),
        purpose="勤務先提出用",
    )
    return replace(doc, **changes)


@functools.cache
def seal_impression_png(surname: str, diameter_mm: float = 15.0, dpi: int = 300) -> bytes:
    """A round red 印影 of ``surname``, read top to bottom, as a PNG at ``dpi``.

    Drawn with Pillow and the MJ font (no downloaded asset), and deterministic:
    the same surname always gives the same bytes. The PNG records its
    resolution, so the renderer prints it at its real size.
    """
    from PIL import Image, ImageDraw, ImageFont

    from kofu.render.fonts import mj_font_file

    px = round(diameter_mm / 25.4 * dpi)
    red = (200, 16, 32, 255)
    image = Image.new("RGBA", (px, px), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    ring = max(2, px // 28)
    draw.ellipse((ring, ring, px - ring - 1, px - ring - 1), outline=red, width=ring)
    chars = list(surname.replace(" ", "").replace("\u3000", "")) or ["印"]
    # Characters stack vertically inside the ring, squeezed to fit as seal carvers do.
    inner = px - 6 * ring
    cell = inner / len(chars)
    size = round(min(inner * 0.78, cell * 1.05))
    font = ImageFont.truetype(str(mj_font_file()), size)
    for i, ch in enumerate(chars):
        glyph = Image.new("RGBA", (size, size), (255, 255, 255, 0))
        ImageDraw.Draw(glyph).text((size / 2, size / 2), ch, font=font, fill=red, anchor="mm")
        height = max(1, round(cell))
        glyph = glyph.resize((size, height))
        y = round(3 * ring + i * cell)
        image.alpha_composite(glyph, ((px - size) // 2, y))
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=False)
    return out.getvalue()


def inkan(**changes: Any) -> InkanDocument:
    """印鑑登録証明書 of 山田 太郎 with a 15 mm round seal."""
    doc = InkanDocument(
        **HEADER,
        name="山田 太郎",
        name_kana="やまだ たろう",
        birth_date=date(1958, 3, 14),
        sex="male",
        address="兵庫県加東市社50番地",
        registration_number="10234",
        seal_image_png=seal_impression_png("山田"),
    )
    return replace(doc, **changes)


TAXPAYER: Final[dict[str, Any]] = {
    "fiscal_year": 2026,
    "name": "山田 太郎",
    "address": "兵庫県加東市社50番地",
    "birth_date": date(1958, 3, 14),
}
"""Whom the sample tax certificates are for, and the year (令和8年度)."""


TAX_RETURN: Final = TaxReturn(
    fiscal_year=2026,
    salary_revenue=4_812_345,
    other_incomes=(("事業所得", 120_500),),
    deductions=(("社会保険料控除", 512_345), ("生命保険料控除", 28_000)),
    spouse=Dependant(date(1960, 12, 1), income=0),
    dependants=(Dependant(date(2004, 6, 1)), Dependant(date(2012, 9, 9)), Dependant(date(1950, 1, 1), cohabiting_parent=True)),
    tax_credits=(("住宅借入金等特別税額控除", 12_345),),
    local_rates=(LocalRate("県民緑税", 2006, 2030, per_capita=(0, 800)),),
)
"""山田 太郎's raw figures for 令和8年度: salary, a small business, a spouse, a
student (特定), a child under 16 (年少), a parent living with him (同居老親等)
and a housing-loan credit; 加東市 is in 兵庫県, whose 県民緑税 adds 800 円 to the
県民税 均等割 (超過課税, 平成18年度〜令和12年度)."""


def tax_shotoku(*, exempt: bool = False, fiscal_year: int = 2026, **changes: Any) -> TaxCertificateDocument:
    """所得・課税証明書 of 山田 太郎 for 令和8年度 (令和7年中の所得).

    ``exempt``: a single income of 1,000,000 円 in salary, under every 非課税限度額.
    """
    raw = replace(TAX_RETURN, fiscal_year=fiscal_year)
    if exempt:
        raw = TaxReturn(fiscal_year=fiscal_year, salary_revenue=1_000_000)
    doc = TaxCertificateDocument(
        **HEADER,
        **{**TAXPAYER, "fiscal_year": fiscal_year},
        tax_kind="shotoku",
        assessment=assess(raw),
    )
    return replace(doc, **changes)


def tax_nozei(**changes: Any) -> TaxCertificateDocument:
    """納税証明書 of 山田 太郎 for 令和8年度: four 期 of 市民税・県民税, the last
    two unpaid, and 軽自動車税 in one sum (its 納期限 moved off a Sunday)."""
    resident = instalments(
        235_300, 118_300, (date(2026, 6, 30), date(2026, 8, 31), date(2026, 11, 2), date(2027, 2, 1))
    )
    items = [
        TaxItem("市民税・県民税(普通徴収)", 2026, i.amount, i.paid, i.unpaid, i.due_on, i.period)
        for i in resident
    ]
    items.append(TaxItem("軽自動車税(種別割)", 2026, 10_800, 10_800, 0, due_date(date(2026, 5, 31))))
    doc = TaxCertificateDocument(
        **HEADER,
        **TAXPAYER,
        tax_kind="nozei",
        tax_items=tuple(items),
    )
    return replace(doc, **changes)


def koseki_person(i: int) -> KosekiPerson:
    """The i-th sample person of the 山田 family register (cycling through seven).

    0 山田 太郎 (筆頭者, 夫; born in 加東郡社町, which became 加東市 in 2006)
    married 1 花子 (妻, from the 佐藤 register of 三木市) in 1985, which made
    the register in 三木市; the others are their children, 2 and 3 twins born
    either side of midnight on 昭和64年1月7日; 3 (𠮷子) married out and is marked
    除籍. The register moved to 加東市 later (転籍, see :func:`koseki`).
    """
    name, _kana, _rel, sex, born = NAMES[i % len(NAMES)]
    k = i % len(NAMES)
    relationship = ["長男", "長女", "長男", "長女", "二男", "二女", "三男"][k]
    # 出生地 as the place was called then.
    place = {0: "兵庫県加東郡社町", 1: "兵庫県三木市", 2: "兵庫県三木市", 3: "兵庫県三木市"}.get(k, "兵庫県加東市")
    notified = born + timedelta(days=7) if k != 2 else born + timedelta(days=8)  # the twins' one 届出
    events: list[tuple[str, str]] = [
        ("出生", f"【出生日】{_wareki(born)}\n【出生地】{place}\n"
                 f"【届出日】{_wareki(notified)}\n【届出人】父"),
    ]
    removed = False
    spouse_role = ""
    if k == 0:
        spouse_role = "夫"
        events.append(("婚姻", "【婚姻日】昭和60年5月3日\n【配偶者氏名】佐藤 花子\n"
                               "【従前戸籍】兵庫県加東郡社町社50番地 山田 一"))
    if k == 1:
        spouse_role = "妻"
        events.append(
            (
                "婚姻",
                "【婚姻日】昭和60年5月3日\n【配偶者氏名】山田 太郎\n【従前戸籍】兵庫県三木市上の丸町10番地 佐藤 一郎",
            )
        )
    if k == 3:
        events.append(
            (
                "婚姻",
                "【婚姻日】令和5年10月10日\n【配偶者氏名】鈴木 次郎\n【新本籍】大阪府大阪市北区中之島一丁目3番\n"
                "【称する氏】夫の氏",
            )
        )
        removed = True
    parents = {0: ("山田 一", "山田 ハル"), 1: ("佐藤 一郎", "佐藤 ハナ")}.get(k, ("山田 太郎", "山田 花子"))
    return KosekiPerson(
        name=name.split(" ", 1)[1],
        birth_date=born,
        sex=sex,
        father=parents[0],
        mother=parents[1],
        relationship=relationship,
        events=tuple(events),
        removed=removed,
        spouse_role=spouse_role,
    )


def _wareki(d: date) -> str:
    from kofu.domain.era import to_wareki

    return to_wareki(d)


def koseki(n: int = 4, **changes: Any) -> KosekiDocument:
    """全部事項証明書 of the 山田 register with the first ``n`` sample people.

    Person 4 (山田 𠮷子) married out and is marked 除籍.
    """
    doc = KosekiDocument(
        **HEADER,
        scope="all",
        honseki="兵庫県加東市社50番地",
        head_name="山田 太郎",
        # Made by the marriage in 三木市 (1985), moved to 加東市 after it was formed
        # (平成18年3月20日): a register that came by 転籍 shows the 転籍, no 編製.
        koseki_events=(("転籍", "【転籍日】平成20年4月1日\n【従前本籍】兵庫県三木市大塚一丁目5番地"),),
        persons=tuple(koseki_person(i) for i in range(n)),
    )
    return replace(doc, **changes)


def fuhyo(n: int = 3, **changes: Any) -> FuhyoDocument:
    """戸籍の附票の写し of the 山田 register: the first ``n`` people and their moves.

    The register came to 加東市 by 転籍 on 平成20年4月1日 (:func:`koseki`), so its 附票
    starts there: each person's address then, with the day it was set (the family had
    lived at 社50番地 since 平成13年, in 社町 before the merger), and later moves."""
    entries = []
    for i in range(n):
        name, _kana, _rel, sex, born = NAMES[i % len(NAMES)]
        addresses = [("兵庫県加東市社50番地", max(born, date(2001, 4, 1)))]
        if i == 2:  # 一郎 moved out within the city, staying in the register
            addresses.append(("兵庫県加東市河高1816番地", date(2015, 4, 1)))
        entries.append(FuhyoEntry(name=name, addresses=tuple(addresses), birth_date=born, sex=sex))
    doc = FuhyoDocument(
        **HEADER, honseki="兵庫県加東市社50番地", head_name="山田 太郎", entries=tuple(entries)
    )
    return replace(doc, **changes)
