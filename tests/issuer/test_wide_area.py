"""The wide-area interface through a real `kofu serve issuer` over HTTPS with mutual TLS.

The client is zeep built from the served ?wsdl alone, as the center builds it.
"""

from __future__ import annotations

import gc
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import zeep
import zeep.exceptions
from lxml import etree

from kofu.lgpki.seal import check_seal
from kofu.widearea import ACCEPTED_VERSIONS, NAMESPACE, order_binding

from .conftest import KATO, MIKI, OUTSIDE, run_kofu

V = "2.1"
OPTIONS = {"Scope": "household", "WithHouseholder": True, "WithDomicile": True}


def session(world: Any, with_cert: bool = True) -> requests.Session:
    s = requests.Session()
    # requests lets REQUESTS_CA_BUNDLE from the environment override
    # session.verify; the issuer's CA is the only trust anchor here.
    s.trust_env = False
    s.verify = str(world.ca)
    if with_cert:
        s.cert = (str(world.client_cert), str(world.client_key))
    return s


@pytest.fixture
def client(issuer_service: Any) -> Iterator[Any]:
    world, _svc, url = issuer_service
    s = session(world)
    transport = zeep.transports.Transport(session=s, timeout=60)
    yield zeep.Client(f"{url}/wide-area?wsdl", transport=transport)
    # Open keep-alive connections would hold up the server's graceful stop
    # (uvicorn waits for them). A fault's traceback keeps its response, and
    # with it a pooled connection, alive in a reference cycle: collect it.
    s.close()
    gc.collect()


def fault_detail(fault: zeep.exceptions.Fault) -> dict[str, Any]:
    d = fault.detail.find(f"{{{NAMESPACE}}}FaultDetail")
    return {
        "code": d.findtext(f"{{{NAMESPACE}}}Code"),
        "retryable": d.findtext(f"{{{NAMESPACE}}}Retryable"),
        "versions": [e.text for e in d.findall(f"{{{NAMESPACE}}}AcceptedVersion")],
        "message_ja": d.findtext(f"{{{NAMESPACE}}}Message/{{{NAMESPACE}}}Ja"),
    }


def issue(client: Any, serial: str, **kw: Any) -> Any:
    args = dict(InterfaceVersion=V, MessageSerial=serial, MunicipalityCode=KATO,
                ResidentLink="link-R001", OrderId="order-1", Kind="juminhyo", Options=OPTIONS,
                Copies=2, Fee=400, StoreId="store-0001")
    args.update(kw)
    return client.service.IssueCertificate(**args)


def test_every_operation(client: Any, issuer_service: Any) -> None:
    world, _svc, url = issuer_service
    # The served WSDL points at the URL it was fetched from.
    assert client.service._binding_options["address"] == f"{url}/wide-area"

    status = client.service.GetServiceStatus(InterfaceVersion=V)
    assert list(status.AcceptedVersion) == list(ACCEPTED_VERSIONS)
    states = {m.Code: m.Status for m in status.Municipality}
    assert states == {KATO: "available", MIKI: "available", OUTSIDE: "not-participating"}
    one = client.service.GetServiceStatus(InterfaceVersion="2.0", MunicipalityCode=MIKI)
    assert [m.Name for m in one.Municipality] == ["三木市"]
    # When the municipality's records were last refreshed (the optional element since issue 18).
    assert one.Municipality[0].DataRefreshedAt is not None and one.Municipality[0].DataSequence == 0

    avail = client.service.QueryAvailability(InterfaceVersion=V, MessageSerial="q-1",
                                             MunicipalityCode=KATO, ResidentLink="link-R001")
    offer = avail.Offers.Offer[0]
    assert (offer.Kind, offer.Fee, offer.MaxCopies) == ("juminhyo", 200, 10)
    assert list(offer.Options.Scope) == ["household", "self"] and offer.Options.WithDomicile is True
    refused = client.service.QueryAvailability(InterfaceVersion=V, MessageSerial="q-2",
                                               MunicipalityCode=KATO, ResidentLink="link-R011")
    assert refused.Offers is None and refused.Refusal.Code == "resident-removed"
    assert refused.Refusal.Message.Ja.startswith("このカードでは現在証明書を交付できません")

    issued = issue(client, "serial-0001")
    assert (issued.Copies, issued.Fee, issued.Pages) == (2, 400, 1)
    seal = check_seal(issued.Document, [world.ca])
    assert seal.municipality_code == KATO
    assert seal.binding == order_binding("link-R001", "order-1", "serial-0001")

    printed = client.service.ConfirmPrinted(InterfaceVersion=V, MessageSerial="c-1",
                                            IssuanceId=issued.IssuanceId, CopiesPrinted=2)
    assert printed.Status == "printed"
    again = client.service.ConfirmPrinted(InterfaceVersion=V, MessageSerial="c-1",
                                          IssuanceId=issued.IssuanceId, CopiesPrinted=2)
    assert again.Status == "printed"
    with pytest.raises(zeep.exceptions.Fault) as e:
        client.service.CancelIssuance(InterfaceVersion=V, MessageSerial="x-1",
                                      IssuanceId=issued.IssuanceId, Reason="too late")
    assert fault_detail(e.value)["code"] == "already-printed"

    other = issue(client, "serial-0002", OrderId="order-2", Copies=1, Fee=200)
    cancelled = client.service.CancelIssuance(InterfaceVersion=V, MessageSerial="x-2",
                                              IssuanceId=other.IssuanceId, Reason="用紙切れ")
    assert cancelled.Status == "cancelled"

    # The audit log verifies after all of it.
    r = run_kofu("issuer", "audit-verify", "--config", str(world.config))
    assert r.returncode == 0, r.stderr
    assert "4 entries, 2 issuances" in r.stdout


def test_same_serial_never_issues_twice(client: Any, issuer_service: Any) -> None:
    world, _svc, _url = issuer_service
    first = issue(client, "serial-idem")
    second = issue(client, "serial-idem")
    assert (second.IssuanceId, second.CertificateSerial) == (first.IssuanceId, first.CertificateSerial)
    # Concurrent twins: one issuance.
    results: list[Any] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            results.append(issue(client, "serial-race", OrderId="order-race"))
        except BaseException as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=go) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len({(r.IssuanceId, r.CertificateSerial) for r in results}) == 1
    # Reusing a serial for another order is refused.
    with pytest.raises(zeep.exceptions.Fault) as e:
        issue(client, "serial-idem", OrderId="order-other")
    assert fault_detail(e.value)["code"] == "serial-conflict"
    r = run_kofu("issuer", "audit-verify", "--config", str(world.config))
    assert r.returncode == 0 and "2 entries, 2 issuances" in r.stdout, r.stdout + r.stderr


def test_refusals_and_fee_mismatch_are_client_faults(client: Any) -> None:
    with pytest.raises(zeep.exceptions.Fault) as e:
        issue(client, "serial-fee", Fee=200)
    assert e.value.code.endswith("Client") and fault_detail(e.value)["code"] == "fee-mismatch"
    with pytest.raises(zeep.exceptions.Fault) as e:
        issue(client, "serial-outside", MunicipalityCode=OUTSIDE)
    d = fault_detail(e.value)
    assert d["code"] == "not-participating" and d["retryable"] == "false"
    assert d["message_ja"].startswith("このカードでは現在証明書を交付できません")


def test_old_version_is_refused_naming_the_accepted(client: Any) -> None:
    with pytest.raises(zeep.exceptions.Fault) as e:
        client.service.GetServiceStatus(InterfaceVersion="1.9")
    assert e.value.code.endswith("Client")
    assert "2.1" in e.value.message and "2.0" in e.value.message
    assert fault_detail(e.value)["versions"] == list(ACCEPTED_VERSIONS)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wa="urn:kofu:wide-area:2">
 <soap:Body><wa:GetServiceStatus><wa:InterfaceVersion>&lol9;</wa:InterfaceVersion></wa:GetServiceStatus></soap:Body>
</soap:Envelope>"""

SCHEMA_INVALID = b"""<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wa="urn:kofu:wide-area:2">
 <soap:Body><wa:IssueCertificate><wa:InterfaceVersion>2.1</wa:InterfaceVersion>
 <wa:MessageSerial>s-1</wa:MessageSerial><wa:MunicipalityCode>28228</wa:MunicipalityCode>
 </wa:IssueCertificate></soap:Body>
</soap:Envelope>"""


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body>", "malformed-xml"),
        (BILLION_LAUGHS, "dtd-forbidden"),
        (SCHEMA_INVALID, "schema-invalid"),
        (b"<hello/>", "not-soap"),
    ],
    ids=["malformed", "billion-laughs", "schema-invalid", "not-soap"],
)
def test_bad_xml_gets_a_client_fault_and_the_service_lives(issuer_service: Any, body: bytes, code: str) -> None:
    world, svc, url = issuer_service
    s = session(world)
    r = s.post(f"{url}/wide-area", data=body, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)
    assert r.status_code == 500  # SOAP 1.1 over HTTP: faults travel as 500
    doc = etree.fromstring(r.content)
    assert doc.findtext(".//faultcode") == "soap:Client"
    assert doc.findtext(f".//{{{NAMESPACE}}}Code") == code
    if code == "schema-invalid":
        assert "MunicipalityCode" in doc.findtext(".//faultstring")
    assert svc.process.poll() is None
    assert s.get(f"{url}/healthz", timeout=10).text == "ok"
    s.close()


def test_client_without_certificate_is_refused_at_tls(issuer_service: Any) -> None:
    world, _svc, url = issuer_service
    port = int(url.rsplit(":", 1)[1])

    def exchange(ctx: ssl.SSLContext) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                # TLS 1.3 reports the missing certificate on the first read.
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = tls.recv(100)
                if not data:
                    raise ConnectionResetError("closed without an answer")
                while chunk := tls.recv(4096):  # the whole answer, until the server closes
                    data += chunk
                return data

    anonymous = ssl.create_default_context(cafile=str(world.ca))
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        exchange(anonymous)
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        session(world, with_cert=False).get(f"{url}/healthz", timeout=10)
    # The same requests with the center's certificate are answered: the refusals above
    # were for the missing certificate, not a service that is down or a CA that is wrong.
    with_cert = ssl.create_default_context(cafile=str(world.ca))
    with_cert.load_cert_chain(str(world.client_cert), str(world.client_key))
    assert exchange(with_cert).startswith(b"HTTP/1.1 200")
    with session(world) as s:
        assert s.get(f"{url}/healthz", timeout=10).text == "ok"
