"""The center's service layer: one function per step of a kiosk transaction.

    start_session → authenticate → offers → create_order → pay → print_job → printed (n of N copies)
                                                  ↘ cancel (refund) ↙         ↘ close_session

One authentication is one transaction: a session makes one order (with its
copies); once that order is printed or cancelled, or the kiosk closes the
session, every later request on it is refused. Handing out the print data is
the point of no return: from then on a cancel refunds nothing; only the
printer's report of how many copies failed does (those copies are refunded
and voided at the issuer).

Everything here works on ids and plain values; the HTTP layer (``app.py``)
only parses requests and maps :mod:`kofu.center.errors` to status codes, and
the issuers are reached through typed calls
(:class:`~kofu.center.widearea_client.WideAreaClient`, values of
:mod:`kofu.widearea.messages`): no SOAP here.

What the center keeps is listed in :mod:`kofu.center.models`: never a name,
an address or a document. The sealed PDF passes through memory on its way to
the kiosk and is dropped.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kofu import clock
from kofu.center.errors import (
    AuthenticationFailed,
    CenterError,
    DocumentRejected,
    NotFound,
    NotParticipating,
    OrderConflict,
    PaymentShort,
    Refused,
)
from kofu.center.models import IssuanceRecord, KioskSession, OrderRow
from kofu.center.trust import CardTrust
from kofu.center.widearea_client import WideAreaClient
from kofu.domain.rules import SUPPORTED_KINDS, MemberChoice, OrderOptions, copies_limit_refusal
from kofu.lgpki.seal import SealInvalid
from kofu.widearea import order_binding
from kofu.widearea.messages import (
    ClosedKind,
    IssuanceFound,
    IssueCertificateRequest,
    KindOffer,
)

log = logging.getLogger("kofu.center")

RECENT_OFFERS_SECONDS = 60.0
RECENT_OFFERS_MAX = 10_000


def _options_json(options: OrderOptions) -> str:
    """The order's options as the ``orders`` row keeps them: ids and option names only,
    never a name or an address."""
    return json.dumps(options.as_dict(), sort_keys=True)


class PrintJobComposer(Protocol):
    """Turns a checked, e-sealed front into the duplex print job (anti-forgery back sides)."""

    def __call__(self, front_pdf: bytes, *, serial: str, municipality: str, kind: str, issued_on: date) -> bytes: ...


@dataclass(frozen=True)
class PrintJob:
    order_id: str
    certificate_serial: str
    pages: int
    copies: int
    pdf: bytes
    """What the kiosk prints ``copies`` times: the duplex print job (front, back, …) when
    the center adds the anti-forgery back side, else the sealed front. Never stored."""


@dataclass(frozen=True)
class OrderView:
    order_id: str
    state: str
    kind: str
    copies: int
    fee: int
    paid: int
    certificate_serial: str | None
    pages: int | None
    copies_printed: int | None = None
    refunded: int = 0


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive date-times; they were written in Japan time."""
    return value if value.tzinfo is not None else value.replace(tzinfo=clock.JST)


def _view(o: OrderRow) -> OrderView:
    return OrderView(
        o.id, o.state, o.kind, o.copies, o.fee, o.paid, o.certificate_serial, o.pages, o.copies_printed, o.refunded or 0
    )


def _check_kind_options(offer: KindOffer, options: OrderOptions) -> None:
    """The kind-specific options against the offer (the issuer checks them again)."""
    if options.with_individual_number and not offer.with_individual_number:
        raise OrderConflict("個人番号 is not offered", code="bad-options")
    if options.members:
        offered = {m.resident_id for m in offer.members}
        # 戸籍: persons of the holder's register, for a 個人事項証明書 only (戸籍法 10条);
        # the other kinds: household members (附票: persons of the register) with scope household.
        fits = options.koseki_scope == "self" if offer.koseki_scopes else options.scope == "household"
        if not fits or not set(options.members) <= offered or len(set(options.members)) != len(options.members):
            raise OrderConflict("members must be chosen from the offered household members", code="bad-options")
    if offer.tax_kinds or options.tax_kind is not None or options.year is not None:
        if options.tax_kind not in offer.tax_kinds or options.year not in offer.years:
            raise OrderConflict(
                f"tax certificates need a tax kind of {list(offer.tax_kinds)} and a year of {list(offer.years)}",
                code="bad-options",
            )
    if offer.koseki_scopes or options.koseki_scope is not None:
        if options.koseki_scope not in offer.koseki_scopes:
            raise OrderConflict(f"koseki scope must be one of {list(offer.koseki_scopes)}", code="bad-options")


class CenterService:
    def __init__(
        self,
        engine: sa.Engine,
        region: str,
        trust: CardTrust,
        issuers: dict[str, WideAreaClient],
        check_seal: Any,
        session_ttl: timedelta = timedelta(minutes=10),
        compose: PrintJobComposer | None = None,
    ) -> None:
        self.engine = engine
        self._compose = compose
        self.region = region
        self.trust = trust
        self.issuers = issuers
        self._check_seal = check_seal
        self.session_ttl = session_ttl
        # The offer list a kiosk just showed, per session, so that the order right after
        # it is checked without a second wide-area round trip. The issuer re-applies its
        # rules at IssueCertificate, so a stale entry can never issue what is not allowed.
        self._recent_offers: OrderedDict[str, tuple[float, list[KindOffer]]] = OrderedDict()
        self._recent_lock = threading.Lock()

    def create_tables(self) -> None:
        """Bring the database to the newest schema (alembic migrations)."""
        from kofu.migrations import upgrade

        upgrade(self.engine, "kofu.center")

    # -- helpers -----------------------------------------------------------------

    def _db(self) -> Session:
        # Values read inside a transaction stay readable after it commits.
        return Session(self.engine, expire_on_commit=False)

    def _new_id(self) -> str:
        return uuid.uuid4().hex

    def _session(
        self, db: Session, session_id: str, store_id: str, *, authenticated: bool = True, allow_expired: bool = False,
        allow_closed: bool = False,
    ) -> KioskSession:
        """The store's session; ``allow_expired`` for the steps that close a transaction.

        Reporting printed copies and cancelling must work however long the
        printer took: the paper or the refund exists whatever the clock says.
        ``allow_closed`` lets those two answer a repeated report about the
        session's own, already settled order (they change nothing then).
        """
        ks = db.get(KioskSession, session_id)
        if ks is None or ks.store_id != store_id:
            raise NotFound(f"no session {session_id} for store {store_id}")
        if ks.closed_at is not None and not allow_closed:
            raise NotFound(f"session {session_id} is closed", code="session-closed")
        if not allow_expired and clock.now() > _aware(ks.expires_at):
            raise NotFound(f"session {session_id} expired")
        if authenticated and ks.resident_link is None:
            raise AuthenticationFailed(f"session {session_id} is not authenticated yet", code="not-authenticated")
        return ks

    def _order(
        self, db: Session, order_id: str, session_id: str, store_id: str, *, allow_expired: bool = False,
        allow_closed: bool = False,
    ) -> tuple[OrderRow, KioskSession]:
        ks = self._session(db, session_id, store_id, allow_expired=allow_expired, allow_closed=allow_closed)
        order = db.get(OrderRow, order_id)
        if order is None or order.session_id != ks.id:
            raise NotFound(f"no order {order_id} in session {session_id}")
        return order, ks

    def _issuer(self, municipality: str) -> WideAreaClient:
        client = self.issuers.get(municipality)
        if client is None:
            raise NotParticipating(f"municipality {municipality} has no issuer in the routing table")
        return client

    # -- 1. session and card authentication ------------------------------------------

    def start_session(self, store_id: str, kiosk_id: str) -> tuple[str, bytes]:
        now = clock.now()
        ks = KioskSession(
            id=self._new_id(),
            store_id=store_id,
            kiosk_id=kiosk_id,
            region=self.region,
            challenge=os.urandom(32),
            challenge_used=False,
            created_at=now,
            expires_at=now + self.session_ttl,
        )
        with self._db() as db, db.begin():
            db.add(ks)
        return ks.id, ks.challenge

    def authenticate(self, session_id: str, store_id: str, cert_der: bytes, signature: bytes) -> str:
        """Authenticate the card; returns the holder's municipality code."""
        with self._db() as db, db.begin():
            ks = self._session(db, session_id, store_id, authenticated=False)
            challenge = ks.challenge
            # Step 1 of kofu.center.trust: the challenge is single-use, claimed atomically,
            # so two concurrent attempts (or a replay) cannot both pass.
            claimed = db.execute(
                sa.update(KioskSession)
                .where(KioskSession.id == session_id, KioskSession.challenge_used.is_(False))
                .values(challenge_used=True)
            ).rowcount  # type: ignore[attr-defined]  # UPDATE yields a CursorResult
        if claimed != 1:
            raise AuthenticationFailed("challenge already used", code="challenge-used")
        holder = self.trust.authenticate(cert_der, challenge, signature, clock.now())
        if holder.municipality not in self.issuers:
            raise NotParticipating(f"municipality {holder.municipality} does not take part")
        with self._db() as db, db.begin():
            db.execute(
                sa.update(KioskSession)
                .where(KioskSession.id == session_id)
                .values(
                    auth_serial=holder.auth_serial,
                    resident_link=holder.resident_link,
                    municipality=holder.municipality,
                    authenticated_at=clock.now(),
                )
            )
        return holder.municipality

    # -- 2. offers and orders --------------------------------------------------------

    def offers(self, session_id: str, store_id: str) -> list[KindOffer]:
        return self.availability(session_id, store_id)[0]

    def availability(self, session_id: str, store_id: str) -> tuple[list[KindOffer], list[ClosedKind]]:
        """The offers, and the kinds closed at this hour with why (their own hours)."""
        with self._db() as db:
            ks = self._session(db, session_id, store_id)
            municipality, link = ks.municipality, ks.resident_link
        assert municipality is not None and link is not None
        available = self._issuer(municipality).query_availability(
            f"q-{self.region}-{self._new_id()}", municipality, link
        )
        result, unavailable = list(available.offers), list(available.closed)
        now = time.monotonic()
        # Keep what the order check needs, not the members' names.
        kept = [replace(o, members=tuple(MemberChoice(m.resident_id, "") for m in o.members)) for o in result]
        with self._recent_lock:
            self._recent_offers[session_id] = (now, kept)
            self._recent_offers.move_to_end(session_id)
            while self._recent_offers:
                oldest_key, (at, _) = next(iter(self._recent_offers.items()))
                if len(self._recent_offers) <= RECENT_OFFERS_MAX and now - at < RECENT_OFFERS_SECONDS:
                    break
                del self._recent_offers[oldest_key]
        return result, unavailable

    def _offers_for_order(self, session_id: str, store_id: str) -> list[KindOffer]:
        with self._recent_lock:
            entry = self._recent_offers.pop(session_id, None)
        if entry is not None and time.monotonic() - entry[0] < RECENT_OFFERS_SECONDS:
            return entry[1]
        return self.offers(session_id, store_id)

    def create_order(self, session_id: str, store_id: str, kind: str, options: OrderOptions, copies: int) -> OrderView:
        """Check the order against the issuer's current offer and fix its fee and 電文通番."""
        if kind not in SUPPORTED_KINDS:
            raise OrderConflict(f"unknown certificate kind {kind!r}", code="bad-request")
        offer = next((o for o in self._offers_for_order(session_id, store_id) if o.kind == kind), None)
        if offer is None:
            # Closed at this hour (its own hours): say so and when; else the neutral words.
            closed = next((u for u in self.availability(session_id, store_id)[1] if u.kind == kind), None)
            if closed is not None:
                raise Refused(f"{kind} is closed at this hour", code=closed.code,
                              resident_message=closed.message_ja, resident_message_en=closed.message_en)
            raise Refused(f"{kind} is not offered to this holder now", code="kind-not-offered")
        if copies > offer.max_copies:
            limit = copies_limit_refusal(offer.max_copies)
            raise Refused(f"{copies} copies ordered, the municipality issues at most {offer.max_copies}",
                          code=limit.code.value, resident_message=limit.message_ja,
                          resident_message_en=limit.message_en)
        if copies < 1:
            raise OrderConflict(f"copies must be 1..{offer.max_copies}", code="bad-copies")
        if options.scope not in offer.scopes:
            raise OrderConflict(f"scope {options.scope!r} not offered", code="bad-options")
        if (options.with_householder and not offer.with_householder) or (options.with_domicile and not offer.with_domicile):
            raise OrderConflict("option not offered", code="bad-options")
        _check_kind_options(offer, options)
        now = clock.now()
        with self._db() as db, db.begin():
            ks = self._session(db, session_id, store_id)
            order_id = self._new_id()
            # One authentication, one order: claimed atomically, so two concurrent
            # orders on one session cannot both be made.
            claimed = db.execute(
                sa.update(KioskSession)
                .where(KioskSession.id == ks.id, KioskSession.order_id.is_(None), KioskSession.closed_at.is_(None))
                .values(order_id=order_id)
            ).rowcount  # type: ignore[attr-defined]  # UPDATE yields a CursorResult
            if claimed != 1:
                raise OrderConflict(
                    "this session already has an order: one card authentication allows one order",
                    code="one-order-per-session",
                )
            order = OrderRow(
                id=order_id,
                session_id=ks.id,
                municipality=ks.municipality,
                kind=kind,
                options=_options_json(options),
                copies=copies,
                fee=offer.fee * copies,
                paid=0,
                state="created",
                message_serial=f"{self.region}-{self._new_id()}",
                created_at=now,
                updated_at=now,
            )
            db.add(order)
            return _view(order)

    # -- 3. payment ------------------------------------------------------------------

    def pay(self, order_id: str, session_id: str, store_id: str, amount: int) -> tuple[OrderView, int]:
        """Record payment of ``amount`` yen; returns the order and the change due."""
        with self._db() as db, db.begin():
            order, _ = self._order(db, order_id, session_id, store_id)
            if order.state != "created":
                raise OrderConflict(f"order is {order.state}, not awaiting payment")
            if amount < order.fee:
                raise PaymentShort(f"paid {amount} yen of a {order.fee} yen fee")
            # Conditional, so that two concurrent payments cannot both be taken.
            claimed = db.execute(
                sa.update(OrderRow)
                .where(OrderRow.id == order_id, OrderRow.state == "created")
                .values(paid=OrderRow.fee, state="paid", updated_at=clock.now())
            ).rowcount  # type: ignore[attr-defined]  # UPDATE yields a CursorResult
            if claimed != 1:
                raise OrderConflict("order was paid or cancelled meanwhile")
            db.refresh(order)
            return _view(order), amount - order.fee

    # -- 4. print data ---------------------------------------------------------------

    def print_job(self, order_id: str, session_id: str, store_id: str) -> PrintJob:
        """Fetch the sealed certificate and prove it belongs to this holder and order."""
        with self._db() as db:
            order, ks = self._order(db, order_id, session_id, store_id)
            if order.state not in ("paid", "issued"):
                raise OrderConflict(f"order is {order.state}; print data needs a paid order")
            options = OrderOptions.from_dict(json.loads(order.options))
            snapshot = (order.municipality, order.message_serial, order.kind, order.copies, order.fee, ks.resident_link)
            auth_serial = ks.auth_serial
        municipality, message_serial, kind, copies, fee, link = snapshot
        assert link is not None and auth_serial is not None
        # The card may have been revoked since the session authenticated: ask again
        # before anything of the holder's leaves the center (fail closed).
        self.trust.recheck(auth_serial, clock.now())
        issuer = self._issuer(municipality)
        issued = issuer.issue_certificate(IssueCertificateRequest(
            message_serial=message_serial, municipality_code=municipality, resident_link=link, order_id=order_id,
            kind=kind, options=options, copies=copies, fee=fee, store_id=store_id,
        ))
        pdf = issued.document
        try:
            # The binding check (see kofu.widearea.order_binding): recomputed from OUR state.
            if issued.message_serial != message_serial:
                raise DocumentRejected(f"issuer answered for serial {issued.message_serial}, not {message_serial}")
            try:
                seal = self._check_seal(pdf)
            except SealInvalid as e:
                raise DocumentRejected(f"issuer's document failed the seal check: {e}") from e
            if seal.binding != order_binding(link, order_id, message_serial):
                raise DocumentRejected("sealed document is bound to another holder or order")
            if seal.municipality_code != municipality:
                # Fail closed: a seal that names no municipality is not this municipality's.
                raise DocumentRejected(f"document sealed by {seal.municipality_code or 'no municipality'}, not {municipality}")
        except DocumentRejected as e:
            # Never printed, never counted: void it here and at the issuer. Unless an
            # earlier fetch of this order already handed its print data out (this was
            # a re-fetch): that issuance stands and is settled by the printer's report.
            with self._db() as db, db.begin():
                voided = db.execute(
                    sa.update(OrderRow)
                    .where(OrderRow.id == order_id, OrderRow.state.in_(("paid", "issued")), OrderRow.handed_out_at.is_(None))
                    .values(state="cancelled", refunded=OrderRow.paid, updated_at=clock.now())
                ).rowcount  # type: ignore[attr-defined]  # UPDATE yields a CursorResult
                if voided:
                    self._close(db, session_id)
                handed_out = db.scalar(sa.select(OrderRow.handed_out_at).where(OrderRow.id == order_id)) is not None
            if not handed_out:
                self._cancel_at_issuer(municipality, issued.issuance_id, "document rejected by center")
            log.error("order %s: print data rejected (%s); order cancelled", order_id, e.detail)
            raise
        with self._db() as db, db.begin():
            took = db.execute(
                sa.update(OrderRow)
                .where(OrderRow.id == order_id, OrderRow.state.in_(("paid", "issued")))
                .values(
                    state="issued",
                    issuance_id=issued.issuance_id,
                    certificate_serial=issued.certificate_serial,
                    pages=issued.pages,
                    updated_at=clock.now(),
                )
            ).rowcount  # type: ignore[attr-defined]  # UPDATE yields a CursorResult
        if took != 1:
            # Cancelled (and refunded) while the issuer was rendering: the document must not print.
            self._cancel_at_issuer(municipality, issued.issuance_id, "order cancelled during issuance")
            raise OrderConflict("order was cancelled while its certificate was being issued")
        if self._compose is not None:
            pdf = self._compose(
                pdf,
                serial=issued.certificate_serial,
                municipality=municipality,
                kind=kind,
                issued_on=_aware(issued.issued_at).astimezone(clock.JST).date(),
            )
        with self._db() as db, db.begin():
            # The point of no return: from here on only a printer report refunds.
            handed = db.execute(
                sa.update(OrderRow)
                .where(OrderRow.id == order_id, OrderRow.state == "issued")
                .values(handed_out_at=sa.func.coalesce(OrderRow.handed_out_at, clock.now()), updated_at=clock.now())
            ).rowcount  # type: ignore[attr-defined]  # UPDATE yields a CursorResult
        if handed != 1:
            raise OrderConflict("order was cancelled while its print data was being prepared")
        return PrintJob(order_id, issued.certificate_serial, issued.pages, copies, pdf)

    def _close(self, db: Session, session_id: str) -> None:
        db.execute(
            sa.update(KioskSession)
            .where(KioskSession.id == session_id, KioskSession.closed_at.is_(None))
            .values(closed_at=clock.now())
        )

    def _cancel_at_issuer(self, municipality: str, issuance_id: str, reason: str) -> None:
        try:
            self._issuer(municipality).cancel_issuance(f"c-{self._new_id()}", issuance_id, reason)
        except Exception:  # best effort: the issuance stays "issued", never "printed", so it is not counted
            log.exception("could not cancel issuance %s at %s", issuance_id, municipality)

    # -- 5. printed / cancelled ------------------------------------------------------------

    def printed(self, order_id: str, session_id: str, store_id: str, copies: int) -> OrderView:
        """The kiosk printed ``copies`` of the order's copies: settle the order exactly once.

        Printing is a fact the moment the kiosk reports it, so the count is
        recorded first, in one transaction with the order's state and the
        session's close; telling the issuer follows and, if the issuer is
        unreachable now, is retried later by :meth:`reconcile` with the same
        電文通番. A printed order is never refunded or cancelled because an
        issuer was down.

        - all copies: ``printed``, counted and charged;
        - some (a paper jam after copy 1 of 3): ``partial``: the copies that
          exist are counted and charged, the rest refunded (``refunded``) and
          voided at the issuer (ConfirmPrinted with the printed count);
        - none: ``cancelled``, all refunded, the issuance voided at the issuer.

        The same report again answers the same; a different one is refused.
        """
        with self._db() as db:
            order, _ = self._order(db, order_id, session_id, store_id, allow_expired=True, allow_closed=True)
            if order.state in ("printed", "partial", "cancelled") and order.copies_printed is not None:
                if order.copies_printed != copies:
                    raise OrderConflict(
                        f"order was reported with {order.copies_printed} printed copies, not {copies}",
                        code="copies-conflict",
                    )
                return _view(order)
            if order.state != "issued" or order.handed_out_at is None:
                raise OrderConflict(f"order is {order.state}; only orders whose print data was handed out can be printed")
            if not 0 <= copies <= order.copies:
                raise OrderConflict(f"printed {copies} copies of an order for {order.copies}", code="bad-copies")
        per_copy = order.fee // order.copies
        state = "printed" if copies == order.copies else "partial" if copies else "cancelled"
        refund = order.paid - per_copy * copies
        try:
            with self._db() as db, db.begin():
                moved = db.execute(
                    sa.update(OrderRow)
                    .where(OrderRow.id == order_id, OrderRow.state == "issued")
                    .values(
                        state=state, copies_printed=copies, refunded=refund,
                        issuer_cancel_pending=copies == 0, updated_at=clock.now(),
                    )
                ).rowcount  # type: ignore[attr-defined]  # UPDATE yields a CursorResult
                if moved == 1:
                    self._close(db, session_id)
                    if copies:
                        db.add(
                            IssuanceRecord(
                                order_id=order_id,
                                region=self.region,
                                store_id=store_id,
                                municipality=order.municipality,
                                kind=order.kind,
                                copies=copies,
                                fee=per_copy * copies,
                                printed_at=clock.now(),
                                issuer_confirmed=False,
                            )
                        )
        except IntegrityError:
            log.info("order %s already counted", order_id)  # a concurrent report won; still once
        with self._db() as db:
            o = db.get(OrderRow, order_id)
            assert o is not None
            if o.copies_printed != copies:
                raise OrderConflict(f"order is {o.state} ({o.copies_printed} copies printed); not {copies}")
        if copies == 0:
            log.warning("order %s: misprint, none of %d copies printed; refunded and voided", order_id, order.copies)
            self._cancel_deferred(order_id)
        else:
            if copies < order.copies:
                log.warning("order %s: misprint, %d of %d copies printed; the rest refunded and voided",
                            order_id, copies, order.copies)
            self._confirm(order_id)
        return _view(o)

    def _acknowledged(self, operation: str, order_id: str, call: Callable[[], object],
                      keep_refusal: Callable[[str], sa.Update]) -> bool:
        """Make one call an order's settling waits for; True once the issuer has answered.

        A permanent refusal is an answer: retrying it forever would starve newer
        reports. It is kept (``keep_refusal`` builds the update, for
        `kofu center compare`) and loudly logged. Anything else is retried later.
        """
        try:
            call()
        except Refused as e:
            log.error("%s for order %s permanently refused: %s", operation, order_id, e.detail)
            with self._db() as db, db.begin():
                db.execute(keep_refusal(f"{e.code}: {e.detail}"[:200]))
            return True
        except CenterError as e:
            log.warning("%s for order %s deferred: %s", operation, order_id, e.detail)
            return False
        return True

    def _confirm(self, order_id: str) -> bool:
        """Tell the issuer an order was printed; True once it has acknowledged."""
        with self._db() as db:
            order = db.get(OrderRow, order_id)
            record = db.get(IssuanceRecord, order_id)
            if order is None or record is None or record.issuer_confirmed:
                return True
            municipality, issuance_id, copies = order.municipality, order.issuance_id, record.copies
        if issuance_id is None:  # cannot be: the print data of a printed order came with it
            log.warning("ConfirmPrinted for order %s deferred: no issuance id", order_id)
            return False
        answered = self._acknowledged(
            "ConfirmPrinted", order_id,
            lambda: self._issuer(municipality).confirm_printed(f"p-{order_id}", issuance_id, copies),
            lambda refusal: sa.update(IssuanceRecord).where(IssuanceRecord.order_id == order_id)
            .values(issuer_refusal=refusal),
        )
        if answered:
            with self._db() as db, db.begin():
                db.execute(
                    sa.update(IssuanceRecord).where(IssuanceRecord.order_id == order_id, IssuanceRecord.issuer_refusal.is_(None))
                    .values(issuer_confirmed=True)
                )
        return answered

    def _cancel_deferred(self, order_id: str) -> bool:
        """Tell the issuer a cancelled order's issuance is void; True once it has acknowledged.

        A paid order cancelled before the center learnt of an issuance may still
        have one at the issuer (committed while the center crashed): it is
        looked up by the order's 電文通番 first.
        """
        with self._db() as db:
            order = db.get(OrderRow, order_id)
            if order is None or not order.issuer_cancel_pending:
                return True
            municipality, issuance_id = order.municipality, order.issuance_id
            reason = "misprint: no copy printed" if order.copies_printed == 0 else "cancelled at the kiosk"

        def cancel() -> None:
            known = issuance_id
            if known is None:
                found = self.query_issuer(order_id)
                if found is None or found.state == "cancelled":
                    return  # nothing to void
                known = found.issuance_id
                with self._db() as db, db.begin():
                    db.execute(
                        sa.update(OrderRow).where(OrderRow.id == order_id)
                        .values(issuance_id=known, certificate_serial=found.certificate_serial)
                    )
            self._issuer(municipality).cancel_issuance(f"c-{order_id}", known, reason)

        answered = self._acknowledged(
            "CancelIssuance", order_id, cancel,
            lambda refusal: sa.update(OrderRow).where(OrderRow.id == order_id)
            .values(issuer_cancel_pending=False, issuer_refusal=refusal),
        )
        if answered:
            with self._db() as db, db.begin():
                db.execute(sa.update(OrderRow).where(OrderRow.id == order_id).values(issuer_cancel_pending=False))
        return answered

    def reconcile(self, limit: int = 100) -> int:
        """Retry what an issuer has not acknowledged yet (printed copies, cancellations).

        Returns how many remain. The center runs this every half minute.
        """
        with self._db() as db:
            printed = list(
                db.scalars(
                    sa.select(IssuanceRecord.order_id)
                    .where(IssuanceRecord.issuer_confirmed.is_(False), IssuanceRecord.issuer_refusal.is_(None))
                    .order_by(IssuanceRecord.printed_at)
                    .limit(limit)
                )
            )
            cancelled = list(
                db.scalars(
                    sa.select(OrderRow.id).where(OrderRow.issuer_cancel_pending.is_(True)).order_by(OrderRow.updated_at).limit(limit)
                )
            )
        remaining = sum(1 for order_id in printed if not self._confirm(order_id))
        return remaining + sum(1 for order_id in cancelled if not self._cancel_deferred(order_id))

    # -- 6. settling what a crash left in between ------------------------------------------

    def query_issuer(self, order_id: str) -> IssuanceFound | None:
        """What the issuer committed for this order's IssueCertificate serial (QueryIssuance)."""
        with self._db() as db:
            order = db.get(OrderRow, order_id)
            if order is None:
                raise NotFound(f"no order {order_id}")
            municipality, serial = order.municipality, order.message_serial
        return self._issuer(municipality).query_issuance(f"q-{order_id}", serial)

    def settle(self, older_than: timedelta | None = None, limit: int = 200) -> dict[str, int]:
        """Bring every order a crash (of the center or a kiosk) left in between to an end.

        Only orders untouched for ``older_than`` (default: the session lifetime
        plus ten minutes, so no kiosk is still working on them):

        - print data never handed out: ask the issuer what it committed for
          the order's 電文通番; void that issuance; the order is cancelled
          and its payment refunded;
        - print data handed out and never reported: the paper may exist, so
          it is never refunded: settled as printed, every copy counted (the
          issuer's own record wins when it already knows a count);
        - an issuer that cannot be asked now: left for the next round.

        Returns counts by outcome. Runs at start, periodically and as
        ``kofu center reconcile``.
        """
        cutoff = clock.now() - (older_than if older_than is not None else self.session_ttl + timedelta(minutes=10))
        with self._db() as db:
            stuck = list(
                db.scalars(
                    sa.select(OrderRow.id)
                    .where(OrderRow.state.in_(("created", "paid", "issued")), OrderRow.updated_at <= cutoff)
                    .order_by(OrderRow.updated_at)
                    .limit(limit)
                )
            )
        outcome = {"cancelled": 0, "printed": 0, "deferred": 0}
        for order_id in stuck:
            try:
                outcome[self._settle_one(order_id, cutoff)] += 1
            except CenterError as e:
                log.warning("order %s left for the next settling round: %s", order_id, e.detail)
                outcome["deferred"] += 1
        if stuck:
            log.warning("settled orders left in between: %s", outcome)
        return outcome

    def _settle_one(self, order_id: str, cutoff: datetime) -> str:
        with self._db() as db:
            order = db.get(OrderRow, order_id)
            assert order is not None
            handed_out = order.handed_out_at is not None
            state, session_id, store = order.state, order.session_id, None
            ks = db.get(KioskSession, session_id)
            store = ks.store_id if ks is not None else ""
        if state == "created":
            with self._db() as db, db.begin():
                moved = db.execute(
                    sa.update(OrderRow)
                    .where(OrderRow.id == order_id, OrderRow.state == "created", OrderRow.updated_at <= cutoff)
                    .values(state="cancelled", refunded=OrderRow.paid, updated_at=clock.now())
                ).rowcount  # type: ignore[attr-defined]  # UPDATE yields a CursorResult
                if moved:
                    self._close(db, session_id)
            return "cancelled"
        found = self.query_issuer(order_id)
        issuer_state = found.state if found is not None else None
        if not handed_out:
            # Claim first (nothing can hand it out after this), then void at the issuer.
            with self._db() as db, db.begin():
                moved = db.execute(
                    sa.update(OrderRow)
                    .where(
                        OrderRow.id == order_id, OrderRow.state.in_(("paid", "issued")), OrderRow.handed_out_at.is_(None),
                        OrderRow.updated_at <= cutoff,
                    )
                    .values(
                        state="cancelled", refunded=OrderRow.paid, updated_at=clock.now(),
                        issuance_id=found.issuance_id if found is not None else OrderRow.issuance_id,
                        certificate_serial=found.certificate_serial if found is not None else OrderRow.certificate_serial,
                        issuer_cancel_pending=issuer_state == "issued",
                    )
                ).rowcount  # type: ignore[attr-defined]  # UPDATE yields a CursorResult
                if moved:
                    self._close(db, session_id)
            if moved and issuer_state == "issued":
                self._cancel_deferred(order_id)
            log.warning("order %s settled: cancelled and refunded (issuer: %s)", order_id, issuer_state or "nothing")
            return "cancelled"
        # Handed out: never refunded by the sweeper.
        copies = None
        if found is not None and found.state == "printed":
            copies = found.copies_printed
        with self._db() as db:
            total = db.get(OrderRow, order_id)
            assert total is not None
            all_copies = total.copies
        self.printed(order_id, session_id, store, copies if copies is not None else all_copies)
        log.warning("order %s settled: print data was handed out and never reported; counted as printed", order_id)
        return "printed"

    def compare(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Center against issuer, order by order: copies and fees each side counts.

        Every order the issuer could have seen is asked about (QueryIssuance).
        A row agrees when printed copies and charged fees are the same on both
        sides (a cancelled order: nothing at the issuer, or a cancelled
        issuance). Orders still open are listed as such. Ids and numbers only.
        """
        with self._db() as db:
            query = sa.select(OrderRow, IssuanceRecord).outerjoin(IssuanceRecord, IssuanceRecord.order_id == OrderRow.id)
            rows = list(db.execute(query.where(OrderRow.state != "created").order_by(OrderRow.created_at).limit(limit)))
        out: list[dict[str, Any]] = []
        for order, record in rows:
            row: dict[str, Any] = {
                "order_id": order.id, "municipality": order.municipality, "state": order.state,
                "center_copies": record.copies if record is not None else 0,
                "center_fee": record.fee if record is not None else 0,
                "paid": order.paid, "refunded": order.refunded or 0,
            }
            try:
                found = self.query_issuer(order.id)
            except CenterError as e:
                out.append({**row, "agree": None, "problem": f"issuer not asked: {e.detail}"})
                continue
            if found is not None:
                row.update(issuer_state=found.state, issuer_copies=found.copies_printed,
                           issuer_fee=found.charged_fee)
            else:
                row.update(issuer_state=None, issuer_copies=0, issuer_fee=0)
            if order.state in ("paid", "issued"):
                row["agree"] = None
                row["problem"] = "open: not settled yet"
            else:
                same = (row["center_copies"], row["center_fee"]) == (row["issuer_copies"], row["issuer_fee"])
                money = row["paid"] - row["refunded"] == row["center_fee"]
                open_at_issuer = row["issuer_state"] == "issued"
                row["agree"] = same and money and not open_at_issuer
                if not row["agree"]:
                    row["problem"] = (
                        "issuance still open at the issuer" if open_at_issuer
                        else "paid less refunded is not the fee counted" if not money
                        else "copies or fees differ"
                    )
            out.append(row)
        return out

    def cancel(self, order_id: str, session_id: str, store_id: str, reason: str) -> tuple[OrderView, int]:
        """Cancel before the print data was handed out; returns the order and the refund due.

        The order is claimed first, in one conditional update, so a concurrent
        payment or hand-out of the print data cannot slip between the check and
        the change. After the print data was handed out a cancel is refused:
        only the printer's report (:meth:`printed`, 0 copies for none) refunds.
        The issuer is told afterwards (retried by :meth:`reconcile` when it is
        down), because the refund cannot wait for it. The refund answered is
        the order's whole refund, the same on a repeated request.
        """
        with self._db() as db, db.begin():
            order, _ = self._order(db, order_id, session_id, store_id, allow_expired=True, allow_closed=True)
            if order.state == "cancelled":
                return _view(order), order.refunded or 0
            paid = order.paid
            # A paid order may have an issuance the center never heard of (the issuer
            # committed while the center crashed): the issuer is asked, by 電文通番.
            had_issuance = order.issuance_id is not None or order.state in ("paid", "issued")
            claimed = db.execute(
                sa.update(OrderRow)
                .where(
                    OrderRow.id == order_id, OrderRow.state.in_(("created", "paid", "issued")), OrderRow.paid == paid,
                    OrderRow.handed_out_at.is_(None),
                )
                .values(state="cancelled", refunded=paid, issuer_cancel_pending=had_issuance, updated_at=clock.now())
            ).rowcount  # type: ignore[attr-defined]  # UPDATE yields a CursorResult
            if claimed != 1:
                db.refresh(order)
                if order.handed_out_at is not None and order.state == "issued":
                    raise OrderConflict(
                        "the print data was handed out: report the printed copies (0 when none came out) instead",
                        code="print-data-handed-out",
                    )
                raise OrderConflict(f"order is {order.state}; it can no longer be cancelled")
            self._close(db, session_id)
            db.refresh(order)
            view = _view(order)
        if had_issuance:
            self._cancel_deferred(order_id)
        return view, paid

    def close_session(self, session_id: str, store_id: str) -> int:
        """The kiosk is done with this card holder: close the session; returns the refund due.

        An order not yet handed out is cancelled (and refunded) first; one whose
        print data was handed out must be reported (:meth:`printed`) before the
        session can close. A closed session refuses every later request.
        """
        with self._db() as db:
            ks = self._session(db, session_id, store_id, authenticated=False, allow_expired=True)
            order = db.get(OrderRow, ks.order_id) if ks.order_id is not None else None
            settled = order is None or order.state in ("printed", "partial", "cancelled")
        refund = 0
        if not settled:
            assert order is not None
            _view_, refund = self.cancel(order.id, session_id, store_id, "session closed at the kiosk")
        with self._db() as db, db.begin():
            self._close(db, session_id)
        return refund

    def certificate_status(self, serial: str) -> dict[str, Any]:
        """Is the certificate with this serial valid? For receivers (the verification site).

        ``valid`` (printed; a partial print: the copies that came out),
        ``void`` (cancelled, or reported as not printed: whatever paper exists
        with this serial is worthless), ``pending`` (print data handed out, the
        printer's report not in yet) or ``unknown``. Ids, counts and reasons
        only: never personal data.
        """
        with self._db() as db:
            order = db.scalar(sa.select(OrderRow).where(OrderRow.certificate_serial == serial))
        if order is None:
            return {"serial": serial, "status": "unknown", "reason": "no certificate with this serial", "copies": None}
        if order.state in ("printed", "partial"):
            reason = None if order.state == "printed" else (
                f"partial print: {order.copies_printed} of {order.copies} copies printed; the rest were never valid"
            )
            return {"serial": serial, "status": "valid", "reason": reason, "copies": order.copies_printed}
        if order.state == "cancelled":
            reason = ("misprint: reported as not printed" if order.copies_printed == 0
                      else "cancelled before printing")
            return {"serial": serial, "status": "void", "reason": reason, "copies": 0}
        return {"serial": serial, "status": "pending", "reason": "the printer has not reported yet", "copies": None}

    def order(self, order_id: str, session_id: str, store_id: str) -> OrderView:
        with self._db() as db:
            order, _ = self._order(db, order_id, session_id, store_id)
            return _view(order)
