"""The center's side of the wide-area interface: a zeep client per issuer.

zeep builds each client from the issuer's ``?wsdl`` alone, as any other
implementation of the interface would. Calls retry with exponential backoff,
always with the same 電文通番 (MessageSerial), so a retry after a lost reply
can never issue twice: the issuer answers a repeated serial with the first
result.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
import zeep
import zeep.exceptions
from zeep.transports import Transport

from kofu.center.errors import IssuerUnavailable, Refused
from kofu.widearea import CURRENT_VERSION, NAMESPACE

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
