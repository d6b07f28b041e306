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

Every refusal a resident sees carries the same neutral message
(:data:`NEUTRAL_MESSAGE_JA` / ``_EN``), whatever the reason, so a kiosk screen
never reveals a support measure (支援措置) or a removal; the ``code`` says why,
for operators and logs.

All six kinds are offered where the municipality offers them and the
person's records allow: 住民票の写し and 住民票記載事項証明書 (household, the
holder, or chosen members of the household), 印鑑登録証明書 (the holder, while
a seal is registered), 各種税証明書 (offered fiscal years the person has a
record for), 戸籍証明書 and 戸籍の附票の写し (本籍 in this municipality, and
nobody in the register under a support measure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum

from kofu.domain.fees import FeeSchedule
from kofu.domain.holidays import is_business_day

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
    "OrderRefused",
    "PersonFacts",
    "Refusal",
    "RefusalCode",
    "RuleError",
    "Scope",
    "ServiceState",
    "TaxKind",
    "check_order",
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


SUPPORTED_KINDS: frozenset[str] = frozenset(k.value for k in Kind)
"""Kinds whose rules and layout exist (all six)."""

RESIDENT_RECORD_KINDS = frozenset({Kind.JUMINHYO.value, Kind.KISAI.value})
"""Kinds printed from the 住民票 (household, holder or chosen members)."""


class Scope(StrEnum):
    HOUSEHOLD = "household"
    """住民票: the whole household, or the members listed in ``Order.members``;
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
    """個人事項証明書 (抄本): the holder."""


class RefusalCode(StrEnum):
    """Why nothing (or not this) is available: for operators, never shown to residents."""

    NOT_PARTICIPATING = "not-participating"
    CENTER_YEAR_END = "center-year-end"
    CENTER_HOURS = "center-hours"
    MAINTENANCE = "maintenance"
    MUNICIPALITY_HOURS = "municipality-hours"
    RESIDENT_UNKNOWN = "resident-unknown"
    RESIDENT_REMOVED = "resident-removed"
    NOTHING_OFFERED = "nothing-offered"
    KIND_NOT_OFFERED = "kind-not-offered"


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
    """Fiscal years (年度) whose tax certificates the municipality offers at kiosks."""
    individual_number: bool = False
    """The municipality allows 個人番号 on a 住民票の写し issued at a kiosk."""
    counter_fees: FeeSchedule | None = None
    """The counter (窓口) fee, shown for comparison; the kiosk always charges ``fees``."""


@dataclass(frozen=True)
class MemberChoice:
    """A household member the holder may choose for a 住民票 of chosen members."""

    resident_id: str
    name: str


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

    def find(self, kind: str) -> Offer | None:
        return next((o for o in self.offers if o.kind == kind), None)


@dataclass(frozen=True)
class Refusal:
    code: RefusalCode
    message_ja: str = NEUTRAL_MESSAGE_JA
    message_en: str = NEUTRAL_MESSAGE_EN
    detail: str = ""
    """Why, for the issuer's own log only; never sent over the wide-area
    interface (a support measure travels as ``nothing-offered``)."""


@dataclass(frozen=True)
class Order:
    kind: str
    scope: Scope
    with_householder: bool
    with_domicile: bool
    copies: int
    fee: int
    """Total for all copies, yen."""
    with_individual_number: bool = False
    members: tuple[str, ...] = ()
    """Resident ids of chosen members (scope household); empty: the whole household."""
    tax_kind: str | None = None
    year: int | None = None
    koseki_scope: str | None = None


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


def _kind_open(municipality: MunicipalityFacts, kind: str, local: datetime) -> bool:
    for k, windows in municipality.kind_hours:
        if k == kind:
            return any(w.contains(local) for w in windows)
    return True


_SELF_ONLY = (Scope.SELF,)


def _options_for(kind: str, person: PersonFacts, municipality: MunicipalityFacts) -> AllowedOptions | None:
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
        years = tuple(sorted(municipality.tax_years & person.tax_years, reverse=True))
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
        return AllowedOptions(
            scopes=_SELF_ONLY, with_householder=False, with_domicile=False,
            koseki_scopes=(KosekiScope.ALL, KosekiScope.SELF),
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
    reason = _closed_reason(municipality, now)
    if reason is not None:
        return Refusal(reason)
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
    local = _local(now)
    result: list[Offer] = []
    for kind in sorted(municipality.offered_kinds & SUPPORTED_KINDS & municipality.fees.kinds()):
        if not _kind_open(municipality, kind, local):
            continue
        options = _options_for(kind, person, municipality)
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
    return Offers(tuple(result))


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
        raise OrderRefused(Refusal(RefusalCode.KIND_NOT_OFFERED))
    # 2. Copies within the municipality's maximum.
    if not 1 <= order.copies <= offer.max_copies:
        raise OrderInvalid(
            "copies-out-of-range", f"copies must be 1..{offer.max_copies}, got {order.copies}"
        )
    # 3. Only options the offer allows.
    if order.scope not in offer.options.scopes:
        raise OrderInvalid("option-not-offered", f"scope {order.scope.value!r} is not offered")
    if order.with_householder and not offer.options.with_householder:
        raise OrderInvalid("option-not-offered", "WithHouseholder is not offered")
    if order.with_domicile and not offer.options.with_domicile:
        raise OrderInvalid("option-not-offered", "WithDomicile is not offered")
    _check_kind_options(order, offer.options)
    # 4. The fee: the offer's per-copy fee times the copies, exactly.
    expected = offer.fee * order.copies
    if order.fee != expected:
        raise OrderInvalid(
            "fee-mismatch",
            f"fee {order.fee} yen does not match {offer.fee} yen × {order.copies} = {expected} yen",
        )
    return offer


def _check_kind_options(order: Order, allowed: AllowedOptions) -> None:
    """Step 3 continued: the options only some kinds have."""

    def refuse(message: str) -> OrderInvalid:
        return OrderInvalid("option-not-offered", message)

    if order.with_individual_number and not allowed.with_individual_number:
        raise refuse("WithIndividualNumber is not offered")
    if order.members:
        if order.scope is not Scope.HOUSEHOLD:
            raise refuse("Member may only be given with scope household")
        offered = {m.resident_id for m in allowed.members}
        if len(set(order.members)) != len(order.members):
            raise refuse("a Member is listed twice")
        stray = [m for m in order.members if m not in offered]
        if stray:
            # Only the holder's own household (or, for a 附票, register) may be chosen.
            raise refuse(f"{len(stray)} Member(s) are not among those offered")
    if allowed.tax_kinds:
        if order.tax_kind not in allowed.tax_kinds:
            raise refuse(f"TaxKind must be one of {', '.join(allowed.tax_kinds)}")
        if order.year not in allowed.years:
            raise refuse(f"Year must be one of {', '.join(map(str, allowed.years))}")
    elif order.tax_kind is not None or order.year is not None:
        raise refuse("TaxKind and Year are only for tax certificates")
    if allowed.koseki_scopes:
        if order.koseki_scope not in allowed.koseki_scopes:
            raise refuse(f"KosekiScope must be one of {', '.join(allowed.koseki_scopes)}")
    elif order.koseki_scope is not None:
        raise refuse("KosekiScope is only for family register certificates")

