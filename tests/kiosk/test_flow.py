"""The kiosk's refund and report-retry paths (issue 13, finding 7: promised in
kiosk/flow.py, untested), with a double of the center's client."""

from __future__ import annotations

from typing import Any

import pytest

from kofu.kiosk import flow
from kofu.kiosk.client import KioskError


class FakeCenter:
    def __init__(self, *, print_error: KioskError | None = None, handed_out: bool = False,
                 printed_errors: list[KioskError] | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.print_error = print_error
        self.handed_out = handed_out
        self.printed_errors = list(printed_errors or [])

    def offers(self, sid: str) -> list[dict[str, Any]]:
        return list(self.availability(sid)["offers"])

    def availability(self, sid: str) -> dict[str, Any]:
        return {"offers": [{"kind": "juminhyo"}], "unavailable": []}

    def order(self, sid: str, **kw: Any) -> dict[str, Any]:
        return {"order_id": "o1", "fee": 200 * kw["copies"]}

    def pay(self, sid: str, oid: str, amount: int) -> dict[str, Any]:
        return {"change": 0}

    def print_job(self, sid: str, oid: str) -> tuple[bytes, dict[str, str]]:
        self.calls.append(("print_job", oid))
        if self.print_error is not None:
            raise self.print_error
        return b"%PDF-", {"x-kofu-certificate-serial": "s1", "x-kofu-pages": "1"}

    def cancel(self, sid: str, oid: str, reason: str) -> dict[str, Any]:
        self.calls.append(("cancel", oid))
        if self.handed_out:
            raise KioskError("print-data-handed-out", "", "", 409)
        return {"refund": 200}

    def printed(self, sid: str, oid: str, copies: int) -> dict[str, Any]:
        self.calls.append(("printed", copies))
        if self.printed_errors:
            raise self.printed_errors.pop(0)
        return {"state": "printed"}


AUTH = flow.Authenticated("s" * 32, "282286")
UNAVAILABLE = KioskError("center-unreachable", "", "down", 0)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flow.time, "sleep", lambda _s: None)


def test_failed_print_data_is_cancelled_for_a_refund() -> None:
    center = FakeCenter(print_error=KioskError("issuer-unavailable", "", "", 502))
    with pytest.raises(KioskError):
        flow.issue(center, AUTH, flow.IssueRequest(), lambda job, n: None)  # type: ignore[arg-type]
    assert ("cancel", "o1") in center.calls and not any(c[0] == "printed" for c in center.calls)


def test_print_data_lost_after_hand_out_is_reported_as_none_printed() -> None:
    center = FakeCenter(print_error=UNAVAILABLE, handed_out=True)
    with pytest.raises(KioskError):
        flow.issue(center, AUTH, flow.IssueRequest(), lambda job, n: None)  # type: ignore[arg-type]
    assert center.calls[-1] == ("printed", 0)


def test_report_is_retried_until_the_center_counts_it() -> None:
    center = FakeCenter(printed_errors=[UNAVAILABLE, KioskError("x", "", "", 503)])
    result = flow.issue(center, AUTH, flow.IssueRequest(copies=2), lambda job, n: None)  # type: ignore[arg-type]
    assert [c for c in center.calls if c[0] == "printed"] == [("printed", 2)] * 3 and result.copies == 2


def test_a_jam_reports_the_copies_that_came_out() -> None:
    center = FakeCenter()
    result = flow.issue(center, AUTH, flow.IssueRequest(copies=3), lambda job, n: 1)  # type: ignore[arg-type]
    assert center.calls[-1] == ("printed", 1) and result.copies == 1


def test_report_refused_or_never_heard_is_printed_not_reported() -> None:
    center = FakeCenter(printed_errors=[KioskError("order-conflict", "", "", 409)])
    with pytest.raises(flow.PrintedNotReported):
        flow.issue(center, AUTH, flow.IssueRequest(), lambda job, n: None)  # type: ignore[arg-type]
    assert len([c for c in center.calls if c[0] == "printed"]) == 1  # a refusal is not retried
    center = FakeCenter(printed_errors=[UNAVAILABLE] * flow.PRINTED_REPORT_ATTEMPTS)
    with pytest.raises(flow.PrintedNotReported):
        flow.issue(center, AUTH, flow.IssueRequest(), lambda job, n: None)  # type: ignore[arg-type]
    assert len([c for c in center.calls if c[0] == "printed"]) == flow.PRINTED_REPORT_ATTEMPTS
