"""The instants tests pin service clocks to.

No test may depend on when the suite runs (service hours are 06:30–23:00 JST,
closed 12/29–1/3, 戸籍 on business days 9:00–17:00). Services started by a
test get ``KOFU_CLOCK`` set to one of these instants; in-process code uses
``kofu.clock.set_for_tests``. The root ``conftest.py`` removes any ambient
``KOFU_CLOCK`` so that only these instants count.

The instants are named relative to the real date (which CI moves with
faketime) rather than fixed dates, because the test worlds' certificates are
made at the real time: a service clock before that would find every card
not yet valid, and outside clients (``openssl ocsp``, TLS) judge validity by
the real clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from kofu.clock import JST
from kofu.domain.holidays import is_business_day


def business_morning(after: date | None = None) -> datetime:
    """10:00 JST on the first business day after ``after`` (default: today in Japan).

    Every kind is open then, 戸籍 and 附票 included, whatever the real hour.
    """
    day = (after or datetime.now(JST).date()) + timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=JST)


def service_env(instant: datetime | None = None) -> dict[str, str]:
    """The environment that pins a started service's clock to ``instant`` (default: a business morning)."""
    return {"KOFU_CLOCK": (instant or business_morning()).isoformat()}
