"""Era dates: fixed examples at every era boundary, and round trips by property."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kofu.domain.era import EARLIEST, EraError, from_wareki, split_wareki, to_wareki


@pytest.mark.parametrize(
    ("d", "text"),
    [
        (date(2026, 11, 21), "令和8年11月21日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(2020, 1, 1), "令和2年1月1日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1912, 7, 29), "明治45年7月29日"),
        (date(1912, 7, 30), "大正元年7月30日"),
        (date(1873, 1, 1), "明治6年1月1日"),
    ],
)
def test_known_dates(d: date, text: str) -> None:
    assert to_wareki(d) == text
    assert from_wareki(text) == d


def test_zenkaku_digits() -> None:
    assert to_wareki(date(2026, 11, 21), zenkaku=True) == "令和８年１１月２１日"
    assert to_wareki(date(2019, 5, 1), zenkaku=True) == "令和元年５月１日"
    assert from_wareki("令和８年１１月２１日") == date(2026, 11, 21)


def test_before_gregorian_adoption_is_refused() -> None:
    with pytest.raises(EraError, match="1873"):
        to_wareki(date(1872, 12, 31))


@pytest.mark.parametrize(
    "text",
    [
        "平成31年5月1日",  # 令和 already
        "昭和64年1月8日",  # 平成 already
        "令和元年4月30日",  # still 平成
        "明治5年12月31日",  # lunisolar calendar
        "令和0年1月1日",
        "令和2年2月30日",
        "西暦2020年1月1日",
        "2020-01-01",
        "",
    ],
)
def test_malformed_or_out_of_era_is_refused(text: str) -> None:
    with pytest.raises(EraError):
        from_wareki(text)


def test_spaces_between_parts_are_accepted() -> None:
    assert from_wareki("令和 8年 1月 2日") == date(2026, 1, 2)


dates = st.dates(min_value=EARLIEST, max_value=date(2200, 12, 31))


@given(dates)
def test_round_trip(d: date) -> None:
    assert from_wareki(to_wareki(d)) == d
    assert from_wareki(to_wareki(d, zenkaku=True)) == d


@given(dates)
def test_era_year_counts_from_gannen(d: date) -> None:
    w = split_wareki(d)
    assert w.year >= 1
    # The day before a date is either in the same era (same or previous year) or
    # the date is the first day of its era, where the previous era ends.
    prev = d - timedelta(days=1)
    if prev >= EARLIEST:
        p = split_wareki(prev)
        if p.era == w.era:
            assert w.year - p.year in (0, 1)
        else:
            assert w.year == 1 and (w.month, w.day) == (d.month, d.day)
    assert ("元年" in to_wareki(d)) == (w.year == 1)
