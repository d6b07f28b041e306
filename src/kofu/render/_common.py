"""What every certificate kind shares on the Python side.

A kind's module builds a view model (a dict of printable strings) starting
from :func:`header_data`, then calls :func:`compile_certificate`, which checks
every string against the MJ font and lays the data out with the kind's
template. Templates import the matching frame from ``templates/common.typ``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any, Final, Protocol

from kofu.clock import JST
from kofu.domain.era import EraError, split_wareki, to_wareki
from kofu.domain.ids import issue_number
from kofu.render.engine import engine
from kofu.render.errors import InvalidDocument
from kofu.render.fonts import mj_coverage
from kofu.render.model import RenderedPdf

BINDING_KEYWORD: Final = "kofu-binding:"
SERIAL_KEYWORD: Final = "kofu-serial:"
_BINDING_RE: Final = re.compile(r"[0-9a-f]{64}")
SEX: Final = {"male": "男", "female": "女"}


def era(d: date, what: str) -> str:
    """``d`` as 和暦 (令和8年11月21日); InvalidDocument before 1873."""
    try:
        return to_wareki(d)
    except EraError as e:
        raise InvalidDocument(f"{what}: {e}") from e


def fiscal_year(year: int, what: str = "fiscal year") -> str:
    """The 年度 starting in April of ``year``, e.g. 2025 → 令和7年度.

    Named by the era in force in May: 令和 began on 1 May 2019 and the
    government named that whole year 令和元年度, not 平成31年度.
    """
    try:
        w = split_wareki(date(year, 5, 1))
    except (EraError, ValueError) as e:
        raise InvalidDocument(f"{what}: {e}") from e
    return f"{w.era}{'元' if w.year == 1 else w.year}年度"


def calendar_year(year: int, what: str = "year") -> str:
    """The calendar year ``year`` by its era at the year's end, e.g. 2024 → 令和6年."""
    try:
        w = split_wareki(date(year, 12, 31))
    except (EraError, ValueError) as e:
        raise InvalidDocument(f"{what}: {e}") from e
    return f"{w.era}{'元' if w.year == 1 else w.year}年"


def yen(amount: int, what: str) -> str:
    """``1234567`` → ``1,234,567円``; money is an int of yen and never negative here."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidDocument(f"{what}: an amount must be an int of yen, got {amount!r}")
    if amount < 0:
        raise InvalidDocument(f"{what}: a negative amount ({amount}) cannot be certified")
    return f"{amount:,}円"


def sex(value: str, what: str) -> str:
    if value not in SEX:
        raise InvalidDocument(f"{what}: sex must be male or female, got {value!r}")
    return SEX[value]


def nonempty(value: str, what: str) -> str:
    if not value.strip():
        raise InvalidDocument(f"{what} is empty")
    return value


class Header(Protocol):
    """The fields of :class:`~kofu.render.model.CertificateHeader` (which the
    older :class:`~kofu.render.model.JuminhyoDocument` has too, without the base)."""

    @property
    def municipality_code(self) -> str: ...
    @property
    def municipality_name(self) -> str: ...
    @property
    def mayor_title(self) -> str: ...
    @property
    def mayor_name(self) -> str: ...
    @property
    def issued_on(self) -> date: ...
    @property
    def certificate_serial(self) -> str: ...
    @property
    def binding(self) -> str: ...


def header_data(doc: Header, title: str, certification: str) -> dict[str, Any]:
    """The keys ``common.typ``'s frame reads: title, numbers, date, mayor, seal."""
    if not _BINDING_RE.fullmatch(doc.binding):
        raise InvalidDocument("binding must be 64 lower-case hex characters")
    if not doc.certificate_serial or any(c.isspace() for c in doc.certificate_serial):
        raise InvalidDocument(
            f"certificate serial {doc.certificate_serial!r} is empty or has spaces"
        )
    return {
        "title": title,
        "keywords": [BINDING_KEYWORD + doc.binding, SERIAL_KEYWORD + doc.certificate_serial],
        "municipality": doc.municipality_name,
        "municipality_code": doc.municipality_code,
        # The short 発行番号 a clerk reads; the serial itself goes to the keywords and the QR.
        "serial": issue_number(doc.certificate_serial, doc.issued_on),
        "certification": certification,
        "issued": era(doc.issued_on, "issue date"),
        "mayor_title": doc.mayor_title,
        "mayor_name": doc.mayor_name,
        "seal_legend": doc.mayor_title + "之印",
    }


def check_printable(value: Any, where: str = "") -> None:
    """Refuse any string, at any depth, that the MJ font would print wrongly."""
    coverage = mj_coverage()

    def walk(v: Any, path: str) -> None:
        if isinstance(v, str):
            coverage.check(path or "text", v)
        elif isinstance(v, Mapping):
            for k, item in v.items():
                walk(item, f"{path}.{k}" if path else str(k))
        elif isinstance(v, list | tuple):
            for i, item in enumerate(v):
                walk(item, f"{path}[{i}]")

    walk(value, where)


def compile_certificate(template: str, data: dict[str, Any], issued_on: date) -> RenderedPdf:
    """Check ``data`` against the font and lay it out with ``template``.

    The PDF's date is the issue date at midnight, Japan time, so the same
    document always gives the same bytes.
    """
    check_printable(data)
    stamp = datetime.combine(issued_on, time(0, 0), JST)
    return engine().compile(template, data, stamp)
