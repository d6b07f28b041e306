"""The values a certificate is rendered from.

The issuer fills these from its resident records; the renderer only lays them
out. Strings are printed exactly as given (MJ characters, variation sequences
and typst markup characters alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from kofu.domain.tax import ResidentTax


@dataclass(frozen=True)
class JuminhyoMember:
    """One person on a 住民票の写し."""

    name: str
    """氏名, exactly as registered (may hold IVS and non-BMP characters)."""
    name_kana: str
    """ふりがな, printed small above the name."""
    birth_date: date
    sex: Literal["male", "female"]
    relationship: str
    """続柄 to the householder: 世帯主, 妻, 子, 母 … (printed only when asked for)."""
    became_resident_on: date
    """住民となった年月日."""
    address_since: date
    """住所を定めた年月日."""
    notified_on: date
    """届出日 of the move to the current address."""
    previous_address: str | None
    """従前の住所; None when the person has always lived here (birth)."""
    individual_number: str | None = None
    """個人番号, printed only when given; the issuer decides whether it may be."""
    change_reason: str | None = None
    """異動事由 of the latest entry (転入, 出生, 転居, 世帯主変更 …), printed with
    ``change_on`` when given."""
    change_on: date | None = None
    """異動日: the date of ``change_reason``."""
    domicile: str | None = None
    """本籍 (certified on a 記載事項証明書 when asked for)."""
    domicile_head: str | None = None
    """筆頭者."""


@dataclass(frozen=True)
class JuminhyoDocument:
    """A 住民票の写し as the municipality certifies it."""

    municipality_code: str
    municipality_name: str
    """e.g. 加東市."""
    mayor_title: str
    """e.g. 加東市長; also the text of the seal impression (加東市長之印)."""
    mayor_name: str
    """e.g. 安田 正義."""
    address: str
    householder: str
    domicile: str | None
    """本籍."""
    domicile_head: str | None
    """筆頭者."""
    members: tuple[JuminhyoMember, ...]
    show_householder_relationship: bool
    """Print 世帯主 and 続柄; otherwise they read 省略."""
    show_domicile: bool
    """Print 本籍 and 筆頭者; otherwise they read 省略."""
    issued_on: date
    certificate_serial: str
    """Printed as the document number; keys the anti-forgery back side."""
    binding: str
    """64 hex characters binding the document to its holder and order.

    Written to the PDF keywords as ``kofu-binding:<hex>`` (so the e-seal covers
    it). It is not printed: the 証明書番号 is what a receiver reads.
    """
    scope: Literal["household", "members"] = "household"
    """``household``: every member of the household (世帯全員の住民票の写し);
    ``members``: the members listed, chosen from the household (住民票の写し)."""
    show_individual_number: bool = False
    """Print the 個人番号 column; without it nothing about 個人番号 is printed,
    even for members whose ``individual_number`` is set."""


@dataclass(frozen=True)
class RenderedPdf:
    """A rendered certificate."""

    pdf: bytes
    pages: int


# --- The five other kinds -------------------------------------------------
#
# Every document below is keyword-only: it is built by the issuer from named
# record fields, and a positional call would silently swap two dates.


@dataclass(frozen=True, kw_only=True)
class CertificateHeader:
    """What every certificate carries besides its own content.

    Printed as the header (municipality, title, 証明書番号), the certification
    block (date, mayor, seal impression) and the footer (page count, code).
    """

    municipality_code: str
    municipality_name: str
    """e.g. 加東市."""
    mayor_title: str
    """e.g. 加東市長; also the text of the seal impression (加東市長之印)."""
    mayor_name: str
    issued_on: date
    certificate_serial: str
    """Printed as the document number; keys the anti-forgery back side."""
    binding: str
    """64 lower-case hex characters, written to the PDF keywords as
    ``kofu-binding:<hex>`` (covered by the e-seal); not printed."""


KISAI_ITEMS: tuple[str, ...] = (
    "氏名",
    "ふりがな",
    "生年月日",
    "性別",
    "続柄",
    "住所",
    "世帯主",
    "本籍",
    "筆頭者",
    "住民となった年月日",
    "住所を定めた年月日",
    "届出日",
    "従前の住所",
)
"""The items a 住民票記載事項証明書 may certify, in the order they are printed."""


@dataclass(frozen=True, kw_only=True)
class KisaiDocument(CertificateHeader):
    """住民票記載事項証明書: only the chosen items of the chosen members."""

    address: str
    """住所 of the members (printed only when 住所 is among ``items``)."""
    householder: str = ""
    """世帯主 (printed only when 世帯主 is among ``items``)."""
    members: tuple[JuminhyoMember, ...]
    items: tuple[str, ...]
    """Which items are certified, each one of :data:`KISAI_ITEMS` (氏名 always is)."""
    purpose: str | None = None
    """使用目的・提出先 when the applicant gave one, printed under the table."""


@dataclass(frozen=True, kw_only=True)
class InkanDocument(CertificateHeader):
    """印鑑登録証明書 for the holder of a registered seal."""

    name: str
    name_kana: str
    birth_date: date
    sex: Literal["male", "female"]
    address: str
    registration_number: str
    """印鑑登録番号."""
    seal_image_png: bytes
    """The registered impression as a PNG. Printed at its real size when the PNG
    records its resolution (pHYs), otherwise fitted to the box; never larger
    than 25 mm (the largest seal a municipality registers)."""


@dataclass(frozen=True)
class TaxItem:
    """One line of a 納税証明書: one 期 of one tax."""

    tax_name: str
    """e.g. 市民税・県民税(普通徴収), 固定資産税・都市計画税, 軽自動車税(種別割)."""
    fiscal_year: int
    """年度 as the Gregorian year it starts in (2025 → 令和7年度)."""
    assessed: int
    """税額 of this 期 (yen)."""
    paid: int
    """納付済額 (yen)."""
    unpaid: int
    """未納額 (yen)."""
    due_on: date | None
    """納期限 of this 期 (already moved off a closed day); None when not applicable."""
    period: int | None = None
    """期 (1 → 第1期); None for a tax paid in one sum (全期)."""
    month: int | None = None
    """特別徴収: the salary month withheld from (6 → 6月分), printed instead of the 期."""


@dataclass(frozen=True, kw_only=True)
class TaxCertificateDocument(CertificateHeader):
    """各種税証明書: 所得・課税(非課税)証明書 (``shotoku``) or 納税証明書 (``nozei``).

    For ``shotoku`` the figures are the assessment :func:`kofu.domain.tax.assess`
    made from the resident's raw figures: incomes of the calendar year before
    ``fiscal_year`` (令和7年度 taxes 令和6年中の所得).
    """

    tax_kind: Literal["shotoku", "nozei"]
    fiscal_year: int
    """年度 as the Gregorian year it starts in (2025 → printed 令和7年度)."""
    name: str
    address: str
    birth_date: date
    # 所得・課税(非課税)証明書
    assessment: ResidentTax | None = None
    """Required for ``shotoku``; its ``fiscal_year`` must be this document's."""
    municipal_tax_label: str = "市民税"
    prefectural_tax_label: str = "県民税"
    # 納税証明書
    tax_items: tuple[TaxItem, ...] = ()
    """納税証明書 lines, one per 期 of each tax and 年度."""


@dataclass(frozen=True)
class KosekiPerson:
    """One person recorded in a 戸籍 (戸籍に記録されている者), as 付録第22号様式 prints them."""

    name: str
    """【名】: the given name only, exactly as recorded (may hold IVS and non-BMP
    characters); the 氏 is the register's, printed once as the 筆頭者's 氏名."""
    birth_date: date
    sex: Literal["male", "female"]
    father: str
    """父 (empty when not recorded)."""
    mother: str
    """母."""
    relationship: str
    """【続柄】 to the (birth) parents: 長男, 二女 …"""
    events: tuple[tuple[str, str], ...] = ()
    """身分事項 as (label, text): ("出生", "【出生日】昭和33年3月14日\n【出生地】…").
    A text's lines print as lines; texts are printed as given."""
    removed: bool = False
    """除籍: the person left this 戸籍 (marriage, death …); prints 「除　籍」."""
    spouse_role: str = ""
    """【配偶者区分】 夫 or 妻 for a married person; empty otherwise (not printed)."""
    adoptive_father: str = ""
    """【養父】 of an adoptee (empty when not recorded)."""
    adoptive_mother: str = ""
    """【養母】."""
    adoptive_relationship: str = ""
    """【続柄】 to the adoptive parents: 養子 or 養女, printed after 【養父】【養母】;
    empty for one who is not an adoptee in this register."""


@dataclass(frozen=True, kw_only=True)
class KosekiDocument(CertificateHeader):
    """戸籍証明書: 全部事項証明書 (``all``) or 個人事項証明書 (``self``)."""

    scope: Literal["all", "self"]
    honseki: str
    """本籍."""
    head_name: str
    """筆頭者氏名."""
    koseki_events: tuple[tuple[str, str], ...]
    """戸籍事項 as (label, text), e.g. ("戸籍編製", "【編製日】令和2年4月1日")."""
    persons: tuple[KosekiPerson, ...]
    self_index: int = 0
    """For ``self``: the index in ``persons`` of the one person certified."""
    chosen: tuple[int, ...] = ()
    """For ``self``: the indices in ``persons`` of the persons certified, in register
    order (戸籍法 10条: a person in the register may ask for any member's 個人事項);
    empty: ``self_index`` alone."""


@dataclass(frozen=True)
class FuhyoEntry:
    """One person on a 戸籍の附票 and the addresses they had while in the register."""

    name: str
    addresses: tuple[tuple[str, date], ...]
    """(住所, 住所を定めた年月日), oldest first."""
    birth_date: date | None = None
    """生年月日 (recorded on 附票 since 2024); printed when given."""
    sex: Literal["male", "female"] | None = None
    removed: bool = False
    """The person left the register: their 附票 entry is closed (消除)."""


@dataclass(frozen=True, kw_only=True)
class FuhyoDocument(CertificateHeader):
    """戸籍の附票の写し: the address history of the people of one 戸籍.

    Since 令和4年1月11日 本籍 and 筆頭者 are printed only when the applicant
    asks for them: ``honseki`` and ``head_name`` None print 「省略」.
    """

    honseki: str | None
    head_name: str | None
    entries: tuple[FuhyoEntry, ...]
    scope: Literal["all", "some"] = "all"
    """``all``: everyone in the register (全部); ``some``: chosen persons (一部)."""
