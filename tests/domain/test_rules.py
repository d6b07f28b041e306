"""The issuance rules: a table a municipality's staff can read, and properties over clocks."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kofu.domain.fees import FeeSchedule
from kofu.domain.rules import (
    NEUTRAL_MESSAGE_JA,
    HoursWindow,
    MaintenanceWindow,
    MunicipalityFacts,
    Offers,
    Order,
    OrderInvalid,
    OrderRefused,
    PersonFacts,
    Refusal,
    RefusalCode,
    Scope,
    ServiceState,
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
        # Whatever the reason, the resident reads the same words.
        assert result.message_ja == NEUTRAL_MESSAGE_JA
    else:
        assert isinstance(result, Offers)
        # Only 住民票の写し is built: 印鑑登録証明書 is not offered yet even where priced.
        assert [(o.kind, o.fee) for o in result.offers] == [("juminhyo", expected)]


def test_domicile_option_needs_a_domicile() -> None:
    result = offers(PersonFacts(active=True, has_domicile=False), TOWN, at("2026-03-03 10:00"))
    assert isinstance(result, Offers) and result.offers[0].options.with_domicile is False
    order = Order("juminhyo", Scope.SELF, False, True, 1, 200)
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
    scope=st.sampled_from(list(Scope)),
    with_householder=st.booleans(),
    with_domicile=st.booleans(),
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
        and order.scope in offer.options.scopes
        and (not order.with_domicile or offer.options.with_domicile)
        and (not order.with_householder or offer.options.with_householder)
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
        order = Order(offer.kind, Scope.HOUSEHOLD, False, False, copies, offer.fee * copies)
        assert check_order(person, TOWN, order, now) == offer


def test_the_same_instant_in_another_offset_is_judged_in_japan_time() -> None:
    # 22:30 UTC on 2 March is 07:30 on 3 March in Japan: open.
    utc = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)
    assert isinstance(offers(RESIDENT, TOWN, utc), Offers)
    with pytest.raises(ValueError, match="aware"):
        offers(RESIDENT, TOWN, datetime(2026, 3, 3, 10, 0))
