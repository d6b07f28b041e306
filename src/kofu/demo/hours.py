"""What the demo world refuses at an instant, and until when (``kofu demo``'s banner).

The answer comes from the rules the issuer applies (:mod:`kofu.domain.rules`)
over the hours in the issuer's own import file, so the banner and a kiosk's
refusal cannot disagree about the hours.

>>> from kofu.clock import JST
>>> doc = {"municipalities": [{"code": "282286", "name": "加東市", "participating": True,
...     "fees": {"juminhyo": 200}, "offered_kinds": ["juminhyo"],
...     "hours": [{"opens": "06:30", "closes": "23:00"}]}]}
>>> [c.line() for c in closures(doc, datetime(2026, 12, 4, 23, 35, tzinfo=JST))]
['every certificate (加東市): the center serves 06:30–23:00; open again 2026-12-05 (Sat) 06:30']
>>> in_hours_clock(doc, datetime(2026, 12, 4, 23, 35, tzinfo=JST)).isoformat()
'2026-12-07T10:00:00+09:00'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from kofu.clock import JST
from kofu.domain.fees import FeeSchedule
from kofu.domain.holidays import is_business_day
from kofu.domain.rules import (
    CENTER_CLOSES,
    CENTER_OPENS,
    HoursWindow,
    MaintenanceWindow,
    MunicipalityFacts,
    ServiceState,
    service_state,
)

__all__ = ["Closure", "banner", "closures", "in_hours_clock"]

KIND_NAMES = {
    "juminhyo": "住民票の写し",
    "kisai": "住民票記載事項証明書",
    "inkan": "印鑑登録証明書",
    "zeimu": "各種税証明書",
    "koseki": "戸籍証明書",
    "fuhyo": "戸籍の附票の写し",
}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_STEP = timedelta(minutes=5)
"""Hours in the demo world open on the quarter hour; maintenance ends are added as candidates."""
_HORIZON = timedelta(days=21)


@dataclass(frozen=True)
class Closure:
    what: str
    """"every certificate (加東市, 三木市)" or "戸籍証明書, 戸籍の附票の写し (三木市)"."""
    why: str
    """The hours or closure that apply, e.g. "the center serves 06:30–23:00"."""
    until: datetime | None
    """When it opens again (Japan time); None when not within three weeks."""

    def line(self) -> str:
        again = f"open again {_when(self.until)}" if self.until else "not open again within three weeks"
        return f"{self.what}: {self.why}; {again}"


def _when(t: datetime) -> str:
    t = t.astimezone(JST)
    return f"{t:%Y-%m-%d} ({_WEEKDAYS[t.weekday()]}) {t:%H:%M}"


def _windows(raw: list[dict[str, Any]]) -> tuple[HoursWindow, ...]:
    return tuple(
        HoursWindow(
            opens=time.fromisoformat(w["opens"]),
            closes=time.fromisoformat(w["closes"]),
            weekdays=frozenset(w.get("weekdays", range(7))),
            business_days_only=bool(w.get("business_days", False)),
        )
        for w in raw
    )


def _facts(m: dict[str, Any]) -> MunicipalityFacts:
    return MunicipalityFacts(
        code=m["code"],
        participating=bool(m.get("participating", True)),
        fees=FeeSchedule.from_mapping(m.get("fees", {})),
        offered_kinds=frozenset(m.get("offered_kinds", ())),
        hours=_windows(m.get("hours", [{"opens": "00:00", "closes": "23:59:59"}])),
        kind_hours=tuple((k, _windows(v)) for k, v in sorted(m.get("kind_hours", {}).items())),
        maintenance=tuple(
            MaintenanceWindow(datetime.fromisoformat(w["starts"]), datetime.fromisoformat(w["ends"]),
                              w.get("message", ""))
            for w in m.get("maintenance", [])
        ),
    )


def _describe(w: HoursWindow) -> str:
    if w.business_days_only:
        days = "business days"
    elif w.weekdays == frozenset(range(7)):
        days = "daily"
    else:
        days = ",".join(_WEEKDAYS[d] for d in sorted(w.weekdays))
    return f"{days} {w.opens:%H:%M}–{w.closes:%H:%M}"


def _why_closed(facts: MunicipalityFacts, at: datetime) -> str:
    """The same order of reasons as the rules: year end, center hours, maintenance, own hours."""
    local = at.astimezone(JST)
    if (local.month, local.day) >= (12, 29) or (local.month, local.day) <= (1, 3):
        return "the center's year-end closure (29 Dec – 3 Jan)"
    if not CENTER_OPENS <= local.time() < CENTER_CLOSES:
        return f"the center serves {CENTER_OPENS:%H:%M}–{CENTER_CLOSES:%H:%M}"
    if any(w.contains(at) for w in facts.maintenance):
        return "maintenance"
    return "the municipality's hours are " + ", ".join(_describe(w) for w in facts.hours)


def _next_open(facts: MunicipalityFacts, at: datetime, is_open: Callable[[datetime], bool]) -> datetime | None:
    """The first instant after ``at`` (on a 5-minute step, or a maintenance end) when ``is_open``."""
    candidates = {w.ends for w in facts.maintenance if at < w.ends < at + _HORIZON}
    t = datetime.fromtimestamp((int(at.timestamp()) // 300 + 1) * 300, JST)
    while t < at + _HORIZON:
        candidates.add(t)
        t += _STEP
    return next((c for c in sorted(candidates) if is_open(c)), None)


def closures(import_doc: dict[str, Any], at: datetime) -> list[Closure]:
    """What the issuer of ``import_doc`` refuses at ``at`` because of hours, and until when."""
    found: dict[tuple[str, datetime | None], list[str]] = {}  # (why, until) -> municipality names
    kinds: list[Closure] = []
    for m in import_doc["municipalities"]:
        facts = _facts(m)
        if not facts.participating:
            continue

        def available(t: datetime, facts: MunicipalityFacts = facts) -> bool:
            return service_state(facts, t) is ServiceState.AVAILABLE

        until = None
        if not available(at):
            until = _next_open(facts, at, available)
            found.setdefault((_why_closed(facts, at), until), []).append(m["name"])
        by_hours: dict[tuple[str, datetime | None], list[str]] = {}
        for kind, windows in facts.kind_hours:
            if kind not in facts.offered_kinds:
                continue

            def kind_open(t: datetime, windows: tuple[HoursWindow, ...] = windows) -> bool:
                local = t.astimezone(JST)
                return available(t) and any(w.contains(local) for w in windows)

            if kind_open(at):
                continue
            kind_until = _next_open(facts, at, kind_open)
            if until is not None and kind_until == until:
                continue  # opens with everything else
            why = ", ".join(_describe(w) for w in windows) + " only"
            by_hours.setdefault((why, kind_until), []).append(KIND_NAMES.get(kind, kind))
        for (why, kind_until), names in by_hours.items():
            names.sort(key=lambda n: list(KIND_NAMES.values()).index(n) if n in KIND_NAMES.values() else 99)
            kinds.append(Closure(f"{', '.join(names)} ({m['name']})", why, kind_until))
    whole = [Closure(f"every certificate ({', '.join(names)})", why, until) for (why, until), names in found.items()]
    return whole + kinds


def in_hours_clock(import_doc: dict[str, Any], after: datetime) -> datetime:
    """10:00 Japan time on the first business day from ``after`` on when nothing is closed.

    Never before ``after``: the demo's cards are valid from when they were made.
    """
    day = after.astimezone(JST).date()
    for _ in range(60):
        t = datetime(day.year, day.month, day.day, 10, 0, tzinfo=JST)
        if t >= after and is_business_day(day) and not closures(import_doc, t):
            return t
        day += timedelta(days=1)
    raise ValueError("no business morning with every kind open within 60 days")


def banner(import_doc: dict[str, Any], at: datetime, command: str) -> str:
    """The banner's note on what is closed at ``at`` (empty when everything is open).

    ``command`` is how the user starts the demo with arguments, e.g.
    ``make demo DEMO_ARGS="{}"``; ``{}`` becomes ``--clock …``.
    """
    closed = closures(import_doc, at)
    if not closed:
        return ""
    lines = [f"Closed at the demo's clock, {_when(at)} JST: the kiosk is refused for"]
    lines += [f"  {c.line()}" for c in closed]
    try:
        hint = command.format(f"--clock {in_hours_clock(import_doc, at).isoformat()}")
    except ValueError:
        lines.append("No business morning in the next 60 days has every kind open.")
    else:
        lines += ["To try every kind now, start it on an in-hours clock:", f"  {hint}"]
    return "\n".join(lines)
