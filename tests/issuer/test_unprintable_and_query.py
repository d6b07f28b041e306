"""Issue 13, finding 7 (untested promises at the issuer): unprintable records give the
non-retryable fault and never log the name; a printed or cancelled issuance is never
fetched again. And the QueryIssuance the center's sweeper relies on."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from kofu.issuer.app import to_fault
from kofu.issuer.documents import DocumentUnprintable
from kofu.issuer.errors import StateConflict, Unprintable
from kofu.issuer.service import IssuerService
from tests.issuer.test_service import request, svc  # noqa: F401  (fixture)

NAME = "髙橋 𠮷子"


class UnprintableMaker:
    def make(self, document: Any, seal: Any) -> tuple[bytes, int]:
        raise DocumentUnprintable(f"the records cannot be printed: no glyph for {NAME}")


def test_unprintable_records_are_a_permanent_fault_and_the_name_is_not_logged(
    svc: IssuerService, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    broken = IssuerService(svc.engine, svc.settings, maker=UnprintableMaker())  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG), pytest.raises(Unprintable) as e:
        broken.issue_certificate(request("S-unprintable"))
    fault = to_fault(e.value)
    assert (fault.code, fault.retryable) == ("document-unprintable", False)
    assert NAME not in caplog.text and NAME not in str(e.value)
    assert broken.query_issuance("S-unprintable") is None  # nothing was committed


def test_printed_or_cancelled_is_never_fetched_again_and_query_says_what_was_committed(
    svc: IssuerService,  # noqa: F811
) -> None:
    a = svc.issue_certificate(request("S-a", order_id="O-a", copies=3, fee=600))
    status = svc.query_issuance("S-a")
    assert status is not None and (status.state, status.copies_printed, status.charged_fee) == ("issued", 0, 0)
    svc.confirm_printed(a.issuance_id, 1)  # a partial print
    status = svc.query_issuance("S-a")
    assert status is not None and (status.state, status.copies_printed, status.fee, status.charged_fee) == (
        "printed", 1, 600, 200)
    with pytest.raises(StateConflict) as e:
        svc.issue_certificate(request("S-a", order_id="O-a", copies=3, fee=600))
    assert e.value.code == "already-printed"
    b = svc.issue_certificate(request("S-b", order_id="O-b"))
    svc.cancel_issuance(b.issuance_id, "misprint")
    with pytest.raises(StateConflict) as e:
        svc.issue_certificate(request("S-b", order_id="O-b"))
    assert e.value.code == "already-cancelled"
    assert svc.query_issuance("S-nothing") is None
