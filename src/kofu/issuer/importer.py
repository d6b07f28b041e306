"""Load municipality settings and resident records from the JSON export format.

The format is documented in docs/issuer-import.md. The whole file is checked
first, then written in ONE transaction: bad input changes nothing. Records are
upserted by key, so importing the same file twice leaves the same state.

>>> summary = import_file(engine, Path("export.json"))

Names are stored exactly as given: never Unicode-normalised, because NFC
would turn CJK compatibility ideographs into their unified forms and change
the glyph a person's name is printed with (IVS sequences pass through as is).

Errors::

    ImportError_   the file is unreadable or a field is wrong; the message names the field path
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kofu import clock
from kofu.domain import koseki
from kofu.domain.fees import FeeError, FeeSchedule
from kofu.domain.ids import InvalidIdentifier, validate_municipality_code
from kofu.domain.rules import HoursWindow, Kind, MaintenanceWindow
from kofu.issuer import plausibility
from kofu.issuer.tables import (
    family_registers,
    households,
    municipalities,
    register_members,
    residents,
    seal_registrations,
    tax_records,
)

# The reader's methods ``date`` and ``list`` shadow the builtins inside its class body.
_date = date
_list = list

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_SEAL_PNG_BYTES = 512 * 1024
MAX_YEN = 10**12

FORMAT = "kofu-issuer-import/2"
ACCEPTED_FORMATS = ("kofu-issuer-import/1", FORMAT)
"""Version 1 files (residents only) still import; 2 adds seals, tax, registers."""


class ImportError_(Exception):  # noqa: N801 - the builtin ImportError means something else
    """The import file is invalid; nothing was written."""


@dataclass(frozen=True)
class ImportSummary:
    municipalities: int
    households: int
    residents: int
    seals: int = 0
    tax_records: int = 0
    family_registers: int = 0


@dataclass
class Parsed:
    """The rows one import file writes, per table."""

    municipalities: list[dict[str, Any]] = field(default_factory=list)
    households: list[dict[str, Any]] = field(default_factory=list)
    residents: list[dict[str, Any]] = field(default_factory=list)
    seals: list[dict[str, Any]] = field(default_factory=list)
    tax_records: list[dict[str, Any]] = field(default_factory=list)
    registers: list[dict[str, Any]] = field(default_factory=list)
    register_members: list[dict[str, Any]] = field(default_factory=list)


class _Reader:
    """Typed field access that names the field path in every error."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise ImportError_(f"{path or 'the file'} must be an object")
        self.data = data
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise ImportError_(f"{self.where(key)} is required")
            return default
        value = self.data[key]
        if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise ImportError_(f"{self.where(key)} has the wrong type ({value!r})")
        if not isinstance(value, kind):
            raise ImportError_(f"{self.where(key)} has the wrong type ({type(value).__name__})")
        return value

    def text(self, key: str, default: Any = ..., max_len: int = 400) -> Any:
        value = self.get(key, str, default)
        if isinstance(value, str):
            if not value.strip() and default is ...:
                raise ImportError_(f"{self.where(key)} must not be empty")
            if len(value) > max_len:
                raise ImportError_(f"{self.where(key)} is longer than {max_len} characters")
        return value

    def date(self, key: str) -> date:
        raw = self.text(key)
        try:
            return date.fromisoformat(raw)
        except ValueError as e:
            raise ImportError_(f"{self.where(key)}: {raw!r} is not a date (YYYY-MM-DD)") from e

    def list(self, key: str, default: Any = ...) -> list[Any]:
        return list(self.get(key, list, default))

    def optional_date(self, key: str) -> _date | None:
        return None if self.data.get(key) is None else self.date(key)

    def instant(self, key: str, default: Any = ...) -> datetime | None:
        raw = self.text(key, default)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError as e:
            raise ImportError_(f"{self.where(key)}: {raw!r} is not an ISO 8601 date-time") from e
        if value.tzinfo is None:
            raise ImportError_(f"{self.where(key)}: {raw!r} needs an offset, for example +09:00")
        # Stored in Japan time: SQLite keeps the wall time only, and the
        # service reads a value without offset back as Japan time.
        return value.astimezone(clock.JST)

    def yen(self, key: str, default: Any = ...) -> int:
        value = self.get(key, int, default)
        if not 0 <= value <= MAX_YEN:
            raise ImportError_(f"{self.where(key)} must be a whole number of yen, 0 or more")
        return int(value)

    def labelled(self, key: str, label: str, value: str) -> _list[tuple[str, Any]]:
        """A list of {label: …, value: …} objects as (label, value) pairs."""
        out = []
        for i, item in enumerate(self.list(key, [])):
            ir = _Reader(item, f"{self.where(key)}[{i}]")
            out.append((ir.text(label, max_len=100), ir.yen(value) if value == "amount" else ir.text(value, max_len=2000)))
        return out


def _windows(raw: list[Any], where: str) -> list[dict[str, Any]]:
    out = []
    for i, w in enumerate(raw):
        r = _Reader(w, f"{where}[{i}]")
        opens, closes = r.text("opens"), r.text("closes")
        weekdays = r.list("weekdays", list(range(7)))
        business_days = r.get("business_days", bool, False)
        try:
            HoursWindow(time.fromisoformat(opens), time.fromisoformat(closes), frozenset(weekdays), business_days)
        except (ValueError, TypeError) as e:
            raise ImportError_(f"{where}[{i}]: {e}") from e
        out.append({"opens": opens, "closes": closes, "weekdays": sorted(weekdays), "business_days": business_days})
    return out


def _municipality(r: _Reader, base: Path, out: Parsed) -> None:
    now = clock.now()
    code = r.text("code")
    try:
        validate_municipality_code(code)
    except InvalidIdentifier as e:
        raise ImportError_(f"{r.where('code')}: {e}") from e
    fees_raw = r.get("fees", dict)
    try:
        fees = FeeSchedule.from_mapping(fees_raw)
    except FeeError as e:
        raise ImportError_(f"{r.where('fees')}: {e}") from e
    kinds = [str(k) for k in r.list("offered_kinds")]
    known = {k.value for k in Kind}
    for k in kinds + list(fees.kinds()):
        if k not in known:
            raise ImportError_(f"{r.path}: unknown certificate kind {k!r} (known: {', '.join(sorted(known))})")
    for k in kinds:
        if k not in fees.kinds():
            raise ImportError_(f"{r.where('fees')}: offered kind {k!r} has no fee")
    hours = _windows(r.list("hours", [{"opens": "06:30", "closes": "23:00"}]), r.where("hours"))
    kind_hours = {
        str(k): _windows(v if isinstance(v, list) else [v], f"{r.where('kind_hours')}.{k}")
        for k, v in r.get("kind_hours", dict, {}).items()
    }
    for k in kind_hours:
        if k not in known:
            raise ImportError_(f"{r.where('kind_hours')}: unknown certificate kind {k!r}")
    counter_raw = r.get("counter_fees", dict, {})
    try:
        counter_fees = FeeSchedule.from_mapping(counter_raw)
    except FeeError as e:
        raise ImportError_(f"{r.where('counter_fees')}: {e}") from e
    tax_years = r.list("tax_years", [])
    for i, y in enumerate(tax_years):
        if not isinstance(y, int) or isinstance(y, bool) or not 1989 <= y <= 2200:
            raise ImportError_(f"{r.where('tax_years')}[{i}] must be a fiscal year such as 2025, got {y!r}")
    maintenance = []
    for i, m in enumerate(r.list("maintenance", [])):
        mr = _Reader(m, f"{r.where('maintenance')}[{i}]")
        try:
            w = MaintenanceWindow(
                datetime.fromisoformat(mr.text("starts")), datetime.fromisoformat(mr.text("ends")),
                mr.text("message", ""), mr.text("message_en", ""),
            )
        except ValueError as e:
            raise ImportError_(f"{mr.path}: {e}") from e
        maintenance.append({"starts": w.starts.isoformat(), "ends": w.ends.isoformat(), "message": w.message,
                            "message_en": w.message_en})
    max_copies = r.get("max_copies", int, 10)
    if not 1 <= max_copies <= 99:
        raise ImportError_(f"{r.where('max_copies')} must be 1..99")
    population_class = r.get("population_class", int)
    seal = r.get("seal", dict, None)
    seal_cert = seal_key = None
    seal_chain: list[str] = []
    if seal is not None:
        sr = _Reader(seal, r.where("seal"))
        seal_cert = str((base / sr.text("cert")).resolve())
        seal_key = str((base / sr.text("key")).resolve())
        seal_chain = [str((base / str(p)).resolve()) for p in sr.list("chain", [])]
    row = dict(
        code=code,
        name=r.text("name"),
        mayor_title=r.text("mayor_title"),
        mayor_name=r.text("mayor_name"),
        population_class=population_class,
        participating=r.get("participating", bool),
        fees=json.dumps(fees.as_dict(), sort_keys=True),
        offered_kinds=json.dumps(sorted(kinds)),
        hours=json.dumps(hours),
        kind_hours=json.dumps(kind_hours, sort_keys=True),
        maintenance=json.dumps(maintenance),
        max_copies=max_copies,
        tax_years=json.dumps(sorted(set(tax_years))),
        individual_number=r.get("individual_number_at_kiosk", bool, False),
        counter_fees=json.dumps(counter_fees.as_dict(), sort_keys=True),
        seal_cert=seal_cert,
        seal_key=seal_key,
        seal_chain=json.dumps(seal_chain),
        updated_at=now,
    )
    hh_rows: list[dict[str, Any]] = []
    res_rows: list[dict[str, Any]] = []
    for i, h in enumerate(r.list("households", [])):
        hr = _Reader(h, f"{r.where('households')}[{i}]")
        hid = hr.text("id", max_len=64)
        members = hr.list("members")
        if not members:
            raise ImportError_(f"{hr.where('members')} must list at least one member")
        ids = []
        for j, m in enumerate(members):
            mr = _Reader(m, f"{hr.where('members')}[{j}]")
            sex = mr.text("sex")
            if sex not in ("male", "female"):
                raise ImportError_(f"{mr.where('sex')} must be 'male' or 'female', got {sex!r}")
            status = mr.text("status", "active")
            if status not in ("active", "removed"):
                raise ImportError_(f"{mr.where('status')} must be 'active' or 'removed', got {status!r}")
            number = mr.text("individual_number", None, max_len=12)
            if number is not None and not (len(number) == 12 and number.isascii() and number.isdigit()):
                raise ImportError_(f"{mr.where('individual_number')} must be 12 digits")
            link = mr.text("resident_link", None, max_len=128)
            if link is not None and (not link.isascii() or any(c.isspace() for c in link)):
                raise ImportError_(f"{mr.where('resident_link')} must be printable ASCII without spaces")
            rid = mr.text("id", max_len=64)
            ids.append(rid)
            removed_reason = mr.text("removed_reason", None, max_len=40)
            removed_on = mr.optional_date("removed_on")
            if status == "active" and (removed_reason or removed_on):
                raise ImportError_(f"{mr.path}: removed_reason/removed_on need status 'removed'")
            res_rows.append(dict(
                municipality_code=code, resident_id=rid, household_id=hid, position=j,
                name=mr.text("name"), name_kana=mr.text("name_kana"), birth_date=mr.date("birth_date"),
                sex=sex, relationship=mr.text("relationship"),
                became_resident_on=mr.date("became_resident_on"), address_since=mr.date("address_since"),
                notified_on=mr.date("notified_on"), previous_address=mr.text("previous_address", ""),
                domicile=mr.text("domicile", None), domicile_head=mr.text("domicile_head", None),
                individual_number=number, status=status, resident_link=link, updated_at=now,
                removed_reason=removed_reason, removed_on=removed_on,
                change_reason=mr.text("change_reason", None, max_len=40), change_on=mr.optional_date("change_on"),
                support_measure=mr.get("support_measure", bool, False),
                _where=mr.path,
            ))
        householder = hr.text("householder", max_len=64)
        if householder not in ids:
            raise ImportError_(f"{hr.where('householder')}: {householder!r} is not a member of this household")
        hh_rows.append(dict(municipality_code=code, household_id=hid, address=hr.text("address"),
                            householder=householder, updated_at=now, _where=hr.path))
    out.municipalities.append(row)
    out.households.extend(hh_rows)
    out.residents.extend(res_rows)
    _seals(r, base, code, now, out)
    _tax_records(r, code, now, out)
    _registers(r, code, now, out)


def _seal_png(sr: _Reader, base: Path) -> bytes:
    """The impression, from ``impression_png`` (base64) or ``impression_file`` (a path)."""
    inline = sr.text("impression_png", None, max_len=MAX_SEAL_PNG_BYTES * 2)
    path = sr.text("impression_file", None)
    if (inline is None) == (path is None):
        raise ImportError_(f"{sr.path}: give exactly one of impression_png (base64) and impression_file")
    if inline is not None:
        try:
            png = base64.b64decode(inline, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ImportError_(f"{sr.where('impression_png')} is not valid base64") from e
    else:
        try:
            png = (base / path).read_bytes()
        except OSError as e:
            raise ImportError_(f"{sr.where('impression_file')}: cannot read {path}: {e}") from e
    if not png.startswith(PNG_MAGIC):
        raise ImportError_(f"{sr.path}: the impression is not a PNG image")
    if len(png) > MAX_SEAL_PNG_BYTES:
        raise ImportError_(f"{sr.path}: the impression is larger than {MAX_SEAL_PNG_BYTES} bytes")
    return png


def _seals(r: _Reader, base: Path, code: str, now: datetime, out: Parsed) -> None:
    for i, s in enumerate(r.list("seal_registrations", [])):
        sr = _Reader(s, f"{r.where('seal_registrations')}[{i}]")
        number = sr.text("number", max_len=32)
        registered = sr.instant("registered_at")
        abolished = sr.instant("abolished_at", None)
        if abolished is not None and registered is not None and abolished < registered:
            raise ImportError_(f"{sr.where('abolished_at')} is before registered_at")
        out.seals.append(dict(
            municipality_code=code, registration_number=number, resident_id=sr.text("resident", max_len=64),
            impression_png=_seal_png(sr, base), registered_at=registered, abolished_at=abolished,
            updated_at=now, _where=sr.path,
        ))


def _tax_dependant(r: _Reader) -> dict[str, Any]:
    return {"birth_date": r.date("birth_date").isoformat(), "income": r.yen("income", 0),
            "cohabiting_parent": r.get("cohabiting_parent", bool, False)}


def _tax_records(r: _Reader, code: str, now: datetime, out: Parsed) -> None:
    """Raw figures only: every tax amount is computed from them (kofu.domain.tax)."""
    from kofu.domain.tax import TaxRuleError, assess
    from kofu.issuer.taxrecord import COMPUTED_DEDUCTIONS, tax_lines, tax_return

    for i, t in enumerate(r.list("tax_records", [])):
        tr = _Reader(t, f"{r.where('tax_records')}[{i}]")
        year = tr.get("fiscal_year", int)
        if not 1989 <= year <= 2200:
            raise ImportError_(f"{tr.where('fiscal_year')} must be a fiscal year such as 2025")
        for computed in ("municipal_tax", "prefectural_tax", "exempt"):
            if computed in t:
                raise ImportError_(f"{tr.where(computed)}: the issuer computes it from the raw figures; remove it")
        deductions = tr.labelled("deductions", "kind", "amount")
        for j, (kind, _amount) in enumerate(deductions):
            if kind in COMPUTED_DEDUCTIONS:
                raise ImportError_(f"{tr.where('deductions')}[{j}].kind: {kind} is computed from "
                                   "spouse and dependants; remove it")
        spouse = t.get("spouse")
        taxes = []
        for j, x in enumerate(tr.list("taxes", [])):
            xr = _Reader(x, f"{tr.where('taxes')}[{j}]")
            dues = [xr.date("due_on").isoformat()] if x.get("due_on") is not None else []
            for k, d in enumerate(xr.list("due_dates", [])):
                dues.append(_Reader({"d": d}, f"{xr.where('due_dates')}[{k}]").date("d").isoformat())
            if not dues:
                raise ImportError_(f"{xr.where('due_on')} or {xr.where('due_dates')} is required")
            taxes.append({"name": xr.text("name", max_len=100), "fiscal_year": xr.get("fiscal_year", int, year),
                          "assessed": xr.yen("assessed") if x.get("assessed") is not None else None, "paid": xr.yen("paid", 0), "due_dates": dues})
        data = {
            "salary_revenue": tr.yen("salary_revenue", 0),
            "incomes": tr.labelled("incomes", "kind", "amount"),
            "deductions": deductions,
            "spouse": _tax_dependant(_Reader(spouse, tr.where("spouse"))) if spouse is not None else None,
            "dependants": [_tax_dependant(_Reader(d, f"{tr.where('dependants')}[{k}]"))
                           for k, d in enumerate(tr.list("dependants", []))],
            "tax_credits": tr.labelled("tax_credits", "kind", "amount"),
            "grade": tr.get("grade", int, 1),
            "taxes": taxes,
        }
        if data["grade"] not in (1, 2, 3):
            raise ImportError_(f"{tr.where('grade')} must be 1, 2 or 3 (級地)")
        try:
            assessment = assess(tax_return(data, year))
        except TaxRuleError as e:
            raise ImportError_(f"{tr.path}: {e}") from e
        for j, x in enumerate(taxes):
            assessed = x["assessed"] if x["assessed"] is not None else assessment.total
            if x["paid"] > assessed:
                raise ImportError_(f"{tr.where('taxes')}[{j}].paid is more than assessed ({x['paid']} > {assessed})")
        tax_lines(data, year, assessment)
        out.tax_records.append(dict(
            municipality_code=code, resident_id=tr.text("resident", max_len=64), fiscal_year=year,
            data=json.dumps(data, ensure_ascii=False, sort_keys=True), updated_at=now, _where=tr.path,
        ))


def _koseki_events(r: _Reader, check: Any) -> list[dict[str, str]]:
    """``r``'s events, each checked by :mod:`kofu.domain.koseki` (errors name the field path)."""
    try:
        return [check(e, f"{r.where('events')}[{n}]") for n, e in enumerate(r.list("events", []))]
    except koseki.KosekiFormatError as e:
        raise ImportError_(str(e)) from e


def register_person(pr: _Reader, resident: str | None, sex: str, addresses: list[Any], default_id: str) -> dict[str, Any]:
    """One person of a family register (戸籍に記録されている者), as stored in its data."""
    name = pr.text("name")
    given = pr.text("given_name", None, max_len=100) or koseki.given_name(name)
    if not given:
        raise ImportError_(f"{pr.where('given_name')} is required when name does not separate 氏 and 名 with a space")
    spouse_role = pr.text("spouse_role", None, max_len=2)
    if spouse_role not in (None, "夫", "妻"):
        raise ImportError_(f"{pr.where('spouse_role')} (配偶者区分) must be 夫 or 妻, got {spouse_role!r}")
    person_id = pr.text("id", None, max_len=64) or resident or default_id
    if not person_id.isascii() or any(c.isspace() for c in person_id) or len(person_id) > 64:
        raise ImportError_(f"{pr.where('id')} must be printable ASCII without spaces, at most 64 characters")
    events = _koseki_events(pr, koseki.person_event)
    person: dict[str, Any] = {
        "id": person_id, "resident": resident, "name": name, "given_name": given,
        "birth_date": pr.date("birth_date").isoformat(), "sex": sex,
        "father": pr.text("father", ""), "mother": pr.text("mother", ""),
        "relationship": pr.text("relationship", max_len=10), "spouse_role": spouse_role or "",
        "events": events, "addresses": addresses,
    }
    # 除籍 follows from the event that removed the person (death, a marriage
    # into another register …); "removed" may also say so for a record
    # whose removing event is not exported.
    person["removed"] = pr.get("removed", bool, False) or any(koseki.leaves_register(e) for e in events)
    return person


def _registers(r: _Reader, code: str, now: datetime, out: Parsed) -> None:
    for i, k in enumerate(r.list("family_registers", [])):
        kr = _Reader(k, f"{r.where('family_registers')}[{i}]")
        register_id = kr.text("id", max_len=64)
        persons = []
        for j, p in enumerate(kr.list("persons")):
            pr = _Reader(p, f"{kr.where('persons')}[{j}]")
            sex = pr.text("sex")
            if sex not in ("male", "female"):
                raise ImportError_(f"{pr.where('sex')} must be 'male' or 'female', got {sex!r}")
            addresses = []
            for a_i, a in enumerate(pr.list("addresses", [])):
                ar = _Reader(a, f"{pr.where('addresses')}[{a_i}]")
                addresses.append([ar.text("address"), ar.date("since").isoformat()])
            if [a[1] for a in addresses] != sorted(a[1] for a in addresses):
                raise ImportError_(f"{pr.where('addresses')} must be oldest first")
            resident = pr.text("resident", None, max_len=64)
            person = register_person(pr, resident, sex, addresses, f"{register_id}#{j + 1}")
            removed = person["removed"]
            persons.append(person)
            if resident is not None:
                out.register_members.append(dict(
                    municipality_code=code, resident_id=resident, register_id=register_id, position=j,
                    removed=removed, _where=pr.path,
                ))
        if not persons:
            raise ImportError_(f"{kr.where('persons')} must list at least one person")
        data = {"events": _koseki_events(kr, koseki.register_event), "persons": persons}
        out.registers.append(dict(
            municipality_code=code, register_id=register_id, honseki=kr.text("honseki"),
            head_name=kr.text("head"), data=json.dumps(data, ensure_ascii=False), updated_at=now,
            _where=kr.path,
        ))


def _refuse_implausible(out: Parsed, code: str) -> None:
    """Records no municipality could hold (a seal for a child, a marriage under age …)."""
    mine = [[x for x in rows if x["municipality_code"] == code] for rows in (out.residents, out.seals, out.registers)]
    found = plausibility.problems(residents=mine[0], seals=mine[1], registers=mine[2])
    if found:
        raise ImportError_("; ".join(f"{where}: {message}" for where, message in found))


def _refuse_second_seals(c: sa.Connection, out: Parsed) -> None:
    """A seal in the file against the seals already stored: one in force per person."""
    for code in {s["municipality_code"] for s in out.seals}:
        stored = [dict(r._mapping) for r in c.execute(
            sa.select(seal_registrations.c.registration_number, seal_registrations.c.resident_id,
                      seal_registrations.c.registered_at, seal_registrations.c.abolished_at)
            .where(seal_registrations.c.municipality_code == code))]
        for row in stored:  # SQLite hands back the wall time, which is Japan time
            for k in ("registered_at", "abolished_at"):
                if row[k] is not None and row[k].tzinfo is None:
                    row[k] = row[k].replace(tzinfo=clock.JST)
        mine = [s for s in out.seals if s["municipality_code"] == code]
        found = plausibility.problems(residents=[], seals=mine, registers=[], stored_seals=stored)
        if found:
            raise ImportError_("; ".join(f"{where}: {message}" for where, message in found))


def parse(data: Any, base: Path) -> Parsed:
    """Check the whole document; return the rows to upsert."""
    root = _Reader(data, "")
    fmt = root.text("format")
    if fmt not in ACCEPTED_FORMATS:
        raise ImportError_(f"format must be {FORMAT!r}, got {fmt!r}")
    out = Parsed()
    seen_codes: set[str] = set()
    for i, m in enumerate(root.list("municipalities")):
        _municipality(_Reader(m, f"municipalities[{i}]"), base, out)
        row = out.municipalities[-1]
        if row["code"] in seen_codes:
            raise ImportError_(f"municipalities[{i}].code: {row['code']} appears twice")
        seen_codes.add(row["code"])
        _refuse_implausible(out, row["code"])
    hs, rs = out.households, out.residents
    # Keys unique within the file (a resident in two households is an export bug).
    seen: dict[Any, str] = {}
    for h in hs:
        key = ("h", h["municipality_code"], h["household_id"])
        if key in seen:
            raise ImportError_(f"{h['_where']}.id: {h['household_id']} also appears at {seen[key]}")
        seen[key] = h["_where"]
    for r in rs:
        key = ("r", r["municipality_code"], r["resident_id"])
        if key in seen:
            raise ImportError_(f"{r['_where']}.id: {r['resident_id']} also appears at {seen[key]}")
        seen[key] = r["_where"]
        if r["resident_link"] is not None:
            lkey = ("l", r["resident_link"])
            if lkey in seen:
                raise ImportError_(f"{r['_where']}.resident_link also appears at {seen[lkey]}")
            seen[lkey] = r["_where"]
    _check_references(out, seen)
    return out


def _check_references(out: Parsed, seen: dict[Any, str]) -> None:
    """Seals, tax records and register members name residents listed in the same file."""
    for kind, rows, keyf in (
        ("seal registration", out.seals, lambda x: (x["municipality_code"], x["registration_number"])),
        ("tax record", out.tax_records, lambda x: (x["municipality_code"], x["resident_id"], x["fiscal_year"])),
        ("family register", out.registers, lambda x: (x["municipality_code"], x["register_id"])),
        ("register member", out.register_members, lambda x: (x["municipality_code"], x["resident_id"])),
    ):
        keys: dict[Any, str] = {}
        for row in rows:
            key = keyf(row)
            if key in keys:
                raise ImportError_(f"{row['_where']}: this {kind} also appears at {keys[key]}")
            keys[key] = row["_where"]
    file_residents = {(r["municipality_code"], r["resident_id"]) for r in out.residents}
    for rows in (out.seals, out.tax_records, out.register_members):
        for row in rows:
            if (row["municipality_code"], row["resident_id"]) not in file_residents:
                raise ImportError_(f"{row['_where']}: resident {row['resident_id']!r} is not among this "
                                   "municipality's residents in the file")


def _upsert(conn: sa.Connection, table: sa.Table, keys: tuple[str, ...], row: dict[str, Any]) -> None:
    values = {k: v for k, v in row.items() if not k.startswith("_")}
    cond = sa.and_(*(table.c[k] == values[k] for k in keys))
    if conn.execute(sa.select(sa.literal(1)).select_from(table).where(cond)).first() is None:
        conn.execute(table.insert().values(**values))
    else:
        conn.execute(table.update().where(cond).values(**values))


def import_file(engine: sa.Engine, path: Path) -> ImportSummary:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ImportError_(f"cannot read {path}: {e}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ImportError_(f"{path} is not valid UTF-8 JSON: {e}") from e
    parsed = parse(data, path.resolve().parent)
    ms, hs, rs = parsed.municipalities, parsed.households, parsed.residents
    try:
        with engine.begin() as c:
            _refuse_second_seals(c, parsed)
            for m in ms:
                _upsert(c, municipalities, ("code",), m)
            for h in hs:
                _upsert(c, households, ("municipality_code", "household_id"), h)
            # Release links first: a card may move from one record to another
            # within one import (a correction), which would trip UNIQUE midway.
            for r in rs:
                c.execute(
                    residents.update()
                    .where(residents.c.municipality_code == r["municipality_code"],
                           residents.c.resident_id == r["resident_id"])
                    .values(resident_link=None)
                )
            for r in rs:
                _upsert(c, residents, ("municipality_code", "resident_id"), r)
            for s in parsed.seals:
                _upsert(c, seal_registrations, ("municipality_code", "registration_number"), s)
            for t in parsed.tax_records:
                _upsert(c, tax_records, ("municipality_code", "resident_id", "fiscal_year"), t)
            for k in parsed.registers:
                _upsert(c, family_registers, ("municipality_code", "register_id"), k)
                # A register's member list is replaced whole: a person removed
                # from the export is no longer in this register.
                c.execute(register_members.delete().where(
                    register_members.c.municipality_code == k["municipality_code"],
                    register_members.c.register_id == k["register_id"],
                ))
            for rm in parsed.register_members:
                _upsert(c, register_members, ("municipality_code", "resident_id"), rm)
    except sa.exc.IntegrityError as e:
        raise ImportError_(f"the data conflicts with records already stored: {e.orig}") from e
    return ImportSummary(len(ms), len(hs), len(rs), len(parsed.seals), len(parsed.tax_records),
                         len(parsed.registers))
