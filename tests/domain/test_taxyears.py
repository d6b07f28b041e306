"""The fiscal years (年度) of tax certificates offered by the calendar."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kofu.clock import JST
from kofu.domain.fees import FeeSchedule
from kofu.domain.rules import MunicipalityFacts, Offers, PersonFacts, offered_tax_years, offers
from kofu.domain.taxyears import TaxYearWindow, TaxYearWindowError

JUNE = TaxYearWindow(month=6, day=1, kept=5)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_day_before_the_new_year_is_available() -> None:
    assert JUNE.years_at(at("2026-05-31T23:59:59+09:00")) == frozenset(range(2021, 2026))


def test_the_new_year_arrives_on_its_day_and_the_oldest_leaves() -> None:
    before = JUNE.years_at(at("2026-05-31T23:59:59+09:00"))
    after = JUNE.years_at(at("2026-06-01T00:00:00+09:00"))
    assert after == frozenset(range(2022, 2027))
    assert after - before == {2026} and before - after == {2021}


def test_the_day_after_is_the_same_as_the_day() -> None:
    assert JUNE.years_at(at("2026-06-02T12:00:00+09:00")) == JUNE.years_at(at("2026-06-01T00:00:00+09:00"))


def test_new_year_and_year_end_change_nothing() -> None:
    # The window turns on the availability date, not on 1 January (or 1 April).
    assert (JUNE.years_at(at("2026-12-31T23:59:59+09:00")) == JUNE.years_at(at("2027-01-01T00:00:00+09:00"))
            == JUNE.years_at(at("2027-04-01T10:00:00+09:00")) == frozenset(range(2022, 2027)))


def test_the_date_is_japan_time() -> None:
    # 2026-05-31T15:00Z is 1 June 00:00 in Japan.
    assert JUNE.newest_at(at("2026-05-31T14:59:59+00:00")) == 2025
    assert JUNE.newest_at(at("2026-05-31T15:00:00+00:00")) == 2026
    assert JUNE.newest_at(datetime(2026, 5, 31, 11, 0, tzinfo=timezone(timedelta(hours=-4)))) == 2026


def test_available_from_1_january_and_a_single_year() -> None:
    w = TaxYearWindow.parse("01-01", 1)
    assert w.years_at(at("2026-12-31T23:59:59+09:00")) == {2026}
    assert w.years_at(at("2027-01-01T00:00:00+09:00")) == {2027}


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        JUNE.years_at(datetime(2026, 6, 1))


@pytest.mark.parametrize(("available_from", "kept"), [
    ("6-1", 5), ("06-31", 5), ("02-29", 5), ("13-01", 5), ("06-01", 0), ("06-01", 21), ("06-01", True), (601, 5),
])
def test_bad_settings_are_refused(available_from: object, kept: object) -> None:
    with pytest.raises(TaxYearWindowError):
        TaxYearWindow.parse(available_from, kept)  # type: ignore[arg-type]


def test_parse_round_trips() -> None:
    w = TaxYearWindow.parse("06-01", 5)
    assert w == JUNE and w.available_from == "06-01"


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(JST)),
       st.integers(1, 12), st.integers(1, 28), st.integers(1, 20))
def test_always_kept_consecutive_years_ending_with_the_newest(now: datetime, month: int, day: int, kept: int) -> None:
    w = TaxYearWindow(month, day, kept)
    years = w.years_at(now)
    newest = w.newest_at(now)
    assert years == frozenset(range(newest - kept + 1, newest + 1))
    assert newest in (now.year, now.year - 1)
    assert (newest == now.year) == ((now.month, now.day) >= (month, day))


TOWN = MunicipalityFacts(
    code="282286", participating=True, fees=FeeSchedule.from_mapping({"zeimu": 200}),
    offered_kinds=frozenset({"zeimu"}), tax_year_window=TaxYearWindow(6, 1, 2),
    tax_years=frozenset({2019}),  # the deprecated list is ignored once there is a window
)
TAXPAYER = PersonFacts(active=True, has_domicile=True, tax_years=frozenset({2023, 2024, 2025}))


@pytest.mark.parametrize(("now", "years"), [
    ("2025-05-31T10:00:00+09:00", (2024, 2023)),
    ("2025-06-01T10:00:00+09:00", (2025, 2024)),
    ("2026-05-31T10:00:00+09:00", (2025, 2024)),
    ("2026-06-01T10:00:00+09:00", (2025,)),  # 2026 is in the window but not recorded; 2024 left
])
def test_offered_years_are_the_window_and_the_records(now: str, years: tuple[int, ...]) -> None:
    got = offers(TAXPAYER, TOWN, at(now))
    assert isinstance(got, Offers)
    (zeimu,) = got.offers
    assert zeimu.options.years == years


def test_nothing_recorded_in_the_window_offers_no_tax_certificate() -> None:
    assert not isinstance(offers(TAXPAYER, TOWN, at("2027-06-01T10:00:00+09:00")), Offers)


def test_without_a_window_the_deprecated_list_is_offered() -> None:
    town = MunicipalityFacts(code="282286", participating=True, fees=FeeSchedule.from_mapping({"zeimu": 200}),
                             offered_kinds=frozenset({"zeimu"}), tax_years=frozenset({2024}))
    assert offered_tax_years(town, at("2030-06-01T10:00:00+09:00")) == {2024}
