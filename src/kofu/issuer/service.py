"""The issuer's issuance workflow: what each wide-area operation does, without SOAP.

>>> svc = IssuerService(engine, settings)
>>> svc.query_availability("282286", "jpki-link-…")          # Offers | Refusal
>>> issued = svc.issue_certificate(IssueCertificateRequest(...))  # Issued, idempotent by serial
>>> svc.confirm_printed(issued.issuance_id, copies_printed=2)
>>> svc.cancel_issuance(issuance_id, "paper jam")

The jobs around it have their own modules: :mod:`kofu.issuer.errors` (what
this raises), :mod:`kofu.issuer.facts` (rows → the domain's facts),
:mod:`kofu.issuer.assembly` (records → a certificate's render model),
:mod:`kofu.issuer.documents` (render models, the sealed PDF) and
:mod:`kofu.issuer.audit` (the hash-chained log).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kofu import clock
from kofu.domain.rules import (
    MunicipalityFacts,
    Offers,
    Order,
    OrderInvalid,
    OrderOptions,
    OrderRefused,
    Refusal,
    RefusalCode,
    ServiceState,
    check_order,
    offers,
    service_state,
)
from kofu.issuer import audit
from kofu.issuer.assembly import document_for
from kofu.issuer.documents import (
    DocumentError,
    DocumentMaker,
    DocumentUnprintable,
    SealedDocumentMaker,
)
from kofu.issuer.errors import (
    BadRequest,
    IssuanceRefused,
    IssuerError,
    SerialConflict,
    StateConflict,
    TemporarilyUnavailable,
    UnknownIssuance,
    UnknownRecord,
    Unprintable,
)
from kofu.issuer.facts import aware, municipality_facts, person_facts
from kofu.issuer.settings import IssuerSettings, SealPaths
from kofu.issuer.tables import issuances, municipalities, residents
from kofu.widearea import order_binding
from kofu.widearea.messages import IssuanceFound, IssueCertificateRequest

log = logging.getLogger(__name__)

__all__ = ["IssuerService", "Issued", "MunicipalityStatus", "japan_time_iso", "request_digest"]


# ---------------------------------------------------------------- values


def request_digest(req: IssueCertificateRequest) -> str:
    """Fingerprint of an IssueCertificate's parameters, to tell a true retry from a reused serial.

    The flat JSON of every field (the options' fields beside the others), as
    the ``issuances`` rows have always kept it.
    """
    flat = {
        "message_serial": req.message_serial, "municipality_code": req.municipality_code,
        "resident_link": req.resident_link, "order_id": req.order_id, "kind": req.kind,
        "copies": req.copies, "fee": req.fee, "store_id": req.store_id, **req.options.as_dict(),
    }
    data = json.dumps(flat, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


@dataclass(frozen=True)
class Issued:
    message_serial: str
    issuance_id: str
    certificate_serial: str
    issued_at: datetime
    pages: int
    copies: int
    fee: int
    document: bytes
    """The sealed PDF, one copy. Never stored."""
    replayed: bool
    """True when this answers a repeated serial (no new issuance)."""


@dataclass(frozen=True)
class MunicipalityStatus:
    code: str
    name: str
    state: ServiceState
    message: str
    refreshed_at: datetime | None = None
    """When an import last refreshed the municipality's data."""
    data_sequence: int | None = None
    """The number of the last difference applied (or of the last full export)."""


_STATE_MESSAGES = {
    ServiceState.AVAILABLE: "サービス提供中 / available",
    ServiceState.CLOSED: "サービス時間外 / outside service hours",
    ServiceState.MAINTENANCE: "保守作業中 / under maintenance",
    ServiceState.NOT_PARTICIPATING: "コンビニ交付に参加していません / not participating",
}



def japan_time_iso(dt: datetime) -> str:
    """``dt`` in Japan time, ISO 8601 with its +09:00 offset (as the audit entries record it)."""
    return dt.astimezone(clock.JST).isoformat()


# ---------------------------------------------------------------- the service


class IssuerService:
    def __init__(
        self,
        engine: sa.Engine,
        settings: IssuerSettings,
        maker: DocumentMaker | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.maker: DocumentMaker = maker or SealedDocumentMaker()

    # -- reads

    def _municipality(self, conn: sa.Connection, code: str) -> Any | None:
        return conn.execute(sa.select(municipalities).where(municipalities.c.code == code)).first()

    def _resident_by_link(self, conn: sa.Connection, code: str, link: str) -> Any | None:
        return conn.execute(
            sa.select(residents).where(
                residents.c.municipality_code == code, residents.c.resident_link == link
            )
        ).first()

    def service_status(self, code: str | None = None) -> list[MunicipalityStatus]:
        now = clock.now()
        with self.engine.connect() as c:
            q = sa.select(municipalities).order_by(municipalities.c.code)
            if code is not None:
                q = q.where(municipalities.c.code == code)
            rows = c.execute(q).all()
        if code is not None and not rows:
            return [MunicipalityStatus(code, "", ServiceState.NOT_PARTICIPATING, _STATE_MESSAGES[ServiceState.NOT_PARTICIPATING])]
        result = []
        for row in rows:
            facts = municipality_facts(row)
            state = service_state(facts, now)
            message = _STATE_MESSAGES[state]
            if state is ServiceState.MAINTENANCE:
                active = [w for w in facts.maintenance if w.contains(now)]
                if active and active[0].message:
                    message = active[0].message
            refreshed = aware(row.refreshed_at) if row.refreshed_at is not None else None
            result.append(MunicipalityStatus(row.code, row.name, state, message, refreshed, row.data_sequence))
        return result

    def _stale(self, m: Any, now: datetime) -> Refusal | None:
        """A neutral refusal when the municipality's data is older than its maximum age (and a staff alert)."""
        limit = self.settings.max_age_for(m.code)
        if limit is None:
            return None
        refreshed = aware(m.refreshed_at) if m.refreshed_at is not None else None
        if refreshed is not None and now - refreshed <= limit:
            return None
        log.warning("STAFF ALERT: the data of municipality %s was last refreshed %s, more than %s ago: "
                    "nothing is issued until the next import", m.code,
                    refreshed.isoformat() if refreshed else "never", limit)
        return Refusal(RefusalCode.NOTHING_OFFERED, detail="data-stale")

    def query_availability(self, code: str, resident_link: str) -> Offers | Refusal:
        now = clock.now()
        with self.engine.connect() as c:
            m = self._municipality(c, code)
            if m is None:
                return Refusal(RefusalCode.NOT_PARTICIPATING)
            stale = self._stale(m, now)
            if stale is not None:
                return stale
            person = person_facts(c, self._resident_by_link(c, code, resident_link), now)
        result = offers(person, municipality_facts(m), now)
        if isinstance(result, Refusal) and result.detail:
            log.info("nothing offered in %s: %s", code, result.detail)
        return result

    # -- issuance

    def issue_certificate(self, req: IssueCertificateRequest) -> Issued:
        """Issue once per message serial; a repeat returns the same issuance.

        1. A serial seen before: the same parameters get the same issuance
           (document re-rendered with the same serial and date); different
           parameters are a SerialConflict.
        2. Decide with the rules at this instant (the same function the
           offers come from), fee included.
        3. Render and seal outside any transaction (slow, no locks held).
        4. Record the issuance and its audit entry in one transaction, after
           deciding AGAIN inside it from the data as it is then (a seal
           abolished while the PDF was rendering is abolished: nothing is
           recorded, the PDF is dropped). The UNIQUE message serial makes a
           concurrent twin fail here, and the loser answers with the
           winner's issuance (step 1).
        """
        digest = request_digest(req)
        # 1.
        existing = self._issuance_by_serial(req.message_serial)
        if existing is not None:
            return self._replay(existing, req, digest)
        # 2.
        now = clock.now()
        with self.engine.connect() as c:
            m = self._municipality(c, req.municipality_code)
            if m is None:
                raise IssuanceRefused(Refusal(RefusalCode.NOT_PARTICIPATING))
            self._refuse_if_stale(m, now)
            holder_row = self._resident_by_link(c, req.municipality_code, req.resident_link)
            facts = municipality_facts(m)
            order = Order(req.kind, req.options, req.copies, req.fee)
            self._decide(c, holder_row, facts, order, now)
            assert holder_row is not None  # check_order refuses an unknown person
            certificate_serial = secrets.token_hex(16)
            document = document_for(
                c, m, holder_row, req.kind, req.options,
                issued_on=now.astimezone(clock.JST).date(),
                certificate_serial=certificate_serial,
                binding=order_binding(req.resident_link, req.order_id, req.message_serial),
            )
        # 3.
        pdf, pages = self._make(m, document)
        # 4.
        issuance_id = "I" + secrets.token_hex(15)
        options = json.dumps(req.options.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        record = {
            "message_serial": req.message_serial,
            "request_digest": digest,
            "municipality_code": req.municipality_code,
            "resident_id": holder_row.resident_id,
            "order_id": req.order_id,
            "kind": req.kind,
            "options": options,
            "copies": req.copies,
            "fee": req.fee,
            "store_id": req.store_id,
            "certificate_serial": certificate_serial,
            "pages": pages,
        }
        try:
            with self.engine.connect() as c:
                head = audit.lock(c)
                # Decide again, inside the transaction that records the issuance.
                try:
                    fresh = self._resident_by_link(c, req.municipality_code, req.resident_link)
                    m_now = self._municipality(c, req.municipality_code)
                    if m_now is not None:
                        self._refuse_if_stale(m_now, clock.now())
                    facts_now = municipality_facts(m_now) if m_now is not None else facts
                    self._decide(c, fresh, facts_now, order, clock.now(), lock=True)
                except IssuerError:
                    c.rollback()
                    raise
                c.execute(issuances.insert().values(issuance_id=issuance_id, state="issued", issued_at=now, **record))
                audit.write(
                    c, head, issuance_id, "issued", now, {**record, "at": japan_time_iso(now)}, key=self.settings.audit_key
                )
                c.commit()
        except sa.exc.IntegrityError:
            existing = self._issuance_by_serial(req.message_serial)
            if existing is None:
                raise
            log.info("concurrent twin of serial %s: answering with the first issuance", req.message_serial)
            return self._replay(existing, req, digest)
        except sa.exc.OperationalError as e:
            raise TemporarilyUnavailable(f"database unavailable: {e.orig}") from e
        log.info("issued %s serial=%s municipality=%s kind=%s copies=%d", issuance_id,
                 req.message_serial, req.municipality_code, req.kind, req.copies)
        return Issued(req.message_serial, issuance_id, certificate_serial, now, pages,
                      req.copies, req.fee, pdf, replayed=False)

    def _refuse_if_stale(self, m: Any, now: datetime) -> None:
        stale = self._stale(m, now)
        if stale is not None:
            raise IssuanceRefused(stale)

    def _decide(self, c: sa.Connection, holder_row: Any | None, facts: MunicipalityFacts, order: Order,
                now: datetime, *, lock: bool = False) -> None:
        """check_order on the person's data as ``c`` sees it now; raise IssuanceRefused or BadRequest."""
        try:
            check_order(person_facts(c, holder_row, now, lock=lock), facts, order, now)
        except OrderRefused as e:
            if e.refusal.detail:
                log.info("refused in %s: %s", facts.code, e.refusal.detail)
            raise IssuanceRefused(e.refusal) from e
        except OrderInvalid as e:
            raise BadRequest(e.code, str(e)) from e

    def _issuance_by_serial(self, serial: str) -> Any | None:
        with self.engine.connect() as c:
            return c.execute(sa.select(issuances).where(issuances.c.message_serial == serial)).first()

    def _replay(self, row: Any, req: IssueCertificateRequest, digest: str) -> Issued:
        if row.request_digest != digest:
            raise SerialConflict(
                f"message serial {req.message_serial} was already used for a different request"
            )
        if row.state != "issued":
            # A printed or cancelled issuance is never handed out again.
            raise StateConflict("already-" + row.state, f"issuance {row.issuance_id} is {row.state}; it cannot be fetched again")
        options = json.loads(row.options)
        with self.engine.connect() as c:
            m = self._municipality(c, row.municipality_code)
            holder_row = c.execute(
                sa.select(residents).where(
                    residents.c.municipality_code == row.municipality_code,
                    residents.c.resident_id == row.resident_id,
                )
            ).first()
            if m is None or holder_row is None:
                raise TemporarilyUnavailable("the records of this issuance are no longer available")
            # The rules again, on the records as they are now: a support measure or an
            # abolished seal recorded since the first fetch refuses a re-fetch too.
            self._refuse_if_stale(m, clock.now())
            self._decide(c, holder_row, municipality_facts(m), Order(req.kind, req.options, req.copies, req.fee), clock.now())
            issued_at = aware(row.issued_at)
            document = document_for(
                c, m, holder_row, row.kind, OrderOptions.from_dict(options),
                issued_on=issued_at.astimezone(clock.JST).date(),
                certificate_serial=row.certificate_serial,
                binding=order_binding(req.resident_link, row.order_id, row.message_serial),
            )
        pdf, _pages = self._make(m, document)
        return Issued(row.message_serial, row.issuance_id, row.certificate_serial, issued_at, row.pages,
                      row.copies, row.fee, pdf, replayed=True)

    def _seal_paths(self, m: Any) -> SealPaths:
        seal = self.settings.seal_for(m.code, m.seal_cert, m.seal_key, json.loads(m.seal_chain or "[]"))
        if seal is None:
            raise TemporarilyUnavailable(f"no seal certificate is configured for municipality {m.code}")
        return seal

    def _make(self, m: Any, document: Any) -> tuple[bytes, int]:
        seal = self._seal_paths(m)
        started = time.perf_counter()
        try:
            pdf, pages = self.maker.make(document, seal)
        except DocumentUnprintable as e:
            # The message may quote a name: it goes to the operator's log
            # only as the exception type, never to the log file in full.
            log.error("document for municipality %s cannot be printed (%s)", m.code, type(e.__cause__).__name__)
            raise Unprintable("the records of this resident cannot be printed exactly; "
                              "the municipality must correct them") from e
        except DocumentError as e:
            log.error("document for municipality %s failed: %s", m.code, e)
            raise TemporarilyUnavailable(str(e)) from e
        log.debug("rendered and sealed in %.1f ms", (time.perf_counter() - started) * 1000)
        return pdf, pages

    def render_for_check(self, code: str, resident_id: str, kind: str, options: OrderOptions) -> tuple[bytes, int]:
        """Render and seal one certificate directly (no rules, no audit entry).

        For a municipality checking its format before going live; it is a
        local administrative command, not reachable over the wide-area interface.
        Raises :class:`UnknownRecord` for a municipality or resident this
        issuer does not hold.
        """
        now = clock.now()
        with self.engine.connect() as c:
            m = self._municipality(c, code)
            if m is None:
                raise UnknownRecord(f"municipality {code} is not in this issuer")
            holder_row = c.execute(
                sa.select(residents).where(
                    residents.c.municipality_code == code, residents.c.resident_id == resident_id
                )
            ).first()
            if holder_row is None:
                raise UnknownRecord(f"resident {resident_id} is not in municipality {code}")
            serial = secrets.token_hex(16)
            document = document_for(
                c, m, holder_row, kind, options,
                issued_on=now.astimezone(clock.JST).date(), certificate_serial=serial,
                binding=order_binding(holder_row.resident_link or f"resident:{resident_id}", "format-check", serial),
            )
        return self._make(m, document)

    # -- after issuance

    def _move(self, issuance_id: str, to: str, settled: Callable[[Any], str | None],
              values: Callable[[datetime], dict[str, Any]], entry: dict[str, Any]) -> str:
        """issued → ``to``, once, with its audit entry; returns the state ``to``.

        Under the audit lock, taken first: it serialises this with every other
        state change. ``settled(row)`` raises when the move is refused, or
        returns the answer when the issuance is already where the move leads
        (nothing changes then).
        """
        now = clock.now()
        with self.engine.connect() as c:
            head = audit.lock(c)
            row = c.execute(sa.select(issuances).where(issuances.c.issuance_id == issuance_id)).first()
            try:
                if row is None:
                    raise UnknownIssuance(f"no issuance {issuance_id}")
                answer = settled(row)
            except IssuerError:
                c.rollback()
                raise
            if answer is not None:
                c.rollback()
                return answer
            c.execute(
                sa.update(issuances)
                .where(issuances.c.issuance_id == issuance_id, issuances.c.state == "issued")
                .values(state=to, **values(now))
            )
            audit.write(c, head, issuance_id, to, now, {**entry, "at": japan_time_iso(now)}, key=self.settings.audit_key)
            c.commit()
        return to

    def confirm_printed(self, issuance_id: str, copies_printed: int) -> str:
        """issued → printed, once; a repeat with the same count answers the same."""

        def settled(row: Any) -> str | None:
            if row.state == "printed":
                if row.copies_printed != copies_printed:
                    raise StateConflict(
                        "copies-conflict",
                        f"issuance {issuance_id} was confirmed with {row.copies_printed} copies, not {copies_printed}",
                    )
                return "printed"
            if row.state == "cancelled":
                raise StateConflict("already-cancelled", f"issuance {issuance_id} was cancelled")
            if copies_printed > row.copies:
                raise BadRequest(
                    "copies-out-of-range",
                    f"{copies_printed} copies printed but {row.copies} were issued",
                )
            return None

        return self._move(issuance_id, "printed", settled,
                          lambda now: {"copies_printed": copies_printed, "printed_at": now},
                          {"copies_printed": copies_printed})

    def query_issuance(self, issue_message_serial: str) -> IssuanceFound | None:
        """What was committed for an IssueCertificate serial; None when nothing was.

        How the center settles an order a crash left in between, and how the two
        sides compare copies and fees. Ids, counts and yen only: no personal data.
        """
        row = self._issuance_by_serial(issue_message_serial)
        if row is None:
            return None
        printed = row.copies_printed if row.state == "printed" else 0
        return IssuanceFound(
            row.issuance_id, row.certificate_serial, row.state, row.copies, printed or 0, row.fee,
            row.fee // row.copies * (printed or 0),
        )

    def cancel_issuance(self, issuance_id: str, reason: str) -> str:
        """issued → cancelled; printed copies cannot be cancelled."""

        def settled(row: Any) -> str | None:
            if row.state == "cancelled":
                return "cancelled"
            if row.state == "printed":
                raise StateConflict("already-printed", f"issuance {issuance_id} was printed; it cannot be cancelled")
            return None

        return self._move(issuance_id, "cancelled", settled,
                          lambda now: {"cancel_reason": reason, "cancelled_at": now}, {"reason": reason})
