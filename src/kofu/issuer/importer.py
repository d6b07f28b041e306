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

import json
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kofu import clock
from kofu.domain.fees import FeeError, FeeSchedule
from kofu.domain.ids import InvalidIdentifier, validate_municipality_code
from kofu.domain.rules import HoursWindow, Kind, MaintenanceWindow
from kofu.issuer.tables import households, municipalities, residents

FORMAT = "kofu-issuer-import/1"


class ImportError_(Exception):  # noqa: N801 - the builtin ImportError means something else
    """The import file is invalid; nothing was written."""


@dataclass(frozen=True)
class ImportSummary:
    municipalities: int
    households: int
    residents: int


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


def _windows(raw: list[Any], where: str) -> list[dict[str, Any]]:
    out = []
    for i, w in enumerate(raw):
        r = _Reader(w, f"{where}[{i}]")
        opens, closes = r.text("opens"), r.text("closes")
        weekdays = r.list("weekdays", list(range(7)))
        try:
            HoursWindow(time.fromisoformat(opens), time.fromisoformat(closes), frozenset(weekdays))
        except (ValueError, TypeError) as e:
            raise ImportError_(f"{where}[{i}]: {e}") from e
        out.append({"opens": opens, "closes": closes, "weekdays": sorted(weekdays)})
    return out


def _municipality(r: _Reader, base: Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
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
    maintenance = []
    for i, m in enumerate(r.list("maintenance", [])):
        mr = _Reader(m, f"{r.where('maintenance')}[{i}]")
        try:
            w = MaintenanceWindow(
                datetime.fromisoformat(mr.text("starts")), datetime.fromisoformat(mr.text("ends")),
                mr.text("message", ""),
            )
        except ValueError as e:
            raise ImportError_(f"{mr.path}: {e}") from e
        maintenance.append({"starts": w.starts.isoformat(), "ends": w.ends.isoformat(), "message": w.message})
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
            res_rows.append(dict(
                municipality_code=code, resident_id=rid, household_id=hid, position=j,
                name=mr.text("name"), name_kana=mr.text("name_kana"), birth_date=mr.date("birth_date"),
                sex=sex, relationship=mr.text("relationship"),
                became_resident_on=mr.date("became_resident_on"), address_since=mr.date("address_since"),
                notified_on=mr.date("notified_on"), previous_address=mr.text("previous_address", ""),
                domicile=mr.text("domicile", None), domicile_head=mr.text("domicile_head", None),
                individual_number=number, status=status, resident_link=link, updated_at=now,
                _where=mr.path,
            ))
        householder = hr.text("householder", max_len=64)
        if householder not in ids:
            raise ImportError_(f"{hr.where('householder')}: {householder!r} is not a member of this household")
        hh_rows.append(dict(municipality_code=code, household_id=hid, address=hr.text("address"),
                            householder=householder, updated_at=now, _where=hr.path))
    return row, hh_rows, res_rows


def parse(data: Any, base: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Check the whole document; return the rows to upsert."""
    root = _Reader(data, "")
    fmt = root.text("format")
    if fmt != FORMAT:
        raise ImportError_(f"format must be {FORMAT!r}, got {fmt!r}")
    ms, hs, rs = [], [], []
    seen_codes: set[str] = set()
    for i, m in enumerate(root.list("municipalities")):
        row, hh, res = _municipality(_Reader(m, f"municipalities[{i}]"), base)
        if row["code"] in seen_codes:
            raise ImportError_(f"municipalities[{i}].code: {row['code']} appears twice")
        seen_codes.add(row["code"])
        ms.append(row)
        hs.extend(hh)
        rs.extend(res)
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
    return ms, hs, rs


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
    ms, hs, rs = parse(data, path.resolve().parent)
    try:
        with engine.begin() as c:
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
    except sa.exc.IntegrityError as e:
        raise ImportError_(f"the data conflicts with records already stored: {e.orig}") from e
    return ImportSummary(len(ms), len(hs), len(rs))
