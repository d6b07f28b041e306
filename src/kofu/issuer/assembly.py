"""Per-kind assembly: the holder's records, read now, → the render model of one certificate.

Beside :mod:`kofu.issuer.documents` (the records → render models, no SQL):
this module holds the SQL that fetches what each kind prints (household,
seal registration, tax record, family register) and picks the builder.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import sqlalchemy as sa

from kofu import clock
from kofu.domain.rules import Kind, OrderOptions, Refusal, RefusalCode, Scope
from kofu.issuer.documents import (
    JuminhyoRequest,
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
from kofu.issuer.errors import BadRequest, IssuanceRefused
from kofu.issuer.facts import current_seal, member_record, register_of
from kofu.issuer.tables import family_registers, households, residents, tax_records


def document_for(
    c: sa.Connection, m: Any, holder_row: Any, kind: str, options: OrderOptions, *,
    issued_on: date, certificate_serial: str, binding: str,
) -> Any:
    """The render model of ``kind`` for the holder, from the records as they are now."""
    if kind in (Kind.JUMINHYO, Kind.KISAI):
        req = _juminhyo_request(
            c, m, holder_row, options.scope, options.with_householder, options.with_domicile,
            issued_on=issued_on, certificate_serial=certificate_serial, binding=binding,
            with_individual_number=options.with_individual_number,
            chosen=options.members,
        )
        return to_render_model(req) if kind == Kind.JUMINHYO else kisai_document(req)
    head = header(
        municipality_code=m.code, municipality_name=m.name, mayor_title=m.mayor_title,
        mayor_name=m.mayor_name, issued_on=issued_on, certificate_serial=certificate_serial, binding=binding,
    )
    holder = member_record(holder_row)
    address = c.execute(
        sa.select(households.c.address).where(
            households.c.municipality_code == m.code, households.c.household_id == holder_row.household_id
        )
    ).scalar_one()
    if kind == Kind.INKAN:
        seal = current_seal(c, m.code, holder_row.resident_id, clock.now())
        if seal is None:
            raise IssuanceRefused(Refusal(RefusalCode.KIND_NOT_OFFERED, detail="seal-not-registered"))
        return inkan_document(head, holder, address, SealRecord(seal.registration_number, bytes(seal.impression_png)))
    if kind == Kind.ZEIMU:
        record = c.execute(
            sa.select(tax_records.c.data).where(
                tax_records.c.municipality_code == m.code,
                tax_records.c.resident_id == holder_row.resident_id,
                tax_records.c.fiscal_year == options.year,
            )
        ).scalar_one_or_none()
        if record is None or options.tax_kind not in ("shotoku", "nozei") or options.year is None:
            raise IssuanceRefused(Refusal(RefusalCode.KIND_NOT_OFFERED, detail="no-tax-record"))
        return tax_document(head, options.tax_kind, options.year, holder, address, json.loads(record),
                            local_rates=json.loads(m.local_tax_rates or "[]"))
    if kind in (Kind.KOSEKI, Kind.FUHYO):
        link = register_of(c, m.code, holder_row.resident_id)
        if link is None:
            raise IssuanceRefused(Refusal(RefusalCode.KIND_NOT_OFFERED, detail="no-register-here"))
        reg = c.execute(
            sa.select(family_registers).where(
                family_registers.c.municipality_code == m.code,
                family_registers.c.register_id == link.register_id,
            )
        ).one_or_none()
        if reg is None:
            raise IssuanceRefused(Refusal(RefusalCode.KIND_NOT_OFFERED, detail="register-missing"))
        data = json.loads(reg.data)
        if kind == Kind.KOSEKI:
            return koseki_document(head, options.koseki_scope or "all", reg.honseki, reg.head_name,
                                   data, holder_row.resident_id, register_id=reg.register_id,
                                   chosen=options.members)
        if options.scope == Scope.SELF:
            chosen = tuple(pid for pid, p in register_persons(reg.register_id, data)
                           if p.get("resident") == holder_row.resident_id)
        else:
            chosen = options.members
        return fuhyo_document(head, reg.honseki, reg.head_name, data, register_id=reg.register_id,
                              with_domicile=options.with_domicile, chosen=chosen)
    raise BadRequest("kind-not-offered", f"unknown kind {kind!r}")

def _juminhyo_request(
    c: sa.Connection, m: Any, holder_row: Any, scope: str, with_householder: bool,
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
    members = [member_record(r) for r in member_rows]
    if scope == "household" and chosen:
        # Chosen members, printed in the household's order.
        members = [mr for mr in members if mr.resident_id in chosen]
    householder = next((r for r in member_rows if r.resident_id == hh.householder), None)
    holder = member_record(holder_row)
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

