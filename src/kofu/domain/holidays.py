"""Municipal business days: weekdays that are not national holidays nor year end.

National holidays (国民の祝日, 振替休日, 国民の休日) come from the maintained
``holidays`` package (``holidays.Japan``), not a table kept here: the dates
of the equinoxes and of moved holidays change by cabinet order, and a
hand-kept list goes stale silently.

>>> from datetime import date
>>> is_business_day(date(2026, 5, 6))   # 振替休日
False
>>> is_business_day(date(2026, 5, 7))
True
"""

from __future__ import annotations

import functools
from datetime import date

__all__ = ["is_business_day", "is_national_holiday"]


@functools.lru_cache(maxsize=64)
def _japan(year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.Japan(years=year).keys())  # type: ignore[attr-defined]  # set up by the package at import


def is_national_holiday(day: date) -> bool:
    """True on a national holiday of Japan (substitute holidays included)."""
    return day in _japan(day.year)


def is_business_day(day: date) -> bool:
    """Monday–Friday, not a national holiday, not 29 Dec – 3 Jan (閉庁日)."""
    if day.weekday() >= 5 or is_national_holiday(day):
        return False
    return not ((day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3))
