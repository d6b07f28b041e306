# ruff: noqa: F811  (pytest fixtures imported from test_service are redefined as parameters)
"""Finding 3 of issue 13 at the service layer: every order ends printed, partially
printed or cancelled, whatever was left in between; finding 7's promises.

The crash itself (kill -9 of real processes) is in tests/e2e/test_crash_money.py;
here the states a crash leaves behind are made directly.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from kofu.center.errors import DocumentRejected, IssuerUnavailable, NotFound, OrderConflict, Refused
from kofu.center.service import CenterService
from kofu.domain.rules import OrderOptions
from kofu.widearea.messages import IssueCertificateRequest
from tests.center.test_service import (  # noqa: F401  (fixtures)
    STORE,
    _paid_order,
    _records,
    _state,
    center,
    pki,
)

NOW = timedelta(0)


def _order_row(service: CenterService, order_id: str) -> dict[str, Any]:
    with service.engine.connect() as c:
        return dict(c.execute(sa.text("SELECT * FROM orders WHERE id = :id"), {"id": order_id}).one()._mapping)


def _issue_at_issuer_only(service: CenterService, issuer: Any, order_id: str) -> None:
    """The issuer commits the order's issuance and the center dies before recording it."""
    import json

    row = _order_row(service, order_id)
    issuer.issue_certificate(IssueCertificateRequest(
        message_serial=row["message_serial"], municipality_code=row["municipality"], resident_link="link-orphan",
        order_id=order_id, kind=row["kind"], options=OrderOptions.from_dict(json.loads(row["options"])),
        copies=row["copies"], fee=row["fee"], store_id=STORE,
    ))


def test_paid_and_abandoned_is_cancelled_and_refunded(center) -> None:
    service, _issuer = center
    sid, oid = _paid_order(service, "link-set1-0001")
    assert service.settle(timedelta(hours=1)) == {"cancelled": 0, "printed": 0, "deferred": 0}  # too recent
    assert service.settle(NOW)["cancelled"] == 1
    row = _order_row(service, oid)
    assert (row["state"], row["refunded"]) == ("cancelled", 200)
    with pytest.raises(NotFound, match="closed"):
        service.print_job(oid, sid, STORE)
    assert service.settle(NOW)["cancelled"] == 0  # settled once


def test_orphan_issuance_at_the_issuer_is_voided(center) -> None:
    """An issuance committed at the issuer while the center died: order paid, issuance issued."""
    service, issuer = center
    _sid, oid = _paid_order(service, "link-set2-0001")
    _issue_at_issuer_only(service, issuer, oid)
    assert service.settle(NOW)["cancelled"] == 1
    assert [kw["IssuanceId"] for op, kw in issuer.calls if op == "CancelIssuance"] == [f"i-{oid}"]
    row = _order_row(service, oid)
    assert (row["state"], row["refunded"], row["issuance_id"]) == ("cancelled", 200, f"i-{oid}")
    assert all(r["agree"] for r in service.compare())


def test_handed_out_and_never_reported_is_counted_not_refunded(center) -> None:
    """Kiosk exit 5: printed, the center died before the report. Never refunded afterwards."""
    service, issuer = center
    sid, oid = _paid_order(service, "link-set3-0001", copies=2)
    service.print_job(oid, sid, STORE)
    with pytest.raises(OrderConflict):
        service.cancel(oid, sid, STORE, "after the restart")
    assert service.settle(NOW)["printed"] == 1
    row = _order_row(service, oid)
    assert (row["state"], row["copies_printed"], row["refunded"]) == ("printed", 2, 0)
    assert _records(service) == 1
    assert [kw["CopiesPrinted"] for op, kw in issuer.calls if op == "ConfirmPrinted"] == [2]
    # The kiosk's late report of the same count answers the same.
    assert service.printed(oid, sid, STORE, 2).state == "printed"


def test_issuer_down_leaves_it_for_the_next_round(center) -> None:
    service, issuer = center
    _sid, oid = _paid_order(service, "link-set4-0001")
    real_call = issuer.call

    def down(operation: str, **kw: Any) -> Any:
        raise IssuerUnavailable("issuer down")

    issuer.call = down  # type: ignore[method-assign]
    assert service.settle(NOW) == {"cancelled": 0, "printed": 0, "deferred": 1}
    assert _state(service, oid) == "paid"
    issuer.call = real_call  # type: ignore[method-assign]
    assert service.settle(NOW)["cancelled"] == 1


def test_partial_print_center_and_issuer_agree(center) -> None:
    service, _issuer = center
    sid, oid = _paid_order(service, "link-set5-0001", copies=3)
    service.print_job(oid, sid, STORE)
    service.printed(oid, sid, STORE, 1)
    (row,) = [r for r in service.compare() if r["order_id"] == oid]
    assert row["agree"] is True
    assert (row["center_copies"], row["center_fee"], row["issuer_copies"], row["issuer_fee"]) == (1, 200, 1, 200)
    assert (row["paid"], row["refunded"]) == (600, 400)


def test_permanent_refusal_is_not_retried_forever_and_does_not_starve(center) -> None:
    """Finding 7: reconcile treated a permanent refusal as "retry later" forever, and 100
    such rows starved newer confirmations."""
    service, issuer = center
    real_call = issuer.call
    refused: list[str] = []

    def refusing(operation: str, **kw: Any) -> Any:
        if operation == "ConfirmPrinted" and kw["IssuanceId"] in refused:
            raise Refused("issuer refused ConfirmPrinted: already-cancelled", code="already-cancelled")
        if operation == "ConfirmPrinted":
            raise IssuerUnavailable("down for now")
        return real_call(operation, **kw)

    issuer.call = refusing  # type: ignore[method-assign]
    orders = []
    for i in range(4):
        sid, oid = _paid_order(service, f"link-set6-000{i}")
        service.print_job(oid, sid, STORE)
        if i < 3:
            refused.append(f"i-{oid}")
        service.printed(oid, sid, STORE, 1)
        orders.append(oid)
    # The three refusals are answers: only the fourth (issuer down) waits, and a batch of
    # two reaches it (with the refusals still queued, it never would).
    assert service.reconcile(limit=2) == 1
    issuer.call = real_call  # type: ignore[method-assign]
    assert service.reconcile(limit=2) == 0
    with service.engine.connect() as c:
        rows = dict(c.execute(sa.text("SELECT order_id, issuer_refusal FROM issuance_records")).all())
    assert all(rows[o] and "already-cancelled" in rows[o] for o in orders[:3]) and rows[orders[3]] is None
    bad = {r["order_id"] for r in service.compare() if r["agree"] is False}
    assert bad == set(orders[:3])


def test_seal_without_municipality_code_is_rejected(center) -> None:
    """Finding 7: `not in (None, municipality)` let a seal naming no municipality through."""
    service, issuer = center
    sid, oid = _paid_order(service, "link-set7-0001")
    real_check = service._check_seal
    service._check_seal = lambda pdf: dataclasses.replace(real_check(pdf), municipality_code=None)
    with pytest.raises(DocumentRejected, match="no municipality"):
        service.print_job(oid, sid, STORE)
    assert _state(service, oid) == "cancelled"
    assert [kw["IssuanceId"] for op, kw in issuer.calls if op == "CancelIssuance"] == [f"i-{oid}"]


def test_certificate_status_follows_the_order(center) -> None:
    """Finding 2: fetched, reported as not printed: the serial is void everywhere."""
    service, _issuer = center
    sid, oid = _paid_order(service, "link-set8-0001", copies=2)
    job = service.print_job(oid, sid, STORE)
    assert service.certificate_status(job.certificate_serial)["status"] == "pending"
    service.printed(oid, sid, STORE, 0)
    status = service.certificate_status(job.certificate_serial)
    assert status == {"serial": job.certificate_serial, "status": "void",
                      "reason": "misprint: reported as not printed", "copies": 0}
    sid, oid = _paid_order(service, "link-set8-0002", copies=3)
    job = service.print_job(oid, sid, STORE)
    service.printed(oid, sid, STORE, 1)
    assert service.certificate_status(job.certificate_serial)["status"] == "valid"
    assert service.certificate_status(job.certificate_serial)["copies"] == 1
    assert service.certificate_status("0" * 32)["status"] == "unknown"


def test_an_answer_for_another_message_serial_is_rejected_and_voided(center) -> None:
    """Finding 7 (untested promise): the binding check starts with the answer's 電文通番."""
    service, issuer = center
    sid, oid = _paid_order(service, "link-set9-0001")
    real_call = issuer.call

    def other_serial(operation: str, **kw: Any) -> Any:
        reply = real_call(operation, **kw)
        if operation == "IssueCertificate":
            reply = dataclasses.replace(reply, message_serial="east-someone-else")
        return reply

    issuer.call = other_serial  # type: ignore[method-assign]
    with pytest.raises(DocumentRejected, match="answered for serial east-someone-else"):
        service.print_job(oid, sid, STORE)
    issuer.call = real_call  # type: ignore[method-assign]
    assert _order_row(service, oid)["refunded"] == 200
    assert [kw["IssuanceId"] for op, kw in issuer.calls if op == "CancelIssuance"] == [f"i-{oid}"]


def test_settings_loader(tmp_path) -> None:
    """Finding 7 (untested promise): the center's settings loader names what is wrong."""
    from kofu.center.settings import SettingsError, load

    base = (
        '[jpki]\nca = "jpki.pem"\nocsp_url = "http://127.0.0.1:1/"\ndirectory_url = "https://127.0.0.1:2"\n'
        '[lgpki]\nca = "ca.pem"\nclient_cert = "c.pem"\nclient_key = "c.key"\n'
    )
    path = tmp_path / "center.toml"
    path.write_text('settle_after_seconds = 90\n' + base + '[issuers]\n"282286" = "https://127.0.0.1:3/"\n')
    s = load(path)
    assert s.settle_after_seconds == 90 and s.ocsp_url == "http://127.0.0.1:1"
    assert s.issuers == {"282286": "https://127.0.0.1:3"} and s.jpki_ca == tmp_path / "jpki.pem"
    path.write_text(base.replace('client_key = "c.key"\n', ""))
    with pytest.raises(SettingsError, match="lgpki.client_key"):
        load(path)
    path.write_text(base + '[issuers]\n"28228" = "https://x"\n')
    with pytest.raises(SettingsError, match="issuers"):
        load(path)
    path.write_text("not toml [")
    with pytest.raises(SettingsError, match="cannot read"):
        load(path)
