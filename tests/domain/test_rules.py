"""The issuance rules: a table a municipality's staff can read, and properties over clocks."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from kofu.domain.fees import FeeSchedule
from kofu.domain.rules import (
    NEUTRAL_MESSAGE_EN,
    NEUTRAL_MESSAGE_JA,
    HoursWindow,
    KosekiScope,
    MaintenanceWindow,
    MemberChoice,
    MunicipalityFacts,
    Offers,
    Order,
    OrderInvalid,
    OrderOptions,
    OrderRefused,
    PersonFacts,
    Refusal,
    RefusalCode,
    Scope,
    ServiceState,
    TaxKind,
    check_order,
    offers,
    service_state,
)

JST = timezone(timedelta(hours=9))
WEEKDAYS = frozenset(range(5))

TOWN = MunicipalityFacts(
    code="282286",
    participating=True,
    fees=FeeSchedule.from_mapping({"juminhyo": 200, "inkan": 200}),
    offered_kinds=frozenset({"juminhyo", "inkan"}),
)
OFFICE_HOURS_TOWN = MunicipalityFacts(
    code="282154",
    participating=True,
    fees=FeeSchedule.from_mapping({"juminhyo": 300}),
    offered_kinds=frozenset({"juminhyo"}),
    hours=(HoursWindow(time(9, 0), time(17, 0), WEEKDAYS),),
    maintenance=(
        MaintenanceWindow(datetime(2026, 3, 4, 12, 0, tzinfo=JST), datetime(2026, 3, 4, 13, 0, tzinfo=JST)),
    ),
    max_copies=3,
)
RESIDENT = PersonFacts(active=True, has_domicile=True)


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=JST)


PERSONAL = frozenset({
    RefusalCode.NOT_PARTICIPATING, RefusalCode.RESIDENT_UNKNOWN, RefusalCode.RESIDENT_REMOVED,
    RefusalCode.NOTHING_OFFERED, RefusalCode.KIND_NOT_OFFERED,
})
"""Codes whose words must stay neutral: they could reveal a removal or a support measure."""

SAYS_WHY = {
    # code: what the Japanese and the English words must contain (the reason, and the hours)
    RefusalCode.CENTER_HOURS: (("サービス時間外", "6:30～23:00", "12月29日～1月3日を除く"),
                               ("closed at this hour", "from 6:30 to 23:00", "except 29 December – 3 January")),
    RefusalCode.CENTER_YEAR_END: (("年末年始", "1月4日 6:30から"), ("New Year", "from 6:30 on 4 January")),
    RefusalCode.MUNICIPALITY_HOURS: (("時間は証明書を交付していません", "平日（月～金）9:00～17:00"),
                                     ("at this hour", "from Monday to Friday, 9:00–17:00")),
    RefusalCode.MAINTENANCE: (("保守作業中", "3月4日 13:00まで"), ("maintenance", "until 13:00 on 4 March")),
}


def assert_says(result: Refusal) -> None:
    """Neutral words for a reason about the person; for any other, words that name it."""
    if result.code in PERSONAL:
        assert (result.message_ja, result.message_en) == (NEUTRAL_MESSAGE_JA, NEUTRAL_MESSAGE_EN)
        return
    ja, en = SAYS_WHY[result.code]
    assert all(part in result.message_ja for part in ja), result.message_ja
    assert all(part in result.message_en for part in en), result.message_en
    assert NEUTRAL_MESSAGE_JA not in result.message_ja


# When is a 住民票の写し available? (Tuesday 3 March 2026 is a business day.)
TABLE = [
    # municipality, resident, when, expected (fee per copy, or the refusal code)
    ("town", RESIDENT, "2026-03-03 06:29", RefusalCode.CENTER_HOURS),
    ("town", RESIDENT, "2026-03-03 06:30", 200),
    ("town", RESIDENT, "2026-03-03 22:59", 200),
    ("town", RESIDENT, "2026-03-03 23:00", RefusalCode.CENTER_HOURS),
    ("town", RESIDENT, "2026-12-28 12:00", 200),
    ("town", RESIDENT, "2026-12-29 12:00", RefusalCode.CENTER_YEAR_END),
    ("town", RESIDENT, "2027-01-01 12:00", RefusalCode.CENTER_YEAR_END),
    ("town", RESIDENT, "2027-01-03 22:00", RefusalCode.CENTER_YEAR_END),
    ("town", RESIDENT, "2027-01-04 06:30", 200),
    ("town", PersonFacts(active=False, has_domicile=True), "2026-03-03 10:00", RefusalCode.RESIDENT_REMOVED),
    ("town", None, "2026-03-03 10:00", RefusalCode.RESIDENT_UNKNOWN),
    ("office", RESIDENT, "2026-03-03 08:59", RefusalCode.MUNICIPALITY_HOURS),
    ("office", RESIDENT, "2026-03-03 09:00", 300),
    ("office", RESIDENT, "2026-03-07 10:00", RefusalCode.MUNICIPALITY_HOURS),  # Saturday
    ("office", RESIDENT, "2026-03-04 12:30", RefusalCode.MAINTENANCE),
    ("closed", RESIDENT, "2026-03-03 10:00", RefusalCode.NOT_PARTICIPATING),
]
TOWNS = {
    "town": TOWN,
    "office": OFFICE_HOURS_TOWN,
    "closed": MunicipalityFacts("282219", False, TOWN.fees, TOWN.offered_kinds),
}


@pytest.mark.parametrize(("town", "person", "when", "expected"), TABLE)
def test_rule_table(town: str, person: PersonFacts | None, when: str, expected: object) -> None:
    result = offers(person, TOWNS[town], at(when))
    if isinstance(expected, RefusalCode):
        assert isinstance(result, Refusal) and result.code is expected
        # About the person: the same neutral words; about the clock: why, with the hours.
        assert_says(result)
    else:
        assert isinstance(result, Offers)
        # 印鑑登録証明書 is priced here, but this resident has no registered seal.
        assert [(o.kind, o.fee) for o in result.offers] == [("juminhyo", expected)]


def test_domicile_option_needs_a_domicile() -> None:
    result = offers(PersonFacts(active=True, has_domicile=False), TOWN, at("2026-03-03 10:00"))
    assert isinstance(result, Offers) and result.offers[0].options.with_domicile is False
    order = Order("juminhyo", OrderOptions(Scope.SELF, False, True), 1, 200)
    with pytest.raises(OrderInvalid) as e:
        check_order(PersonFacts(active=True, has_domicile=False), TOWN, order, at("2026-03-03 10:00"))
    assert e.value.code == "option-not-offered"


def test_service_state() -> None:
    assert service_state(OFFICE_HOURS_TOWN, at("2026-03-04 12:30")) is ServiceState.MAINTENANCE
    assert service_state(OFFICE_HOURS_TOWN, at("2026-03-04 20:00")) is ServiceState.CLOSED
    assert service_state(OFFICE_HOURS_TOWN, at("2026-03-04 10:00")) is ServiceState.AVAILABLE
    assert service_state(TOWNS["closed"], at("2026-03-04 10:00")) is ServiceState.NOT_PARTICIPATING


# ---- properties over clocks, people and orders

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(JST)
)
people = st.one_of(st.none(), st.builds(PersonFacts, active=st.booleans(), has_domicile=st.booleans()))
orders = st.builds(
    Order,
    kind=st.sampled_from(["juminhyo", "inkan", "koseki"]),
    options=st.builds(
        OrderOptions, scope=st.sampled_from(list(Scope)), with_householder=st.booleans(), with_domicile=st.booleans(),
    ),
    copies=st.integers(1, 12),
    fee=st.integers(0, 4000),
)
towns = st.sampled_from(list(TOWNS.values()))


@settings(max_examples=400, deadline=None)
@given(person=people, town=towns, order=orders, now=instants)
def test_offer_list_and_order_check_never_disagree(
    person: PersonFacts | None, town: MunicipalityFacts, order: Order, now: datetime
) -> None:
    listed = offers(person, town, now)
    offer = listed.find(order.kind) if isinstance(listed, Offers) else None
    fits = (
        offer is not None
        and order.copies <= offer.max_copies
        and order.options.scope in offer.options.scopes
        and (not order.options.with_domicile or offer.options.with_domicile)
        and (not order.options.with_householder or offer.options.with_householder)
        and order.fee == offer.fee * order.copies
    )
    try:
        accepted = check_order(person, town, order, now)
    except OrderRefused:
        assert offer is None
    except OrderInvalid:
        assert offer is not None and not fits
    else:
        assert fits and accepted == offer


@settings(max_examples=400, deadline=None)
@given(person=people, town=towns, now=instants)
def test_nothing_is_offered_when_closed(person: PersonFacts | None, town: MunicipalityFacts, now: datetime) -> None:
    local = now.astimezone(JST)
    year_end = (local.month, local.day) >= (12, 29) or (local.month, local.day) <= (1, 3)
    outside = not time(6, 30) <= local.time() < time(23, 0)
    if year_end or outside:
        result = offers(person, town, now)
        assert isinstance(result, Refusal)
        assert result.code in (RefusalCode.CENTER_YEAR_END, RefusalCode.CENTER_HOURS,
                               RefusalCode.NOT_PARTICIPATING)


@settings(max_examples=200, deadline=None)
@given(person=people, now=instants, copies=st.integers(1, 10))
def test_the_fee_is_per_copy_times_copies(person: PersonFacts | None, now: datetime, copies: int) -> None:
    listed = offers(person, TOWN, now)
    if isinstance(listed, Offers):
        offer = listed.offers[0]
        order = Order(offer.kind, OrderOptions(Scope.HOUSEHOLD, False, False), copies, offer.fee * copies)
        assert check_order(person, TOWN, order, now) == offer


def test_the_same_instant_in_another_offset_is_judged_in_japan_time() -> None:
    # 22:30 UTC on 2 March is 07:30 on 3 March in Japan: open.
    utc = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)
    assert isinstance(offers(RESIDENT, TOWN, utc), Offers)
    with pytest.raises(ValueError, match="aware"):
        offers(RESIDENT, TOWN, datetime(2026, 3, 3, 10, 0))


# ==== Every kind: who gets what, when (a table a municipality's staff can read) ====
#
# 加東市 (ALL_KINDS_TOWN) offers all six kinds from 6:30 to 23:00; 戸籍 and 附票
# only 9:00–17:00 on business days (national holidays closed); tax certificates
# for 令和6・7年度 (2024, 2025); 個人番号 may be printed.

BUSINESS_9_17 = (HoursWindow(time(9, 0), time(17, 0), WEEKDAYS, business_days_only=True),)
FEES = {"juminhyo": 200, "kisai": 200, "inkan": 200, "zeimu": 250, "koseki": 350, "fuhyo": 200}
ALL_KINDS_TOWN = MunicipalityFacts(
    code="282286",
    participating=True,
    fees=FeeSchedule.from_mapping(FEES),
    offered_kinds=frozenset(FEES),
    kind_hours=(("fuhyo", BUSINESS_9_17), ("koseki", BUSINESS_9_17)),
    tax_years=frozenset({2024, 2025}),
    individual_number=True,
    counter_fees=FeeSchedule.from_mapping({"koseki": 450}),
)
FAMILY = (MemberChoice("R1", "山田 太郎"), MemberChoice("R2", "山田 花子"))
EVERYTHING = PersonFacts(
    active=True, has_domicile=True, seal_registered=True, tax_years=frozenset({2023, 2024, 2025}),
    register_here=True, members=FAMILY,
)
NO_SEAL = PersonFacts(active=True, has_domicile=True, members=FAMILY)
PROTECTED_HOUSEHOLD = PersonFacts(
    active=True, has_domicile=True, restricted=True, seal_registered=True, register_here=True, members=FAMILY,
)
PROTECTED_IN_REGISTER = PersonFacts(
    active=True, has_domicile=True, seal_registered=True, register_here=True, register_restricted=True,
    members=FAMILY,
)
OLD_TAX_ONLY = PersonFacts(active=True, has_domicile=True, tax_years=frozenset({2022, 2023}))
REMOVED = PersonFacts(active=False, has_domicile=True, seal_registered=True, register_here=True)

ALL = "fuhyo inkan juminhyo kisai koseki zeimu"
KIND_TABLE = [
    # who, when (Japan time), what is offered (kinds) or the refusal
    ("everything", EVERYTHING, "2026-03-03 10:00", ALL),                               # Tuesday
    ("everything", EVERYTHING, "2026-03-03 17:00", "inkan juminhyo kisai zeimu"),      # 戸籍 closed at 17:00
    ("everything", EVERYTHING, "2026-03-07 10:00", "inkan juminhyo kisai zeimu"),      # Saturday
    ("everything", EVERYTHING, "2026-03-20 10:00", "inkan juminhyo kisai zeimu"),      # 春分の日 (Friday)
    ("everything", EVERYTHING, "2026-05-06 10:00", "inkan juminhyo kisai zeimu"),      # 振替休日
    ("everything", EVERYTHING, "2026-05-07 10:00", ALL),
    ("everything", EVERYTHING, "2026-12-29 10:00", RefusalCode.CENTER_YEAR_END),
    ("no seal", NO_SEAL, "2026-03-03 10:00", "juminhyo kisai"),
    ("tax only for years not offered", OLD_TAX_ONLY, "2026-03-03 10:00", "juminhyo kisai"),
    ("protected household", PROTECTED_HOUSEHOLD, "2026-03-03 10:00", RefusalCode.NOTHING_OFFERED),
    ("protected person in the register", PROTECTED_IN_REGISTER, "2026-03-03 10:00", "inkan juminhyo kisai"),
    ("moved out", REMOVED, "2026-03-03 10:00", RefusalCode.RESIDENT_REMOVED),
]


@pytest.mark.parametrize(("who", "person", "when", "expected"), KIND_TABLE, ids=[f"{r[0]}@{r[2]}" for r in KIND_TABLE])
def test_kind_table(who: str, person: PersonFacts, when: str, expected: object) -> None:
    result = offers(person, ALL_KINDS_TOWN, at(when))
    if isinstance(expected, RefusalCode):
        assert isinstance(result, Refusal) and result.code is expected
        assert_says(result)
    else:
        assert isinstance(result, Offers)
        assert " ".join(o.kind for o in result.offers) == expected


def test_support_measure_looks_like_any_municipality_offering_nothing() -> None:
    protected = offers(PROTECTED_HOUSEHOLD, ALL_KINDS_TOWN, at("2026-03-03 10:00"))
    nothing = offers(NO_SEAL, MunicipalityFacts("282286", True, FeeSchedule.from_mapping({}), frozenset()),
                     at("2026-03-03 10:00"))
    assert isinstance(protected, Refusal) and isinstance(nothing, Refusal)
    # Code and words are identical; only the issuer's own log detail differs.
    assert (protected.code, protected.message_ja, protected.message_en) == (
        nothing.code, nothing.message_ja, nothing.message_en)
    assert protected.detail == "support-measure"


def test_kind_options() -> None:
    result = offers(EVERYTHING, ALL_KINDS_TOWN, at("2026-03-03 10:00"))
    assert isinstance(result, Offers)
    by_kind = {o.kind: o for o in result.offers}
    assert by_kind["zeimu"].options.years == (2025, 2024)                 # 2023 is recorded, not offered
    assert by_kind["zeimu"].options.tax_kinds == (TaxKind.SHOTOKU, TaxKind.NOZEI)
    assert by_kind["koseki"].options.koseki_scopes == (KosekiScope.ALL, KosekiScope.SELF)
    assert by_kind["koseki"].fee == 350 and by_kind["koseki"].counter_fee == 450
    assert by_kind["juminhyo"].options.with_individual_number is True
    assert by_kind["kisai"].options.with_individual_number is False
    assert by_kind["juminhyo"].options.members == FAMILY
    assert by_kind["inkan"].options.scopes == (Scope.SELF,)


ORDER_TABLE = [
    # order, accepted (None) or the OrderInvalid code
    (Order("zeimu", OrderOptions(Scope.SELF, False, False, tax_kind="shotoku", year=2025), 1, 250), None),
    (Order("zeimu", OrderOptions(Scope.SELF, False, False, tax_kind="nozei", year=2024), 2, 500), None),
    (Order("zeimu", OrderOptions(Scope.SELF, False, False, tax_kind="shotoku", year=2023), 1, 250), "option-not-offered"),
    (Order("zeimu", OrderOptions(Scope.SELF, False, False), 1, 250), "option-not-offered"),
    (Order("koseki", OrderOptions(Scope.SELF, False, False, koseki_scope="self"), 1, 350), None),
    (Order("koseki", OrderOptions(Scope.SELF, False, False), 1, 350), "option-not-offered"),
    (Order("juminhyo", OrderOptions(Scope.HOUSEHOLD, True, False, members=("R2",)), 1, 200), None),
    (Order("juminhyo", OrderOptions(Scope.HOUSEHOLD, False, False, members=("R9",)), 1, 200), "option-not-offered"),
    (Order("juminhyo", OrderOptions(Scope.SELF, False, False, members=("R1",)), 1, 200), "option-not-offered"),
    (Order("juminhyo", OrderOptions(Scope.HOUSEHOLD, False, False, with_individual_number=True), 1, 200), None),
    (Order("kisai", OrderOptions(Scope.HOUSEHOLD, False, False, with_individual_number=True), 1, 200), "option-not-offered"),
    (Order("juminhyo", OrderOptions(Scope.SELF, False, False, year=2025), 1, 200), "option-not-offered"),
    (Order("inkan", OrderOptions(Scope.HOUSEHOLD, False, False), 1, 200), "option-not-offered"),
    (Order("inkan", OrderOptions(Scope.SELF, False, False), 3, 600), None),
    (Order("inkan", OrderOptions(Scope.SELF, False, False), 3, 500), "fee-mismatch"),
    (Order("inkan", OrderOptions(Scope.SELF, False, False), 11, 2200), "copies-out-of-range"),
]


REGISTER = (MemberChoice("R1", "山田 太郎"), MemberChoice("R2", "山田 花子"), MemberChoice("K1#3", "山田 明美"))
IN_REGISTER = PersonFacts(active=True, has_domicile=True, register_here=True, members=FAMILY, register_persons=REGISTER)


@pytest.mark.parametrize(("options", "problem"), [
    # 戸籍法 10条: any person of the holder's own register, 除籍 included, for a 個人事項証明書.
    (OrderOptions(Scope.SELF, False, False, members=("R2", "K1#3"), koseki_scope="self"), None),
    (OrderOptions(Scope.SELF, False, False, members=("R9",), koseki_scope="self"), "option-not-offered"),
    (OrderOptions(Scope.SELF, False, False, members=("R2", "R2"), koseki_scope="self"), "option-not-offered"),
    (OrderOptions(Scope.SELF, False, False, members=("R2",), koseki_scope="all"), "option-not-offered"),
    (OrderOptions(Scope.HOUSEHOLD, False, False, members=("R2",), koseki_scope="self"), "option-not-offered"),
])
def test_koseki_individual_entries_of_chosen_persons(options: OrderOptions, problem: str | None) -> None:
    result = offers(IN_REGISTER, ALL_KINDS_TOWN, at("2026-03-03 10:00"))
    assert isinstance(result, Offers)
    assert {o.kind: o for o in result.offers}["koseki"].options.members == REGISTER
    order = Order("koseki", options, 1, 350)
    if problem is None:
        assert check_order(IN_REGISTER, ALL_KINDS_TOWN, order, at("2026-03-03 10:00")).kind == "koseki"
    else:
        with pytest.raises(OrderInvalid) as e:
            check_order(IN_REGISTER, ALL_KINDS_TOWN, order, at("2026-03-03 10:00"))
        assert e.value.code == problem


@pytest.mark.parametrize(("order", "problem"), ORDER_TABLE)
def test_order_table(order: Order, problem: str | None) -> None:
    if problem is None:
        assert check_order(EVERYTHING, ALL_KINDS_TOWN, order, at("2026-03-03 10:00")).kind == order.kind
    else:
        with pytest.raises(OrderInvalid) as e:
            check_order(EVERYTHING, ALL_KINDS_TOWN, order, at("2026-03-03 10:00"))
        assert e.value.code == problem


# ---- properties over generated residents, municipalities, clocks and orders

member_ids = st.sampled_from(["R1", "R2", "R3", "R9"])
# Mostly daytime (hypothesis would otherwise favour midnight, when everything is closed).
daytime = st.builds(
    lambda day, minute: datetime(2025, 1, 7, tzinfo=JST) + timedelta(days=day, minutes=minute),
    st.integers(0, 1450), st.integers(9 * 60, 16 * 60 + 59),
)
clocks = st.one_of(daytime, daytime, instants)
# Biased towards people and towns that are served, so that many examples reach an offer.
mostly_true = st.one_of(st.just(True), st.just(True), st.just(True), st.just(False))
mostly_false = st.one_of(st.just(False), st.just(False), st.just(False), st.just(True))
residents = st.one_of(
    *[st.builds(
        PersonFacts,
        active=mostly_true,
        has_domicile=st.booleans(),
        restricted=mostly_false,
        seal_registered=st.booleans(),
        tax_years=st.frozensets(st.integers(2021, 2026), max_size=4),
        register_here=st.booleans(),
        register_restricted=st.booleans(),
        members=st.lists(member_ids, unique=True, max_size=3).map(
            lambda ids: tuple(MemberChoice(i, f"name {i}") for i in ids)),
        register_persons=st.lists(member_ids, unique=True, max_size=3).map(
            lambda ids: tuple(MemberChoice(i, f"name {i}") for i in ids)),
    )] * 3,
    st.none(),
)
windows = st.builds(
    HoursWindow,
    opens=st.sampled_from([time(0, 0), time(6, 30), time(8, 30), time(9, 0)]),
    closes=st.sampled_from([time(17, 0), time(20, 0), time(23, 0), time(23, 59)]),
    weekdays=st.sampled_from([frozenset(range(7)), WEEKDAYS]),
    business_days_only=st.booleans(),
)
municipalities = st.builds(
    MunicipalityFacts,
    code=st.just("282286"),
    participating=mostly_true,
    fees=st.dictionaries(st.sampled_from(sorted(FEES)), st.integers(0, 1000), min_size=4).map(
        FeeSchedule.from_mapping),
    offered_kinds=st.frozensets(st.sampled_from(sorted(FEES)), min_size=2),
    hours=st.lists(windows, min_size=1, max_size=2).map(tuple),
    kind_hours=st.lists(st.tuples(st.sampled_from(["koseki", "fuhyo", "zeimu"]),
                                  st.lists(windows, min_size=1, max_size=1).map(tuple)), max_size=2).map(tuple),
    maintenance=st.lists(
        st.builds(lambda start, hours: MaintenanceWindow(start, start + timedelta(hours=hours)),
                  instants, st.integers(1, 48)), max_size=2).map(tuple),
    max_copies=st.integers(1, 10),
    tax_years=st.frozensets(st.integers(2021, 2026), max_size=3),
    individual_number=st.booleans(),
)
any_orders = st.builds(
    Order,
    kind=st.sampled_from(sorted(FEES)),
    options=st.builds(
        OrderOptions,
        scope=st.sampled_from(list(Scope)),
        with_householder=st.booleans(),
        with_domicile=st.booleans(),
        with_individual_number=st.booleans(),
        members=st.lists(member_ids, unique=True, max_size=2).map(tuple),
        tax_kind=st.sampled_from([None, "shotoku", "nozei"]),
        year=st.one_of(st.none(), st.integers(2021, 2026)),
        koseki_scope=st.sampled_from([None, "all", "self"]),
    ),
    copies=st.integers(1, 12),
    fee=st.integers(0, 12_000),
)


def _fits(order: Order, offer: object) -> bool:
    """Does ``order`` fit ``offer``? Written out independently of check_order."""
    from kofu.domain.rules import Offer

    assert isinstance(offer, Offer)
    o = offer.options
    ids = {m.resident_id for m in o.members}
    return (
        order.copies <= offer.max_copies
        and order.options.scope in o.scopes
        and (not order.options.with_domicile or o.with_domicile)
        and (not order.options.with_householder or o.with_householder)
        and (not order.options.with_individual_number or o.with_individual_number)
        # Members: a household (or, for a 附票, register) with scope household; a 戸籍's
        # persons with the 個人事項証明書 only (戸籍法 10条).
        and (not order.options.members or (
            (order.options.koseki_scope == "self" if o.koseki_scopes else order.options.scope is Scope.HOUSEHOLD)
            and set(order.options.members) <= ids))
        and ((order.options.tax_kind in o.tax_kinds and order.options.year in o.years) if o.tax_kinds
             else (order.options.tax_kind is None and order.options.year is None))
        and (order.options.koseki_scope in o.koseki_scopes if o.koseki_scopes else order.options.koseki_scope is None)
        and order.fee == offer.fee * order.copies
    )


@settings(max_examples=1500, deadline=None)
@given(person=residents, town=municipalities, order=any_orders, now=clocks)
def test_offers_and_check_order_agree_for_every_kind(
    person: PersonFacts | None, town: MunicipalityFacts, order: Order, now: datetime
) -> None:
    listed = offers(person, town, now)
    offer = listed.find(order.kind) if isinstance(listed, Offers) else None
    try:
        accepted = check_order(person, town, order, now)
    except OrderRefused as e:
        assert offer is None
        # Refused with the very words the offer list gave: the neutral ones for a
        # reason about the person, the specific ones for the clock.
        if isinstance(listed, Refusal):
            assert e.refusal == listed
        else:
            closed = listed.closed(order.kind)
            expected = closed.refusal if closed is not None else Refusal(RefusalCode.KIND_NOT_OFFERED)
            assert e.refusal == expected
        event(e.refusal.code.value)
        neutral = (e.refusal.message_ja, e.refusal.message_en) == (NEUTRAL_MESSAGE_JA, NEUTRAL_MESSAGE_EN)
        assert neutral == (e.refusal.code in PERSONAL)
    except OrderInvalid:
        assert offer is not None and not _fits(order, offer)
    else:
        assert offer is not None and _fits(order, offer) and accepted == offer


def _order_from(offer: object, data: st.DataObject) -> Order:
    """An order a kiosk could build from ``offer``: options drawn among those offered."""
    from kofu.domain.rules import Offer

    assert isinstance(offer, Offer)
    o = offer.options
    scope = data.draw(st.sampled_from(o.scopes))
    copies = data.draw(st.integers(1, offer.max_copies))
    members: tuple[str, ...] = ()
    koseki_scope = data.draw(st.sampled_from(o.koseki_scopes)).value if o.koseki_scopes else None
    if o.members and (koseki_scope == "self" if o.koseki_scopes else scope is Scope.HOUSEHOLD):
        members = tuple(data.draw(st.lists(st.sampled_from([m.resident_id for m in o.members]), unique=True)))
    options = OrderOptions(
        scope,
        with_householder=o.with_householder and data.draw(st.booleans()),
        with_domicile=o.with_domicile and data.draw(st.booleans()),
        with_individual_number=o.with_individual_number and data.draw(st.booleans()),
        members=members,
        tax_kind=data.draw(st.sampled_from(o.tax_kinds)).value if o.tax_kinds else None,
        year=data.draw(st.sampled_from(o.years)) if o.years else None,
        koseki_scope=koseki_scope,
    )
    return Order(offer.kind, options, copies, offer.fee * copies)


@settings(max_examples=1500, deadline=None)
@given(person=residents, town=municipalities, now=clocks, data=st.data())
def test_every_order_built_from_an_offer_is_accepted_and_allowed(
    person: PersonFacts | None, town: MunicipalityFacts, now: datetime, data: st.DataObject
) -> None:
    listed = offers(person, town, now)
    event("offered" if isinstance(listed, Offers) else f"refused {listed.code.value}")
    if not isinstance(listed, Offers):
        return
    offer = data.draw(st.sampled_from(listed.offers))
    event(f"kind {offer.kind}")
    order = _order_from(offer, data)
    assert check_order(person, town, order, now) == offer
    _assert_allowed(person, town, order, now, offer)


@settings(max_examples=1500, deadline=None)
@given(person=residents, town=municipalities, order=any_orders, now=clocks)
def test_nothing_is_ever_issued_that_must_not_be(
    person: PersonFacts | None, town: MunicipalityFacts, order: Order, now: datetime
) -> None:
    try:
        offer = check_order(person, town, order, now)
    except (OrderRefused, OrderInvalid):
        return
    _assert_allowed(person, town, order, now, offer)


def _assert_allowed(person: PersonFacts | None, town: MunicipalityFacts, order: Order, now: datetime,
                    offer: object) -> None:
    from kofu.domain.rules import Offer

    assert isinstance(offer, Offer)
    local = now.astimezone(JST)
    assert person is not None and person.active and not person.restricted
    assert town.participating
    assert time(6, 30) <= local.time() < time(23, 0)
    assert not ((local.month, local.day) >= (12, 29) or (local.month, local.day) <= (1, 3))
    assert not any(w.contains(now) for w in town.maintenance)
    assert any(w.contains(local) for w in town.hours)
    for kind, ws in town.kind_hours:
        if kind == order.kind:
            assert any(w.contains(local) for w in ws)
    if order.kind == "inkan":
        assert person.seal_registered and order.options.scope is Scope.SELF
    if order.kind == "zeimu":
        assert order.options.year in town.tax_years and order.options.year in person.tax_years
    if order.kind in ("koseki", "fuhyo"):
        assert person.register_here and not person.register_restricted
    if order.options.with_individual_number:
        assert order.kind == "juminhyo" and town.individual_number
    # 附票 and 戸籍: persons of the holder's register; the other kinds: the household.
    choosable = person.register_persons if order.kind in ("koseki", "fuhyo") else person.members
    assert set(order.options.members) <= {m.resident_id for m in choosable}
    # Fees add up: the per-copy fee of this municipality times the copies.
    assert offer.fee == town.fees.per_copy(order.kind)
    assert order.fee == town.fees.total(order.kind, order.copies) == offer.fee * order.copies


# ---------------------------------------------------------------- refusals say why
# A refusal about the clock or the municipality's settings is the same for every
# card holder, so it names the reason (and the hours), in Japanese and English.


def test_night_names_the_hours_and_the_next_opening() -> None:
    night = offers(RESIDENT, TOWN, at("2026-03-03 23:30"))
    assert isinstance(night, Refusal) and night.code is RefusalCode.CENTER_HOURS
    assert "3月4日 6:30から交付できます" in night.message_ja
    assert "from 6:30 on 4 March" in night.message_en
    early = offers(RESIDENT, TOWN, at("2026-03-04 05:00"))
    assert isinstance(early, Refusal) and "3月4日 6:30から" in early.message_ja
    # The night before the closure: the next opening is after it, in the next year.
    eve = offers(RESIDENT, TOWN, at("2026-12-28 23:30"))
    assert isinstance(eve, Refusal) and eve.code is RefusalCode.CENTER_HOURS
    assert "2027年1月4日 6:30から" in eve.message_ja and "from 6:30 on 4 January 2027" in eve.message_en


def test_year_end_names_the_closure_and_the_reopening() -> None:
    for when in ("2026-12-30 10:00", "2026-12-31 23:30"):
        closed = offers(RESIDENT, TOWN, at(when))
        assert isinstance(closed, Refusal) and closed.code is RefusalCode.CENTER_YEAR_END
        assert "年末年始（12月29日～1月3日）" in closed.message_ja and "2027年1月4日 6:30から" in closed.message_ja
        assert "New Year holidays (29 December – 3 January)" in closed.message_en
        assert "from 6:30 on 4 January 2027" in closed.message_en
    january = offers(RESIDENT, TOWN, at("2027-01-02 10:00"))
    assert isinstance(january, Refusal) and "1月4日 6:30から" in january.message_ja
    assert "2027年" not in january.message_ja


def test_maintenance_names_its_end_and_the_municipality_notice() -> None:
    starts, middle, ends = (at(s) for s in ("2026-03-04 12:00", "2026-03-04 13:00", "2026-03-04 14:30"))
    town = MunicipalityFacts(
        "282154", True, TOWN.fees, TOWN.offered_kinds,
        maintenance=(
            MaintenanceWindow(starts, middle, "住基システム更新のため停止します。", "Stopped for a system update."),
            # Follows the first without a gap: one outage until 14:30.
            MaintenanceWindow(middle, ends, "住基システム更新のため停止します。"),
        ),
    )
    refused = offers(RESIDENT, town, at("2026-03-04 12:10"))
    assert isinstance(refused, Refusal) and refused.code is RefusalCode.MAINTENANCE
    assert "保守作業中" in refused.message_ja and "3月4日 14:30まで" in refused.message_ja
    assert "住基システム更新のため停止します。" in refused.message_ja
    assert "under maintenance until 14:30 on 4 March" in refused.message_en
    assert "Stopped for a system update." in refused.message_en
    # Without an English notice, the English words quote the municipality's own.
    later = offers(RESIDENT, town, at("2026-03-04 13:10"))
    assert isinstance(later, Refusal) and "until 14:30 on 4 March" in later.message_en
    assert "住基システム更新のため停止します。" in later.message_en
    assert isinstance(offers(RESIDENT, town, at("2026-03-04 14:30")), Offers)


def test_a_kind_closed_by_its_hours_is_listed_for_everyone_and_refused_with_its_hours() -> None:
    at_six = at("2026-03-03 18:00")  # a Tuesday, a business day
    for person in (EVERYTHING, NO_SEAL, PROTECTED_IN_REGISTER):
        listed = offers(person, ALL_KINDS_TOWN, at_six)
        assert isinstance(listed, Offers)
        # The same list whatever the records: it says nothing about the person.
        assert [u.kind for u in listed.unavailable] == ["fuhyo", "koseki"]
    listed = offers(EVERYTHING, ALL_KINDS_TOWN, at_six)
    assert isinstance(listed, Offers)
    koseki = listed.closed("koseki")
    assert koseki is not None and koseki.refusal.code is RefusalCode.KIND_HOURS
    assert "戸籍証明書は、ただいまの時間は交付できません" in koseki.refusal.message_ja
    assert "開庁日（土日・祝日・年末年始を除く）9:00～17:00" in koseki.refusal.message_ja
    assert "family register certificate (戸籍証明書) cannot be issued at this hour" in koseki.refusal.message_en
    assert "on business days (not Saturdays, Sundays, national holidays or 29 December – 3 January), 9:00–17:00" \
        in koseki.refusal.message_en
    fuhyo = listed.closed("fuhyo")
    assert fuhyo is not None and fuhyo.refusal.message_ja.startswith("戸籍の附票の写しは")
    with pytest.raises(OrderRefused) as e:
        check_order(EVERYTHING, ALL_KINDS_TOWN,
                    Order("koseki", OrderOptions(Scope.SELF, False, False, koseki_scope="all"), 1, 350), at_six)
    assert e.value.refusal == koseki.refusal
    # In its hours nothing is listed as unavailable.
    morning = offers(EVERYTHING, ALL_KINDS_TOWN, at("2026-03-03 10:00"))
    assert isinstance(morning, Offers) and morning.unavailable == ()


def test_a_protected_household_hears_nothing_about_kind_hours() -> None:
    # A support measure stays neutral at every hour the service is open.
    for when in ("2026-03-03 10:00", "2026-03-03 18:00"):
        refused = offers(PROTECTED_HOUSEHOLD, ALL_KINDS_TOWN, at(when))
        assert isinstance(refused, Refusal) and refused.code is RefusalCode.NOTHING_OFFERED
        assert (refused.message_ja, refused.message_en) == (NEUTRAL_MESSAGE_JA, NEUTRAL_MESSAGE_EN)


def test_copies_limit_names_the_limit() -> None:
    from kofu.domain.rules import copies_limit_refusal

    limit = copies_limit_refusal(3)
    assert limit.code is RefusalCode.COPIES_LIMIT
    assert limit.message_ja == "一度に交付できるのは3通までです。3通以下でお申し込みください。"
    assert limit.message_en == "At most 3 copies can be issued at a time. Please order 3 or fewer."


@pytest.mark.parametrize(("windows", "ja", "en"), [
    ((HoursWindow(time(6, 30), time(23, 0)),), "毎日6:30～23:00", "every day, 6:30–23:00"),
    ((HoursWindow(time(9, 0), time(17, 0), WEEKDAYS),), "平日（月～金）9:00～17:00", "from Monday to Friday, 9:00–17:00"),
    (BUSINESS_9_17, "開庁日（土日・祝日・年末年始を除く）9:00～17:00",
     "on business days (not Saturdays, Sundays, national holidays or 29 December – 3 January), 9:00–17:00"),
    ((HoursWindow(time(9, 0), time(12, 0), frozenset({5})), HoursWindow(time(0, 0), time(23, 59, 59), frozenset({0, 2}))),
     "土曜日9:00～12:00、月・水曜日0:00～24:00", "on Saturdays, 9:00–12:00; on Mondays, Wednesdays, 0:00–24:00"),
])
def test_hours_read_as_a_resident_reads_them(windows: tuple[HoursWindow, ...], ja: str, en: str) -> None:
    from kofu.domain.rules import hours_text

    assert hours_text(windows) == (ja, en)
