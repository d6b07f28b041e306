"""The headless kiosk: the whole resident flow, as a kiosk runs it.

    card + PIN → session challenge signed by the card → offers → order
    → payment (coin vendor) → print data → print → "printed" → erase

The card's PIN is checked by the card itself (VERIFY) before anything goes
to the center, as on a real kiosk. The certificate passes through memory;
the only place it is written is the printer (here: the ``out`` file the
operator asked for, standing in for the printer).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kofu.domain.rules import OrderOptions
from kofu.kiosk.client import CenterClient, KioskError


@dataclass(frozen=True)
class IssueRequest:
    kind: str = "juminhyo"
    options: OrderOptions = OrderOptions()
    copies: int = 1
    pay: int | None = None
    """Yen put into the coin vendor; ``None`` pays the exact fee."""


@dataclass
class Authenticated:
    session_id: str
    municipality: str


@dataclass
class IssueResult:
    order_id: str
    certificate_serial: str
    municipality: str
    kind: str
    copies: int
    pages: int
    fee: int
    change: int
    pdf: bytes = field(repr=False)

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "pdf"}


PRINTED_REPORT_ATTEMPTS = 7  # about 30 s of backoff: a region failover fits in it


def report_printed(center: CenterClient, session_id: str, order_id: str, copies: int) -> None:
    """Report printed copies, retrying: the center counts a repeated report once."""
    delay = 0.5
    for attempt in range(1, PRINTED_REPORT_ATTEMPTS + 1):
        try:
            center.printed(session_id, order_id, copies)
            return
        except KioskError as e:
            if e.status and e.status < 500 or attempt == PRINTED_REPORT_ATTEMPTS:
                raise
            time.sleep(delay)
            delay *= 2


def open_card(card_path: Path) -> Any:
    from kofu.jpki.client import JpkiCard
    from kofu.jpki.reader import VirtualCardReader

    return JpkiCard(VirtualCardReader(card_path))


def authenticate(center: CenterClient, card: Any, pin: str, kiosk_id: str) -> Authenticated:
    """VERIFY the PIN on the card, then prove the card to the center."""
    card.verify_pin(pin)  # raises WrongPin / CardLocked from kofu.jpki.errors
    return prove_card(center, card, kiosk_id)


def prove_card(center: CenterClient, card: Any, kiosk_id: str) -> Authenticated:
    """Open a center session and answer its challenge with the card (PIN already verified)."""
    sid, challenge = center.start_session(kiosk_id)
    signature = card.sign_with_auth_key(challenge)
    from cryptography.hazmat.primitives.serialization import Encoding

    cert_der = card.auth_certificate().public_bytes(Encoding.DER)
    municipality = center.authenticate(sid, cert_der, signature)
    return Authenticated(sid, municipality)


class PrintedNotReported(Exception):
    """The copies were printed but the center could not be told; the paper exists."""

    def __init__(self, result: IssueResult, cause: KioskError) -> None:
        super().__init__(f"printed order {result.order_id} not reported: {cause}")
        self.result = result
        self.cause = cause


Printer = Callable[[bytes, int], int | None]
"""Prints ``copies`` copies of a print job (the reference kiosk writes a file); returns how
many came out when some failed (a paper jam), ``None`` when all did."""


class NothingPrinted(Exception):
    """Raised by a :data:`Printer` that failed before any paper came out: the
    order is reported with no copy printed, so the center refunds the payment
    and voids the certificate (print data handed out cannot be cancelled)."""


def issue(center: CenterClient, auth: Authenticated, req: IssueRequest, printer: Printer) -> IssueResult:
    available = center.availability(auth.session_id)
    offers = available["offers"]
    offer = next((o for o in offers if o["kind"] == req.kind), None)
    if offer is None:
        closed = next((u for u in available["unavailable"] if u["kind"] == req.kind), None)
        if closed is not None:
            # Closed at this hour by its own hours: the center's words say when it is issued.
            raise KioskError(closed["error"], closed["message"], f"{req.kind} is closed at this hour",
                             message_en=closed.get("message_en", ""))
        raise KioskError(
            "kind-not-offered",
            "選択された証明書は現在交付できません。",
            f"{req.kind} not among offers {[o['kind'] for o in offers]}",
            message_en="The chosen certificate cannot be issued at the moment.",
        )
    order = center.order(auth.session_id, kind=req.kind, copies=req.copies, **req.options.as_dict())
    oid = order["order_id"]
    try:
        paid = center.pay(auth.session_id, oid, order["fee"] if req.pay is None else req.pay)
        pdf, headers = center.print_job(auth.session_id, oid)
    except KioskError:
        # Nothing was printed: a resident who paid gets the money back and nothing is counted.
        try:
            center.cancel(auth.session_id, oid, "kiosk flow failed")
        except KioskError as e:
            if e.code == "print-data-handed-out":
                # The center handed the print data out but it never reached the printer
                # (the answer was lost): the misprint report refunds and voids it.
                try:
                    report_printed(center, auth.session_id, oid, 0)
                except KioskError:
                    pass
        raise
    # Print, then report. From now on the paper exists, so the order is never
    # cancelled: the kiosk keeps reporting until the center has counted it.
    try:
        came_out = printer(pdf, req.copies)
    except NothingPrinted:
        # The printer failed before any copy came out. The print data was handed
        # out, so cancelling is refused: the misprint report (0 copies) refunds
        # the fee and voids the certificate at the issuer.
        try:
            report_printed(center, auth.session_id, oid, 0)
        except KioskError:
            pass
        raise
    printed_copies = req.copies if came_out is None else came_out
    result = IssueResult(
        order_id=oid,
        certificate_serial=headers.get("x-kofu-certificate-serial", ""),
        municipality=auth.municipality,
        kind=req.kind,
        copies=printed_copies,
        pages=int(headers.get("x-kofu-pages", "0")),
        fee=order["fee"],
        change=int(paid["change"]),
        pdf=pdf,
    )
    try:
        report_printed(center, auth.session_id, oid, printed_copies)
    except KioskError as e:
        raise PrintedNotReported(result, e) from e
    return result
