"""The issuer's HTTP edge: the wide-area SOAP endpoint and its WSDL.

Thin on purpose: parse and validate (kofu.widearea.soap), call one
:class:`~kofu.issuer.service.IssuerService` method, and turn its result into a
response or its error into a SOAP fault. SOAP dispatch is hand-written on
lxml because spyne, the usual Python SOAP server, is unmaintained (no release
since 2022, does not import on Python 3.12).

>>> app = build_app(IssuerService(engine, settings))

Routes: ``GET /wide-area?wsdl`` (schema inlined, address = the URL asked),
``GET /wide-area?xsd=wide-area.xsd``, ``POST /wide-area`` (SOAP 1.1),
``GET /healthz``.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

from lxml import etree
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from kofu import clock
from kofu.domain.rules import Offers, OrderOptions, Refusal, Scope
from kofu.issuer.errors import (
    BadRequest,
    IssuanceRefused,
    SerialConflict,
    StateConflict,
    TemporarilyUnavailable,
    UnknownIssuance,
    Unprintable,
)
from kofu.issuer.service import IssuerService
from kofu.web import PEER_CERT_STATE_KEY
from kofu.widearea import ACCEPTED_VERSIONS, CURRENT_VERSION, soap
from kofu.widearea.messages import IssueCertificateRequest
from kofu.widearea.soap import SoapFault, boolean, build, build_many, text

log = logging.getLogger(__name__)

XML = "text/xml; charset=utf-8"


def _message_el(refusal: Refusal) -> etree._Element:
    return build("Message", build("Ja", value=refusal.message_ja), build("En", value=refusal.message_en))


def _refusal_el(refusal: Refusal) -> etree._Element:
    return build("Refusal", build("Code", value=refusal.code.value), _message_el(refusal))


def _offers_el(result: Offers) -> etree._Element:
    return build(
        "Offers",
        *[
            build(
                "Offer",
                build("Kind", value=o.kind),
                build("Fee", value=o.fee),
                build("MaxCopies", value=o.max_copies),
                build(
                    "Options",
                    *build_many("Scope", [s.value for s in o.options.scopes]),
                    build("WithHouseholder", value=o.options.with_householder),
                    build("WithDomicile", value=o.options.with_domicile),
                    build("WithIndividualNumber", value=o.options.with_individual_number),
                    *[
                        build("Member", build("Id", value=m.resident_id), build("Name", value=m.name),
                              build("Holder", value=True) if m.holder else None)
                        for m in o.options.members
                    ],
                    *build_many("TaxKind", [k.value for k in o.options.tax_kinds]),
                    *build_many("Year", o.options.years),
                    *build_many("KosekiScope", [k.value for k in o.options.koseki_scopes]),
                ),
                build("CounterFee", value=o.counter_fee) if o.counter_fee is not None else None,
            )
            for o in result.offers
        ],
        *[
            build("Unavailable", build("Kind", value=u.kind), build("Code", value=u.refusal.code.value),
                  _message_el(u.refusal))
            for u in result.unavailable
        ],
    )


# ------------------------------------------------------------ one handler per operation
# Each takes the validated payload and returns the response element; it runs
# in a worker thread because the service blocks (database, rendering).


def _get_service_status(svc: IssuerService, p: etree._Element) -> etree._Element:
    statuses = svc.service_status(text(p, "MunicipalityCode"))
    return build(
        "GetServiceStatusResponse",
        build("InterfaceVersion", value=CURRENT_VERSION),
        build("ServerTime", value=clock.now().isoformat()),
        *build_many("AcceptedVersion", ACCEPTED_VERSIONS),
        *[
            build(
                "Municipality",
                build("Code", value=s.code),
                build("Name", value=s.name),
                build("Status", value=s.state.value),
                build("Message", value=s.message),
                build("DataRefreshedAt", value=s.refreshed_at.isoformat()) if s.refreshed_at else None,
                build("DataSequence", value=s.data_sequence) if s.refreshed_at else None,
            )
            for s in statuses
        ],
    )


def _query_availability(svc: IssuerService, p: etree._Element) -> etree._Element:
    result = svc.query_availability(str(text(p, "MunicipalityCode")), str(text(p, "ResidentLink")))
    body = _refusal_el(result) if isinstance(result, Refusal) else _offers_el(result)
    return build("QueryAvailabilityResponse", build("MessageSerial", value=text(p, "MessageSerial")), body)


def _order_options(opts: etree._Element) -> OrderOptions:
    """The IssueCertificate ``Options`` element → OrderOptions."""
    scope = str(text(opts, "Scope"))
    try:
        valid_scope = Scope(scope)
    except ValueError as e:  # the schema allows only these; kept for a laxer schema
        raise BadRequest("option-not-offered", f"unknown scope {scope!r}") from e
    year = text(opts, "Year")
    return OrderOptions(
        scope=valid_scope,
        with_householder=boolean(text(opts, "WithHouseholder")),
        with_domicile=boolean(text(opts, "WithDomicile")),
        # The optional 2.1 elements: absent means "not chosen".
        with_individual_number=boolean(text(opts, "WithIndividualNumber")),
        members=tuple(str(m.text) for m in opts.findall(soap.q("Member"))),
        tax_kind=text(opts, "TaxKind"),
        year=int(year) if year is not None else None,
        koseki_scope=text(opts, "KosekiScope"),
    )


def _issue_certificate(svc: IssuerService, p: etree._Element) -> etree._Element:
    opts = p.find(soap.q("Options"))
    assert opts is not None  # the schema requires it
    req = IssueCertificateRequest(
        message_serial=str(text(p, "MessageSerial")),
        municipality_code=str(text(p, "MunicipalityCode")),
        resident_link=str(text(p, "ResidentLink")),
        order_id=str(text(p, "OrderId")),
        kind=str(text(p, "Kind")),
        options=_order_options(opts),
        copies=int(str(text(p, "Copies"))),
        fee=int(str(text(p, "Fee"))),
        store_id=str(text(p, "StoreId")),
    )
    issued = svc.issue_certificate(req)
    return build(
        "IssueCertificateResponse",
        build("MessageSerial", value=issued.message_serial),
        build("IssuanceId", value=issued.issuance_id),
        build("CertificateSerial", value=issued.certificate_serial),
        build("IssuedAt", value=issued.issued_at.isoformat()),
        build("Pages", value=issued.pages),
        build("Copies", value=issued.copies),
        build("Fee", value=issued.fee),
        build("Document", value=base64.b64encode(issued.document).decode("ascii")),
    )


def _confirm_printed(svc: IssuerService, p: etree._Element) -> etree._Element:
    issuance_id = str(text(p, "IssuanceId"))
    status = svc.confirm_printed(issuance_id, int(str(text(p, "CopiesPrinted"))))
    return build("ConfirmPrintedResponse", build("IssuanceId", value=issuance_id), build("Status", value=status))


def _cancel_issuance(svc: IssuerService, p: etree._Element) -> etree._Element:
    issuance_id = str(text(p, "IssuanceId"))
    status = svc.cancel_issuance(issuance_id, text(p, "Reason") or "")
    return build("CancelIssuanceResponse", build("IssuanceId", value=issuance_id), build("Status", value=status))


def _query_issuance(svc: IssuerService, p: etree._Element) -> etree._Element:
    found = svc.query_issuance(str(text(p, "IssueMessageSerial")))
    if found is None:
        return build("QueryIssuanceResponse", build("Found", value="false"))
    return build(
        "QueryIssuanceResponse",
        build("Found", value="true"),
        build("IssuanceId", value=found.issuance_id),
        build("CertificateSerial", value=found.certificate_serial),
        build("Status", value=found.state),
        build("Copies", value=found.copies),
        build("CopiesPrinted", value=found.copies_printed),
        build("Fee", value=found.fee),
        build("ChargedFee", value=found.charged_fee),
    )


HANDLERS: dict[str, Callable[[IssuerService, etree._Element], etree._Element]] = {
    "GetServiceStatus": _get_service_status,
    "QueryAvailability": _query_availability,
    "IssueCertificate": _issue_certificate,
    "ConfirmPrinted": _confirm_printed,
    "CancelIssuance": _cancel_issuance,
    "QueryIssuance": _query_issuance,
}


def to_fault(e: Exception) -> SoapFault:
    """Map a service error to the fault the center gets (see docs/wide-area.md)."""
    if isinstance(e, SoapFault):
        return e
    if isinstance(e, IssuanceRefused):
        r = e.refusal
        return SoapFault("Client", f"refused ({r.code.value}): {r.message_en}", r.code.value,
                         resident_message=(r.message_ja, r.message_en))
    if isinstance(e, BadRequest | StateConflict):
        return SoapFault("Client", str(e), e.code)
    if isinstance(e, SerialConflict):
        return SoapFault("Client", str(e), "serial-conflict")
    if isinstance(e, UnknownIssuance):
        return SoapFault("Client", str(e), "unknown-issuance")
    if isinstance(e, Unprintable):
        return SoapFault("Server", str(e), "document-unprintable", retryable=False)
    if isinstance(e, TemporarilyUnavailable):
        return SoapFault("Server", f"temporarily unavailable: {e}", "unavailable", retryable=True)
    return SoapFault("Server", "internal error; the request may be retried with the same MessageSerial",
                     "internal-error", retryable=True)


CENTER_ROLE = "center"


def _require_center(der: bytes | None) -> None:
    """Only the center may call the wide-area interface.

    Mutual TLS proves the caller holds a certificate of the LGPKI-role CA, but
    that CA also certifies store operators and municipalities: without this
    check a store operator could ask an issuer for anyone's certificate by
    resident link. (No certificate at all means TLS client auth is off, which
    the settings only allow with ``unsafe_no_client_auth``.)
    """
    if der is None:
        return
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    subject = x509.load_der_x509_certificate(der).subject
    roles = [str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if CENTER_ROLE not in roles:
        raise SoapFault("Client", f"caller is not the center (certificate role {roles})", "caller-not-center")


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > soap.MAX_REQUEST_BYTES:
        raise SoapFault("Client", f"request larger than {soap.MAX_REQUEST_BYTES} bytes", "too-large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > soap.MAX_REQUEST_BYTES:
            raise SoapFault("Client", f"request larger than {soap.MAX_REQUEST_BYTES} bytes", "too-large")
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(service: IssuerService) -> Starlette:
    async def wide_area_get(request: Request) -> Response:
        params = request.query_params
        if "wsdl" in params:
            # From the settings: a URL built from the request's Host header would let
            # whoever sends the request choose where the next client posts to.
            location = service.settings.wide_area_url()
            return Response(soap.served_wsdl(location), media_type=XML)
        if params.get("xsd") == "wide-area.xsd":
            return Response(soap.served_xsd(), media_type=XML)
        return PlainTextResponse("ask for ?wsdl or ?xsd=wide-area.xsd", status_code=404)

    async def wide_area_post(request: Request) -> Response:
        operation = "?"
        try:
            _require_center(getattr(request.state, PEER_CERT_STATE_KEY, None))
            body = await _read_limited(request)
            payload = soap.parse_request(body)
            operation = soap.operation_name(payload)
            handler = HANDLERS[operation]
            result: Any = await run_in_threadpool(handler, service, payload)
            return Response(soap.envelope(result), media_type=XML)
        except Exception as e:  # every failure becomes a fault, never a stack trace
            fault = to_fault(e)
            if fault.code == "internal-error":
                log.exception("%s failed", operation)
            else:
                log.info("%s fault %s/%s", operation, fault.faultcode, fault.code)
            # SOAP 1.1 over HTTP: faults travel with status 500.
            return Response(soap.fault_envelope(fault), status_code=500, media_type=XML)

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/wide-area", wide_area_get, methods=["GET"]),
            Route("/wide-area", wide_area_post, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
