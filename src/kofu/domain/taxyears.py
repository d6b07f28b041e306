"""Which fiscal years (年度) of tax certificates a municipality offers, by the calendar.

A 年度 *N* (the Gregorian year it starts in) has its tax certificates
(所得・課税証明書, 納税証明書) once the municipality has assessed it: from
its configured date of year *N* (typically 1 June, after the 当初課税), in
Japan time. The municipality keeps offering the latest ``kept`` years; the
oldest leaves on the day a new one arrives.

>>> from datetime import datetime
>>> from kofu.clock import JST
>>> w = TaxYearWindow(month=6, day=1, kept=3)
>>> sorted(w.years_at(datetime(2026, 5, 31, 23, 59, tzinfo=JST)))
[2023, 2024, 2025]
>>> sorted(w.years_at(datetime(2026, 6, 1, 0, 0, tzinfo=JST)))
[2024, 2025, 2026]

Pure: the instant is passed in (``kofu.clock.now()`` in the services).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

_JST = timezone(timedelta(hours=9), "JST")
_MONTH_DAY = re.compile(r"(\d\d)-(\d\d)")
MAX_KEPT = 20


class TaxYearWindowError(ValueError):
    """The settings do not describe a window."""


@dataclass(frozen=True)
class TaxYearWindow:
    """A municipality's settings: a new 年度 from ``month``/``day``; the latest ``kept`` years."""

    month: int
    day: int
    kept: int

    def __post_init__(self) -> None:
        try:
            # A non-leap year: 29 February would skip the years without one.
            date(2001, self.month, self.day)
        except (TypeError, ValueError) as e:
            raise TaxYearWindowError(f"{self.month:02}-{self.day:02} is not a month and day every year has") from e
        if isinstance(self.kept, bool) or not isinstance(self.kept, int) or not 1 <= self.kept <= MAX_KEPT:
            raise TaxYearWindowError(f"kept must be 1..{MAX_KEPT}, got {self.kept!r}")

    @classmethod
    def parse(cls, available_from: str, kept: int) -> TaxYearWindow:
        """From the import file's ``"MM-DD"`` and number of years."""
        m = _MONTH_DAY.fullmatch(available_from) if isinstance(available_from, str) else None
        if m is None:
            raise TaxYearWindowError(f"available_from must be MM-DD such as 06-01, got {available_from!r}")
        return cls(int(m[1]), int(m[2]), kept)

    @property
    def available_from(self) -> str:
        return f"{self.month:02}-{self.day:02}"

    def newest_at(self, now: datetime) -> int:
        """The newest 年度 available at ``now`` (aware)."""
        if now.tzinfo is None:
            raise ValueError("the window needs an aware datetime (use kofu.clock.now())")
        local = now.astimezone(_JST)
        return local.year if (local.month, local.day) >= (self.month, self.day) else local.year - 1

    def years_at(self, now: datetime) -> frozenset[int]:
        """The 年度 offered at ``now``: the newest available and the ``kept`` − 1 before it."""
        newest = self.newest_at(now)
        return frozenset(range(newest - self.kept + 1, newest + 1))
