"""Japanese era dates (和暦) as certificates print them.

>>> from datetime import date
>>> to_wareki(date(2019, 5, 1))
'令和元年5月1日'
>>> to_wareki(date(2026, 11, 21), zenkaku=True)
'令和８年１１月２１日'
>>> from_wareki('平成31年4月30日')
datetime.date(2019, 4, 30)

Only dates from 1873-01-01 on are supported: that is the day Japan adopted the
Gregorian calendar (明治6年1月1日). Earlier 明治 dates were written in the lunisolar
calendar, and converting them needs tables this module does not carry, so they
are refused rather than printed wrongly.

Exceptions::

    ValueError
     └── EraError            a date outside the supported range, or a text that is
                              not a well-formed 和暦 date
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

__all__ = [
    "ERAS",
    "Era",
    "EraError",
    "WarekiDate",
    "from_wareki",
    "split_wareki",
    "to_wareki",
]


class EraError(ValueError):
    """A date the era calendar cannot express, or a malformed 和暦 text."""


@dataclass(frozen=True)
class Era:
    name: str
    """The era name as printed, e.g. 令和."""
    start: date
    """The first day of the era (the day it counts as 元年)."""


# Newest first, so the first era whose start is on or before a date is its era.
ERAS: Final[tuple[Era, ...]] = (
    Era("令和", date(2019, 5, 1)),
    Era("平成", date(1989, 1, 8)),
    Era("昭和", date(1926, 12, 25)),
    Era("大正", date(1912, 7, 30)),
    Era("明治", date(1868, 1, 25)),
)

# The Gregorian calendar starts in Japan on 明治6年1月1日 (see module docstring).
EARLIEST: Final[date] = date(1873, 1, 1)

_ZENKAKU: Final = str.maketrans("0123456789", "０１２３４５６７８９")
_HANKAKU: Final = str.maketrans("０１２３４５６７８９", "0123456789")


@dataclass(frozen=True)
class WarekiDate:
    """A date split into its era parts, for layouts that place them in boxes."""

    era: str
    year: int
    """Year of the era; 1 is printed as 元年."""
    month: int
    day: int

    def format(self, *, zenkaku: bool = False) -> str:
        year = "元" if self.year == 1 else str(self.year)
        text = f"{self.era}{year}年{self.month}月{self.day}日"
        return text.translate(_ZENKAKU) if zenkaku else text


def split_wareki(d: date) -> WarekiDate:
    """The era, era year, month and day of ``d``; raises EraError before 1873-01-01."""
    if d < EARLIEST:
        raise EraError(
            f"{d.isoformat()} is before 1873-01-01, when Japan adopted the Gregorian "
            "calendar; such dates cannot be converted"
        )
    for era in ERAS:
        if d >= era.start:
            return WarekiDate(era.name, d.year - era.start.year + 1, d.month, d.day)
    raise AssertionError("unreachable: 明治 covers every date from 1873")  # pragma: no cover


def to_wareki(d: date, *, zenkaku: bool = False) -> str:
    """``d`` as 和暦, e.g. 令和8年11月21日; 全角 digits when ``zenkaku``."""
    return split_wareki(d).format(zenkaku=zenkaku)


_PATTERN: Final = re.compile(
    r"(?P<era>[^\d元\s]+?)\s*(?P<year>元|\d{1,3})\s*年\s*(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*日"
)


def from_wareki(text: str) -> date:
    """Parse a 和暦 date such as 令和元年5月1日 or 平成３１年４月３０日.

    半角 and 全角 digits and spaces between the parts are accepted. A date that
    does not belong to the era named (平成31年5月1日, 昭和64年1月8日) is refused:
    such a text is a typing error, not a date.
    """
    m = _PATTERN.fullmatch(text.strip().translate(_HANKAKU))
    if m is None:
        raise EraError(f"{text!r} is not a 和暦 date like 令和8年11月21日")
    era_name = m["era"]
    index = next((i for i, e in enumerate(ERAS) if e.name == era_name), None)
    if index is None:
        known = "・".join(e.name for e in ERAS)
        raise EraError(f"{text!r}: unknown era {era_name!r} (known: {known})")
    era = ERAS[index]
    year = 1 if m["year"] == "元" else int(m["year"])
    if year < 1:
        raise EraError(f"{text!r}: era year must be 1 (元年) or more")
    try:
        d = date(era.start.year + year - 1, int(m["month"]), int(m["day"]))
    except ValueError as e:
        raise EraError(f"{text!r} is not a calendar date: {e}") from e
    successor_start = ERAS[index - 1].start if index > 0 else None
    if d < era.start or (successor_start is not None and d >= successor_start):
        raise EraError(f"{text!r} is outside the {era.name} era")
    if d < EARLIEST:
        raise EraError(f"{text!r} is before 1873-01-01 (Gregorian calendar adoption)")
    return d
