"""The center's side of the wide-area interface: a zeep client per issuer.

zeep builds each client from the issuer's ``?wsdl`` alone, as any other
implementation of the interface would. Calls retry with exponential backoff,
always with the same 電文通番 (MessageSerial), so a retry after a lost reply
can never issue twice: the issuer answers a repeated serial with the first
result.

This is the wire's edge: one typed method per operation takes and returns
the values of :mod:`kofu.widearea.messages`, so the center's service never
sees a zeep object or a SOAP option dict. Faults become
:class:`~kofu.center.errors.Refused` (not retryable) or
:class:`~kofu.center.errors.IssuerUnavailable`.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
import zeep
import zeep.exceptions
from zeep.transports import Transport

from kofu.center.errors import IssuerUnavailable, Refused
from kofu.domain.rules import MemberChoice, OrderOptions
from kofu.widearea import CURRENT_VERSION, NAMESPACE
from kofu.widearea.messages import (
    Availability,
    ClosedKind,
    IssuanceFound,
    IssueCertificateRequest,
    IssuedCertificate,
    KindOffer,
)

log = logging.getLogger("kofu.center.widearea")


@dataclass(frozen=True)
class IssuerFault:
    code: str
    retryable: bool
    message_ja: str | None
    message_en: str | None = None


def parse_fault(fault: zeep.exceptions.Fault) -> IssuerFault:
    detail = fault.detail
    code, retryable, message, message_en = fault.code or "fault", False, None, None
    if detail is not None:
        node = detail.find(f"{{{NAMESPACE}}}FaultDetail")
        if node is None and detail.tag == f"{{{NAMESPACE}}}FaultDetail":
            node = detail
        if node is not None:
            code = node.findtext(f"{{{NAMESPACE}}}Code") or code
            retryable = (node.findtext(f"{{{NAMESPACE}}}Retryable") or "false").strip() == "true"
            message = node.findtext(f"{{{NAMESPACE}}}Message/{{{NAMESPACE}}}Ja")
            message_en = node.findtext(f"{{{NAMESPACE}}}Message/{{{NAMESPACE}}}En")
    return IssuerFault(code=code, retryable=retryable, message_ja=message, message_en=message_en)


class WideAreaClient:
    """Calls one issuer's operations, with retries."""

    def __init__(self, base_url: str, ca: str, client_cert: str, client_key: str, *, retries: int = 3, timeout: float = 10.0) -> None:
        self.base_url = base_url
        self.retries = max(1, retries)
        self.timeout = timeout
        session = requests.Session()
        # Only our CA: ignore REQUESTS_CA_BUNDLE and proxies from the environment.
        session.trust_env = False
        session.verify = ca
        session.cert = (client_cert, client_key)
        # One pooled connection per concurrent kiosk call; the issuer keeps them alive.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
        session.mount("https://", adapter)
        self._transport = Transport(session=session, timeout=timeout, operation_timeout=timeout)  # type: ignore[no-untyped-call]  # zeep ships no annotations
        self._client: zeep.Client | None = None
        self._lock = threading.Lock()

    def _service(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    self._client = zeep.Client(  # type: ignore[no-untyped-call]  # zeep ships no annotations
                        f"{self.base_url}/wide-area?wsdl", transport=self._transport
                    )
                except (requests.RequestException, zeep.exceptions.Error, OSError) as e:
                    raise IssuerUnavailable(f"cannot load the issuer's WSDL from {self.base_url}: {e}") from e
            return self._client.service

    def call(self, operation: str, **kwargs: Any) -> Any:
        """Call ``operation`` with ``InterfaceVersion`` added; retry transient failures."""
        delay = 0.2
        last: Exception | None = None
        for attempt in range(1, self.retries + 1):
            try:
                return getattr(self._service(), operation)(InterfaceVersion=CURRENT_VERSION, **kwargs)
            except zeep.exceptions.Fault as e:
                fault = parse_fault(e)
                if not fault.retryable:
                    raise Refused(
                        f"issuer refused {operation}: {fault.code}: {e.message}",
                        code=fault.code,
                        # The issuer's words for the resident, both languages (neutral when about the person).
                        **({"resident_message": fault.message_ja} if fault.message_ja else {}),
                        **({"resident_message_en": fault.message_en} if fault.message_en else {}),
                    ) from e
                last = e
            except (requests.RequestException, zeep.exceptions.Error, OSError) as e:
                # Transport errors, and answers that are not the contract's XML (a proxy's
                # error page, a truncated body): no answer, so retry with the same serial.
                last = e
            except IssuerUnavailable as e:
                last = e
            log.warning("%s to %s failed (attempt %d/%d): %s", operation, self.base_url, attempt, self.retries, last)
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        raise IssuerUnavailable(f"{operation} to {self.base_url} failed after {self.retries} attempts: {last}") from last

    # -- one typed method per operation ------------------------------------------

    def query_availability(self, message_serial: str, municipality_code: str, resident_link: str) -> Availability:
        """What this holder may have now; a ``Refusal`` answer raises :class:`Refused`."""
        reply = self.call(
            "QueryAvailability", MessageSerial=message_serial, MunicipalityCode=municipality_code,
            ResidentLink=resident_link,
        )
        if getattr(reply, "Refusal", None) is not None:
            refusal = reply.Refusal
            raise Refused(f"issuer refuses: {refusal.Code}", code=str(refusal.Code),
                          resident_message=str(refusal.Message.Ja), resident_message_en=str(refusal.Message.En))
        return Availability(
            offers=tuple(_kind_offer(o) for o in reply.Offers.Offer),
            closed=tuple(
                ClosedKind(str(u.Kind), str(u.Code), str(u.Message.Ja), str(u.Message.En))
                for u in getattr(reply.Offers, "Unavailable", None) or []
            ),
        )

    def issue_certificate(self, req: IssueCertificateRequest) -> IssuedCertificate:
        reply = self.call(
            "IssueCertificate",
            MessageSerial=req.message_serial,
            MunicipalityCode=req.municipality_code,
            ResidentLink=req.resident_link,
            OrderId=req.order_id,
            Kind=req.kind,
            Options=options_element(req.options),
            Copies=req.copies,
            Fee=req.fee,
            StoreId=req.store_id,
        )
        document = reply.Document if isinstance(reply.Document, bytes) else base64.b64decode(reply.Document)
        issued_at = reply.IssuedAt if isinstance(reply.IssuedAt, datetime) else datetime.fromisoformat(str(reply.IssuedAt))
        return IssuedCertificate(
            message_serial=str(reply.MessageSerial),
            issuance_id=str(reply.IssuanceId),
            certificate_serial=str(reply.CertificateSerial),
            issued_at=issued_at,
            pages=int(reply.Pages),
            document=document,
        )

    def confirm_printed(self, message_serial: str, issuance_id: str, copies_printed: int) -> str:
        """The issuance's status after the call (``printed``)."""
        reply = self.call(
            "ConfirmPrinted", MessageSerial=message_serial, IssuanceId=issuance_id, CopiesPrinted=copies_printed
        )
        return str(reply.Status)

    def cancel_issuance(self, message_serial: str, issuance_id: str, reason: str) -> str:
        """The issuance's status after the call (``cancelled``)."""
        reply = self.call("CancelIssuance", MessageSerial=message_serial, IssuanceId=issuance_id, Reason=reason)
        return str(reply.Status)

    def query_issuance(self, message_serial: str, issue_message_serial: str) -> IssuanceFound | None:
        """What the issuer committed for an IssueCertificate 電文通番; None when nothing."""
        reply = self.call("QueryIssuance", MessageSerial=message_serial, IssueMessageSerial=issue_message_serial)
        if not reply.Found:
            return None
        return IssuanceFound(
            issuance_id=str(reply.IssuanceId),
            certificate_serial=str(reply.CertificateSerial),
            state=str(reply.Status),
            # The schema makes these optional (minOccurs=0): an absent one reads as 0, and
            # `kofu center compare` then shows the disagreement instead of the sweeper failing.
            copies=_count(reply.Copies),
            copies_printed=_count(reply.CopiesPrinted),
            fee=_count(reply.Fee),
            charged_fee=_count(reply.ChargedFee),
        )


def _count(value: Any) -> int:
    return 0 if value is None else int(value)


def options_element(options: OrderOptions) -> dict[str, Any]:
    """OrderOptions → the IssueCertificate ``Options`` element, as zeep takes it.

    The 2.1 elements are sent only when set, so a 2.0 issuer sees a 2.0 order
    for the 住民票の写し.
    """
    out: dict[str, Any] = {
        "Scope": options.scope.value, "WithHouseholder": options.with_householder,
        "WithDomicile": options.with_domicile,
    }
    if options.with_individual_number:
        out["WithIndividualNumber"] = True
    if options.members:
        out["Member"] = list(options.members)
    for value, element in ((options.tax_kind, "TaxKind"), (options.year, "Year"), (options.koseki_scope, "KosekiScope")):
        if value is not None:
            out[element] = value
    return out


def _kind_offer(o: Any) -> KindOffer:
    """One zeep Offer → KindOffer; the 2.1 elements are absent (None or []) from a 2.0 issuer."""
    opts = o.Options

    def many(name: str) -> list[Any]:
        return list(getattr(opts, name, None) or [])

    counter = getattr(o, "CounterFee", None)
    return KindOffer(
        kind=str(o.Kind),
        fee=int(o.Fee),
        max_copies=int(o.MaxCopies),
        scopes=tuple(str(s) for s in opts.Scope),
        with_householder=bool(opts.WithHouseholder),
        with_domicile=bool(opts.WithDomicile),
        with_individual_number=bool(getattr(opts, "WithIndividualNumber", False)),
        members=tuple(MemberChoice(str(m.Id), str(m.Name), holder=bool(getattr(m, "Holder", None)))
                      for m in many("Member")),
        tax_kinds=tuple(str(k) for k in many("TaxKind")),
        years=tuple(int(y) for y in many("Year")),
        koseki_scopes=tuple(str(k) for k in many("KosekiScope")),
        counter_fee=int(counter) if counter is not None else None,
    )
