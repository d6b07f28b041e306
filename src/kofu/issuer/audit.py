"""The tamper-evident audit log of issuances: a hash chain over ``issuance_events``.

Each event (issued, printed, cancelled) is one row; its ``entry_hash`` is
``HMAC-SHA256(audit key, prev_hash + canonical entry)`` where the canonical entry is
``"{seq}\\n{issuance_id}\\n{event}\\n{data}"`` and ``data`` is the event's
canonical JSON (sorted keys, no spaces, UTF-8). ``audit_head`` holds the last
sequence number and hash, so deleting the newest entries is detected too.
The audit key lives outside the database (``[audit] key`` in issuer.toml),
so whoever can write the tables cannot rewrite the chain to match: without
the key, a recomputed chain does not verify. Without a key configured the
chain is plain SHA-256, which detects accidents but not a careful editor;
the issuer logs ``unsafe_unkeyed_audit`` then.
The ``issuances`` table is the current state; verification checks it
against the events, so editing a row there is detected as well.

>>> with engine.connect() as c:
...     head = lock(c)                       # serialises appenders
...     write(c, head, "I…", "issued", {"fee": 200, …})
...     c.commit()
>>> check_chain(engine)                      # raises AuditError, else returns a report

Errors::

    AuditError   the chain or the state table does not verify; ``problems`` lists each finding
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kofu.issuer.tables import GENESIS_HASH, audit_head, issuance_events, issuances

IMMUTABLE_FIELDS = (
    "message_serial",
    "request_digest",
    "municipality_code",
    "resident_id",
    "order_id",
    "kind",
    "options",
    "copies",
    "fee",
    "store_id",
    "certificate_serial",
    "pages",
)
"""Issuance columns fixed at issuance, recorded in the "issued" event."""


class AuditError(Exception):
    """The audit log does not verify."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(problems[:5]))
        self.problems = problems


@dataclass(frozen=True)
class Head:
    seq: int
    """The sequence number the next entry gets."""
    prev_hash: str


@dataclass(frozen=True)
class AuditReport:
    events: int
    issuances: int
    last_hash: str


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(prev_hash: str, seq: int, issuance_id: str, event: str, data: str, key: bytes | None = None) -> str:
    entry = (prev_hash + f"{seq}\n{issuance_id}\n{event}\n{data}").encode("utf-8")
    if key is None:
        return hashlib.sha256(entry).hexdigest()
    return hmac.new(key, entry, hashlib.sha256).hexdigest()


def lock(conn: sa.Connection) -> Head:
    """Reserve the next sequence number; holds the log's lock until the transaction ends.

    The UPDATE comes first on purpose: on SQLite it takes the write lock at
    once (no read-then-upgrade deadlock), on PostgreSQL it locks the head row.
    A transaction that locks must either write one entry or roll back.
    """
    conn.execute(sa.update(audit_head).where(audit_head.c.id == 1).values(last_seq=audit_head.c.last_seq + 1))
    row = conn.execute(sa.select(audit_head.c.last_seq, audit_head.c.last_hash).where(audit_head.c.id == 1)).one()
    return Head(seq=row.last_seq, prev_hash=row.last_hash)


def write(
    conn: sa.Connection,
    head: Head,
    issuance_id: str,
    event: str,
    at: Any,
    data: dict[str, Any],
    key: bytes | None = None,
) -> str:
    text = canonical(data)
    h = entry_hash(head.prev_hash, head.seq, issuance_id, event, text, key)
    conn.execute(
        issuance_events.insert().values(
            seq=head.seq, issuance_id=issuance_id, event=event, at=at, data=text,
            prev_hash=head.prev_hash, entry_hash=h,
        )
    )
    conn.execute(sa.update(audit_head).where(audit_head.c.id == 1).values(last_hash=h))
    return h


def check_chain(engine: sa.Engine, key: bytes | None = None) -> AuditReport:
    """Check the whole chain and the state table against it; raise AuditError on any finding."""
    problems: list[str] = []
    with engine.connect() as c:
        events = c.execute(sa.select(issuance_events).order_by(issuance_events.c.seq)).all()
        head = c.execute(sa.select(audit_head).where(audit_head.c.id == 1)).one_or_none()
        rows = {r.issuance_id: r for r in c.execute(sa.select(issuances)).all()}
    # 1. The chain: contiguous sequence numbers, each linked to the one before,
    #    each hash recomputed from its content.
    prev = GENESIS_HASH
    by_issuance: dict[str, dict[str, dict[str, Any]]] = {}
    for expected_seq, ev in enumerate(events, start=1):
        if ev.seq != expected_seq:
            problems.append(f"entry {expected_seq} is missing (found seq {ev.seq})")
        if ev.prev_hash != prev:
            problems.append(f"entry {ev.seq}: prev_hash does not link to the entry before")
        if not hmac.compare_digest(entry_hash(ev.prev_hash, ev.seq, ev.issuance_id, ev.event, ev.data, key), ev.entry_hash):
            problems.append(f"entry {ev.seq}: content does not match its hash")
        prev = ev.entry_hash
        by_issuance.setdefault(ev.issuance_id, {})[ev.event] = json.loads(ev.data)
    # 2. The head: no entries removed from the end.
    if head is None:
        problems.append("audit_head is missing")
    elif head.last_hash != prev or head.last_seq != len(events):
        problems.append(
            f"audit_head says {head.last_seq} entries ending {head.last_hash[:12]}…, "
            f"the log has {len(events)} ending {prev[:12]}…"
        )
    # 3. The state table against the events.
    for issuance_id, row in rows.items():
        evs = by_issuance.get(issuance_id, {})
        issued = evs.get("issued")
        if issued is None:
            problems.append(f"issuance {issuance_id} has no 'issued' entry in the log")
            continue
        for name in IMMUTABLE_FIELDS:
            if getattr(row, name) != issued.get(name):
                problems.append(f"issuance {issuance_id}: {name} differs from the log")
        state = "cancelled" if "cancelled" in evs else "printed" if "printed" in evs else "issued"
        if row.state != state:
            problems.append(f"issuance {issuance_id}: state {row.state!r}, the log says {state!r}")
        if "printed" in evs and row.copies_printed != evs["printed"].get("copies_printed"):
            problems.append(f"issuance {issuance_id}: copies_printed differs from the log")
    for issuance_id in by_issuance.keys() - rows.keys():
        problems.append(f"the log has issuance {issuance_id} but the issuances table does not")
    if problems:
        raise AuditError(problems)
    return AuditReport(events=len(events), issuances=len(rows), last_hash=prev)
