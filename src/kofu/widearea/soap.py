"""Server-side SOAP 1.1 helpers for the wide-area interface: parse, validate, reply.

Hand-written on lxml on purpose: spyne, the usual Python SOAP server, has had
no release since 2022 and does not import on Python 3.12, and the interface is
small enough that a strict parser plus the XSD is all a server needs.

>>> payload = parse_request(body_bytes)          # raises SoapFault, never anything else
>>> reply = envelope(build("GetServiceStatusResponse", ...))
>>> fault_envelope(SoapFault("Client", "...", code="schema-invalid"))

Errors::

    SoapFault   what the client gets back as a SOAP Fault (faultcode Client or
                Server), with a machine code in the FaultDetail
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from kofu.widearea import ACCEPTED_VERSIONS, NAMESPACE, WSDL_PATH, XSD_PATH

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL = "http://schemas.xmlsoap.org/wsdl/"

MAX_REQUEST_BYTES = 1 << 20
"""Requests are small (no documents travel towards the issuer); refuse anything larger."""

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)

OPERATIONS = (
    "GetServiceStatus",
    "QueryAvailability",
    "IssueCertificate",
    "ConfirmPrinted",
    "CancelIssuance",
    "QueryIssuance",
)


@dataclass
class SoapFault(Exception):
    """A fault to send back. ``faultcode`` is ``Client`` (do not resend unchanged) or ``Server``."""

    faultcode: str
    faultstring: str
    code: str
    """Machine-readable reason, in FaultDetail/Code (see docs/wide-area.md)."""
    retryable: bool = False
    accepted_versions: tuple[str, ...] = ()
    resident_message: tuple[str, str] | None = None
    """(Japanese, English) neutral text for a resident, for refusals."""
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.faultcode}/{self.code}: {self.faultstring}"


def _parser() -> etree.XMLParser:
    # Hardened: no entity expansion, no DTD loading, no network, no huge trees.
    # A DTD is refused outright after parsing (see parse_request), so a
    # "billion laughs" document never gets its entities expanded.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


@functools.cache
def schema() -> etree.XMLSchema:
    doc = etree.parse(str(XSD_PATH), _parser())
    return etree.XMLSchema(doc)


def q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def parse_request(body: bytes) -> etree._Element:
    """Return the validated payload element of a SOAP 1.1 request, or raise SoapFault."""
    # 1. Size: the center never sends more than a few kilobytes.
    if len(body) > MAX_REQUEST_BYTES:
        raise SoapFault("Client", f"request larger than {MAX_REQUEST_BYTES} bytes", "too-large")
    # 2. No DTD at all: SOAP 1.1 forbids one, and it is the door to entity
    #    attacks. Refused before parsing where the encoding is ASCII-compatible
    #    (a clear message), and again after parsing for any other encoding.
    if _DOCTYPE.search(body[:4096]):
        raise SoapFault("Client", "a SOAP message must not contain a DTD", "dtd-forbidden")
    # 3. Well-formed XML, parsed without entities or network.
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as e:
        raise SoapFault("Client", f"malformed XML: {e}", "malformed-xml") from e
    if root.getroottree().docinfo.doctype:
        raise SoapFault("Client", "a SOAP message must not contain a DTD", "dtd-forbidden")
    # 4. A SOAP 1.1 envelope with a body holding exactly one element.
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        if root.tag.endswith("}Envelope") or root.tag == "Envelope":
            raise SoapFault(
                "VersionMismatch", f"expected a SOAP 1.1 envelope ({SOAP_ENV})", "soap-version"
            )
        raise SoapFault("Client", f"expected a SOAP Envelope, got {root.tag}", "not-soap")
    header = root.find(f"{{{SOAP_ENV}}}Header")
    if header is not None:
        for h in header:
            if isinstance(h.tag, str) and h.get(f"{{{SOAP_ENV}}}mustUnderstand") in ("1", "true"):
                raise SoapFault(
                    "MustUnderstand", f"header {h.tag} is not understood", "must-understand"
                )
    soap_body = root.find(f"{{{SOAP_ENV}}}Body")
    if soap_body is None:
        raise SoapFault("Client", "the envelope has no Body", "not-soap")
    children = [c for c in soap_body if isinstance(c.tag, str)]
    if len(children) != 1:
        raise SoapFault(
            "Client", f"the Body must hold exactly one element, found {len(children)}", "not-soap"
        )
    payload = children[0]
    # 5. A known operation, valid against the XSD.
    name = etree.QName(payload).localname
    if etree.QName(payload).namespace != NAMESPACE or name not in OPERATIONS:
        raise SoapFault("Client", f"unknown operation {payload.tag}", "unknown-operation")
    # Validate a detached copy so that in-scope namespaces of the envelope do
    # not leak into what the schema sees.
    copy = etree.fromstring(etree.tostring(payload), _parser())
    s = schema()
    if not s.validate(copy):
        errors = "; ".join(
            f"line {e.line}: {e.message}" for e in list(s.error_log)[:3]
        )
        raise SoapFault("Client", f"{name} does not match the schema: {errors}", "schema-invalid")
    # 6. An accepted interface version (checked after the schema, which only
    #    checks its form, so an old client hears exactly what to upgrade to).
    version = copy.findtext(q("InterfaceVersion"))
    if version not in ACCEPTED_VERSIONS:
        raise SoapFault(
            "Client",
            f"interface version {version} is not accepted; accepted versions: "
            + ", ".join(ACCEPTED_VERSIONS),
            "version-not-accepted",
            accepted_versions=ACCEPTED_VERSIONS,
        )
    return copy


def operation_name(payload: etree._Element) -> str:
    return str(etree.QName(payload).localname)


def text(payload: etree._Element, name: str) -> str | None:
    value = payload.findtext(q(name))
    return None if value is None else str(value)


def boolean(value: str | None) -> bool:
    return value in ("true", "1")


def build(name: str, *children: etree._Element | None, value: Any = None) -> etree._Element:
    """An element in the wide-area namespace; ``value`` becomes its text."""
    el = etree.Element(q(name), nsmap={"wa": NAMESPACE})
    if value is not None:
        if isinstance(value, bool):
            el.text = "true" if value else "false"
        else:
            el.text = str(value)
    for c in children:
        if c is not None:
            el.append(c)
    return el


def build_many(name: str, values: Iterable[Any]) -> list[etree._Element]:
    return [build(name, value=v) for v in values]


def envelope(payload: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "wa": NAMESPACE})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    body.append(payload)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def fault_envelope(fault: SoapFault) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "wa": NAMESPACE})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    f = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    # faultcode and friends are unqualified in SOAP 1.1.
    etree.SubElement(f, "faultcode").text = f"soap:{fault.faultcode}"
    etree.SubElement(f, "faultstring").text = fault.faultstring
    detail = etree.SubElement(f, "detail")
    d = build(
        "FaultDetail",
        build("Code", value=fault.code),
        build("Retryable", value=fault.retryable),
        *build_many("AcceptedVersion", fault.accepted_versions),
    )
    if fault.resident_message is not None:
        ja, en = fault.resident_message
        d.append(build("Message", build("Ja", value=ja), build("En", value=en)))
    detail.append(d)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


@functools.cache
def _wsdl_template() -> bytes:
    return WSDL_PATH.read_bytes()


def served_wsdl(location: str) -> bytes:
    """The WSDL with the XSD inlined and the address set to ``location``.

    Inlining means a client needs nothing but the ``?wsdl`` URL.
    """
    wsdl = etree.fromstring(_wsdl_template(), _parser())
    types = wsdl.find(f"{{{WSDL}}}types")
    assert types is not None, "the repository WSDL has a types section"
    for child in list(types):
        types.remove(child)
    xsd = etree.parse(str(XSD_PATH), _parser()).getroot()
    types.append(xsd)
    for address in wsdl.iter(f"{{{WSDL_SOAP}}}address"):
        address.set("location", location)
    return bytes(etree.tostring(wsdl, xml_declaration=True, encoding="UTF-8"))


def served_xsd() -> bytes:
    return XSD_PATH.read_bytes()
