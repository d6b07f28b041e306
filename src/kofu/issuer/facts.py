"""Rows of the issuer's tables → the frozen facts :mod:`kofu.domain.rules` decides on.

Reads only (SQLAlchemy Core, :mod:`kofu.issuer.tables`); nothing here decides
or writes. ``lock=True`` reads the seal registration ``FOR UPDATE`` so that an
abolition cannot commit between a decision and the issuance it allows.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from datetime import time as dtime
from typing import Any

import sqlalchemy as sa

from kofu import clock
from kofu.domain.fees import FeeSchedule
from kofu.domain.rules import (
    HoursWindow,
    MaintenanceWindow,
    MemberChoice,
    MunicipalityFacts,
    PersonFacts,
)
from kofu.domain.taxyears import TaxYearWindow
from kofu.issuer.documents import MemberRecord, register_persons
from kofu.issuer.tables import (
    family_registers,
    register_members,
    residents,
    seal_registrations,
    tax_records,
)


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
        if aware(row.registered_at) <= now and (row.abolished_at is None or aware(row.abolished_at) > now):
            return row
    return None


def register_of(conn: sa.Connection, code: str, resident_id: str) -> Any | None:
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
    register = register_of(conn, code, row.resident_id)
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
            # A person may carry an id of their own: the holder is the one whose resident is theirs.
            persons = tuple(MemberChoice(pid, p["name"], holder=p.get("resident") == row.resident_id)
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
        members=tuple(MemberChoice(r.resident_id, r.name, holder=r.resident_id == row.resident_id)
                      for r in household if r.status == "active"),
    )


def member_record(row: Any) -> MemberRecord:
    """A ``residents`` row → MemberRecord (its fields are named as the table's columns)."""
    return MemberRecord(**{name: getattr(row, name) for name in _MEMBER_FIELDS})


_MEMBER_FIELDS = tuple(f.name for f in fields(MemberRecord))



def aware(dt: datetime) -> datetime:
    """A date-time read back from the database, with its offset.

    SQLite keeps no offset: it hands back the wall time it was given, and
    the service always writes kofu.clock.now(), which is Japan time.
    """
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=clock.JST)
