"""The service clock.

Every service asks :func:`now` for the time. Without configuration it is the
real clock in Japan time. ``KOFU_CLOCK`` (an ISO 8601 date-time with an
offset, e.g. ``2026-03-02T10:00:00+09:00``) starts the clock at that instant
when the process starts; it then runs forward in real time, so tests and the
demo can stand on a Tuesday morning or on New Year's Eve.

>>> from kofu import clock
>>> clock.now().tzinfo is not None
True
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")

_offset: float = 0.0


def _configure() -> None:
    global _offset
    raw = os.environ.get("KOFU_CLOCK", "").strip()
    if not raw:
        _offset = 0.0
        return
    try:
        start = datetime.fromisoformat(raw)
    except ValueError as e:
        raise SystemExit(f"KOFU_CLOCK={raw!r} is not an ISO 8601 date-time: {e}") from e
    if start.tzinfo is None:
        raise SystemExit(f"KOFU_CLOCK={raw!r} needs an offset, for example +09:00")
    _offset = start.timestamp() - time.time()


def now() -> datetime:
    """The current instant, aware, in Japan time."""
    return datetime.fromtimestamp(time.time() + _offset, JST)


def set_for_tests(instant: datetime | None) -> None:
    """Move this process's clock (tests only); ``None`` returns to the real clock."""
    global _offset
    _offset = 0.0 if instant is None else instant.timestamp() - time.time()


_configure()
