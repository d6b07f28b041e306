"""The CA's record of every certificate it issued: one SQLite file in the CA directory.

The OCSP responder, the directory service and the CLI each open it; SQLite's
own locking makes a revocation by ``kofu jpki revoke`` visible to a running
responder, which polls :meth:`CertStore.data_version` to notice it.

>>> store = CertStore(Path("var/jpki/jpki.sqlite"))
>>> store.get("1f3a…").status
'good'
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from kofu.domain.ids import CertSerial, MunicipalityCode, ResidentLink
from kofu.jpki.errors import CaError, UnknownSerial

CertKind = Literal["auth", "sign"]

# RFC 5280 CRLReason names, as ``kofu jpki revoke --reason`` takes them.
REVOCATION_REASONS = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "removeFromCRL",
    "privilegeWithdrawn",
    "aACompromise",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS certificates (
    serial        TEXT PRIMARY KEY,            -- lower-case hex, no separators
    kind          TEXT NOT NULL CHECK (kind IN ('auth', 'sign')),
    not_before    TEXT NOT NULL,               -- ISO 8601, UTC
    not_after     TEXT NOT NULL,
    municipality  TEXT NOT NULL,
    resident_link TEXT NOT NULL,
    der           BLOB NOT NULL,               -- the certificate, for index.txt and audits
    revoked_at    TEXT,                        -- NULL while good
    reason        TEXT
);
CREATE INDEX IF NOT EXISTS certificates_link ON certificates (resident_link);
"""


@dataclass(frozen=True)
class CertRecord:
    serial: CertSerial
    kind: CertKind
    not_before: datetime
    not_after: datetime
    municipality: MunicipalityCode
    resident_link: ResidentLink
    der: bytes
    revoked_at: datetime | None = None
    reason: str | None = None
    """An RFC 5280 CRLReason name from :data:`REVOCATION_REASONS`, when revoked."""

    @property
    def status(self) -> Literal["good", "revoked"]:
        return "good" if self.revoked_at is None else "revoked"


def normalise_serial(serial: str) -> CertSerial:
    """Accept ``1F:3A``, ``0x1f3a`` or ``1f3a``; return lower-case hex without leading zeros."""
    text = serial.strip().lower().replace(":", "")
    if text.startswith("0x"):
        text = text[2:]
    if not text or len(text) > 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"a serial is hexadecimal, at most 64 digits; got {serial!r}")
    return CertSerial(format(int(text, 16), "x"))


def serial_hex(serial: int) -> CertSerial:
    return CertSerial(format(serial, "x"))


class CertStore:
    """Issued certificates, keyed by serial."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise CaError(f"cannot open the certificate database {path}: {e}") from e

    def close(self) -> None:
        self._db.close()

    def data_version(self) -> int:
        """Changes whenever another connection commits (SQLite ``PRAGMA data_version``)."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def add(self, record: CertRecord) -> None:
        try:
            self._db.execute(
                "INSERT INTO certificates (serial, kind, not_before, not_after, municipality,"
                " resident_link, der) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.serial,
                    record.kind,
                    record.not_before.isoformat(),
                    record.not_after.isoformat(),
                    record.municipality,
                    record.resident_link,
                    record.der,
                ),
            )
        except sqlite3.Error as e:
            raise CaError(f"cannot record certificate {record.serial}: {e}") from e

    def revoke(self, serial: CertSerial, reason: str, when: datetime) -> CertRecord:
        """Mark ``serial`` revoked; revoking again keeps the first time but updates the reason."""
        if reason not in REVOCATION_REASONS:
            raise ValueError(f"unknown revocation reason {reason!r}; one of {', '.join(REVOCATION_REASONS)}")
        cur = self._db.execute(
            "UPDATE certificates SET revoked_at = COALESCE(revoked_at, ?), reason = ? WHERE serial = ?",
            (when.isoformat(), reason, serial),
        )
        if cur.rowcount == 0:
            raise UnknownSerial(f"no certificate with serial {serial} was issued by this CA")
        return self.get(serial)

    def get(self, serial: CertSerial) -> CertRecord:
        row = self._db.execute(_SELECT + " WHERE serial = ?", (serial,)).fetchone()
        if row is None:
            raise UnknownSerial(f"no certificate with serial {serial} was issued by this CA")
        return _record(row)

    def all(self) -> Iterator[CertRecord]:
        for row in self._db.execute(_SELECT + " ORDER BY serial"):
            yield _record(row)


_SELECT = (
    "SELECT serial, kind, not_before, not_after, municipality, resident_link, der,"
    " revoked_at, reason FROM certificates"
)


def _record(row: tuple[object, ...]) -> CertRecord:
    serial, kind, nb, na, muni, link, der, revoked_at, reason = row
    return CertRecord(
        serial=CertSerial(str(serial)),
        kind="auth" if kind == "auth" else "sign",
        not_before=datetime.fromisoformat(str(nb)),
        not_after=datetime.fromisoformat(str(na)),
        municipality=MunicipalityCode(str(muni)),
        resident_link=ResidentLink(str(link)),
        der=der if isinstance(der, bytes) else b"",  # sqlite3 returns bytes for a BLOB
        revoked_at=None if revoked_at is None else datetime.fromisoformat(str(revoked_at)),
        reason=None if reason is None else str(reason),
    )
