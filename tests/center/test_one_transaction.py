# ruff: noqa: F811  (pytest fixtures imported from test_service are redefined as parameters)
"""Finding 1 of issue 13: one PIN entry opened the whole household to the store.

As found: after the resident's own order was printed, the same session id
fetched print data for more certificates (no card, no PIN) and cancelled each
for a full refund; a session authenticated before the card was revoked kept
working. Now one authentication allows one order, the session closes when it
is printed or cancelled (or explicitly), and handing out print data is the
point of no return.
"""

from __future__ import annotations

import threading

import pytest

from kofu.center.errors import CardRevoked, NotFound, OrderConflict
from kofu.center.service import CenterService
from kofu.domain.rules import OrderOptions
from tests.center.test_service import (  # noqa: F401  (fixtures)
    STORE,
    _authenticated,
    _paid_order,
    _records,
    _state,
    center,
    pki,
)


def test_after_printing_the_session_gets_nothing_more(center) -> None:
    service, issuer = center
    sid, oid = _paid_order(service, "link-one1-0001")
    service.print_job(oid, sid, STORE)
    service.printed(oid, sid, STORE, 1)
    issued_before = sum(1 for op, _ in issuer.calls if op == "IssueCertificate")
    # As found: a second order (another kind, the whole household) on the same session.
    for attempt in (
        lambda: service.create_order(sid, STORE, "juminhyo", OrderOptions(with_householder=True), 1),
        lambda: service.offers(sid, STORE),
        lambda: service.print_job(oid, sid, STORE),
        lambda: service.order(oid, sid, STORE),
    ):
        with pytest.raises(NotFound, match="closed"):
            attempt()
    assert sum(1 for op, _ in issuer.calls if op == "IssueCertificate") == issued_before
    # A repeated printed report still answers the same (the kiosk retries), and changes nothing.
    assert service.printed(oid, sid, STORE, 1).state == "printed"
    assert _records(service) == 1


def test_one_order_per_authentication_even_concurrently(center) -> None:
    service, _ = center
    sid = _authenticated(service, "link-one2-0001")
    service.offers(sid, STORE)
    outcomes: list[str] = []

    def order() -> None:
        try:
            service.create_order(sid, STORE, "juminhyo", OrderOptions(), 1)
            outcomes.append("ordered")
        except OrderConflict as e:
            assert e.code == "one-order-per-session"
            outcomes.append("refused")

    threads = [threading.Thread(target=order) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["ordered"] + ["refused"] * 4


def test_fetch_then_cancel_refunds_nothing(center) -> None:
    """Finding 1/2: print data fetched, then cancelled for a full refund."""
    service, issuer = center
    sid, oid = _paid_order(service, "link-one3-0001", copies=2)
    service.print_job(oid, sid, STORE)
    with pytest.raises(OrderConflict) as e:
        service.cancel(oid, sid, STORE, "changed my mind")
    assert e.value.code == "print-data-handed-out"
    with pytest.raises(OrderConflict, match="report the printed copies"):
        service.close_session(sid, STORE)
    assert _state(service, oid) == "issued"
    assert not [kw for op, kw in issuer.calls if op == "CancelIssuance"]
    # Only the printer's report refunds: 1 of 2 came out.
    view = service.printed(oid, sid, STORE, 1)
    assert (view.state, view.refunded) == ("partial", 200)
    with pytest.raises(NotFound, match="closed"):
        service.close_session(sid, STORE)


def test_cancel_before_print_data_refunds_and_closes(center) -> None:
    service, _ = center
    sid, oid = _paid_order(service, "link-one4-0001")
    view, refund = service.cancel(oid, sid, STORE, "changed my mind")
    assert (view.state, refund, view.refunded) == ("cancelled", 200, 200)
    assert service.cancel(oid, sid, STORE, "retry")[1] == 200  # the same answer again
    with pytest.raises(NotFound, match="closed"):
        service.create_order(sid, STORE, "juminhyo", OrderOptions(), 1)


def test_explicit_close_cancels_an_unfetched_order(center) -> None:
    service, issuer = center
    sid, oid = _paid_order(service, "link-one5-0001")
    assert service.close_session(sid, STORE) == 200
    assert _state(service, oid) == "cancelled"
    with pytest.raises(NotFound, match="closed"):
        service.print_job(oid, sid, STORE)
    # A session closed before any order.
    sid2 = _authenticated(service, "link-one5-0002")
    assert service.close_session(sid2, STORE) == 0
    with pytest.raises(NotFound, match="closed"):
        service.offers(sid2, STORE)
    assert _records(service) == 0


def test_revoked_after_authentication_gets_no_print_data(center) -> None:
    service: CenterService
    service, issuer = center
    link = "link-one6-0001"
    sid, oid = _paid_order(service, link)
    service.trust.revoked.add(link.encode().hex())  # type: ignore[attr-defined]
    with pytest.raises(CardRevoked):
        service.print_job(oid, sid, STORE)
    assert not [kw for op, kw in issuer.calls if op == "IssueCertificate"]
    # Nothing was handed out: the resident's money comes back.
    assert service.cancel(oid, sid, STORE, "card revoked")[1] == 200
