"""The center's service layer with a real database, real rendering and real
e-seals, and two small doubles: the card trust (tested end to end in
tests/e2e) and the wide-area client, which here plays an issuer that can be
made to misbehave (swap documents between orders, as the 2023 incident did).
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kofu import clock
from kofu.center.errors import (
    AuthenticationFailed,
    CardRevoked,
    DocumentRejected,
    NotFound,
    OrderConflict,
    PaymentShort,
)
from kofu.center.service import CenterService
from kofu.center.trust import AuthenticatedHolder
from kofu.db import make_engine
from kofu.domain.rules import OrderOptions
from kofu.lgpki.ca import LgpkiAuthority
from kofu.lgpki.seal import Sealer, check_seal
from kofu.render import render_juminhyo
from kofu.render.samples import household
from kofu.widearea import order_binding
from kofu.widearea.messages import (
    Availability,
    IssuanceFound,
    IssueCertificateRequest,
    IssuedCertificate,
    KindOffer,
)

STORE = "store-0001"
WAIT = 60.0
"""Seconds any thread of a test (or the fake issuer) waits for another before the test fails."""


def run_all(threads: list[threading.Thread], wait: float = WAIT) -> None:
    """Start the (daemon) threads and wait for them; one still running after ``wait`` s fails
    the test rather than keeping pytest alive."""
    for t in threads:
        t.daemon = True
        t.start()
    deadline = time.monotonic() + wait
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), f"threads still running after {wait} s"


class FakeTrust:
    """Accepts a 'certificate' that is just the resident link, signed by b'ok'; the card
    serial is the link's hex. ``revoked`` holds serials OCSP now calls revoked."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()

    def authenticate(self, cert_der: bytes, challenge: bytes, signature: bytes, now: Any) -> AuthenticatedHolder:
        if signature != b"ok":
            raise AuthenticationFailed("bad signature")
        return AuthenticatedHolder(auth_serial=cert_der.hex(), municipality="282286", resident_link=cert_der.decode())

    def recheck(self, auth_serial: str, now: Any) -> None:
        if auth_serial in self.revoked:
            raise CardRevoked("card certificate revoked (keyCompromise)")


class FakeIssuer:
    """A fake of the typed wide-area client (same methods, same values); renders and seals a
    real document per request. Every method goes through ``call(operation, **wire_names)``,
    as the real client does, so that a test can make one operation misbehave."""

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.swap_with: dict[str, str] | None = None  # order id -> the order whose document to return
        self._docs: dict[str, tuple[bytes, str]] = {}
        self.committed: dict[str, dict[str, Any]] = {}
        """What this issuer committed, by IssueCertificate 電文通番 (what QueryIssuance answers)."""
        self.lock = threading.Lock()

    # The typed client's methods.

    def query_availability(self, message_serial: str, municipality_code: str, resident_link: str) -> Availability:
        return self.call("QueryAvailability", MessageSerial=message_serial, MunicipalityCode=municipality_code,
                         ResidentLink=resident_link)

    def issue_certificate(self, req: IssueCertificateRequest) -> IssuedCertificate:
        return self.call("IssueCertificate", MessageSerial=req.message_serial, MunicipalityCode=req.municipality_code,
                         ResidentLink=req.resident_link, OrderId=req.order_id, Kind=req.kind, Options=req.options,
                         Copies=req.copies, Fee=req.fee, StoreId=req.store_id)

    def confirm_printed(self, message_serial: str, issuance_id: str, copies_printed: int) -> str:
        return self.call("ConfirmPrinted", MessageSerial=message_serial, IssuanceId=issuance_id,
                         CopiesPrinted=copies_printed)

    def cancel_issuance(self, message_serial: str, issuance_id: str, reason: str) -> str:
        return self.call("CancelIssuance", MessageSerial=message_serial, IssuanceId=issuance_id, Reason=reason)

    def query_issuance(self, message_serial: str, issue_message_serial: str) -> IssuanceFound | None:
        return self.call("QueryIssuance", MessageSerial=message_serial, IssueMessageSerial=issue_message_serial)

    def call(self, operation: str, **kw: Any) -> Any:
        with self.lock:
            self.calls.append((operation, kw))
        if operation == "QueryAvailability":
            offer = KindOffer(kind="juminhyo", fee=200, max_copies=10, scopes=("household", "self"),
                              with_householder=True, with_domicile=True)
            return Availability(offers=(offer,))
        if operation == "IssueCertificate":
            binding = order_binding(kw["ResidentLink"], kw["OrderId"], kw["MessageSerial"])
            doc = household(2, binding=binding, householder=kw["ResidentLink"][:8])
            time.sleep(random.random() * 0.01)  # widen the race window
            pdf = self.sealer.seal(render_juminhyo(doc).pdf)
            with self.lock:
                self._docs[kw["OrderId"]] = (pdf, kw["MessageSerial"])
                self.committed.setdefault(kw["MessageSerial"], {
                    "IssuanceId": f"i-{kw['OrderId']}", "CertificateSerial": f"s-{kw['OrderId'][:8]}",
                    "Status": "issued", "Copies": kw["Copies"], "CopiesPrinted": 0, "Fee": kw["Fee"],
                })
                if self.swap_with and kw["OrderId"] in self.swap_with:
                    other = self.swap_with[kw["OrderId"]]
                    deadline = time.monotonic() + WAIT
                    while other not in self._docs:
                        if time.monotonic() > deadline:
                            raise AssertionError(f"the fake issuer waited {WAIT} s for order {other}'s document")
                        self.lock.release()
                        time.sleep(0.005)
                        self.lock.acquire()
                    pdf = self._docs[other][0]
            return IssuedCertificate(
                message_serial=kw["MessageSerial"], issuance_id=f"i-{kw['OrderId']}",
                certificate_serial=f"s-{kw['OrderId'][:8]}", issued_at=clock.now(), pages=1, document=pdf,
            )
        if operation == "ConfirmPrinted":
            self._set(kw["IssuanceId"], "printed", kw["CopiesPrinted"])
            return "printed"
        if operation == "CancelIssuance":
            self._set(kw["IssuanceId"], "cancelled", 0)
            return "cancelled"
        if operation == "QueryIssuance":
            with self.lock:
                found = self.committed.get(kw["IssueMessageSerial"])
            if found is None:
                return None
            per_copy = found["Fee"] // found["Copies"]
            return IssuanceFound(
                issuance_id=found["IssuanceId"], certificate_serial=found["CertificateSerial"],
                state=found["Status"], copies=found["Copies"], copies_printed=found["CopiesPrinted"],
                fee=found["Fee"], charged_fee=per_copy * found["CopiesPrinted"],
            )
        raise AssertionError(operation)

    def _set(self, issuance_id: str, state: str, copies_printed: int) -> None:
        """The issuer's state machine: issued → printed | cancelled, each once."""
        from kofu.center.errors import Refused

        with self.lock:
            for found in self.committed.values():
                if found["IssuanceId"] == issuance_id:
                    if found["Status"] not in ("issued", state):
                        raise Refused(f"issuer refused: already-{found['Status']}", code=f"already-{found['Status']}")
                    if found["Status"] == "printed" and found["CopiesPrinted"] != copies_printed:
                        raise Refused("issuer refused: copies-conflict", code="copies-conflict")
                    found.update(Status=state, CopiesPrinted=copies_printed)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sealer, Path]:
    ca = LgpkiAuthority.init(tmp_path_factory.mktemp("lgpki"))
    seal = ca.issue_seal("282286", "加東市")
    return Sealer.from_files(seal.cert_path, seal.key_path, list(seal.chain)), ca.ca_path


@pytest.fixture
def center(db_url: str, pki: tuple[Sealer, Path]) -> tuple[CenterService, FakeIssuer]:
    sealer, root = pki
    issuer = FakeIssuer(sealer)
    service = CenterService(
        make_engine(db_url), "east", FakeTrust(), {"282286": issuer},  # type: ignore[dict-item, arg-type]
        partial(check_seal, trust_roots=[root]), session_ttl=timedelta(minutes=5),
    )
    service.create_tables()
    return service, issuer


def _authenticated(service: CenterService, link: str) -> str:
    sid, _challenge = service.start_session(STORE, "k1")
    service.authenticate(sid, STORE, link.encode(), b"ok")
    return sid


def _paid_order(service: CenterService, link: str, copies: int = 1) -> tuple[str, str]:
    sid = _authenticated(service, link)
    order = service.create_order(sid, STORE, "juminhyo", OrderOptions(), copies)
    service.pay(order.order_id, sid, STORE, order.fee)
    return sid, order.order_id


def _state(service: CenterService, order_id: str) -> str:
    with service.engine.connect() as c:
        return str(c.execute(sa.text("SELECT state FROM orders WHERE id = :id"), {"id": order_id}).scalar_one())


def _records(service: CenterService) -> int:
    with service.engine.connect() as c:
        return int(c.execute(sa.text("SELECT count(*) FROM issuance_records")).scalar_one())


def test_happy_path_counts_once(center) -> None:
    service, _ = center
    sid, oid = _paid_order(service, "link-aaaa-0001", copies=2)
    job = service.print_job(oid, sid, STORE)
    assert job.copies == 2 and job.pdf.startswith(b"%PDF")
    service.printed(oid, sid, STORE, 2)
    service.printed(oid, sid, STORE, 2)  # a retried report
    assert _records(service) == 1


def test_challenge_is_single_use(center) -> None:
    service, _ = center
    sid, _ = service.start_session(STORE, "k1")
    with pytest.raises(AuthenticationFailed):
        service.authenticate(sid, STORE, b"link-bbbb-0001", b"forged")
    with pytest.raises(AuthenticationFailed, match="challenge already used"):
        service.authenticate(sid, STORE, b"link-bbbb-0001", b"ok")


def test_other_store_cannot_touch_a_session(center) -> None:
    service, _ = center
    sid, oid = _paid_order(service, "link-cccc-0001")
    with pytest.raises(NotFound, match="no session") as e:
        service.print_job(oid, sid, "store-9999")
    assert e.value.code == "not-found" and e.value.status == 404
    # Nor does it learn the order exists: the same answer as for an unknown session.
    with pytest.raises(NotFound, match="no session"):
        service.order(oid, sid, "store-9999")
    assert service.order(oid, sid, STORE).state == "paid"  # still the owner's, untouched


def test_payment_short_and_print_before_payment(center) -> None:
    service, _ = center
    sid = _authenticated(service, "link-dddd-0001")
    order = service.create_order(sid, STORE, "juminhyo", OrderOptions(), 1)
    with pytest.raises(OrderConflict):
        service.print_job(order.order_id, sid, STORE)
    with pytest.raises(PaymentShort):
        service.pay(order.order_id, sid, STORE, order.fee - 10)
    assert _records(service) == 0


def test_swapped_documents_are_never_handed_out(center) -> None:
    """Two orders in flight; the issuer answers each with the other's document."""
    service, issuer = center
    sid_a, a = _paid_order(service, "link-alice-0001")
    sid_b, b = _paid_order(service, "link-bobby-0001")
    issuer.swap_with = {a: b, b: a}
    errors: dict[str, Exception] = {}

    def run(sid: str, oid: str) -> None:
        try:
            service.print_job(oid, sid, STORE)
        except Exception as e:
            errors[oid] = e

    threads = [threading.Thread(target=run, args=(sid_a, a)), threading.Thread(target=run, args=(sid_b, b))]
    run_all(threads)
    assert set(errors) == {a, b}
    assert all(isinstance(e, DocumentRejected) for e in errors.values())
    assert {kw["IssuanceId"] for op, kw in issuer.calls if op == "CancelIssuance"} == {f"i-{a}", f"i-{b}"}
    assert _state(service, a) == "cancelled"
    with pytest.raises(OrderConflict):
        service.printed(a, sid_a, STORE, 1)
    assert _records(service) == 0


def test_concurrent_orders_each_get_their_own_document(center, pki) -> None:
    service, _ = center
    _sealer, root = pki
    links = [f"link-{i:04d}-concurrent" for i in range(8)]
    results: dict[str, Any] = {}

    def run(link: str) -> None:
        sid, oid = _paid_order(service, link)
        job = service.print_job(oid, sid, STORE)
        service.printed(oid, sid, STORE, 1)
        results[link] = (oid, job)

    threads = [threading.Thread(target=run, args=(link,)) for link in links]
    run_all(threads, wait=180)
    assert len(results) == len(links)
    for link, (oid, job) in results.items():
        info = check_seal(job.pdf, trust_roots=[root])
        serial = next(kw["MessageSerial"] for op, kw in center[1].calls if op == "IssueCertificate" and kw["OrderId"] == oid)
        assert info.binding == order_binding(link, oid, serial)
    assert _records(service) == len(links)


def test_retry_uses_the_same_message_serial(center) -> None:
    service, issuer = center
    sid, oid = _paid_order(service, "link-eeee-0001")
    service.print_job(oid, sid, STORE)
    service.print_job(oid, sid, STORE)  # the kiosk asks again (e.g. after a paper jam)
    serials = {kw["MessageSerial"] for op, kw in issuer.calls if op == "IssueCertificate" and kw["OrderId"] == oid}
    assert len(serials) == 1




def test_printed_is_counted_even_when_the_issuer_is_down_then_confirmed_later(center) -> None:
    from kofu.center.errors import IssuerUnavailable

    service, issuer = center
    sid, oid = _paid_order(service, "link-ffff-0001")
    service.print_job(oid, sid, STORE)
    real_call = issuer.call

    def down(operation: str, **kw: Any) -> Any:
        if operation == "ConfirmPrinted":
            raise IssuerUnavailable("issuer down")
        return real_call(operation, **kw)

    issuer.call = down  # type: ignore[method-assign]
    view = service.printed(oid, sid, STORE, 1)
    assert view.state == "printed" and _records(service) == 1
    with pytest.raises(OrderConflict):
        service.cancel(oid, sid, STORE, "too late")
    assert service.reconcile() == 1  # still down: one waits
    issuer.call = real_call  # type: ignore[method-assign]
    assert service.reconcile() == 0
    confirms = [kw for op, kw in issuer.calls if op == "ConfirmPrinted"]
    assert len(confirms) == 1 and confirms[0]["MessageSerial"] == f"p-{oid}"
    assert _records(service) == 1


def test_session_expires_but_printed_and_cancel_still_close_it(center) -> None:
    from kofu import clock
    from kofu.center.errors import NotFound

    service, _ = center
    sid, oid = _paid_order(service, "link-gggg-0001", copies=1)
    service.print_job(oid, sid, STORE)
    later = clock.now() + timedelta(minutes=30)
    clock.set_for_tests(later)
    try:
        with pytest.raises(NotFound, match="expired"):
            service.offers(sid, STORE)
        assert service.printed(oid, sid, STORE, 1).state == "printed"  # a slow printer still counts
        assert _records(service) == 1
    finally:
        clock.set_for_tests(None)


def test_partial_print_counts_and_charges_only_what_exists(center) -> None:
    """Finding 3 (partial print): 1 of 3 copies left the order "printed" with 600 yen kept."""
    service, issuer = center
    sid, oid = _paid_order(service, "link-hhhh-0001", copies=3)
    service.print_job(oid, sid, STORE)
    view = service.printed(oid, sid, STORE, 1)  # paper jam after the first copy
    assert (view.state, view.copies_printed, view.paid, view.refunded) == ("partial", 1, 600, 400)
    with service.engine.connect() as c:
        row = c.execute(sa.text("SELECT copies, fee FROM issuance_records")).one()
    assert tuple(row) == (1, 200)
    assert service.printed(oid, sid, STORE, 1).refunded == 400  # a retried report: the same answer
    with pytest.raises(OrderConflict, match="reported with 1 printed copies"):
        service.printed(oid, sid, STORE, 3)
    confirm = next(kw for op, kw in issuer.calls if op == "ConfirmPrinted")
    assert confirm["CopiesPrinted"] == 1
    sid2, oid2 = _paid_order(service, "link-hhhh-0002", copies=1)
    service.print_job(oid2, sid2, STORE)
    with pytest.raises(OrderConflict, match="printed 2 copies of an order for 1"):
        service.printed(oid2, sid2, STORE, 2)


def test_concurrent_payments_take_one(center) -> None:
    service, _ = center
    sid = _authenticated(service, "link-iiii-0001")
    order = service.create_order(sid, STORE, "juminhyo", OrderOptions(), 1)
    outcomes: list[str] = []

    def pay() -> None:
        try:
            service.pay(order.order_id, sid, STORE, 500)
            outcomes.append("paid")
        except OrderConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=pay) for _ in range(6)]
    run_all(threads)
    assert sorted(outcomes) == ["conflict"] * 5 + ["paid"]


def test_cancel_during_issuance_withholds_the_document(center) -> None:
    service, issuer = center
    sid, oid = _paid_order(service, "link-jjjj-0001")
    real_call = issuer.call

    def slow(operation: str, **kw: Any) -> Any:
        if operation == "IssueCertificate":
            # The kiosk gives up and cancels while the issuer renders.
            assert service.cancel(oid, sid, STORE, "timeout")[1] == 200
        return real_call(operation, **kw)

    issuer.call = slow  # type: ignore[method-assign]
    with pytest.raises(OrderConflict, match="cancelled while"):
        service.print_job(oid, sid, STORE)
    issuer.call = real_call  # type: ignore[method-assign]
    assert [kw["IssuanceId"] for op, kw in issuer.calls if op == "CancelIssuance"] == [f"i-{oid}"]
    with pytest.raises(OrderConflict):
        service.printed(oid, sid, STORE, 1)
    assert _records(service) == 0


def test_misprint_refunds_at_once_and_tells_the_issuer_later(center) -> None:
    """After the print data was handed out only the printer's report refunds: 0 copies printed."""
    from kofu.center.errors import IssuerUnavailable

    service, issuer = center
    sid, oid = _paid_order(service, "link-kkkk-0001")
    service.print_job(oid, sid, STORE)
    real_call = issuer.call

    def down(operation: str, **kw: Any) -> Any:
        if operation == "CancelIssuance":
            raise IssuerUnavailable("issuer down")
        return real_call(operation, **kw)

    issuer.call = down  # type: ignore[method-assign]
    with pytest.raises(OrderConflict, match="handed out"):
        service.cancel(oid, sid, STORE, "changed my mind")
    view = service.printed(oid, sid, STORE, 0)
    assert view.state == "cancelled" and view.refunded == 200
    assert service.reconcile() == 1
    issuer.call = real_call  # type: ignore[method-assign]
    assert service.reconcile() == 0
    assert [kw["IssuanceId"] for op, kw in issuer.calls if op == "CancelIssuance"] == [f"i-{oid}"]
    with pytest.raises(OrderConflict):
        service.printed(oid, sid, STORE, 1)
    assert _records(service) == 0


def test_an_unsealed_document_is_rejected_and_voided(center) -> None:
    service, issuer = center
    sid, oid = _paid_order(service, "link-llll-0001")
    real_call = issuer.call

    def unsealed(operation: str, **kw: Any) -> Any:
        reply = real_call(operation, **kw)
        if operation == "IssueCertificate":
            binding = order_binding(kw["ResidentLink"], kw["OrderId"], kw["MessageSerial"])
            reply = dataclasses.replace(reply, document=render_juminhyo(household(2, binding=binding)).pdf)  # no seal
        return reply

    issuer.call = unsealed  # type: ignore[method-assign]
    with pytest.raises(DocumentRejected, match="seal check"):
        service.print_job(oid, sid, STORE)
    assert [kw["IssuanceId"] for op, kw in issuer.calls if op == "CancelIssuance"] == [f"i-{oid}"]
    assert _state(service, oid) == "cancelled"
    assert _records(service) == 0
