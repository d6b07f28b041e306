"""The issuer's service layer: what each wide-area operation does, without SOAP.

>>> svc = IssuerService(engine, settings)
>>> svc.query_availability("282286", "jpki-link-…")          # Offers | Refusal
>>> issued = svc.issue_certificate(IssueCertificateRequest(...))  # Issued, idempotent by serial
>>> svc.confirm_printed(issued.issuance_id, copies_printed=2)
>>> svc.cancel_issuance(issuance_id, "paper jam")

Errors::

    IssuerError
     ├── Refused           the rules refuse (carries the Refusal: operator code, neutral text)
     ├── InvalidRequest    the request contradicts the offer or itself (code, message)
     ├── SerialConflict    a 電文通番 reused with different parameters
     ├── UnknownIssuance   no issuance with that id
     ├── StateConflict     the issuance is in a state that forbids this (code)
     ├── IssuerUnavailable a transient failure here (seal, renderer, database); retry
     └── Unprintable       the records cannot be printed exactly; staff must fix the data
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from typing import Any

import sqlalchemy as sa

from kofu import clock
from kofu.domain.fees import FeeSchedule
from kofu.domain.rules import (
    HoursWindow,
    Kind,
    MaintenanceWindow,
    MemberChoice,
    MunicipalityFacts,
    Offers,
    Order,
    OrderInvalid,
    OrderRefused,
    PersonFacts,
    Refusal,
    RefusalCode,
    ServiceState,
    check_order,
    offers,
    service_state,
)
from kofu.domain.taxyears import TaxYearWindow
from kofu.issuer import audit
from kofu.issuer.documents import (
    DocumentError,
    DocumentMaker,
    DocumentUnprintable,
    JuminhyoRequest,
    MemberRecord,
    SealedDocumentMaker,
    SealRecord,
    fuhyo_document,
    header,
    inkan_document,
    kisai_document,
    koseki_document,
    register_persons,
    select_members,
    tax_document,
    to_render_model,
)
from kofu.issuer.settings import IssuerSettings, SealPaths
from kofu.issuer.tables import (
    family_registers,
    households,
    issuances,
    municipalities,
    register_members,
    residents,
    seal_registrations,
    tax_records,
)
from kofu.widearea import order_binding
from kofu.widearea.messages import IssuanceFound, IssueCertificateRequest

log = logging.getLogger(__name__)


class IssuerError(Exception):
    """Root of the issuer's service errors."""


class Refused(IssuerError):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"refused: {refusal.code.value}")
        self.refusal = refusal


class InvalidRequest(IssuerError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SerialConflict(IssuerError):
    """The message serial was already used for a different request."""


class UnknownIssuance(IssuerError):
    pass


class StateConflict(IssuerError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class IssuerUnavailable(IssuerError):
    """Transient: the same request (same serial) may succeed later."""


class Unprintable(IssuerError):
    """Not transient: the records hold what the certificate cannot print exactly."""


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


# ---------------------------------------------------------------- row → facts


def _time(s: str) -> dtime:
    return dtime.fromisoformat(s)


def _windows(raw: list[dict[str, Any]]) -> tuple[HoursWindow, ...]:
    return tuple(
        HoursWindow(
            opens=_time(w["opens"]),
            closes=_time(w["closes"]),
            weekdays=frozenset(w.get("weekdays", range(7))),
            business_days_only=bool(w.get("business_days", False)),
        )
        for w in raw
    )


def _tax_years(stored: Any) -> dict[str, Any]:
    """The stored ``tax_years``: a window ``{"available_from", "kept"}``, or the deprecated list."""
    if isinstance(stored, dict):
        return {"tax_year_window": TaxYearWindow.parse(stored["available_from"], stored["kept"])}
    return {"tax_years": frozenset(int(y) for y in stored)}


def municipality_facts(row: Any) -> MunicipalityFacts:
    return MunicipalityFacts(
        code=row.code,
        participating=bool(row.participating),
        fees=FeeSchedule.from_mapping(json.loads(row.fees)),
        offered_kinds=frozenset(json.loads(row.offered_kinds)),
        hours=_windows(json.loads(row.hours)),
        kind_hours=tuple((k, _windows(v)) for k, v in sorted(json.loads(row.kind_hours).items())),
        maintenance=tuple(
            MaintenanceWindow(
                datetime.fromisoformat(m["starts"]),
                datetime.fromisoformat(m["ends"]),
                m.get("message", ""),
                m.get("message_en", ""),
            )
            for m in json.loads(row.maintenance)
        ),
        max_copies=row.max_copies,
        **_tax_years(json.loads(row.tax_years or "[]")),
        individual_number=bool(row.individual_number),
        counter_fees=FeeSchedule.from_mapping(json.loads(row.counter_fees or "{}")),
    )


def current_seal(conn: sa.Connection, code: str, resident_id: str, now: datetime, *,
                 lock: bool = False) -> Any | None:
    """The seal registration in force at ``now``, or None (never registered, or abolished).

    ``lock`` takes a row lock on PostgreSQL so that an abolition cannot commit
    between this read and the issuance recorded in the same transaction.
    """
    q = sa.select(seal_registrations).where(
        seal_registrations.c.municipality_code == code, seal_registrations.c.resident_id == resident_id
    ).order_by(seal_registrations.c.registered_at.desc())
    if lock:
        q = q.with_for_update()
    for row in conn.execute(q).all():
        if _aware(row.registered_at) <= now and (row.abolished_at is None or _aware(row.abolished_at) > now):
            return row
    return None


def _register_of(conn: sa.Connection, code: str, resident_id: str) -> Any | None:
    """The family register of this municipality that lists the resident (not removed from it)."""
    return conn.execute(
        sa.select(register_members).where(
            register_members.c.municipality_code == code,
            register_members.c.resident_id == resident_id,
            register_members.c.removed.is_(False),
        )
    ).first()


def person_facts(
    conn: sa.Connection, row: Any | None, now: datetime, *, lock: bool = False
) -> PersonFacts | None:
    """Everything the rules need about the holder, read from current data at ``now``."""
    if row is None:
        return None
    code = row.municipality_code
    household = conn.execute(
        sa.select(residents)
        .where(residents.c.municipality_code == code, residents.c.household_id == row.household_id)
        .order_by(residents.c.position, residents.c.resident_id)
    ).all()
    # 支援措置 on anyone in the household covers the whole household's records.
    restricted = bool(row.support_measure) or any(bool(r.support_measure) for r in household)
    register = _register_of(conn, code, row.resident_id)
    register_restricted = False
    persons: tuple[MemberChoice, ...] = ()
    if register is not None:
        stored = conn.execute(
            sa.select(family_registers.c.data).where(
                family_registers.c.municipality_code == code,
                family_registers.c.register_id == register.register_id,
            )
        ).scalar_one_or_none()
        if stored is not None:
            persons = tuple(MemberChoice(pid, p["name"])
                            for pid, p in register_persons(register.register_id, json.loads(stored)))
        ids = [r.resident_id for r in conn.execute(
            sa.select(register_members.c.resident_id).where(
                register_members.c.municipality_code == code,
                register_members.c.register_id == register.register_id,
            )
        )]
        register_restricted = bool(conn.execute(
            sa.select(sa.func.count()).select_from(residents).where(
                residents.c.municipality_code == code,
                residents.c.resident_id.in_(ids),
                residents.c.support_measure.is_(True),
            )
        ).scalar_one())
    years = frozenset(
        int(y) for y in conn.execute(
            sa.select(tax_records.c.fiscal_year).where(
                tax_records.c.municipality_code == code, tax_records.c.resident_id == row.resident_id
            )
        ).scalars()
    )
    return PersonFacts(
        active=row.status == "active",
        has_domicile=bool(row.domicile),
        restricted=restricted,
        seal_registered=current_seal(conn, code, row.resident_id, now, lock=lock) is not None,
        tax_years=years,
        register_here=register is not None,
        register_restricted=register_restricted,
        register_persons=persons,
        members=tuple(MemberChoice(r.resident_id, r.name) for r in household if r.status == "active"),
    )


def _member(row: Any) -> MemberRecord:
    return MemberRecord(
        resident_id=row.resident_id,
        name=row.name,
        name_kana=row.name_kana,
        birth_date=row.birth_date,
        sex=row.sex,
        relationship=row.relationship,
        became_resident_on=row.became_resident_on,
        address_since=row.address_since,
        notified_on=row.notified_on,
        previous_address=row.previous_address,
        domicile=row.domicile,
        domicile_head=row.domicile_head,
        individual_number=row.individual_number,
        change_reason=row.change_reason,
        change_on=row.change_on,
    )


def _utc_iso(dt: datetime) -> str:
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
            refreshed = _aware(row.refreshed_at) if row.refreshed_at is not None else None
            result.append(MunicipalityStatus(row.code, row.name, state, message, refreshed, row.data_sequence))
        return result

    def _stale(self, m: Any, now: datetime) -> Refusal | None:
        """A neutral refusal when the municipality's data is older than its maximum age (and a staff alert)."""
        limit = self.settings.max_age_for(m.code)
        if limit is None:
            return None
        refreshed = _aware(m.refreshed_at) if m.refreshed_at is not None else None
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
                raise Refused(Refusal(RefusalCode.NOT_PARTICIPATING))
            self._refuse_if_stale(m, now)
            holder_row = self._resident_by_link(c, req.municipality_code, req.resident_link)
            facts = municipality_facts(m)
            order = Order(req.kind, req.options, req.copies, req.fee)
            self._decide(c, holder_row, facts, order, now)
            assert holder_row is not None  # check_order refuses an unknown person
            certificate_serial = secrets.token_hex(16)
            document = self._document(
                c, m, holder_row, req.kind, req.options.as_dict(),
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
                    c, head, issuance_id, "issued", now, {**record, "at": _utc_iso(now)}, key=self.settings.audit_key
                )
                c.commit()
        except sa.exc.IntegrityError:
            existing = self._issuance_by_serial(req.message_serial)
            if existing is None:
                raise
            log.info("concurrent twin of serial %s: answering with the first issuance", req.message_serial)
            return self._replay(existing, req, digest)
        except sa.exc.OperationalError as e:
            raise IssuerUnavailable(f"database unavailable: {e.orig}") from e
        log.info("issued %s serial=%s municipality=%s kind=%s copies=%d", issuance_id,
                 req.message_serial, req.municipality_code, req.kind, req.copies)
        return Issued(req.message_serial, issuance_id, certificate_serial, now, pages,
                      req.copies, req.fee, pdf, replayed=False)

    def _refuse_if_stale(self, m: Any, now: datetime) -> None:
        stale = self._stale(m, now)
        if stale is not None:
            raise Refused(stale)

    def _decide(self, c: sa.Connection, holder_row: Any | None, facts: MunicipalityFacts, order: Order,
                now: datetime, *, lock: bool = False) -> None:
        """check_order on the person's data as ``c`` sees it now; raise Refused or InvalidRequest."""
        try:
            check_order(person_facts(c, holder_row, now, lock=lock), facts, order, now)
        except OrderRefused as e:
            if e.refusal.detail:
                log.info("refused in %s: %s", facts.code, e.refusal.detail)
            raise Refused(e.refusal) from e
        except OrderInvalid as e:
            raise InvalidRequest(e.code, str(e)) from e

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
                raise IssuerUnavailable("the records of this issuance are no longer available")
            # The rules again, on the records as they are now: a support measure or an
            # abolished seal recorded since the first fetch refuses a re-fetch too.
            self._refuse_if_stale(m, clock.now())
            self._decide(c, holder_row, municipality_facts(m), Order(req.kind, req.options, req.copies, req.fee), clock.now())
            issued_at = _aware(row.issued_at)
            document = self._document(
                c, m, holder_row, row.kind, options,
                issued_on=issued_at.astimezone(clock.JST).date(),
                certificate_serial=row.certificate_serial,
                binding=order_binding(req.resident_link, row.order_id, row.message_serial),
            )
        pdf, _pages = self._make(m, document)
        return Issued(row.message_serial, row.issuance_id, row.certificate_serial, issued_at, row.pages,
                      row.copies, row.fee, pdf, replayed=True)

    def _document(
        self, c: sa.Connection, m: Any, holder_row: Any, kind: str, options: dict[str, Any], *,
        issued_on: date, certificate_serial: str, binding: str,
    ) -> Any:
        """The render model of ``kind`` for the holder, from the records as they are now."""
        if kind in (Kind.JUMINHYO, Kind.KISAI):
            req = self._juminhyo_request(
                c, m, holder_row, options["scope"], options["with_householder"], options["with_domicile"],
                issued_on=issued_on, certificate_serial=certificate_serial, binding=binding,
                with_individual_number=bool(options.get("with_individual_number")),
                chosen=tuple(options.get("members") or ()),
            )
            return to_render_model(req) if kind == Kind.JUMINHYO else kisai_document(req)
        head = header(
            municipality_code=m.code, municipality_name=m.name, mayor_title=m.mayor_title,
            mayor_name=m.mayor_name, issued_on=issued_on, certificate_serial=certificate_serial, binding=binding,
        )
        holder = _member(holder_row)
        address = c.execute(
            sa.select(households.c.address).where(
                households.c.municipality_code == m.code, households.c.household_id == holder_row.household_id
            )
        ).scalar_one()
        if kind == Kind.INKAN:
            seal = current_seal(c, m.code, holder_row.resident_id, clock.now())
            if seal is None:
                raise Refused(Refusal(RefusalCode.KIND_NOT_OFFERED, detail="seal-not-registered"))
            return inkan_document(head, holder, address, SealRecord(seal.registration_number, bytes(seal.impression_png)))
        if kind == Kind.ZEIMU:
            record = c.execute(
                sa.select(tax_records.c.data).where(
                    tax_records.c.municipality_code == m.code,
                    tax_records.c.resident_id == holder_row.resident_id,
                    tax_records.c.fiscal_year == options.get("year"),
                )
            ).scalar_one_or_none()
            if record is None or options.get("tax_kind") not in ("shotoku", "nozei"):
                raise Refused(Refusal(RefusalCode.KIND_NOT_OFFERED, detail="no-tax-record"))
            return tax_document(head, options["tax_kind"], int(options["year"]), holder, address, json.loads(record))
        if kind in (Kind.KOSEKI, Kind.FUHYO):
            link = _register_of(c, m.code, holder_row.resident_id)
            if link is None:
                raise Refused(Refusal(RefusalCode.KIND_NOT_OFFERED, detail="no-register-here"))
            reg = c.execute(
                sa.select(family_registers).where(
                    family_registers.c.municipality_code == m.code,
                    family_registers.c.register_id == link.register_id,
                )
            ).one_or_none()
            if reg is None:
                raise Refused(Refusal(RefusalCode.KIND_NOT_OFFERED, detail="register-missing"))
            data = json.loads(reg.data)
            if kind == Kind.KOSEKI:
                return koseki_document(head, options.get("koseki_scope") or "all", reg.honseki, reg.head_name,
                                       data, holder_row.resident_id)
            if options.get("scope") == "self":
                chosen = tuple(pid for pid, p in register_persons(reg.register_id, data)
                               if p.get("resident") == holder_row.resident_id)
            else:
                chosen = tuple(options.get("members") or ())
            return fuhyo_document(head, reg.honseki, reg.head_name, data, register_id=reg.register_id,
                                  with_domicile=bool(options.get("with_domicile")), chosen=chosen)
        raise InvalidRequest("kind-not-offered", f"unknown kind {kind!r}")

    def _juminhyo_request(
        self, c: sa.Connection, m: Any, holder_row: Any, scope: str, with_householder: bool,
        with_domicile: bool, *, issued_on: date, certificate_serial: str, binding: str,
        with_individual_number: bool = False, chosen: tuple[str, ...] = (),
    ) -> JuminhyoRequest:
        hh = c.execute(
            sa.select(households).where(
                households.c.municipality_code == m.code,
                households.c.household_id == holder_row.household_id,
            )
        ).one()
        member_rows = c.execute(
            sa.select(residents)
            .where(
                residents.c.municipality_code == m.code,
                residents.c.household_id == holder_row.household_id,
                residents.c.status == "active",
            )
            .order_by(residents.c.position, residents.c.resident_id)
        ).all()
        members = [_member(r) for r in member_rows]
        if scope == "household" and chosen:
            # Chosen members, printed in the household's order.
            members = [mr for mr in members if mr.resident_id in chosen]
        householder = next((r for r in member_rows if r.resident_id == hh.householder), None)
        holder = _member(holder_row)
        return JuminhyoRequest(
            municipality_code=m.code,
            municipality_name=m.name,
            mayor_title=m.mayor_title,
            mayor_name=m.mayor_name,
            address=hh.address,
            householder_name=householder.name if householder is not None else "",
            holder=holder,
            members=select_members(holder, members, scope),
            scope=scope,
            with_householder=with_householder,
            with_domicile=with_domicile,
            issued_on=issued_on,
            certificate_serial=certificate_serial,
            binding=binding,
            with_individual_number=with_individual_number,
            chosen=bool(chosen) and scope == "household",
        )

    def _seal_paths(self, m: Any) -> SealPaths:
        seal = self.settings.seal_for(m.code, m.seal_cert, m.seal_key, json.loads(m.seal_chain or "[]"))
        if seal is None:
            raise IssuerUnavailable(f"no seal certificate is configured for municipality {m.code}")
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
            raise IssuerUnavailable(str(e)) from e
        log.debug("rendered and sealed in %.1f ms", (time.perf_counter() - started) * 1000)
        return pdf, pages

    def render_for_check(
        self, code: str, resident_id: str, scope: str, with_householder: bool, with_domicile: bool,
        kind: str = "juminhyo", options: dict[str, Any] | None = None,
    ) -> tuple[bytes, int]:
        """Render and seal one certificate directly (no rules, no audit entry).

        For a municipality checking its format before going live; it is a
        local administrative command, not reachable over the wide-area interface.
        """
        now = clock.now()
        with self.engine.connect() as c:
            m = self._municipality(c, code)
            if m is None:
                raise UnknownIssuance(f"municipality {code} is not in this issuer")
            holder_row = c.execute(
                sa.select(residents).where(
                    residents.c.municipality_code == code, residents.c.resident_id == resident_id
                )
            ).first()
            if holder_row is None:
                raise UnknownIssuance(f"resident {resident_id} is not in municipality {code}")
            serial = secrets.token_hex(16)
            document = self._document(
                c, m, holder_row, kind, {
                    "scope": scope, "with_householder": with_householder, "with_domicile": with_domicile,
                    **(options or {}),
                },
                issued_on=now.astimezone(clock.JST).date(), certificate_serial=serial,
                binding=order_binding(holder_row.resident_link or f"resident:{resident_id}", "format-check", serial),
            )
        return self._make(m, document)

    # -- after issuance

    def confirm_printed(self, issuance_id: str, copies_printed: int) -> str:
        """issued → printed, once; a repeat with the same count answers the same."""
        now = clock.now()
        with self.engine.connect() as c:
            # The audit lock first: it serialises this with every other state change.
            head = audit.lock(c)
            row = c.execute(sa.select(issuances).where(issuances.c.issuance_id == issuance_id)).first()
            if row is None:
                c.rollback()
                raise UnknownIssuance(f"no issuance {issuance_id}")
            if row.state == "printed":
                c.rollback()
                if row.copies_printed != copies_printed:
                    raise StateConflict(
                        "copies-conflict",
                        f"issuance {issuance_id} was confirmed with {row.copies_printed} copies, not {copies_printed}",
                    )
                return "printed"
            if row.state == "cancelled":
                c.rollback()
                raise StateConflict("already-cancelled", f"issuance {issuance_id} was cancelled")
            if copies_printed > row.copies:
                c.rollback()
                raise InvalidRequest(
                    "copies-out-of-range",
                    f"{copies_printed} copies printed but {row.copies} were issued",
                )
            c.execute(
                sa.update(issuances)
                .where(issuances.c.issuance_id == issuance_id, issuances.c.state == "issued")
                .values(state="printed", copies_printed=copies_printed, printed_at=now)
            )
            audit.write(c, head, issuance_id, "printed", now,
                        {"copies_printed": copies_printed, "at": _utc_iso(now)}, key=self.settings.audit_key)
            c.commit()
        return "printed"

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
        now = clock.now()
        with self.engine.connect() as c:
            head = audit.lock(c)
            row = c.execute(sa.select(issuances).where(issuances.c.issuance_id == issuance_id)).first()
            if row is None:
                c.rollback()
                raise UnknownIssuance(f"no issuance {issuance_id}")
            if row.state == "cancelled":
                c.rollback()
                return "cancelled"
            if row.state == "printed":
                c.rollback()
                raise StateConflict("already-printed", f"issuance {issuance_id} was printed; it cannot be cancelled")
            c.execute(
                sa.update(issuances)
                .where(issuances.c.issuance_id == issuance_id, issuances.c.state == "issued")
                .values(state="cancelled", cancel_reason=reason, cancelled_at=now)
            )
            audit.write(c, head, issuance_id, "cancelled", now, {"reason": reason, "at": _utc_iso(now)},
                        key=self.settings.audit_key)
            c.commit()
        return "cancelled"


def _aware(dt: datetime) -> datetime:
    # SQLite keeps no offset: it hands back the wall time it was given, and
    # the service always writes kofu.clock.now(), which is Japan time.
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=clock.JST)
