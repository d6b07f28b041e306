"""The wide-area operations' requests and answers as typed values.

What the center's client (:mod:`kofu.center.widearea_client`) hands to the
center's service and takes from it, and what the issuer's SOAP edge
(:mod:`kofu.issuer.app`) parses a request into: frozen dataclasses of plain
values, so that neither service layer sees a zeep object, an lxml element or
a SOAP option dict. The XML itself is the WSDL's business (``wide-area.xsd``);
the order's options are the domain's :class:`~kofu.domain.rules.OrderOptions`.

Names follow the operations: ``QueryAvailability`` answers an
:class:`Availability` (or a refusal, raised by the client), ``IssueCertificate``
takes an :class:`IssueCertificateRequest` and answers an
:class:`IssuedCertificate`, ``QueryIssuance`` answers an
:class:`IssuanceFound` (or nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kofu.domain.rules import MemberChoice, OrderOptions


@dataclass(frozen=True)
class KindOffer:
    """One ``Offer`` element: a kind, its fee per copy and the options allowed.

    The 2.1 elements (``with_individual_number`` onwards) are empty from a 2.0 issuer.
    """

    kind: str
    fee: int
    max_copies: int
    scopes: tuple[str, ...]
    with_householder: bool
    with_domicile: bool
    with_individual_number: bool = False
    members: tuple[MemberChoice, ...] = ()
    """Household members (附票: persons of the register) that may be chosen; their
    names are shown on the kiosk screen and pass through memory, never stored or logged."""
    tax_kinds: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    koseki_scopes: tuple[str, ...] = ()
    counter_fee: int | None = None


@dataclass(frozen=True)
class ClosedKind:
    """One ``Unavailable`` element: a kind offered, but not at this hour, and what the resident is told."""

    kind: str
    code: str
    message_ja: str
    message_en: str


@dataclass(frozen=True)
class Availability:
    """A ``QueryAvailabilityResponse`` that offers something."""

    offers: tuple[KindOffer, ...]
    closed: tuple[ClosedKind, ...] = ()


@dataclass(frozen=True)
class IssueCertificateRequest:
    """An ``IssueCertificate`` request (without ``InterfaceVersion``, which the client adds)."""

    message_serial: str
    """The 電文通番: every retry of this issuance sends the same one."""
    municipality_code: str
    resident_link: str
    order_id: str
    kind: str
    options: OrderOptions
    copies: int
    fee: int
    """Total for all copies, yen."""
    store_id: str


@dataclass(frozen=True)
class IssuedCertificate:
    """An ``IssueCertificateResponse``."""

    message_serial: str
    issuance_id: str
    certificate_serial: str
    issued_at: datetime
    pages: int
    document: bytes
    """The sealed PDF, one copy."""


@dataclass(frozen=True)
class IssuanceFound:
    """A ``QueryIssuanceResponse`` that found an issuance: ids, counts and yen only."""

    issuance_id: str
    certificate_serial: str
    state: str
    """``issued``, ``printed`` or ``cancelled`` (the ``Status`` element)."""
    copies: int
    copies_printed: int
    fee: int
    """The order's fee, all copies."""
    charged_fee: int
    """The printed copies' fee."""
