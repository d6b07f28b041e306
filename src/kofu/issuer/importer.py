"""Load municipality settings and resident records: full exports and differences.

The format is documented in docs/issuer-import.md. The file is read as a
stream (ijson): each record (a household with its members, a seal
registration, a tax record, a family register) is checked on its own and
written in batches to staging tables of the import's own transaction
(:mod:`kofu.issuer.staging`: COPY on PostgreSQL, ``executemany`` on
SQLite); checks across records (keys unique, references) then run in SQL on
the staging tables, and only a file without errors is merged into the
issuer's tables, in the same transaction. Memory stays bounded whatever the
file size, and bad input anywhere changes nothing. Every error names its
field path; the first ``MAX_ERRORS`` are reported together.

A large JSON Lines file is parsed and checked by worker processes
(:func:`default_workers`): the importing process reads the lines, hands
chunks of record lines to the workers (:func:`_check_lines`, which runs the
same :func:`checked_rows` as the in-process path) and stages what comes back
in file order, so the field paths, the order of the errors and the staged
rows are the same either way.

Two kinds of file:

- a **full export** (``kofu-issuer-import/3``; ``/1`` and ``/2`` still
  import): records are upserted by key; a record whose stored columns are
  unchanged is not written again, and a record given exactly as the last
  import stored it (its digest, of the line or of its canonical JSON, is in
  ``import_digests``) is not even parsed or checked again: importing the
  same file twice is cheap. Skipped records still count in the checks
  across the file (keys given twice, references to residents);
- a **difference** (``kofu-issuer-difference/2``; ``/1`` still imports):
  only the records that changed, with a sequence number per municipality
  that must follow the last one applied; a difference applied twice or out
  of order is refused and changes nothing.

From ``kofu-issuer-import/3`` and ``kofu-issuer-difference/2`` a household,
seal registration, tax record or family register may be removed: the record
with ``"deleted": true`` and its key.

>>> summary = import_file(engine, Path("export.json"))

Names are stored exactly as given: never Unicode-normalised, because NFC
would turn CJK compatibility ideographs into their unified forms and change
the glyph a person's name is printed with (IVS sequences pass through as is).

Per-record checks plug in at :meth:`Import.record`, which every validated
record passes through with its municipality and field path (a family
register's plausibility is checked there); per-municipality checks at
:meth:`Import.municipality`. Seals are checked for plausibility once the
file is staged (:meth:`Import.finish`): against the residents' ages and the
seals already stored, in the import's transaction. Tax records carry raw
figures only; each is assessed as it is read (:mod:`kofu.issuer.taxrecord`).

Errors::

    ImportError_   the file is unreadable, a field is wrong (the message names the field path),
                   or a difference does not follow the last one applied
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from time import perf_counter
from typing import IO, Any

import ijson
import sqlalchemy as sa
from ijson.common import ObjectBuilder

from kofu import clock, migrations
from kofu.domain import koseki
from kofu.domain.fees import FeeError, FeeSchedule
from kofu.domain.ids import InvalidIdentifier, validate_municipality_code
from kofu.domain.rules import HoursWindow, Kind, MaintenanceWindow
from kofu.domain.taxyears import TaxYearWindow, TaxYearWindowError
from kofu.issuer import plausibility, staging

# The reader's methods ``date`` and ``list`` shadow the builtins inside its class body.
_date = date
_list = list

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_SEAL_PNG_BYTES = 512 * 1024
MAX_YEN = 10**12
MAX_ERRORS = 10
"""Errors reported at most; reading stops after that many."""

FORMAT = "kofu-issuer-import/3"
DIFFERENCE_FORMAT = "kofu-issuer-difference/2"
FULL_FORMATS = ("kofu-issuer-import/1", "kofu-issuer-import/2", FORMAT)
"""1 holds residents only; 2 adds seals, tax records and registers; 3 has structured 戸籍 events
(required of every version now) and removals (``"deleted": true``)."""
DIFFERENCE_FORMATS = ("kofu-issuer-difference/1", DIFFERENCE_FORMAT)
"""Difference 2 is to difference 1 what import 3 is to import 2."""
WITH_REMOVALS = (FORMAT, DIFFERENCE_FORMAT)
ACCEPTED_FORMATS = FULL_FORMATS + DIFFERENCE_FORMATS

DIGEST_VERSION = "kofu-import-digest/1"
"""Part of every record digest: a new version makes the next import read every record again.
The newest revision of the issuer's migrations is part of it too (:func:`_digest_seed`), so a
schema change needs no new version here; a change of how records are parsed or stored does."""


def _digest_seed(fmt: str) -> bytes:
    """What every record digest of a file of format ``fmt`` starts with: the digest version, the
    newest migration of the issuer's tables (read from the migration files: no alembic) and the format."""
    head = migrations._head("kofu.issuer") or "unknown"
    return f"{DIGEST_VERSION}\n{head}\n{fmt}\n".encode()

RECORD_LISTS = ("households", "seal_registrations", "tax_records", "family_registers")
"""The municipality's record lists: streamed record by record."""


class ImportError_(Exception):  # noqa: N801 - the builtin ImportError means something else
    """The import file is invalid; nothing was written. ``errors`` lists the first ones."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]


def _errors(errors: list[str]) -> ImportError_:
    if len(errors) == 1:
        return ImportError_(errors[0])
    more = "".join(f"\n  {e}" for e in errors[1:])
    return ImportError_(f"{errors[0]}\n{len(errors) - 1} more error(s) (the first {MAX_ERRORS} are shown):{more}",
                        errors)


@dataclass(frozen=True)
class ImportSummary:
    municipalities: int
    households: int
    residents: int
    seals: int = 0
    tax_records: int = 0
    family_registers: int = 0
    changed: int = 0
    """Rows written; records whose content was already stored are not written again."""
    removed: int = 0
    """Records removed (``"deleted": true``)."""
    unchanged: int = 0
    """Records skipped unread: given exactly as the last import stored them (not in the counts above)."""
    difference: bool = False
    seconds: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Time spent reading and staging, checking across records, and merging."""


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
        value = self.data.get(key)
        if value is None:
            if default is ...:
                raise ImportError_(f"{self.where(key)} is required")
            return default
        if value.__class__ is kind:  # the common case, checked once per field of millions of records
            return value
        if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise ImportError_(f"{self.where(key)} has the wrong type ({value!r})")
        if not isinstance(value, kind):
            raise ImportError_(f"{self.where(key)} has the wrong type ({type(value).__name__})")
        return value

    def text(self, key: str, default: Any = ..., max_len: int = 400) -> Any:
        value = self.data.get(key)
        # The common case first (millions of calls): a string that passes; else the checks below say why not.
        if value.__class__ is str and len(value) <= max_len and (default is not ... or value.strip()):
            return value
        value = self.get(key, str, default)
        if isinstance(value, str):
            if default is ... and not value.strip():
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


def _tax_years(r: _Reader) -> Any:
    """``tax_years``: the window ``{"available_from": "MM-DD", "kept": n}``, or the
    deprecated fixed list of fiscal years (kept importable; offered as listed)."""
    raw = r.get("tax_years", (dict, list), [])
    where = r.where("tax_years")
    if isinstance(raw, dict):
        w = _Reader(raw, where)
        unknown = sorted(set(raw) - {"available_from", "kept"})
        if unknown:
            raise ImportError_(f"{where}: unknown field {unknown[0]!r} (known: available_from, kept)")
        try:
            window = TaxYearWindow.parse(w.text("available_from"), w.get("kept", int))
        except TaxYearWindowError as e:
            raise ImportError_(f"{where}: {e}") from e
        return {"available_from": window.available_from, "kept": window.kept}
    for i, y in enumerate(raw):
        if not isinstance(y, int) or isinstance(y, bool) or not 1989 <= y <= 2200:
            raise ImportError_(f"{where}[{i}] must be a fiscal year such as 2025, got {y!r}")
    return sorted(set(raw))


def _local_tax_rates(r: _Reader) -> list[dict[str, Any]]:
    """``local_tax_rates``: the municipality's and its prefecture's own rates (超過課税, 減税),
    each checked and stored as given (rates as decimal strings: never a float's digits)."""
    from decimal import Decimal
    from fractions import Fraction

    from kofu.issuer.taxrecord import LOCAL_RATE_FIELDS, MAX_LOCAL_PER_CAPITA, MAX_LOCAL_RATE

    out = []
    for i, raw in enumerate(r.list("local_tax_rates", [])):
        lr = _Reader(raw, f"{r.where('local_tax_rates')}[{i}]")
        unknown = sorted(set(raw) - set(LOCAL_RATE_FIELDS))
        if unknown:
            raise ImportError_(f"{lr.path}: unknown field {unknown[0]!r} (known: {', '.join(LOCAL_RATE_FIELDS)})")
        entry: dict[str, Any] = {"name": lr.text("name", max_len=40)}
        first = lr.get("first_year", int)
        last = lr.get("last_year", int, None)
        if not 1989 <= first <= 2200:
            raise ImportError_(f"{lr.where('first_year')} must be a fiscal year such as 2006")
        if last is not None and not first <= last <= 2200:
            raise ImportError_(f"{lr.where('last_year')} must be a fiscal year from first_year ({first}) on")
        entry.update(first_year=first, last_year=last)
        for side, standard in (("municipal", 3_000), ("prefectural", 1_000)):
            key = f"{side}_per_capita"
            amount = lr.get(key, int, 0)
            if not -standard <= amount <= MAX_LOCAL_PER_CAPITA:
                raise ImportError_(f"{lr.where(key)}: {amount} yen; from -{standard} (the standard 均等割) "
                                   f"to {MAX_LOCAL_PER_CAPITA}")
            if amount:
                entry[key] = amount
            key = f"{side}_rate"
            given = lr.get(key, (str, int, float, Decimal), 0)  # ijson reads 0.025 as a Decimal
            try:
                rate = Fraction(str(given))
            except ValueError:
                raise ImportError_(f"{lr.where(key)}: {given!r} is not a rate in percent such as \"0.025\"") from None
            if abs(rate) > MAX_LOCAL_RATE or (rate * 1000).denominator != 1:
                raise ImportError_(f"{lr.where(key)}: {given!r}; a rate in percent, at most {MAX_LOCAL_RATE} "
                                   "either way, to three decimals (\"0.025\")")
            if rate:
                entry[key] = str(given)
        if not any(k in entry for k in LOCAL_RATE_FIELDS[3:]):
            raise ImportError_(f"{lr.path}: adds nothing; give a per_capita amount or a rate")
        out.append(entry)
    return out


def _code(r: _Reader) -> str:
    code = r.text("code")
    try:
        validate_municipality_code(code)
    except InvalidIdentifier as e:
        raise ImportError_(f"{r.where('code')}: {e}") from e
    return str(code)


def _sequence(r: _Reader, default: Any) -> int | None:
    seq = r.get("sequence", int, default)
    if seq is None:
        return None
    if not 0 <= seq < 2**62:
        raise ImportError_(f"{r.where('sequence')} must be a whole number, 0 or more")
    return int(seq)


def _settings(r: _Reader, base: Path) -> dict[str, Any]:
    """A full export's municipality: its settings, as the municipalities row."""
    code = _code(r)
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
    tax_years = _tax_years(r)
    local_tax_rates = _local_tax_rates(r)
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
    return dict(
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
        tax_years=json.dumps(tax_years, sort_keys=True),
        local_tax_rates=json.dumps(local_tax_rates, ensure_ascii=False, sort_keys=True),
        individual_number=r.get("individual_number_at_kiosk", bool, False),
        counter_fees=json.dumps(counter_fees.as_dict(), sort_keys=True),
        seal_cert=seal_cert,
        seal_key=seal_key,
        seal_chain=json.dumps(seal_chain),
    )


def _difference_settings(r: _Reader) -> dict[str, Any]:
    """A difference's municipality: its code and sequence number, and no settings."""
    code = _code(r)
    for key in r.data:
        if key not in ("code", "sequence", *RECORD_LISTS):
            raise ImportError_(f"{r.where(key)}: a difference carries records only; settings change "
                               "with a full export")
    return {"code": code}


def _household(hr: _Reader) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A household and its members, as rows of households and residents (members carry ``_where``)."""
    hid = hr.text("id", max_len=64)
    members = hr.list("members")
    if not members:
        raise ImportError_(f"{hr.where('members')} must list at least one member")
    rows = []
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
        # Printable ASCII excludes every whitespace character but the space.
        if link is not None and (not link.isascii() or not link.isprintable() or " " in link):
            raise ImportError_(f"{mr.where('resident_link')} must be printable ASCII without spaces")
        rid = mr.text("id", max_len=64)
        removed_reason = mr.text("removed_reason", None, max_len=40)
        removed_on = mr.optional_date("removed_on")
        if status == "active" and (removed_reason or removed_on):
            raise ImportError_(f"{mr.path}: removed_reason/removed_on need status 'removed'")
        rows.append(dict(
            resident_id=rid, household_id=hid, position=j,
            name=mr.text("name"), name_kana=mr.text("name_kana"), birth_date=mr.date("birth_date"),
            sex=sex, relationship=mr.text("relationship"),
            became_resident_on=mr.date("became_resident_on"), address_since=mr.date("address_since"),
            notified_on=mr.date("notified_on"), previous_address=mr.text("previous_address", ""),
            domicile=mr.text("domicile", None), domicile_head=mr.text("domicile_head", None),
            individual_number=number, status=status, removed_reason=removed_reason, removed_on=removed_on,
            change_reason=mr.text("change_reason", None, max_len=40), change_on=mr.optional_date("change_on"),
            support_measure=mr.get("support_measure", bool, False), resident_link=link,
            _where=mr.path,
        ))
    householder = hr.text("householder", max_len=64)
    if householder not in {r["resident_id"] for r in rows}:
        raise ImportError_(f"{hr.where('householder')}: {householder!r} is not a member of this household")
    return dict(household_id=hid, address=hr.text("address"), householder=householder), rows


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


def _seal(sr: _Reader, base: Path) -> dict[str, Any]:
    number = sr.text("number", max_len=32)
    registered = sr.instant("registered_at")
    abolished = sr.instant("abolished_at", None)
    if abolished is not None and registered is not None and abolished < registered:
        raise ImportError_(f"{sr.where('abolished_at')} is before registered_at")
    return dict(registration_number=number, resident_id=sr.text("resident", max_len=64),
                impression_png=_seal_png(sr, base), registered_at=registered, abolished_at=abolished)


def _tax_choice(r: _Reader, key: str, allowed: tuple[str, ...]) -> str | None:
    """An optional field taking one of ``allowed`` (障害者区分, ひとり親)."""
    value: str | None = r.get(key, str, None)
    if value is not None and value not in allowed:
        raise ImportError_(f"{r.where(key)}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _tax_dependant(r: _Reader, kinds: tuple[str, ...]) -> dict[str, Any]:
    out = {"birth_date": r.date("birth_date").isoformat(), "income": r.yen("income", 0),
           "cohabiting_parent": r.get("cohabiting_parent", bool, False)}
    disability = _tax_choice(r, "disability", kinds)
    if disability is not None:  # absent stays absent: records stored before it read the same
        out["disability"] = disability
    return out


def _tax_record(tr: _Reader) -> dict[str, Any]:
    """Raw figures only: every tax amount is computed from them (kofu.domain.tax)."""
    from kofu.domain.tax import DISABILITY_KINDS, SINGLE_PARENTS, WITHHELD, TaxRuleError, assess
    from kofu.issuer.taxrecord import (
        COMPUTED_DEDUCTIONS,
        MAX_LOCAL_PER_CAPITA,
        MAX_LOCAL_RATE,
        is_computed_credit,
        tax_lines,
        tax_return,
    )

    t = tr.data
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
    credits = tr.labelled("tax_credits", "kind", "amount")
    for j, (kind, _amount) in enumerate(credits):
        if is_computed_credit(kind):
            raise ImportError_(f"{tr.where('tax_credits')}[{j}].kind: {kind} (定額減税) is computed from "
                               "spouse and dependants; remove it")
    spouse = t.get("spouse")
    taxes = []
    for j, x in enumerate(tr.list("taxes", [])):
        xr = _Reader(x, f"{tr.where('taxes')}[{j}]")
        collection = xr.text("collection", "普通徴収")
        if collection not in ("普通徴収", WITHHELD):
            raise ImportError_(f"{xr.where('collection')}: {collection!r} is not 普通徴収 or {WITHHELD}")
        dues = [xr.date("due_on").isoformat()] if x.get("due_on") is not None else []
        for k, d in enumerate(xr.list("due_dates", [])):
            dues.append(_Reader({"d": d}, f"{xr.where('due_dates')}[{k}]").date("d").isoformat())
        if collection == WITHHELD and dues:
            raise ImportError_(f"{xr.where('due_on' if x.get('due_on') is not None else 'due_dates')}: "
                               f"{WITHHELD} is paid in by the 10th of each month after the salary's; remove it")
        if collection != WITHHELD and not dues:
            raise ImportError_(f"{xr.where('due_on')} or {xr.where('due_dates')} is required")
        entry = {"name": xr.text("name", max_len=100), "fiscal_year": xr.get("fiscal_year", int, year),
                 "assessed": xr.yen("assessed") if x.get("assessed") is not None else None,
                 "paid": xr.yen("paid", 0), "due_dates": dues}
        if collection == WITHHELD:  # absent stays absent: records stored before it read the same
            entry["collection"] = WITHHELD
        taxes.append(entry)
    data = {
        "salary_revenue": tr.yen("salary_revenue", 0),
        "incomes": tr.labelled("incomes", "kind", "amount"),
        "deductions": deductions,
        "spouse": _tax_dependant(_Reader(spouse, tr.where("spouse")), DISABILITY_KINDS) if spouse is not None else None,
        "dependants": [_tax_dependant(_Reader(d, f"{tr.where('dependants')}[{k}]"), DISABILITY_KINDS)
                       for k, d in enumerate(tr.list("dependants", []))],
        "tax_credits": credits,
        "grade": tr.get("grade", int, 1),
        "taxes": taxes,
    }
    if data["grade"] not in (1, 2, 3):
        raise ImportError_(f"{tr.where('grade')} must be 1, 2 or 3 (級地)")
    # 障害者・寡婦・ひとり親・勤労学生 of the taxpayer: stored only when given.
    status = {"disability": _tax_choice(tr, "disability", DISABILITY_KINDS[:2]),
              "widow": tr.get("widow", bool, False) or None,
              "single_parent": _tax_choice(tr, "single_parent", SINGLE_PARENTS),
              "working_student": tr.get("working_student", bool, False) or None}
    data.update({k: v for k, v in status.items() if v is not None})
    if data.get("widow") and data.get("single_parent"):
        raise ImportError_(f"{tr.where('widow')} and {tr.where('single_parent')} exclude each other; give one")
    if (data.get("widow") or data.get("single_parent")) and data["spouse"] is not None:
        raise ImportError_(f"{tr.where('widow' if data.get('widow') else 'single_parent')}: "
                           f"a 寡婦 or ひとり親 has no spouse; {tr.where('spouse')} is given")
    try:
        assessment = assess(tax_return(data, year))
    except TaxRuleError as e:
        msg = str(e)
        field = ("single_parent" if data.get("single_parent") and "ひとり親" in msg
                 else "widow" if data.get("widow") and "寡婦" in msg else None)
        raise ImportError_(f"{tr.where(field) if field else tr.path}: {e}") from e
    # The record does not say whether its municipality is a 指定都市 (8 % / 2 %), and the
    # rounding of the two splits may differ by a few hundred yen; nor does a record checked
    # alone see its municipality's own rates (local_tax_rates, a setting): a payment is refused
    # here only when it is more than either total with the most those rates can add (the
    # issuer checks it exactly when it prints).
    widest = assessment
    if any(x["assessed"] is None for x in taxes):
        widest = max(assessment, assess(tax_return(data, year, designated_city=True)), key=lambda t: t.total)
    local_most = 2 * MAX_LOCAL_PER_CAPITA + int(widest.taxable_income * 2 * MAX_LOCAL_RATE / 100)
    for j, x in enumerate(taxes):
        assessed = x["assessed"] if x["assessed"] is not None else widest.total + local_most
        if x["paid"] > assessed:
            raise ImportError_(f"{tr.where('taxes')}[{j}].paid is more than assessed ({x['paid']} > {assessed})")
    tax_lines(data, year, widest, allowance=local_most)
    return dict(resident_id=tr.text("resident", max_len=64), fiscal_year=year,
                data=json.dumps(data, ensure_ascii=False, sort_keys=True))


OLD_EVENTS = ("{label, text} events are no longer imported: since kofu-issuer-import/3 (and "
              "kofu-issuer-difference/2) each event gives its type and items, e.g. "
              '{"type": "出生", "date": "1980-04-01", "place": "兵庫県西脇市"}, and the issuer prints them '
              "(docs/issuer-import.md)")


def _koseki_events(r: _Reader, check: Any) -> list[dict[str, str]]:
    """``r``'s events, each checked by :mod:`kofu.domain.koseki` (errors name the field path)."""
    for n, e in enumerate(r.list("events", [])):
        if isinstance(e, dict) and "type" not in e and ("label" in e or "text" in e):
            raise ImportError_(f"{r.where('events')}[{n}]: {OLD_EVENTS}")
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
    # 【養父】【養母】: given, else from the 養子縁組 that brought the person in;
    # their 【続柄】 is 養子 or 養女 (by sex) unless given.
    adoptive_father, adoptive_mother = koseki.adoptive_parents({
        "adoptive_father": pr.text("adoptive_father", None), "adoptive_mother": pr.text("adoptive_mother", None),
        "events": events})
    adoptive_relationship = pr.text("adoptive_relationship", None, max_len=10)
    if adoptive_relationship is None and (adoptive_father or adoptive_mother):
        adoptive_relationship = koseki.ADOPTIVE_RELATIONSHIPS[sex]
    person: dict[str, Any] = {
        "id": person_id, "resident": resident, "name": name, "given_name": given,
        "birth_date": pr.date("birth_date").isoformat(), "sex": sex,
        "father": pr.text("father", ""), "mother": pr.text("mother", ""),
        "relationship": pr.text("relationship", max_len=10), "spouse_role": spouse_role or "",
        "events": events, "addresses": addresses,
    }
    if adoptive_relationship is not None:
        person.update(adoptive_father=adoptive_father, adoptive_mother=adoptive_mother,
                      adoptive_relationship=adoptive_relationship)
    # 除籍 follows from the event that removed the person (death, a marriage
    # into another register …); "removed" may also say so for a record
    # whose removing event is not exported.
    person["removed"] = pr.get("removed", bool, False) or any(koseki.leaves_register(e) for e in events)
    return person


def _register(kr: _Reader) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A family register, and the register_members rows of its persons living here."""
    register_id = kr.text("id", max_len=64)
    persons = []
    members = []
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
        persons.append(person)
        if resident is not None:
            members.append(dict(resident_id=resident, register_id=register_id, position=j,
                                removed=person["removed"], _where=pr.path))
    if not persons:
        raise ImportError_(f"{kr.where('persons')} must list at least one person")
    data = {"events": _koseki_events(kr, koseki.register_event), "persons": persons}
    return dict(register_id=register_id, honseki=kr.text("honseki"), head_name=kr.text("head"),
                data=json.dumps(data, ensure_ascii=False), _data=data), members


def checked_rows(r: _Reader, key: str, base: Path, fmt: str | None) -> list[tuple[str, str, dict[str, Any], bool]]:
    """One record of list ``key`` (``households`` …), checked: its rows as
    ``(staging kind, field path, row, deleted)``; raises ImportError_ naming the field.

    Pure (reads no database): the same in the importing process and in the
    worker processes that check a large JSON Lines file.
    """
    if r.data.get("deleted") is not None and r.get("deleted", bool):
        # A removal: the key only (other fields are not read).
        if fmt not in WITH_REMOVALS:
            raise ImportError_(f"{r.where('deleted')}: removing a record needs format {FORMAT!r} or "
                               f"{DIFFERENCE_FORMAT!r}; this file is {fmt!r}")
        if key == "households":
            kind, row = "households", {"household_id": r.text("id", max_len=64)}
        elif key == "seal_registrations":
            kind, row = "seals", {"registration_number": r.text("number", max_len=32)}
        elif key == "tax_records":
            year = r.get("fiscal_year", int)
            kind, row = "tax_records", {"resident_id": r.text("resident", max_len=64), "fiscal_year": year}
        else:
            kind, row = "family_registers", {"register_id": r.text("id", max_len=64)}
        return [(kind, r.path, row, True)]
    if key == "households":
        household, members = _household(r)
        found = plausibility.resident_problems(members)
        if found:
            raise ImportError_("; ".join(f"{w}: {message}" for w, message in found),
                               [f"{w}: {message}" for w, message in found])
        return [("households", r.path, household, False),
                *(("residents", m.pop("_where"), m, False) for m in members)]
    if key == "seal_registrations":
        return [("seals", r.path, _seal(r, base), False)]
    if key == "tax_records":
        return [("tax_records", r.path, _tax_record(r), False)]
    register, members = _register(r)
    found = plausibility.problems(residents=(), seals=(),
                                  registers=[{"data": register.pop("_data"), "_where": r.path}])
    if found:
        raise ImportError_("; ".join(f"{w}: {message}" for w, message in found),
                           [f"{w}: {message}" for w, message in found])
    return [("family_registers", r.path, register, False),
            *(("register_members", m.pop("_where"), m, False) for m in members)]


# ---------------------------------------------------------------- the stream


def _walk(fp: IO[bytes]) -> Generator[tuple[Any, ...], None, None]:
    """The file as a stream of parts, never holding more than one record:

    ``("format", value)``, ``("municipalities", value)`` (``[]`` when the
    list begins, else the value that is not a list), ``("start", i)``, ``("setting", i, key, value)``,
    ``("record", i, list_key, j, value)``, ``("end", i)``.
    """
    events = ijson.parse(fp, use_float=True)

    def build(prefix: str, event: str, value: Any) -> Any:
        if event not in ("start_map", "start_array"):
            return value
        builder = ObjectBuilder()
        builder.event(event, value)
        for p, e, v in events:
            builder.event(e, v)
            if p == prefix and e in ("end_map", "end_array"):
                return builder.value
        raise ijson.IncompleteJSONError("the file ends inside a value")

    first = next(events, None)
    if first is None or first[1] != "start_map":
        raise ImportError_("the file must be an object")
    for prefix, event, value in events:
        if prefix == "" and event == "end_map":
            return
        # A top-level key.
        key = value
        p, e, v = next(events)
        if key == "municipalities" and e == "start_array":
            yield ("municipalities", [])
            yield from _municipalities(events, build)
        elif key == "format":
            yield ("format", build(p, e, v))
        elif key == "municipalities":
            yield ("municipalities", build(p, e, v))
        else:
            build(p, e, v)  # other top-level keys are ignored, as they always were


def _municipalities(events: Iterator[tuple[str, str, Any]], build: Any) -> Iterator[tuple[Any, ...]]:
    i = -1
    for prefix, event, value in events:
        if prefix == "municipalities" and event == "end_array":
            return
        i += 1
        if event != "start_map":
            yield ("setting", i, None, build(prefix, event, value))  # not an object: reported by the reader
            continue
        yield ("start", i)
        for p, e, key in events:
            if e == "end_map" and p == "municipalities.item":
                break
            p2, e2, v2 = next(events)
            if key in RECORD_LISTS and e2 == "start_array":
                j = -1
                for p3, e3, v3 in events:
                    if p3 == p2 and e3 == "end_array":
                        break
                    j += 1
                    yield ("record", i, key, j, build(p3, e3, v3), None)
            else:
                yield ("setting", i, key, build(p2, e2, v2))
        yield ("end", i)


LINE_KEYS = {"household": "households", "seal_registration": "seal_registrations",
             "tax_record": "tax_records", "family_register": "family_registers"}
"""JSON Lines: the key of a record line → the list it belongs to."""


_RECORD_LINE = re.compile(rb'\s*\{\s*"([a-z_]+)"\s*:')
"""The key of a record line, read without parsing the line (the worker processes parse it)."""


def _walk_lines(fp: IO[bytes], *, unparsed: bool = False) -> Generator[tuple[Any, ...], None, None]:
    """The same parts from JSON Lines: a format line, then each municipality's line and its records.

    Each line is one object with one key: ``format``, ``municipality`` (its
    settings) or a record (``household``, ``seal_registration``,
    ``tax_record``, ``family_register``) of the municipality above it.
    ``unparsed``: record lines come as ``("line", i, list_key, j, line
    number, bytes)``, to be parsed and checked by :func:`_check_lines`.
    """
    i = -1
    counters: dict[str, int] = {}
    for number, raw in enumerate(fp, start=1):
        if unparsed and i >= 0:
            found = _RECORD_LINE.match(raw)
            if found is not None and (name := LINE_KEYS.get(found.group(1).decode())) is not None:
                counters[name] += 1
                yield ("line", i, name, counters[name], number, raw)
                continue
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError as e:  # UnicodeDecodeError included
            raise ImportError_(f"line {number} is not valid UTF-8 JSON: {e}") from e
        if not isinstance(line, dict) or len(line) != 1:
            raise ImportError_(f"line {number} must be an object with one key "
                               "(format, municipality, household, seal_registration, tax_record, family_register)")
        (key, value), = line.items()
        if key == "format":
            yield ("format", value)
        elif key == "municipality":
            if i >= 0:
                yield ("end", i)
            i += 1
            counters = dict.fromkeys(RECORD_LISTS, -1)
            yield ("start", i)
            if not isinstance(value, dict):
                raise ImportError_(f"line {number}: municipalities[{i}] must be an object")
            for k, v in value.items():
                yield ("setting", i, k, v)
        elif key in LINE_KEYS:
            if i < 0:
                raise ImportError_(f"line {number}: a {key} before any municipality")
            name = LINE_KEYS[key]
            counters[name] += 1
            yield ("record", i, name, counters[name], value, raw)
        else:
            raise ImportError_(f"line {number}: unknown line {key!r}")
    if i >= 0:
        yield ("end", i)
    else:
        yield ("municipalities", None)


def _record_key(kind: str, row: dict[str, Any]) -> str:
    """A record's key as import_digests keeps it (a tax record's: resident and year, tab-separated)."""
    return "\t".join(str(row[k]) for k in staging.TABLES[kind].keys)


Record = tuple[int, str, str, str, int | None, bool]
"""A record read: (municipality, field path, list, key, digest, deleted)."""


def _check_lines(base: str, fmt: str | None, lines: list[tuple[int, str, int, int, bytes, int | None]]) -> tuple[
        list[tuple[str, int, str, tuple[Any, ...], bool]], list[str], str | None, list[Record]]:
    """In a worker process: record lines parsed and checked, as
    ``(rows (kind, municipality, field path, values, deleted), errors, the error that ends the file,
    the records read)``."""
    rows: list[tuple[str, int, str, tuple[Any, ...], bool]] = []
    errors: list[str] = []
    records: list[Record] = []
    folder = Path(base)
    for i, name, j, number, raw, digest in lines:
        try:
            line = json.loads(raw)
        except ValueError as e:  # UnicodeDecodeError included
            return rows, errors, f"line {number} is not valid UTF-8 JSON: {e}", records
        if not isinstance(line, dict) or len(line) != 1:
            return rows, errors, (f"line {number} must be an object with one key (format, municipality, "
                                  "household, seal_registration, tax_record, family_register)"), records
        (value,) = line.values()
        try:
            checked = checked_rows(_Reader(value, f"municipalities[{i}].{name}[{j}]"), name, folder, fmt)
        except ImportError_ as e:
            errors.append(str(e))
            if len(errors) >= MAX_ERRORS:
                break
            continue
        for kind, where, row, deleted in checked:
            rows.append((kind, i, where, staging.values(kind, row, deleted), deleted))
        kind, where, row, deleted = checked[0]
        records.append((i, where, name, _record_key(kind, row), None if deleted else digest, deleted))
    return rows, errors, None, records


WORKER_MIN_BYTES = 32 * 1024 * 1024
"""JSON Lines files from this size (about 30,000 residents) are checked by worker processes."""
CHUNK_LINES = 1000
"""Record lines per task of a worker process."""


def default_workers(path: Path) -> int:
    """Worker processes for ``path``: one per core for a large JSON Lines file, else none.

    ``KOFU_IMPORT_WORKERS`` overrides it (``0``: check every record in the importing process).
    """
    raw = os.environ.get("KOFU_IMPORT_WORKERS")
    if raw is not None and raw.strip():
        return max(0, int(raw))
    try:
        large = path.stat().st_size >= WORKER_MIN_BYTES
    except OSError:
        large = False
    return min(os.cpu_count() or 1, 8) if large and (os.cpu_count() or 1) > 1 else 0


# ---------------------------------------------------------------- one import


class Import:
    """One import: records are checked as they stream by and staged; ``finish`` merges them."""

    def __init__(self, conn: sa.Connection, base: Path) -> None:
        self.conn = conn
        self.base = base
        self.stage = staging.Stage(conn)
        self.errors: list[str] = []
        self.format: str | None = None
        self.difference = False
        self.munis: dict[int, dict[str, Any]] = {}
        """Municipality index in the file → its row (settings, or code only in a difference)."""
        self.sequences: dict[int, int | None] = {}
        self.codes: dict[str, str] = {}
        self.counts = dict.fromkeys(("households", "residents", "seals", "tax_records", "family_registers"), 0)
        self.removals = 0
        self.started = perf_counter()
        self._format_seen: str | None = None
        self.hasher: Any = None
        """blake2b seeded with the format: the digests of this file's records (None until the format is read)."""
        self.known: tuple[int, array[int]] = (-1, array("q"))
        """The stored digests of the municipality being read (its index in the file), sorted."""

    # -- unchanged records

    def _note(self, part: tuple[Any, ...]) -> None:
        """Follow the format and the municipality code as they stream by, for the digests."""
        if part[0] == "format" and part[1] in ACCEPTED_FORMATS and self.hasher is None:
            self._format_seen = part[1]
            self.hasher = hashlib.blake2b(_digest_seed(part[1]), digest_size=8)
        elif (part[0] == "setting" and part[2] == "code" and isinstance(part[3], str) and self.hasher is not None
              and part[1] != self.known[0] and self._format_seen not in DIFFERENCE_FORMATS):
            self._load_digests(part[1], part[3])

    def _early_sequence(self, i: int, settings: dict[str, Any]) -> None:
        """A difference applied already or out of order is refused before its records are read
        (the check that counts is the conditional update at the end, :meth:`_sequence_and_settings`)."""
        from kofu.issuer.tables import municipalities as m_table

        code, seq = settings.get("code"), settings.get("sequence")
        if not isinstance(code, str) or not isinstance(seq, int) or isinstance(seq, bool):
            return
        self.stage.stop()  # PostgreSQL: the writer thread is done with the connection
        stored = self.conn.execute(
            sa.select(m_table.c.data_sequence).where(m_table.c.code == code)
        ).scalar_one_or_none()
        where = f"municipalities[{i}].sequence"
        if stored is not None and seq <= stored:
            raise ImportError_(f"{where}: difference {seq} for {code} was already applied (the last applied is {stored})")
        if stored is not None and seq > stored + 1:
            raise ImportError_(f"{where}: difference {seq} for {code} is out of order: the next is {stored + 1}")

    def _load_digests(self, i: int, code: str) -> None:
        """The digests stored for ``code``, sorted (8 bytes each: 32 MB for 4 million records)."""
        from kofu.issuer.tables import import_digests as d

        self.stage.stop()  # PostgreSQL: the writer thread is done with the connection
        digests: array[int] = array("q")
        result = self.conn.execute(sa.select(d.c.digest).where(d.c.municipality_code == code).order_by(d.c.digest),
                                   execution_options={"yield_per": 20000})
        for batch in result.partitions():
            digests.extend(row[0] for row in batch)
        self.known = (i, digests)

    def _digest(self, key: str, value: Any, raw: bytes | None) -> int | None:
        """The digest of a record as written (a JSON Lines line; else its canonical JSON)."""
        if self.hasher is None:
            return None
        h = self.hasher.copy()
        if raw is not None:
            h.update(raw.strip())
        else:
            h.update(json.dumps([key, value], ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode())
        return int.from_bytes(h.digest(), "big", signed=True)

    def _unchanged(self, i: int, key: str, digest: int | None, raw: bytes | None, value: Any) -> bool:
        """Whether the record is stored exactly as given (an impression read from a file is always read)."""
        if digest is None or self.known[0] != i or not self.known[1]:
            return False
        known = self.known[1]
        at = bisect_left(known, digest)
        if at == len(known) or known[at] != digest:
            return False
        if key != "seal_registrations":
            return True
        if raw is not None and value is None:
            if b"\\" not in raw and b'"impression_file"' not in raw:
                return True  # without an escape, the key impression_file could only be written so
            # "impression\u005ffile" is impression_file too: the line is parsed (it was accepted
            # before, so it is valid JSON with one key).
            value = next(iter(json.loads(raw).values()))
        return not (isinstance(value, dict) and "impression_file" in value)

    def error(self, message: str) -> None:
        self.errors.append(message)
        if len(self.errors) >= MAX_ERRORS:
            raise _errors(self.errors)

    # -- reading

    def read(self, fp: IO[bytes], *, lines: bool = False, workers: int = 0) -> None:
        """Read and check the file, staging its records (``lines``: JSON Lines, whose record
        lines ``workers`` processes parse and check when there are two or more)."""
        parts: Generator[tuple[Any, ...], None, None]
        if lines and workers > 1:
            parts = self._in_workers(_walk_lines(fp, unparsed=True), workers)
        else:
            parts = _walk_lines(fp) if lines else _walk(fp)
        try:
            self._read(parts)
        finally:
            parts.close()  # stops the worker processes at once when reading fails

    def _read(self, parts: Generator[tuple[Any, ...], None, None]) -> None:
        settings: dict[str, Any] = {}
        saw_municipalities = False
        for part in parts:
            tag = part[0]
            if tag == "checked":
                _, rows, errors, fatal, records = part
                for i, where, name, key, digest, deleted in records:
                    self.stage.add_record(i, where, name, key, digest, deleted=deleted)
                for kind, i, where, values, deleted in rows:
                    self.stage.add_values(kind, i, where, values, deleted=deleted)
                    if deleted:
                        self.removals += 1
                    elif kind in self.counts:
                        self.counts[kind] += 1
                for message in errors:
                    self.error(message)
                if fatal is not None:
                    raise ImportError_(fatal)
            elif tag == "record":
                _, i, key, j, value, raw = part
                where = f"municipalities[{i}].{key}[{j}]"
                digest = self._digest(key, value, raw)
                if self._unchanged(i, key, digest, raw, value):
                    self.stage.add_record(i, where, key, None, digest, unchanged=True)
                    continue
                try:
                    self._record(i, key, _Reader(value, where), digest)
                except ImportError_ as e:
                    self.error(str(e))
            elif tag == "unchanged":
                _, i, key, where, digest = part
                self.stage.add_record(i, where, key, None, digest, unchanged=True)
            elif tag == "setting":
                self._note(part)
                _, i, key, value = part
                if key is None:
                    saw_municipalities = True
                    self.error(f"municipalities[{i}] must be an object")
                elif key in RECORD_LISTS and value is not None:
                    self.error(f"municipalities[{i}].{key} has the wrong type ({type(value).__name__})")
                elif key in settings:
                    # Of a key given twice the last would count; the digests were read for the first code.
                    self.error(f"municipalities[{i}].{key} is given twice")
                elif key not in RECORD_LISTS:
                    settings[key] = value
                    if self.difference and key in ("code", "sequence"):
                        self._early_sequence(i, settings)
            elif tag == "start":
                saw_municipalities = True
                if self.format is None:
                    raise ImportError_("format must come before municipalities in the file")
                settings = {}
            elif tag == "end":
                try:
                    self._municipality(part[1], _Reader(settings, f"municipalities[{part[1]}]"))
                except ImportError_ as e:
                    self.error(str(e))
            elif tag == "format":
                self._note(part)
                fmt = part[1]
                if fmt not in ACCEPTED_FORMATS:
                    raise ImportError_(f"format must be {FORMAT!r} or {DIFFERENCE_FORMAT!r} (or an earlier "
                                       f"version: {', '.join(x for x in ACCEPTED_FORMATS if x not in WITH_REMOVALS)}), "
                                       f"got {fmt!r}")
                self.format = fmt
                self.difference = fmt in DIFFERENCE_FORMATS
            elif tag == "municipalities":
                saw_municipalities = True
                if part[1] == []:
                    pass  # the list begins
                elif part[1] is None:
                    self.error("municipalities is required")
                else:
                    self.error(f"municipalities has the wrong type ({type(part[1]).__name__})")
        if self.format is None:
            self.error("format is required")
        if not saw_municipalities:
            self.error("municipalities is required")

    def _in_workers(self, parts: Iterator[tuple[Any, ...]], workers: int) -> Generator[tuple[Any, ...], None, None]:
        """``parts`` with their record lines checked by ``workers`` processes, in file order.

        Lines go out in chunks; at most two chunks per worker are in flight,
        so memory stays bounded. Each chunk comes back as ``("checked",
        rows, errors, fatal)`` in its place among the other parts.
        """
        import multiprocessing

        # forkserver: the workers do not inherit this process's database connection or threads.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["kofu.issuer.importer"])
        pending: deque[tuple[str, Any]] = deque()
        chunk: list[tuple[Any, ...]] = []
        with contextlib.ExitStack() as stack:
            pool: Any = None

            def submit() -> None:
                nonlocal pool
                if pool is None:  # started for the first chunk: a file of unchanged records needs none
                    pool = stack.enter_context(ctx.Pool(workers))
                pending.append(("chunk", pool.apply_async(_check_lines, (str(self.base), self.format, chunk[:]))))
                chunk.clear()

            def ready(final: bool) -> Iterator[tuple[Any, ...]]:
                in_flight = sum(1 for k, _ in pending if k == "chunk")
                while pending and (final or pending[0][0] == "part" or pending[0][1].ready()
                                   or in_flight > 2 * workers):
                    what, item = pending.popleft()
                    if what == "part":
                        yield item
                    else:
                        in_flight -= 1
                        yield ("checked", *item.get())

            for part in parts:
                if part[0] == "line":
                    _, i, name, j, _number, raw = part
                    digest = self._digest(name, None, raw)
                    if self._unchanged(i, name, digest, raw, None):
                        pending.append(("part", ("unchanged", i, name, f"municipalities[{i}].{name}[{j}]", digest)))
                    else:
                        chunk.append((*part[1:], digest))
                        if len(chunk) >= CHUNK_LINES:
                            submit()
                else:
                    if chunk:
                        submit()
                    self._note(part)  # before the lines that follow are looked at
                    pending.append(("part", part))
                yield from ready(False)
            if chunk:
                submit()
            yield from ready(True)

    def _record(self, i: int, key: str, r: _Reader, digest: int | None = None) -> None:
        checked = checked_rows(r, key, self.base, self.format)
        kind, where, row, deleted = checked[0]
        self.stage.add_record(i, where, key, _record_key(kind, row), None if deleted else digest, deleted=deleted)
        for kind, where, row, deleted in checked:
            if deleted:
                self.stage.add(kind, i, where, row, deleted=True)
                self.removals += 1
            else:
                self.record(i, kind, row, where)

    def record(self, i: int, kind: str, row: dict[str, Any], where: str) -> None:
        """One checked record of the ``i``-th municipality (kind: a staging.TABLES key), staged.

        Per-record checks belong in :func:`checked_rows` (which runs in
        worker processes for a large JSON Lines file); seals need the
        residents' birth dates and the seals already stored, and are checked
        across records in :meth:`finish`.
        """
        self.stage.add(kind, i, where, row)
        if kind in self.counts:
            self.counts[kind] += 1

    def municipality(self, i: int, row: dict[str, Any], sequence: int | None) -> None:
        """The ``i``-th municipality's settings (its code only, in a difference), checked.

        Per-municipality checks belong here.
        """
        if row["code"] in self.codes:
            raise ImportError_(f"municipalities[{i}].code: {row['code']} appears twice "
                               f"(also at {self.codes[row['code']]})")
        self.codes[row["code"]] = f"municipalities[{i}]"
        self.munis[i] = row
        self.sequences[i] = sequence

    def _municipality(self, i: int, r: _Reader) -> None:
        if self.difference:
            row, sequence = _difference_settings(r), _sequence(r, ...)
        else:
            row, sequence = _settings(r, self.base), _sequence(r, None)
        self.municipality(i, row, sequence)

    # -- writing

    def finish(self) -> ImportSummary:
        """Checks across records, then the merge; raises ImportError_ with the first errors."""
        self.stage.flush()
        read_done = perf_counter()
        if self.errors:
            raise _errors(self.errors)
        self.stage.municipalities({i: m["code"] for i, m in self.munis.items()})
        for message in self.stage.check(difference=self.difference, limit=MAX_ERRORS):
            self.error(message)
        if self.errors:
            raise _errors(self.errors)
        for message in self._implausible_seals():
            self.error(message)
        if self.errors:
            raise _errors(self.errors)
        checked = perf_counter()
        now = clock.now()
        for message in self._sequence_and_settings(now):
            self.error(message)
        if self.errors:
            raise _errors(self.errors)
        try:
            changed = self.stage.merge(now)
            for message in self.stage.blocked_removals(MAX_ERRORS):
                self.error(message)
            if self.errors:
                raise _errors(self.errors)  # the caller rolls the merge back
            removed = self.stage.remove()
        except sa.exc.IntegrityError as e:
            raise ImportError_(f"the data conflicts with records already stored: {e.orig}") from e
        c = self.counts
        return ImportSummary(len(self.munis), c["households"], c["residents"], c["seals"], c["tax_records"],
                             c["family_registers"], changed=changed, removed=removed, unchanged=self.stage.unchanged,
                             difference=self.difference,
                             seconds=(read_done - self.started, checked - read_done, perf_counter() - checked))

    def _implausible_seals(self) -> list[str]:
        """The staged seals against their residents' ages and the seals already stored.

        Runs in the import's transaction, so the stored seals are the ones
        the merge will sit beside. Read as one stream ordered by resident
        (:meth:`staging.Stage.seals_by_resident`) and checked a few thousand
        residents at a time, so memory stays bounded however many seals.
        """
        if not self.stage.staged["seals"] - self.stage.removals["seals"]:
            return []

        def aware(value: datetime | None) -> datetime | None:
            # SQLite hands back the wall time, which is Japan time.
            return value.replace(tzinfo=clock.JST) if value is not None and value.tzinfo is None else value

        errors: list[str] = []
        births: dict[str, Any] = {}
        seals: list[dict[str, Any]] = []
        stored: list[dict[str, Any]] = []

        def check() -> None:
            found = plausibility.problems(
                residents=[{"resident_id": rid, "birth_date": b} for rid, b in births.items()],
                seals=seals, registers=(), stored_seals=stored,
            )
            errors.extend(f"{w}: {message}" for w, message in found)
            births.clear()
            seals.clear()
            stored.clear()

        last: tuple[int, str] | None = None
        # With records unchanged (not read again), a resident's birth date may be the stored one.
        for row in self.stage.seals_by_resident(difference=self.difference or self.stage.unchanged > 0):
            key = (row.m, row.resident_id)
            if last is not None and key != last and (row.m != last[0] or len(seals) + len(stored) >= 5000):
                check()  # a batch of whole residents (one municipality each)
                if len(errors) >= MAX_ERRORS:
                    break
            last = key
            seal = {"registration_number": row.registration_number, "resident_id": row.resident_id,
                    "registered_at": aware(row.registered_at), "abolished_at": aware(row.abolished_at)}
            if row.where_ is None:
                stored.append(seal)
            else:
                seals.append(dict(seal, _where=row.where_))
                if row.birth_date is not None:
                    births[row.resident_id] = row.birth_date
        if seals or stored:
            check()
        return errors

    def _sequence_and_settings(self, now: datetime) -> list[str]:
        """Write each municipality's settings, sequence number and refresh time; the sequence errors."""
        from kofu.issuer.tables import municipalities as m_table

        errors = []
        for i, row in sorted(self.munis.items()):
            code, seq = row["code"], self.sequences[i]
            where = f"municipalities[{i}].sequence"
            stored = self.conn.execute(
                sa.select(m_table.c.data_sequence).where(m_table.c.code == code)
            ).scalar_one_or_none()
            if self.difference:
                assert seq is not None
                # Conditional on the number stored: two imports racing cannot both apply.
                done = self.conn.execute(
                    m_table.update().where(m_table.c.code == code, m_table.c.data_sequence == seq - 1)
                    .values(data_sequence=seq, refreshed_at=now)
                ).rowcount
                if done != 1:
                    if stored is None:
                        errors.append(f"municipalities[{i}].code: municipality {code} is not in this issuer; "
                                      "import a full export first")
                    elif seq <= stored:
                        errors.append(f"{where}: difference {seq} for {code} was already applied "
                                      f"(the last applied is {stored})")
                    else:
                        errors.append(f"{where}: difference {seq} for {code} is out of order: "
                                      f"the next is {stored + 1}")
                continue
            values = dict(row, updated_at=now, refreshed_at=now)
            if stored is None:
                self.conn.execute(m_table.insert().values(**values, data_sequence=seq or 0))
                continue
            if seq is not None and seq < stored:
                errors.append(f"{where}: this export (sequence {seq}) is older than the data stored for "
                              f"{code} (sequence {stored})")
                continue
            cond = [m_table.c.code == code]
            if seq is not None:
                values["data_sequence"] = seq
                cond.append(m_table.c.data_sequence <= seq)
            if self.conn.execute(m_table.update().where(*cond).values(**values)).rowcount != 1:
                errors.append(f"{where}: the data stored for {code} changed during this import; import again")
        return errors


def import_file(engine: sa.Engine, path: Path, *, workers: int | None = None) -> ImportSummary:
    """Import a full export or a difference; all or nothing.

    ``workers``: processes that check a JSON Lines file's records (default:
    :func:`default_workers`)."""
    try:
        fp = path.open("rb")
    except OSError as e:
        raise ImportError_(f"cannot read {path}: {e}") from e
    with fp, engine.connect() as conn:
        job = Import(conn, path.resolve().parent)
        try:
            job.stage.create()
            try:
                job.read(fp, lines=path.suffix in (".jsonl", ".ndjson"),
                         workers=default_workers(path) if workers is None else workers)
            except ijson.JSONError as e:
                raise ImportError_(f"{path} is not valid UTF-8 JSON: {e}") from e
            except UnicodeDecodeError as e:
                raise ImportError_(f"{path} is not valid UTF-8 JSON: {e}") from e
            except OSError as e:
                raise ImportError_(f"cannot read {path}: {e}") from e
            summary = job.finish()
            job.stage.drop()
            conn.commit()
        except BaseException:
            try:
                job.stage.stop()  # the writer thread is done with the connection
            except BaseException:  # noqa: S110 - the first failure is the one to report
                pass
            conn.rollback()
            job.stage.drop_after_rollback()
            raise
    return summary
