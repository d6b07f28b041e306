"""Staging tables of one import, and the set-based merge into the issuer's tables.

An import stages every checked record in temporary tables of its own
connection and transaction (COPY through psycopg 3 on PostgreSQL,
``executemany`` on SQLite), in batches, so memory stays bounded; it checks
keys and references across records in SQL, then merges each staging table
into its table with one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` of the
rows whose stored columns differ (compared in SQL, row value against row
value): an unchanged record is read, compared and left alone. Records
marked ``"deleted": true`` are staged with their key only and removed after
the upserts. Nothing is visible to others until the import commits, and a
rollback leaves the tables as they were.

>>> stage = Stage(conn); stage.create()
>>> stage.add("residents", 0, "municipalities[0].households[3].members[1]", row)
>>> stage.municipalities({0: "282286"}); problems = stage.check(difference=False, limit=10)
>>> changed = stage.merge(now)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kofu.issuer.tables import (
    family_registers,
    households,
    register_members,
    residents,
    seal_registrations,
    tax_records,
)

BATCH_ROWS = 5000
BATCH_BYTES = 16 * 1024 * 1024
"""A batch is written when it holds this many rows or (seal impressions) bytes."""


@dataclass(frozen=True)
class Spec:
    table: sa.Table
    keys: tuple[str, ...]
    """The key within a municipality (the table's primary key without municipality_code)."""
    columns: tuple[str, ...]
    label: str
    compared: bool = True
    """Rewritten only when a stored column differs (register members are replaced with their register)."""


TABLES: dict[str, Spec] = {
    "households": Spec(households, ("household_id",), ("household_id", "address", "householder"), "household"),
    "residents": Spec(
        residents, ("resident_id",),
        ("resident_id", "household_id", "position", "name", "name_kana", "birth_date", "sex", "relationship",
         "became_resident_on", "address_since", "notified_on", "previous_address", "domicile",
         "domicile_head", "individual_number", "status", "removed_reason", "removed_on", "change_reason",
         "change_on", "support_measure", "resident_link"),
        "resident",
    ),
    "seals": Spec(seal_registrations, ("registration_number",),
                  ("registration_number", "resident_id", "impression_png", "registered_at", "abolished_at"),
                  "seal registration"),
    "tax_records": Spec(tax_records, ("resident_id", "fiscal_year"), ("resident_id", "fiscal_year", "data"),
                        "tax record"),
    "family_registers": Spec(family_registers, ("register_id",), ("register_id", "honseki", "head_name", "data"),
                             "family register"),
    "register_members": Spec(register_members, ("resident_id",), ("resident_id", "register_id", "position", "removed"),
                             "register member", compared=False),
}
ORDER = ("households", "residents", "seals", "tax_records", "family_registers", "register_members")
"""Merge order: households before the residents that reference them."""
REMOVABLE = ("households", "seals", "tax_records", "family_registers")
RECORD_COLUMNS = ("kind", "record_key", "digest", "unchanged")
"""``kofu_stage_records``: every record of the file (a household with its members is one record):
its list (``households`` …), key and digest; an unchanged record (skipped unread) has no key."""
RECORDS = "records"
"""Kinds a file may remove (``"deleted": true`` with the key only)."""


def values(kind: str, row: dict[str, Any], deleted: bool = False) -> tuple[Any, ...]:
    """A checked record's staged columns, in order (a removal: its key, the rest None)."""
    columns = TABLES[kind].columns
    return tuple(row.get(c) for c in columns) if deleted else tuple(row[c] for c in columns)


def _name(kind: str) -> str:
    return f"kofu_stage_{kind}"


def _columns(kind: str) -> tuple[str, ...]:
    return RECORD_COLUMNS if kind == RECORDS else TABLES[kind].columns


LIST_KINDS = {"households": "households", "seal_registrations": "seals", "tax_records": "tax_records",
              "family_registers": "family_registers"}
"""A record list of the file → the staging kind of its records' first row."""


class Stage:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.n = 0
        self.rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in (*TABLES, RECORDS)}
        self.bytes = dict.fromkeys((*TABLES, RECORDS), 0)
        self.staged = dict.fromkeys((*TABLES, RECORDS), 0)
        self.removals = dict.fromkeys((*TABLES, RECORDS), 0)
        self.unchanged = 0
        """Records skipped because their digest is stored (see :meth:`add_record`)."""
        self.queue: queue.Queue[tuple[str, list[tuple[Any, ...]]] | None] = queue.Queue(maxsize=3)
        self.writer: threading.Thread | None = None
        self.failure: BaseException | None = None
        self.processors: dict[str, list[Callable[[Any], Any] | None]] = {}
        for kind, spec in TABLES.items():
            self.processors[kind] = [
                None if self.pg else spec.table.c[c].type.bind_processor(conn.dialect) for c in spec.columns
            ]

    # -- tables

    def create(self) -> None:
        self.drop_after_rollback()
        tail = " ON COMMIT DROP" if self.pg else ""
        for kind, spec in TABLES.items():
            cols = ", ".join(f"{c} {spec.table.c[c].type.compile(dialect=self.conn.dialect)}" for c in spec.columns)
            n = "n BIGINT" if self.pg else "n INTEGER PRIMARY KEY"
            self.conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE {_name(kind)} ({n}, m INTEGER NOT NULL, where_ TEXT NOT NULL, "
                f"deleted BOOLEAN NOT NULL, {cols}){tail}"
            )
        n = "n BIGINT" if self.pg else "n INTEGER PRIMARY KEY"
        self.conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {_name(RECORDS)} ({n}, m INTEGER NOT NULL, where_ TEXT NOT NULL, "
            "deleted BOOLEAN NOT NULL, kind VARCHAR(20) NOT NULL, record_key VARCHAR(140), digest BIGINT, "
            f"unchanged BOOLEAN NOT NULL){tail}"
        )
        self.conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {_name('m')} (m INTEGER PRIMARY KEY, code VARCHAR(6) NOT NULL){tail}"
        )

    def drop(self) -> None:
        if not self.pg:  # PostgreSQL drops them at commit
            for kind in (*TABLES, RECORDS, "m", "changed_registers"):
                self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{_name(kind)}")

    def drop_after_rollback(self) -> None:
        """SQLite creates temporary tables outside the transaction: drop leftovers."""
        if not self.pg:
            try:
                self.drop()
            except sa.exc.DBAPIError:
                pass

    # -- rows

    def add(self, kind: str, m: int, where: str, row: dict[str, Any], *, deleted: bool = False) -> None:
        """One checked record; ``deleted``: a removal, ``row`` holds the key columns only."""
        self.add_values(kind, m, where, values(kind, row, deleted), deleted=deleted)

    def add_values(self, kind: str, m: int, where: str, values: tuple[Any, ...], *, deleted: bool = False) -> None:
        """One checked record as :func:`values` gives it."""
        self.n += 1
        if not self.pg:
            values = tuple(v if p is None or v is None else p(v)
                           for v, p in zip(values, self.processors[kind], strict=True))
        self.rows[kind].append((self.n, m, where, deleted, *values))
        if deleted:
            self.removals[kind] += 1
        elif kind == "seals":
            self.bytes[kind] += len(values[2])
        if len(self.rows[kind]) >= BATCH_ROWS or self.bytes[kind] >= BATCH_BYTES:
            self._write(kind)

    def add_record(self, m: int, where: str, kind: str, key: str | None, digest: int | None, *,
                   deleted: bool = False, unchanged: bool = False) -> None:
        """One record of list ``kind`` with its key (None when ``unchanged``) and digest (None: not kept)."""
        self.n += 1
        self.rows[RECORDS].append((self.n, m, where, deleted, kind, key, digest, unchanged))
        if unchanged:
            self.unchanged += 1
        if len(self.rows[RECORDS]) >= BATCH_ROWS:
            self._write(RECORDS)

    def flush(self) -> None:
        for kind in (*TABLES, RECORDS):
            self._write(kind)
        self.stop()

    def _write(self, kind: str) -> None:
        rows = self.rows[kind]
        if not rows:
            return
        if self.pg:
            # COPY runs in a writer thread while this one reads on: the server
            # stores one batch while the next is parsed (a few batches queue at most).
            if self.writer is None:
                self.writer = threading.Thread(target=self._copier, name="kofu-import-copy", daemon=True)
                self.writer.start()
            self.queue.put((kind, rows))
            if self.failure is not None:
                self.stop()
        else:
            cols = ("n", "m", "where_", "deleted", *_columns(kind))
            marks = ", ".join("?" for _ in cols)
            self.conn.exec_driver_sql(f"INSERT INTO {_name(kind)} VALUES ({marks})", rows)
        self.staged[kind] += len(rows)
        self.rows[kind] = []
        self.bytes[kind] = 0

    def _copier(self) -> None:
        dbapi = self.conn.connection.driver_connection
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.failure is not None:
                continue  # drain: the import fails at the next flush
            kind, rows = item
            cols = ("n", "m", "where_", "deleted", *_columns(kind))
            try:
                cursor = dbapi.cursor()  # type: ignore[union-attr]
                sql = f"COPY {_name(kind)} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)"
                with cursor, cursor.copy(sql) as copy:
                    copy.set_types(self._pg_types(kind))
                    for r in rows:
                        copy.write_row(r)
            except BaseException as e:  # handed to the importing thread
                self.failure = e

    def _pg_types(self, kind: str) -> list[str]:
        """The PostgreSQL type of each staged column, for binary COPY."""
        names = {sa.BigInteger: "int8", sa.Integer: "int4", sa.Boolean: "bool", sa.Date: "date",
                 sa.LargeBinary: "bytea"}
        out = ["int8", "int4", "text", "bool"]
        if kind == RECORDS:
            return [*out, "text", "text", "int8", "bool"]
        for c in TABLES[kind].columns:
            t = TABLES[kind].table.c[c].type
            if isinstance(t, sa.DateTime):
                out.append("timestamptz")
            else:
                out.append(next((v for k, v in names.items() if isinstance(t, k)), "text"))
        return out

    def stop(self) -> None:
        """Wait for the writer thread (PostgreSQL); raise what it failed with."""
        if self.writer is not None:
            self.queue.put(None)
            self.writer.join()
            self.writer = None
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure

    def municipalities(self, codes: dict[int, str]) -> None:
        """Which code each municipality index of the file has; then the tables are ready to check."""
        if codes:
            self.conn.execute(sa.text(f"INSERT INTO {_name('m')} (m, code) VALUES (:m, :code)"),
                              [{"m": m, "code": c} for m, c in codes.items()])
        if self.pg:
            for kind in (*TABLES, RECORDS, "m"):
                self.conn.exec_driver_sql(f"ANALYZE {_name(kind)}")
            return
        # SQLite joins by nested loops: the lookups of the checks and the merge need indexes.
        for kind, cols in (("residents", "m, resident_id"), ("seals", "m, resident_id"),
                           ("seals", "m, registration_number")):
            if self.staged[kind]:
                self.conn.exec_driver_sql(
                    f"CREATE INDEX temp.{_name(kind)}_{cols.split()[-1]} ON {_name(kind)} ({cols})"
                )
        if self.unchanged:
            self.conn.exec_driver_sql(f"CREATE INDEX temp.{_name(RECORDS)}_digest ON {_name(RECORDS)} (m, digest)")

    # -- checks across records

    def _key_match(self, kind: str, stored: str, staged: str) -> str:
        return " AND ".join(f"{stored}.{k} = {staged}.{k}" for k in TABLES[kind].keys)

    def check(self, *, difference: bool, limit: int) -> list[str]:
        """Keys unique in the file, resident links unique, references to residents resolve;
        in a difference, every record removed is stored."""
        problems: list[tuple[int, str]] = []
        for kind in ORDER:
            if not self.staged[kind]:
                continue
            spec = TABLES[kind]
            keys = ", ".join(spec.keys)
            dups = self.conn.exec_driver_sql(
                f"SELECT min(n), max(n), {keys} FROM {_name(kind)} GROUP BY m, {keys} "
                f"HAVING count(*) > 1 ORDER BY max(n) LIMIT {int(limit)}"
            ).all()
            for first, last, *key in dups:
                w1, w2 = self._where(kind, first), self._where(kind, last)
                if kind in ("households", "residents"):
                    problems.append((last, f"{w2}.id: {key[0]} also appears at {w1}"))
                else:
                    problems.append((last, f"{w2}: this {spec.label} also appears at {w1}"))
        if self.staged["residents"]:
            dups = self.conn.exec_driver_sql(
                f"SELECT min(n), max(n) FROM {_name('residents')} WHERE resident_link IS NOT NULL "
                f"GROUP BY resident_link HAVING count(*) > 1 ORDER BY max(n) LIMIT {int(limit)}"
            ).all()
            for first, last in dups:
                problems.append((last, f"{self._where('residents', last)}.resident_link also appears at "
                                       f"{self._where('residents', first)}"))
        if self.unchanged:
            problems += self._unchanged_duplicates(limit)
        stored = (
            f" AND NOT EXISTS (SELECT 1 FROM residents t JOIN {_name('m')} sm ON sm.code = t.municipality_code "
            "WHERE sm.m = s.m AND t.resident_id = s.resident_id)"
        ) if difference else ""
        if self.unchanged and not difference:
            # A resident of a household that is unchanged (not read again) is in the file as stored.
            stored = (
                f" AND NOT EXISTS (SELECT 1 FROM residents t JOIN {_name('m')} sm ON sm.code = t.municipality_code "
                "JOIN import_digests d ON d.municipality_code = t.municipality_code AND d.kind = 'households' "
                f"AND d.record_key = t.household_id JOIN {_name(RECORDS)} u ON u.m = sm.m AND u.unchanged "
                "AND u.digest = d.digest WHERE sm.m = s.m AND t.resident_id = s.resident_id)"
            )
        where = "in the file or stored" if difference else "in the file"
        for kind in ("seals", "tax_records", "register_members"):
            if not self.staged[kind] - self.removals[kind]:
                continue
            missing = self.conn.exec_driver_sql(
                f"SELECT s.n, s.where_, s.resident_id FROM {_name(kind)} s WHERE NOT s.deleted AND NOT EXISTS "
                f"(SELECT 1 FROM {_name('residents')} r WHERE r.m = s.m AND r.resident_id = s.resident_id)"
                f"{stored} ORDER BY s.n LIMIT {int(limit)}"
            ).all()
            for n, w, rid in missing:
                problems.append((n, f"{w}: resident {rid!r} is not among this municipality's residents {where}"))
        if difference:
            # A difference follows the stored data: removing what is not there means the two disagree.
            for kind in REMOVABLE:
                if not self.removals[kind]:
                    continue
                spec = TABLES[kind]
                gone = self.conn.exec_driver_sql(
                    f"SELECT s.n, s.where_, sm.code FROM {_name(kind)} s JOIN {_name('m')} sm ON sm.m = s.m "
                    f"WHERE s.deleted AND NOT EXISTS (SELECT 1 FROM {spec.table.name} t "
                    f"WHERE t.municipality_code = sm.code AND {self._key_match(kind, 't', 's')}) "
                    f"ORDER BY s.n LIMIT {int(limit)}"
                ).all()
                for n, w, code in gone:
                    problems.append((n, f"{w}: this {spec.label} is removed, but {code} has no such "
                                        f"{spec.label} stored"))
        return [message for _n, message in sorted(problems)[:limit]]

    def _unchanged_duplicates(self, limit: int) -> list[tuple[int, str]]:
        """Keys that appear twice when one of the two records is unchanged (skipped, so not staged)."""
        problems: list[tuple[int, str]] = []
        rec, sm = _name(RECORDS), _name("m")
        labels = {k: TABLES[v].label for k, v in LIST_KINDS.items()}
        # The same record twice: both unchanged.
        for first, last, kind in self.conn.exec_driver_sql(
            f"SELECT min(n), max(n), min(kind) FROM {rec} WHERE unchanged GROUP BY m, digest "
            f"HAVING count(*) > 1 ORDER BY max(n) LIMIT {int(limit)}"
        ).all():
            problems.append((last, f"{self._where(RECORDS, last)}: this {labels.get(kind, 'record')} also "
                                   f"appears at {self._where(RECORDS, first)}"))
        # A record read, whose key is stored with the digest of a record unchanged in this file.
        for a, b, wa, wb, kind, key in self.conn.exec_driver_sql(
            f"SELECT s.n, u.n, s.where_, u.where_, s.kind, s.record_key FROM {rec} s JOIN {sm} sm ON sm.m = s.m "
            "JOIN import_digests d ON d.municipality_code = sm.code AND d.kind = s.kind "
            f"AND d.record_key = s.record_key JOIN {rec} u ON u.m = s.m AND u.unchanged AND u.digest = d.digest "
            f"WHERE NOT s.unchanged ORDER BY s.n LIMIT {int(limit)}"
        ).all():
            first, second = ((wa, wb), (wb, wa))[a > b]
            if kind == "households":
                problems.append((max(a, b), f"{second}.id: {key} also appears at {first}"))
            else:
                problems.append((max(a, b), f"{second}: this {labels.get(kind, 'record')} also appears at {first}"))
        # A member of a household read who is stored as a member of another household unchanged in this file.
        if self.staged["residents"]:
            for n, w, rid, other in self.conn.exec_driver_sql(
                f"SELECT r.n, r.where_, r.resident_id, u.where_ FROM {_name('residents')} r "
                f"JOIN {sm} sm ON sm.m = r.m JOIN residents t ON t.municipality_code = sm.code "
                "AND t.resident_id = r.resident_id AND t.household_id <> r.household_id "
                "JOIN import_digests d ON d.municipality_code = sm.code AND d.kind = 'households' "
                f"AND d.record_key = t.household_id JOIN {rec} u ON u.m = r.m AND u.unchanged "
                f"AND u.digest = d.digest ORDER BY r.n LIMIT {int(limit)}"
            ).all():
                problems.append((n, f"{w}.id: {rid} also appears in the household at {other}"))
        # A person of a register read who is stored as a member of another register unchanged in this file.
        if self.staged["register_members"]:
            for n, w, other in self.conn.exec_driver_sql(
                f"SELECT r.n, r.where_, u.where_ FROM {_name('register_members')} r "
                f"JOIN {sm} sm ON sm.m = r.m JOIN register_members t ON t.municipality_code = sm.code "
                "AND t.resident_id = r.resident_id AND t.register_id <> r.register_id "
                "JOIN import_digests d ON d.municipality_code = sm.code AND d.kind = 'family_registers' "
                f"AND d.record_key = t.register_id JOIN {rec} u ON u.m = r.m AND u.unchanged "
                f"AND u.digest = d.digest ORDER BY r.n LIMIT {int(limit)}"
            ).all():
                problems.append((n, f"{w}: this register member also appears in the family register at {other}"))
        return problems

    def _where(self, kind: str, n: int) -> str:
        return str(self.conn.exec_driver_sql(f"SELECT where_ FROM {_name(kind)} WHERE n = {int(n)}").scalar_one())

    def seals_by_resident(self, *, difference: bool) -> Any:
        """For every resident with a seal in the file: their seals in the file, their stored seals
        the file neither replaces nor removes, and their birth date (from the file, else stored),
        ordered by municipality and resident: read as a stream, for the checks across seals.

        Rows: ``m, resident_id, where_ (NULL for a stored seal), registration_number,
        registered_at, abolished_at, birth_date``.
        """
        when = seal_registrations.c.registered_at.type
        s, r, sm = _name("seals"), _name("residents"), _name("m")
        born = "r.birth_date"
        joins = f"LEFT JOIN {r} r ON r.m = s.m AND r.resident_id = s.resident_id"
        if difference:
            born = "COALESCE(r.birth_date, t.birth_date)"
            joins += (f" JOIN {sm} sm ON sm.m = s.m LEFT JOIN residents t ON t.municipality_code = sm.code "
                      "AND t.resident_id = s.resident_id")
        if not self.staged["residents"] and not difference:
            born, joins = "NULL", ""
        sql = (
            f"SELECT s.m AS m, s.resident_id AS resident_id, s.where_ AS where_, s.registration_number AS "
            f"registration_number, s.registered_at AS registered_at, s.abolished_at AS abolished_at, "
            f"{born} AS birth_date FROM {s} s {joins} WHERE NOT s.deleted "
            "UNION ALL "
            f"SELECT sm.m, t.resident_id, NULL, t.registration_number, t.registered_at, t.abolished_at, NULL "
            f"FROM seal_registrations t JOIN {sm} sm ON sm.code = t.municipality_code "
            f"WHERE EXISTS (SELECT 1 FROM {s} s WHERE s.m = sm.m AND s.resident_id = t.resident_id "
            "AND NOT s.deleted) "
            f"AND NOT EXISTS (SELECT 1 FROM {s} s WHERE s.m = sm.m AND s.registration_number = t.registration_number) "
            "ORDER BY 1, 2"
        )
        stmt = sa.text(sql).columns(m=sa.Integer, resident_id=sa.Text, where_=sa.Text, registration_number=sa.Text,
                                    registered_at=when, abolished_at=when, birth_date=residents.c.birth_date.type)
        return self.conn.execute(stmt, execution_options={"yield_per": BATCH_ROWS})

    # -- the merge

    def merge(self, now: datetime) -> int:
        """Write what changed (removals excepted: see :meth:`remove`); the number of rows written."""
        distinct = "IS DISTINCT FROM" if self.pg else "IS NOT"
        at = sa.bindparam("now", now, type_=sa.DateTime(timezone=True))
        changed = 0
        # A resident given in another household (register) than stored changes the household
        # (register) left too, which this file may not carry: its digest goes, so that the next full
        # export reads it again rather than skip it as unchanged.
        for kind, table, column, staged in (("households", "residents", "household_id", "residents"),
                                            ("family_registers", "register_members", "register_id",
                                             "register_members")):
            if self.staged[staged]:
                self.conn.exec_driver_sql(
                    f"DELETE FROM import_digests WHERE kind = '{kind}' AND (municipality_code, record_key) IN "
                    f"(SELECT t.municipality_code, t.{column} FROM {table} t JOIN {_name('m')} sm "
                    f"ON sm.code = t.municipality_code JOIN {_name(staged)} s ON s.m = sm.m "
                    f"AND s.resident_id = t.resident_id WHERE NOT s.deleted AND t.{column} <> s.{column})"
                )
        if self.staged["residents"]:
            # A card may move from one record to another within one import (a
            # correction): release the links that change first, or the UNIQUE
            # constraint trips midway.
            changed += self.conn.execute(sa.text(
                f"UPDATE residents SET resident_link = NULL FROM {_name('residents')} s "
                f"JOIN {_name('m')} sm ON sm.m = s.m WHERE residents.municipality_code = sm.code "
                "AND residents.resident_id = s.resident_id AND residents.resident_link IS NOT NULL "
                f"AND residents.resident_link {distinct} s.resident_link"
            )).rowcount
        if self.staged["family_registers"]:
            # A register's member list is replaced whole when the register changed or is removed.
            self.conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE {_name('changed_registers')}"
                f"{' ON COMMIT DROP' if self.pg else ''} AS "
                f"SELECT sm.code AS code, s.register_id AS register_id FROM {_name('family_registers')} s "
                f"JOIN {_name('m')} sm ON sm.m = s.m LEFT JOIN family_registers f "
                "ON f.municipality_code = sm.code AND f.register_id = s.register_id "
                f"WHERE s.deleted OR (f.honseki, f.head_name, f.data) {distinct} (s.honseki, s.head_name, s.data)"
            )
            if self.pg:
                self.conn.exec_driver_sql(f"ANALYZE {_name('changed_registers')}")
            self.conn.exec_driver_sql(
                "DELETE FROM register_members WHERE (municipality_code, register_id) IN "
                f"(SELECT code, register_id FROM {_name('changed_registers')})"
            )
        for kind in ORDER:
            if not self.staged[kind] - self.removals[kind]:
                continue
            spec = TABLES[kind]
            table = spec.table.name
            cols = list(spec.columns)
            keys = ["municipality_code", *spec.keys]
            select = ["sm.code", *(f"s.{c}" for c in cols)]
            into = ["municipality_code", *cols]
            if spec.compared:
                into += ["updated_at"]
                select += [":now"]
            updates = ", ".join(f"{c} = excluded.{c}" for c in into if c not in keys)
            source = f"{_name(kind)} s JOIN {_name('m')} sm ON sm.m = s.m"
            if kind == "register_members":
                source += (f" JOIN {_name('changed_registers')} cr ON cr.code = sm.code "
                           "AND cr.register_id = s.register_id")
            where = "WHERE NOT s.deleted"
            only_changed = ""
            if spec.compared:
                # Only the rows that differ from what is stored: a missing row, or any column changed.
                values = [c for c in cols if c not in spec.keys]
                stored = ", ".join(f"t.{c}" for c in values)
                staged = ", ".join(f"s.{c}" for c in values)
                source += (f" LEFT JOIN {table} t ON t.municipality_code = sm.code AND "
                           f"{self._key_match(kind, 't', 's')}")
                where += f" AND (t.municipality_code IS NULL OR ({stored}) {distinct} ({staged}))"
                only_changed = (f" WHERE ({', '.join(f'{table}.{c}' for c in values)}) {distinct} "
                                f"({', '.join(f'excluded.{c}' for c in values)})")
            stmt = sa.text(
                f"INSERT INTO {table} ({', '.join(into)}) SELECT {', '.join(select)} FROM {source} {where} "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}{only_changed}"
            )
            if spec.compared:
                stmt = stmt.bindparams(at)
            changed += self.conn.execute(stmt).rowcount
        if self.staged[RECORDS]:
            # The digest of every record read, so that the next import skips it while it is unchanged.
            self.conn.exec_driver_sql(
                "INSERT INTO import_digests (municipality_code, kind, record_key, digest) "
                f"SELECT sm.code, s.kind, s.record_key, s.digest FROM {_name(RECORDS)} s "
                f"JOIN {_name('m')} sm ON sm.m = s.m WHERE NOT s.unchanged AND NOT s.deleted "
                "AND s.digest IS NOT NULL "
                "ON CONFLICT (municipality_code, kind, record_key) DO UPDATE SET digest = excluded.digest"
            )
        return changed

    def blocked_removals(self, limit: int) -> list[str]:
        """Households removed while a resident still belongs to them (after the merge)."""
        if not self.removals["households"]:
            return []
        rows = self.conn.exec_driver_sql(
            f"SELECT s.where_, s.household_id, min(r.resident_id) FROM {_name('households')} s "
            f"JOIN {_name('m')} sm ON sm.m = s.m JOIN residents r ON r.municipality_code = sm.code "
            f"AND r.household_id = s.household_id WHERE s.deleted GROUP BY s.n, s.where_, s.household_id "
            f"ORDER BY s.n LIMIT {int(limit)}"
        ).all()
        return [f"{w}: household {hid} is removed, but resident {rid} still belongs to it (send them in "
                "their new household)" for w, hid, rid in rows]

    def remove(self) -> int:
        """Remove the records marked ``deleted``; the number of rows removed."""
        removed = 0
        if any(self.removals[k] for k in REMOVABLE):
            self.conn.exec_driver_sql(
                "DELETE FROM import_digests WHERE (municipality_code, kind, record_key) IN (SELECT sm.code, "
                f"s.kind, s.record_key FROM {_name(RECORDS)} s JOIN {_name('m')} sm ON sm.m = s.m "
                "WHERE s.deleted)"
            )
        for kind in ("tax_records", "seals", "family_registers", "households"):
            if not self.removals[kind]:
                continue
            table = TABLES[kind].table.name
            keys = ", ".join(TABLES[kind].keys)
            removed += self.conn.exec_driver_sql(
                f"DELETE FROM {table} WHERE (municipality_code, {keys}) IN (SELECT sm.code, "
                f"{', '.join(f's.{k}' for k in TABLES[kind].keys)} FROM {_name(kind)} s "
                f"JOIN {_name('m')} sm ON sm.m = s.m WHERE s.deleted)"
            ).rowcount
        return removed
