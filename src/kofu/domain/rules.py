"""Who may get which certificate, when, and for how much: pure functions, no I/O.

The issuer asks :func:`offers` what a person may get at this instant and
:func:`check_order` whether an order may be issued. ``check_order`` calls
``offers`` and checks the order against the matching offer, so the list a
kiosk shows and the decision at issuance can never disagree.

>>> from datetime import datetime, time
>>> from kofu.clock import JST
>>> town = MunicipalityFacts(code="282286", participating=True,
...     fees=FeeSchedule.from_mapping({"juminhyo": 200}), offered_kinds=frozenset({"juminhyo"}))
>>> person = PersonFacts(active=True, has_domicile=True)
>>> result = offers(person, town, datetime(2026, 3, 2, 10, 0, tzinfo=JST))
>>> [(o.kind, o.fee) for o in result.offers]
[('juminhyo', 200)]

Errors::

    RuleError
     ├── OrderRefused   the person may not have this now (carries a Refusal:
     │                  a code for operators, the neutral text for residents)
     └── OrderInvalid   the order contradicts the offer the kiosk was given
                        (fee, copies, an option not offered): a client bug

A refusal that depends on the person (unknown, removed, a support measure
支援措置, nothing or not this kind offered) carries the same neutral message
(:data:`NEUTRAL_MESSAGE_JA` / ``_EN``), so a kiosk screen never reveals a
support measure or a removal; the ``code`` says why, for operators and logs.
A refusal that depends only on the clock or the municipality's settings (the
center's hours, the year-end closure, maintenance, the municipality's or a
kind's hours, the copy limit) is the same for every card holder, so it tells
the resident exactly why, in Japanese and English, with the hours: sending
them to the municipality's counter for a closed hour would be wrong.

All six kinds are offered where the municipality offers them and the
person's records allow: 住民票の写し and 住民票記載事項証明書 (household, the
holder, or chosen members of the household), 印鑑登録証明書 (the holder, while
a seal is registered), 各種税証明書 (the fiscal years the municipality offers at
this instant, by its calendar window, that the person has a record for),
戸籍証明書 and 戸籍の附票の写し (本籍 in this municipality, and
nobody in the register under a support measure).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any

from kofu.domain.fees import FeeSchedule
from kofu.domain.holidays import is_business_day
from kofu.domain.taxyears import TaxYearWindow

__all__ = [
    "CENTER_CLOSES",
    "CENTER_OPENS",
    "NEUTRAL_MESSAGE_EN",
    "NEUTRAL_MESSAGE_JA",
    "SUPPORTED_KINDS",
    "AllowedOptions",
    "HoursWindow",
    "Kind",
    "KosekiScope",
    "MaintenanceWindow",
    "MemberChoice",
    "MunicipalityFacts",
    "Offer",
    "Offers",
    "Order",
    "OrderInvalid",
    "OrderOptions",
    "OrderRefused",
    "PersonFacts",
    "Refusal",
    "RefusalCode",
    "RuleError",
    "Scope",
    "ServiceState",
    "TaxKind",
    "Unavailable",
    "check_order",
    "copies_limit_refusal",
    "hours_text",
    "offers",
    "service_state",
]


class Kind(StrEnum):
    JUMINHYO = "juminhyo"
    """住民票の写し"""
    KISAI = "kisai"
    """住民票記載事項証明書"""
    INKAN = "inkan"
    """印鑑登録証明書"""
    ZEIMU = "zeimu"
    """各種税証明書"""
    KOSEKI = "koseki"
    """戸籍証明書"""
    FUHYO = "fuhyo"
    """戸籍の附票の写し"""


KIND_NAMES_JA: dict[str, str] = {
    Kind.JUMINHYO: "住民票の写し",
    Kind.KISAI: "住民票記載事項証明書",
    Kind.INKAN: "印鑑登録証明書",
    Kind.ZEIMU: "各種税証明書",
    Kind.KOSEKI: "戸籍証明書",
    Kind.FUHYO: "戸籍の附票の写し",
}
"""Each kind's Japanese name, as a receiver reads it."""

SUPPORTED_KINDS: frozenset[str] = frozenset(k.value for k in Kind)
"""Kinds whose rules and layout exist (all six)."""

RESIDENT_RECORD_KINDS = frozenset({Kind.JUMINHYO.value, Kind.KISAI.value})
"""Kinds printed from the 住民票 (household, holder or chosen members)."""


class Scope(StrEnum):
    HOUSEHOLD = "household"
    """住民票: the whole household, or the members listed in ``OrderOptions.members``;
    附票: everyone in the register (全部), or the persons listed (一部)."""
    SELF = "self"
    """The card holder alone (the only scope of 印鑑・税・戸籍)."""


class TaxKind(StrEnum):
    SHOTOKU = "shotoku"
    """所得・課税（非課税）証明書"""
    NOZEI = "nozei"
    """納税証明書"""


class KosekiScope(StrEnum):
    ALL = "all"
    """全部事項証明書 (謄本): every person in the register."""
    SELF = "self"
    """個人事項証明書 (抄本): the holder, or the persons of the holder's register
    listed in ``OrderOptions.members`` (戸籍法 10条)."""


class RefusalCode(StrEnum):
    """Why nothing (or not this) is available: machine-readable, for kiosks and operators.

    The codes up to ``MUNICIPALITY_HOURS`` and ``KIND_HOURS`` / ``COPIES_LIMIT``
    depend on no personal fact and come with a specific message; the others
    always carry the neutral one.
    """

    NOT_PARTICIPATING = "not-participating"
    CENTER_YEAR_END = "center-year-end"
    CENTER_HOURS = "center-hours"
    MAINTENANCE = "maintenance"
    MUNICIPALITY_HOURS = "municipality-hours"
    RESIDENT_UNKNOWN = "resident-unknown"
    RESIDENT_REMOVED = "resident-removed"
    NOTHING_OFFERED = "nothing-offered"
    KIND_NOT_OFFERED = "kind-not-offered"
    KIND_HOURS = "kind-hours"
    """This kind has narrower hours (e.g. 戸籍 on business days 9:00–17:00)."""
    COPIES_LIMIT = "copies-limit"
    """More copies than the municipality issues in one order."""


NEUTRAL_MESSAGE_JA = (
    "このカードでは現在証明書を交付できません。お住まいの市区町村窓口にお問い合わせください。"
)
NEUTRAL_MESSAGE_EN = (
    "Certificates cannot be issued with this card at the moment. "
    "Please contact the counter of your municipality."
)

CENTER_OPENS = time(6, 30)
"""The center serves from 6:30 …"""
CENTER_CLOSES = time(23, 0)
"""… until 23:00 (exclusive), every day except the year-end closure."""

# Hours are Japan time, whatever offset the caller's datetime carries.
_JST = timezone(timedelta(hours=9), "JST")

MAX_COPIES_CEILING = 99
"""The wide-area schema's bound; a municipality may set a lower maximum."""


def _in_year_end_closure(day: date) -> bool:
    """29 December to 3 January inclusive (年末年始)."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


@dataclass(frozen=True)
class HoursWindow:
    """A daily service window on some weekdays: ``opens`` ≤ t < ``closes``."""

    opens: time
    closes: time
    weekdays: frozenset[int] = frozenset(range(7))
    """Monday = 0 … Sunday = 6, as :meth:`datetime.weekday`."""

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError(f"hours window opens at {self.opens} but closes at {self.closes}")
        if not self.weekdays <= frozenset(range(7)):
            raise ValueError(f"weekdays must be 0..6, got {sorted(self.weekdays)}")

    business_days_only: bool = False
    """Closed on national holidays and 29 Dec – 3 Jan as well (閉庁日)."""

    def contains(self, local: datetime) -> bool:
        if local.weekday() not in self.weekdays or not self.opens <= local.time() < self.closes:
            return False
        return not self.business_days_only or is_business_day(local.date())


@dataclass(frozen=True)
class MaintenanceWindow:
    """A municipality-announced outage: ``starts`` ≤ t < ``ends`` (aware datetimes)."""

    starts: datetime
    ends: datetime
    message: str = ""
    """The municipality's own notice to residents (Japanese), shown with the end time."""
    message_en: str = ""
    """The same notice in English; when empty the English text quotes ``message``."""

    def __post_init__(self) -> None:
        if self.starts.tzinfo is None or self.ends.tzinfo is None:
            raise ValueError("maintenance windows need aware datetimes")
        if not self.starts < self.ends:
            raise ValueError("a maintenance window must end after it starts")

    def contains(self, instant: datetime) -> bool:
        return self.starts <= instant < self.ends


ALL_DAY: tuple[HoursWindow, ...] = (HoursWindow(time(0, 0), time(23, 59, 59)),)


@dataclass(frozen=True)
class MunicipalityFacts:
    """What the rules need to know about a municipality (from its settings)."""

    code: str
    participating: bool
    fees: FeeSchedule
    offered_kinds: frozenset[str]
    hours: tuple[HoursWindow, ...] = ALL_DAY
    """Municipality hours, applied inside the center's hours; any window may match."""
    kind_hours: tuple[tuple[str, tuple[HoursWindow, ...]], ...] = ()
    """Narrower hours for some kinds (e.g. 戸籍 only on business days 9–17)."""
    maintenance: tuple[MaintenanceWindow, ...] = ()
    max_copies: int = 10
    tax_years: frozenset[int] = frozenset()
    """Deprecated fixed list of the fiscal years (年度) whose tax certificates are
    offered; used only when ``tax_year_window`` is None."""
    tax_year_window: TaxYearWindow | None = None
    """The fiscal years offered by the calendar (see :func:`offered_tax_years`)."""
    individual_number: bool = False
    """The municipality allows 個人番号 on a 住民票の写し issued at a kiosk."""
    counter_fees: FeeSchedule | None = None
    """The counter (窓口) fee, shown for comparison; the kiosk always charges ``fees``."""


@dataclass(frozen=True)
class MemberChoice:
    """A household member the holder may choose for a 住民票 of chosen members
    (or a person of the holder's family register, for a 附票 or 戸籍)."""

    resident_id: str
    name: str
    holder: bool = False
    """This is the card holder themself (the kiosk preselects them)."""


@dataclass(frozen=True)
class PersonFacts:
    """What the rules need to know about the card holder's record, read just now."""

    active: bool
    """False once removed (転出・死亡)."""
    has_domicile: bool
    """本籍 is recorded, so 本籍・筆頭者 can be printed."""
    restricted: bool = False
    """A support measure (支援措置) covers this person or someone in their household."""
    seal_registered: bool = False
    """A seal (印鑑) is registered and not abolished, at this instant."""
    tax_years: frozenset[int] = frozenset()
    """Fiscal years for which the municipality holds the person's tax record."""
    register_here: bool = False
    """A family register (戸籍) of this municipality lists the person: 本籍 is here."""
    register_restricted: bool = False
    """Someone in that family register is under a support measure."""
    members: tuple[MemberChoice, ...] = ()
    """The active members of the holder's household, holder included, in print order."""
    register_persons: tuple[MemberChoice, ...] = ()
    """Everyone in the holder's family register here (除籍 included), in register
    order: whom a 戸籍の附票の写し of chosen persons (一部) may list."""


@dataclass(frozen=True)
class AllowedOptions:
    scopes: tuple[Scope, ...]
    with_householder: bool
    """True when the resident may choose to include 世帯主・続柄."""
    with_domicile: bool
    """True when the resident may choose to include 本籍・筆頭者."""
    with_individual_number: bool = False
    """True when the resident may choose to include 個人番号."""
    members: tuple[MemberChoice, ...] = ()
    """Household members who may be chosen one by one (住民票 kinds), or the
    persons of the family register (附票)."""
    tax_kinds: tuple[TaxKind, ...] = ()
    years: tuple[int, ...] = ()
    """Fiscal years offered (税証明)."""
    koseki_scopes: tuple[KosekiScope, ...] = ()


@dataclass(frozen=True)
class Offer:
    kind: str
    fee: int
    """Kiosk fee per copy, yen."""
    max_copies: int
    options: AllowedOptions
    counter_fee: int | None = None
    """The counter fee per copy, for comparison (not charged here)."""


@dataclass(frozen=True)
class Offers:
    offers: tuple[Offer, ...]
    unavailable: tuple[Unavailable, ...] = ()
    """Kinds the municipality offers but not at this hour (their own hours), with
    the reason; the same for every card holder, whatever their records allow."""

    def find(self, kind: str) -> Offer | None:
        return next((o for o in self.offers if o.kind == kind), None)

    def closed(self, kind: str) -> Unavailable | None:
        return next((u for u in self.unavailable if u.kind == kind), None)


@dataclass(frozen=True)
class Refusal:
    code: RefusalCode
    message_ja: str = NEUTRAL_MESSAGE_JA
    message_en: str = NEUTRAL_MESSAGE_EN
    detail: str = ""
    """Why, for the issuer's own log only; never sent over the wide-area
    interface (a support measure travels as ``nothing-offered``)."""


@dataclass(frozen=True)
class Unavailable:
    """A kind closed at this hour while others are offered (``KIND_HOURS``)."""

    kind: str
    refusal: Refusal


@dataclass(frozen=True)
class OrderOptions:
    """What a resident chose for one certificate besides its kind and copies.

    The one definition of these choices: the kiosk API, the center's order
    rows, the wide-area interface and the issuer's issuance rows each map to
    and from it at their edge (:meth:`as_dict` / :meth:`from_dict` for the
    JSON forms).
    """

    scope: Scope = Scope.HOUSEHOLD
    with_householder: bool = False
    """Include 世帯主・続柄."""
    with_domicile: bool = False
    """Include 本籍・筆頭者."""
    with_individual_number: bool = False
    """Include 個人番号 (住民票の写し)."""
    members: tuple[str, ...] = ()
    """Ids of chosen members (scope household; 附票: persons of the register;
    戸籍 with KosekiScope self: persons of the register); empty: the whole
    household (register), or for a 個人事項証明書 the holder's own entry."""
    tax_kind: str | None = None
    """A :class:`TaxKind` value (税証明)."""
    year: int | None = None
    """The fiscal year (税証明)."""
    koseki_scope: str | None = None
    """A :class:`KosekiScope` value (戸籍証明書)."""

    def as_dict(self) -> dict[str, Any]:
        """Plain values (strings, booleans, a list of ids) under the field names."""
        return {
            "scope": self.scope.value, "with_householder": self.with_householder,
            "with_domicile": self.with_domicile, "with_individual_number": self.with_individual_number,
            "members": list(self.members), "tax_kind": self.tax_kind, "year": self.year,
            "koseki_scope": self.koseki_scope,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OrderOptions:
        """The inverse of :meth:`as_dict`; missing keys take the defaults.

        Raises ``ValueError`` for a scope that is not a :class:`Scope`.
        """
        return cls(
            scope=Scope(d.get("scope", Scope.HOUSEHOLD)),
            with_householder=bool(d.get("with_householder", False)),
            with_domicile=bool(d.get("with_domicile", False)),
            with_individual_number=bool(d.get("with_individual_number", False)),
            members=tuple(d.get("members") or ()),
            tax_kind=d.get("tax_kind"),
            year=d.get("year"),
            koseki_scope=d.get("koseki_scope"),
        )


@dataclass(frozen=True)
class Order:
    kind: str
    options: OrderOptions
    copies: int
    fee: int
    """Total for all copies, yen."""


class RuleError(Exception):
    """Root of the rule errors."""


class OrderRefused(RuleError):
    """The person may not have this certificate now; ``refusal`` says why."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"refused: {refusal.code.value}")
        self.refusal = refusal


class OrderInvalid(RuleError):
    """The order contradicts the offer; ``code`` is machine-readable, the message says how."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- resident messages
# Only for reasons that depend on no personal fact: the clock, the
# municipality's settings. Hours are Japan time.

KIND_NAMES: dict[str, tuple[str, str]] = {
    Kind.JUMINHYO.value: ("住民票の写し", "certificate of residence (住民票の写し)"),
    Kind.KISAI.value: ("住民票記載事項証明書", "certificate of resident record items (住民票記載事項証明書)"),
    Kind.INKAN.value: ("印鑑登録証明書", "seal registration certificate (印鑑登録証明書)"),
    Kind.ZEIMU.value: ("各種税証明書", "tax certificate (各種税証明書)"),
    Kind.KOSEKI.value: ("戸籍証明書", "family register certificate (戸籍証明書)"),
    Kind.FUHYO.value: ("戸籍の附票の写し", "family register supplement (戸籍の附票の写し)"),
}
"""Each kind's name for a resident, (Japanese, English)."""

_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
_WEEKDAYS_JA = "月火水木金土日"
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WORKWEEK = frozenset(range(5))
_YEAR_END_JA = "12月29日～1月3日"
_YEAR_END_EN = "29 December – 3 January"


def _clock_text(t: time) -> str:
    """9:00, 17:30; the end of the day (23:59:59) reads 24:00."""
    if t >= time(23, 59, 59):
        return "24:00"
    return f"{t.hour}:{t.minute:02d}"


def _day_text(day: date, today: date) -> tuple[str, str]:
    ja = f"{day.month}月{day.day}日"
    en = f"{day.day} {_MONTHS_EN[day.month - 1]}"
    if day.year != today.year:
        ja, en = f"{day.year}年{ja}", f"{en} {day.year}"
    return ja, en


def _days_text(w: HoursWindow) -> tuple[str, str]:
    """The days of a window: (Japanese, English with its preposition)."""
    if w.business_days_only and w.weekdays >= _WORKWEEK:
        return ("開庁日（土日・祝日・年末年始を除く）",
                f"on business days (not Saturdays, Sundays, national holidays or {_YEAR_END_EN})")
    if w.weekdays == frozenset(range(7)):
        ja, en = "毎日", "every day"
    elif w.weekdays == _WORKWEEK:
        ja, en = "平日（月～金）", "from Monday to Friday"
    else:
        days = sorted(w.weekdays)
        ja = "・".join(_WEEKDAYS_JA[d] for d in days) + "曜日"
        en = "on " + ", ".join(_WEEKDAYS_EN[d] + "s" for d in days)
    if w.business_days_only:
        ja += "（祝日・年末年始を除く）"
        en += f" except national holidays and {_YEAR_END_EN}"
    return ja, en


def hours_text(windows: tuple[HoursWindow, ...]) -> tuple[str, str]:
    """Service hours as a resident reads them, (Japanese, English), e.g.
    ("開庁日（土日・祝日・年末年始を除く）9:00～17:00", "on business days (…), 9:00–17:00").

    >>> hours_text((HoursWindow(time(6, 30), time(23, 0)),))
    ('毎日6:30～23:00', 'every day, 6:30–23:00')
    """
    ja, en = [], []
    for w in windows:
        days_ja, days_en = _days_text(w)
        ja.append(f"{days_ja}{_clock_text(w.opens)}～{_clock_text(w.closes)}")
        en.append(f"{days_en}, {_clock_text(w.opens)}–{_clock_text(w.closes)}")
    return "、".join(ja), "; ".join(en)


def _next_center_opening(local: datetime) -> datetime:
    """The next 6:30 the center opens at, after ``local`` (skipping the year-end closure)."""
    day = local.date() if local.time() < CENTER_OPENS else local.date() + timedelta(days=1)
    while _in_year_end_closure(day):
        day += timedelta(days=1)
    return datetime.combine(day, CENTER_OPENS, tzinfo=_JST)


def _center_hours_refusal(code: RefusalCode, local: datetime) -> Refusal:
    opening = _next_center_opening(local)
    day_ja, day_en = _day_text(opening.date(), local.date())
    hours_ja = f"毎日{_clock_text(CENTER_OPENS)}～{_clock_text(CENTER_CLOSES)}（{_YEAR_END_JA}を除く）"
    hours_en = (f"every day from {_clock_text(CENTER_OPENS)} to {_clock_text(CENTER_CLOSES)} Japan time "
                f"(except {_YEAR_END_EN})")
    again_ja = f"{day_ja} {_clock_text(CENTER_OPENS)}から交付できます。"
    again_en = f"Certificates can be issued again from {_clock_text(CENTER_OPENS)} on {day_en}."
    if code is RefusalCode.CENTER_YEAR_END:
        return Refusal(
            code,
            f"年末年始（{_YEAR_END_JA}）はコンビニ交付サービスを休止しています。{again_ja}",
            f"The service is closed over the New Year holidays ({_YEAR_END_EN}). {again_en}",
        )
    return Refusal(
        code,
        f"ただいまコンビニ交付のサービス時間外です。サービス時間は{hours_ja}です。{again_ja}",
        f"The service is closed at this hour. Certificates are issued {hours_en}. {again_en}",
    )


def _maintenance_refusal(municipality: MunicipalityFacts, now: datetime) -> Refusal:
    active = [w for w in municipality.maintenance if w.contains(now)]
    # Windows that follow one another without a gap read as one outage.
    ends = max(w.ends for w in active)
    while following := [w for w in municipality.maintenance if w.contains(ends) and w.ends > ends]:
        ends = max(w.ends for w in following)
    local_end = _local(ends)
    day_ja, day_en = _day_text(local_end.date(), _local(now).date())
    until_ja, until_en = f"{day_ja} {_clock_text(local_end.time())}", f"{_clock_text(local_end.time())} on {day_en}"
    ja = f"お住まいの市区町村のシステムが保守作業中のため、{until_ja}まで証明書を交付できません。"
    en = (f"Your municipality's system is under maintenance until {until_en} (Japan time); "
          f"certificates cannot be issued until then.")
    notice = next((w for w in active if w.message or w.message_en), None)
    if notice is not None:
        ja += f"市区町村からのお知らせ：{notice.message or notice.message_en}"
        en += f" Notice from the municipality: {notice.message_en or notice.message}"
    return Refusal(RefusalCode.MAINTENANCE, ja, en)


def _municipality_hours_refusal(municipality: MunicipalityFacts) -> Refusal:
    hours_ja, hours_en = hours_text(municipality.hours)
    return Refusal(
        RefusalCode.MUNICIPALITY_HOURS,
        f"お住まいの市区町村では、ただいまの時間は証明書を交付していません。交付できる時間は{hours_ja}です。",
        f"Your municipality does not issue certificates at this hour. "
        f"Certificates are issued {hours_en} (Japan time).",
    )


def _kind_hours_refusal(kind: str, windows: tuple[HoursWindow, ...]) -> Refusal:
    name_ja, name_en = KIND_NAMES.get(kind, (kind, kind))
    hours_ja, hours_en = hours_text(windows)
    return Refusal(
        RefusalCode.KIND_HOURS,
        f"{name_ja}は、ただいまの時間は交付できません。交付できる時間は{hours_ja}です。",
        f"The {name_en} cannot be issued at this hour. It is issued {hours_en} (Japan time).",
    )


def copies_limit_refusal(max_copies: int) -> Refusal:
    """The refusal of an order for more than ``max_copies`` copies.

    >>> copies_limit_refusal(10).message_ja
    '一度に交付できるのは10通までです。10通以下でお申し込みください。'
    """
    return Refusal(
        RefusalCode.COPIES_LIMIT,
        f"一度に交付できるのは{max_copies}通までです。{max_copies}通以下でお申し込みください。",
        f"At most {max_copies} copies can be issued at a time. Please order {max_copies} or fewer.",
    )


def _local(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("rules need an aware datetime (use kofu.clock.now())")
    return now.astimezone(_JST)


def _closed_reason(municipality: MunicipalityFacts, now: datetime) -> RefusalCode | None:
    """Why the municipality's service as a whole is unavailable now, or None."""
    local = _local(now)
    # 1. A municipality that does not take part never serves.
    if not municipality.participating:
        return RefusalCode.NOT_PARTICIPATING
    # 2. The center is closed over the year end, 29 Dec – 3 Jan.
    if _in_year_end_closure(local.date()):
        return RefusalCode.CENTER_YEAR_END
    # 3. The center's daily hours, 6:30–23:00.
    if not CENTER_OPENS <= local.time() < CENTER_CLOSES:
        return RefusalCode.CENTER_HOURS
    # 4. Maintenance the municipality announced.
    if any(w.contains(now) for w in municipality.maintenance):
        return RefusalCode.MAINTENANCE
    # 5. The municipality's own hours, inside the center's.
    if not any(w.contains(local) for w in municipality.hours):
        return RefusalCode.MUNICIPALITY_HOURS
    return None


class ServiceState(StrEnum):
    AVAILABLE = "available"
    MAINTENANCE = "maintenance"
    CLOSED = "closed"
    NOT_PARTICIPATING = "not-participating"


def _closed_refusal(municipality: MunicipalityFacts, now: datetime) -> Refusal | None:
    """:func:`_closed_reason` with what the resident is told."""
    reason = _closed_reason(municipality, now)
    if reason in (RefusalCode.CENTER_HOURS, RefusalCode.CENTER_YEAR_END):
        return _center_hours_refusal(reason, _local(now))
    if reason is RefusalCode.MAINTENANCE:
        return _maintenance_refusal(municipality, now)
    if reason is RefusalCode.MUNICIPALITY_HOURS:
        return _municipality_hours_refusal(municipality)
    # Not participating: the neutral words.
    return None if reason is None else Refusal(reason)


def service_state(municipality: MunicipalityFacts, now: datetime) -> ServiceState:
    """The status the wide-area GetServiceStatus reports for a municipality."""
    reason = _closed_reason(municipality, now)
    if reason is None:
        return ServiceState.AVAILABLE
    if reason is RefusalCode.NOT_PARTICIPATING:
        return ServiceState.NOT_PARTICIPATING
    if reason is RefusalCode.MAINTENANCE:
        return ServiceState.MAINTENANCE
    return ServiceState.CLOSED


def _kind_closed(municipality: MunicipalityFacts, kind: str, local: datetime) -> Refusal | None:
    """Why ``kind`` is closed at ``local`` by its own hours, or None when open."""
    for k, windows in municipality.kind_hours:
        if k == kind and not any(w.contains(local) for w in windows):
            return _kind_hours_refusal(kind, windows)
    return None


_SELF_ONLY = (Scope.SELF,)


def offered_tax_years(municipality: MunicipalityFacts, now: datetime) -> frozenset[int]:
    """The fiscal years (年度) whose tax certificates ``municipality`` offers at ``now``.

    By its calendar window when it has one, else its (deprecated) fixed list.
    A resident gets those of them they have a tax record for.
    """
    if municipality.tax_year_window is not None:
        return municipality.tax_year_window.years_at(now)
    return municipality.tax_years


def _options_for(
    kind: str, person: PersonFacts, municipality: MunicipalityFacts, now: datetime
) -> AllowedOptions | None:
    """The options of ``kind`` for ``person``, or None when the kind is not for them now."""
    if kind in RESIDENT_RECORD_KINDS:
        # 住民票の写し / 記載事項証明書: the whole household, chosen members or
        # the holder; 世帯主・続柄 may always be included; 本籍・筆頭者 only when
        # a domicile is recorded; 個人番号 only on a 住民票の写し, only where the
        # municipality allows it (the members are always the holder's own household).
        return AllowedOptions(
            scopes=(Scope.HOUSEHOLD, Scope.SELF),
            with_householder=True,
            with_domicile=person.has_domicile,
            with_individual_number=kind == Kind.JUMINHYO and municipality.individual_number,
            members=person.members,
        )
    if kind == Kind.INKAN:
        # Only the holder's own, and only while a seal is registered.
        if not person.seal_registered:
            return None
        return AllowedOptions(scopes=_SELF_ONLY, with_householder=False, with_domicile=False)
    if kind == Kind.ZEIMU:
        years = tuple(sorted(offered_tax_years(municipality, now) & person.tax_years, reverse=True))
        if not years:
            return None
        return AllowedOptions(
            scopes=_SELF_ONLY, with_householder=False, with_domicile=False,
            tax_kinds=(TaxKind.SHOTOKU, TaxKind.NOZEI), years=years,
        )
    if kind in (Kind.KOSEKI, Kind.FUHYO):
        # 本籍 here (domicile registration elsewhere comes later); a register
        # holding a protected person is never issued at a kiosk (the 附票
        # would print their current address).
        if not person.register_here or person.register_restricted:
            return None
        if kind == Kind.FUHYO:
            # 全部 (Scope household), 一部 (household with chosen persons, or
            # the holder alone: Scope self); 本籍・筆頭者 only when asked for
            # (住民基本台帳法 20条, since 令和4年1月11日).
            return AllowedOptions(
                scopes=(Scope.HOUSEHOLD, Scope.SELF), with_householder=False, with_domicile=True,
                members=person.register_persons,
            )
        # 全部事項 or 個人事項: the holder's entry, or persons chosen from the
        # holder's own register (戸籍法 10条: anyone recorded in it may ask).
        return AllowedOptions(
            scopes=_SELF_ONLY, with_householder=False, with_domicile=False,
            koseki_scopes=(KosekiScope.ALL, KosekiScope.SELF), members=person.register_persons,
        )
    return None


def offers(
    person: PersonFacts | None, municipality: MunicipalityFacts, now: datetime
) -> Offers | Refusal:
    """What ``person`` may get from ``municipality`` at ``now``, or why nothing.

    ``person`` is None when the card holder has no record here.
    """
    # 1–5. The service as a whole: participation, center hours, year end,
    #      maintenance, municipality hours.
    closed = _closed_refusal(municipality, now)
    if closed is not None:
        return closed
    # 6. The person: known here, and still a resident.
    if person is None:
        return Refusal(RefusalCode.RESIDENT_UNKNOWN)
    if not person.active:
        return Refusal(RefusalCode.RESIDENT_REMOVED)
    # 7. A support measure (支援措置) on the person or their household: nothing,
    #    with the same code and text as any municipality offering nothing, so
    #    that neither the kiosk nor the center can tell.
    if person.restricted:
        return Refusal(RefusalCode.NOTHING_OFFERED, detail="support-measure")
    # 8. Each kind the municipality offers, that has a fee, whose own hours
    #    include now, and that this person's records allow.
    #    A kind closed by its own hours is listed as unavailable, with its
    #    hours, whatever this person's records: that says nothing about them.
    local = _local(now)
    result: list[Offer] = []
    unavailable: list[Unavailable] = []
    for kind in sorted(municipality.offered_kinds & SUPPORTED_KINDS & municipality.fees.kinds()):
        kind_closed = _kind_closed(municipality, kind, local)
        if kind_closed is not None:
            unavailable.append(Unavailable(kind, kind_closed))
            continue
        options = _options_for(kind, person, municipality, now)
        if options is None:
            continue
        counter = municipality.counter_fees
        result.append(
            Offer(
                kind=kind,
                fee=municipality.fees.per_copy(kind),
                max_copies=min(municipality.max_copies, MAX_COPIES_CEILING),
                options=options,
                counter_fee=counter.per_copy(kind) if counter is not None and kind in counter.kinds() else None,
            )
        )
    if not result:
        return Refusal(RefusalCode.NOTHING_OFFERED)
    return Offers(tuple(result), tuple(unavailable))


def check_order(
    person: PersonFacts | None, municipality: MunicipalityFacts, order: Order, now: datetime
) -> Offer:
    """Return the offer ``order`` is issued under, or raise.

    Raises :class:`OrderRefused` when :func:`offers` would not offer this kind
    now, and :class:`OrderInvalid` when the order does not fit the offer.
    """
    # 1. The very same decision the offer list comes from.
    available = offers(person, municipality, now)
    if isinstance(available, Refusal):
        raise OrderRefused(available)
    offer = available.find(order.kind)
    if offer is None:
        closed = available.closed(order.kind)
        raise OrderRefused(closed.refusal if closed is not None else Refusal(RefusalCode.KIND_NOT_OFFERED))
    # 2. Copies within the municipality's maximum.
    if not 1 <= order.copies <= offer.max_copies:
        raise OrderInvalid(
            "copies-out-of-range", f"copies must be 1..{offer.max_copies}, got {order.copies}"
        )
    # 3. Only options the offer allows.
    chosen = order.options
    if chosen.scope not in offer.options.scopes:
        raise OrderInvalid("option-not-offered", f"scope {chosen.scope.value!r} is not offered")
    if chosen.with_householder and not offer.options.with_householder:
        raise OrderInvalid("option-not-offered", "WithHouseholder is not offered")
    if chosen.with_domicile and not offer.options.with_domicile:
        raise OrderInvalid("option-not-offered", "WithDomicile is not offered")
    _check_kind_options(chosen, offer.options)
    # 4. The fee: the offer's per-copy fee times the copies, exactly.
    expected = offer.fee * order.copies
    if order.fee != expected:
        raise OrderInvalid(
            "fee-mismatch",
            f"fee {order.fee} yen does not match {offer.fee} yen × {order.copies} = {expected} yen",
        )
    return offer


def _check_kind_options(chosen: OrderOptions, allowed: AllowedOptions) -> None:
    """Step 3 continued: the options only some kinds have."""

    def refuse(message: str) -> OrderInvalid:
        return OrderInvalid("option-not-offered", message)

    if chosen.with_individual_number and not allowed.with_individual_number:
        raise refuse("WithIndividualNumber is not offered")
    if chosen.members:
        if allowed.koseki_scopes:
            # 戸籍個人事項証明書 of chosen persons of the holder's own register (戸籍法 10条).
            if chosen.koseki_scope != KosekiScope.SELF:
                raise refuse("Member may only be given with KosekiScope self (個人事項証明書)")
        elif chosen.scope is not Scope.HOUSEHOLD:
            raise refuse("Member may only be given with scope household")
        offered = {m.resident_id for m in allowed.members}
        if len(set(chosen.members)) != len(chosen.members):
            raise refuse("a Member is listed twice")
        stray = [m for m in chosen.members if m not in offered]
        if stray:
            # Only the holder's own household (or, for a 附票, register) may be chosen.
            raise refuse(f"{len(stray)} Member(s) are not among those offered")
    if allowed.tax_kinds:
        if chosen.tax_kind not in allowed.tax_kinds:
            raise refuse(f"TaxKind must be one of {', '.join(allowed.tax_kinds)}")
        if chosen.year not in allowed.years:
            raise refuse(f"Year must be one of {', '.join(map(str, allowed.years))}")
    elif chosen.tax_kind is not None or chosen.year is not None:
        raise refuse("TaxKind and Year are only for tax certificates")
    if allowed.koseki_scopes:
        if chosen.koseki_scope not in allowed.koseki_scopes:
            raise refuse(f"KosekiScope must be one of {', '.join(allowed.koseki_scopes)}")
    elif chosen.koseki_scope is not None:
        raise refuse("KosekiScope is only for family register certificates")

