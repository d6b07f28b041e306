"""What ``kofu demo``'s banner says is closed, over the demo's own import file.

Pure functions of an instant: the instants are fixed dates (2026-12-04 is a
Friday, 2026-12-07 a Monday, 2027-01-04 the first business day of 2027).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kofu.clock import JST
from kofu.demo import data as sample
from kofu.demo.hours import banner, closures, in_hours_clock
from kofu.demo.setup import _hint_command, issuer_import_document


@pytest.fixture(scope="module")
def import_doc() -> dict[str, Any]:
    """The import file ``kofu demo`` feeds its issuer (seal files are not read here)."""
    seals = {
        m.code: SimpleNamespace(cert_path=Path("seal.pem"), key_path=Path("seal.key"), chain=[])
        for m in sample.MUNICIPALITIES
    }
    households = {m.code: sample.households_for(m) for m in sample.MUNICIPALITIES}
    return issuer_import_document(households, seals)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=JST)  # type: ignore[misc]


def lines(doc: dict[str, Any], instant: datetime) -> list[str]:
    return [c.line() for c in closures(doc, instant)]


def test_business_morning_nothing_closed(import_doc: dict[str, Any]) -> None:
    assert closures(import_doc, at(2026, 12, 7, 10, 0)) == []
    assert banner(import_doc, at(2026, 12, 7, 10, 0), "kofu demo {}") == ""


def test_friday_night(import_doc: dict[str, Any]) -> None:
    assert lines(import_doc, at(2026, 12, 4, 23, 35)) == [
        "every certificate (加東市, 三木市): the center serves 06:30–23:00; open again 2026-12-05 (Sat) 06:30",
        "戸籍証明書, 戸籍の附票の写し (三木市): business days 09:00–17:00 only; open again 2026-12-07 (Mon) 09:00",
    ]
    text = banner(import_doc, at(2026, 12, 4, 23, 35), "kofu demo --data var/x {}")
    assert "2026-12-04 (Fri) 23:35 JST" in text
    assert text.endswith("kofu demo --data var/x --clock 2026-12-07T10:00:00+09:00")


def test_early_morning_reopens_the_same_day(import_doc: dict[str, Any]) -> None:
    # 05:00 on a Monday: the center at 06:30, 三木市's 戸籍 at 09:00, both today.
    assert lines(import_doc, at(2026, 12, 7, 5, 0)) == [
        "every certificate (加東市, 三木市): the center serves 06:30–23:00; open again 2026-12-07 (Mon) 06:30",
        "戸籍証明書, 戸籍の附票の写し (三木市): business days 09:00–17:00 only; open again 2026-12-07 (Mon) 09:00",
    ]
    assert in_hours_clock(import_doc, at(2026, 12, 7, 5, 0)) == at(2026, 12, 7, 10, 0)


def test_saturday_only_the_narrower_kinds(import_doc: dict[str, Any]) -> None:
    assert lines(import_doc, at(2026, 12, 5, 10, 0)) == [
        "戸籍証明書, 戸籍の附票の写し (三木市): business days 09:00–17:00 only; open again 2026-12-07 (Mon) 09:00",
    ]


def test_year_end(import_doc: dict[str, Any]) -> None:
    assert lines(import_doc, at(2026, 12, 30, 10, 0)) == [
        "every certificate (加東市, 三木市): the center's year-end closure (29 Dec – 3 Jan); "
        "open again 2027-01-04 (Mon) 06:30",
        "戸籍証明書, 戸籍の附票の写し (三木市): business days 09:00–17:00 only; open again 2027-01-04 (Mon) 09:00",
    ]
    assert in_hours_clock(import_doc, at(2026, 12, 30, 10, 0)) == at(2027, 1, 4, 10, 0)


def test_maintenance_reopens_at_its_end() -> None:
    doc = {"municipalities": [{
        "code": "282286", "name": "加東市", "fees": {"juminhyo": 200}, "offered_kinds": ["juminhyo"],
        "hours": [{"opens": "06:30", "closes": "23:00"}],
        "maintenance": [{"starts": "2026-12-07T09:00:00+09:00", "ends": "2026-12-07T11:17:00+09:00"}],
    }]}
    assert lines(doc, at(2026, 12, 7, 10, 0)) == [
        "every certificate (加東市): maintenance; open again 2026-12-07 (Mon) 11:17",
    ]
    assert in_hours_clock(doc, at(2026, 12, 7, 9, 30)) == at(2026, 12, 8, 10, 0)


def test_hint_keeps_the_users_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAKELEVEL", raising=False)
    argv = ["kofu", "demo", "--data", "/tmp/a b", "--clock", "2026-12-04T23:35:00+09:00", "--fresh"]
    assert _hint_command(argv).format("--clock X") == "kofu demo --data '/tmp/a b' --clock X"
    monkeypatch.setenv("MAKELEVEL", "1")
    assert _hint_command(["kofu", "demo", "--port-base", "9000"]).format("--clock X") == (
        'make demo DEMO_ARGS="--port-base 9000 --clock X"'
    )
