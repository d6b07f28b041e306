"""The values a certificate is rendered from.

The issuer fills these from its resident records; the renderer only lays them
out. Strings are printed exactly as given (MJ characters, variation sequences
and typst markup characters alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal


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
    it) and printed small as 照合番号.
    """
    scope: Literal["household", "members"] = "household"
    """``household``: every member of the household (世帯全員の住民票の写し);
    ``members``: the members listed, chosen from the household (住民票の写し)."""


@dataclass(frozen=True)
class RenderedPdf:
    """A rendered certificate."""

    pdf: bytes
    pages: int
