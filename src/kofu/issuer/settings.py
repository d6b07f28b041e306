"""Issuer configuration, read once at start-up from a TOML file.

>>> settings = load_settings(Path("issuer.toml"))

The file (relative paths are relative to the file's folder)::

    [database]
    url = "sqlite:///issuer.sqlite"      # or postgresql://user@host/db

    unsafe_plain_http = false             # true: serve without [tls] (refused otherwise; logged loudly)

    [server]
    host = "127.0.0.1"
    port = 8402
    log_level = "warning"
    public_url = "https://issuer.example.lg.jp:8402"   # the WSDL's soap:address (default: host and port)

    [tls]                                 # required to serve, unless unsafe_plain_http
    cert = "tls/issuer.pem"
    key = "tls/issuer.key"
    client_ca = "tls/lgpki-ca.pem"        # the center must present a certificate from this CA

    [seals.282286]                        # the municipality's e-seal; may instead come from the import file
    cert = "seals/282286.pem"
    key = "seals/282286.key"
    chain = ["seals/lgpki-ca.pem"]

Errors::

    SettingsError   the file is missing, not TOML, or a field is wrong (named)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kofu import tomlconf
from kofu.web import ServerSettings, TlsServerSettings

log = logging.getLogger(__name__)


class SettingsError(Exception):
    """The configuration cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class SealPaths:
    cert: Path
    key: Path
    chain: tuple[Path, ...] = ()


@dataclass(frozen=True)
class IssuerSettings:
    database_url: str
    server: ServerSettings
    seals: dict[str, SealPaths]
    """Per municipality code; overrides the seal paths from the import file."""
    base_dir: Path
    """The config file's folder; relative paths in imported data resolve against it."""
    audit_key: bytes | None = None
    """Key of the audit log's HMAC chain (``[audit] key``: a file of at least 32 bytes)."""
    unsafe_plain_http: bool = False
    """Serve without TLS: anyone who reaches the port gets sealed certificates. Refused unless set."""
    public_url: str | None = None
    """Where the center reaches the wide-area endpoint (the WSDL's soap:address), without /wide-area."""

    def wide_area_url(self) -> str:
        """The soap:address: from the settings, never from a request's Host header."""
        if self.public_url:
            return self.public_url.rstrip("/") + "/wide-area"
        scheme = "https" if self.server.tls is not None else "http"
        return f"{scheme}://{self.server.host}:{self.server.port}/wide-area"

    def seal_for(self, code: str, cert: str | None, key: str | None, chain: list[str]) -> SealPaths | None:
        if code in self.seals:
            return self.seals[code]
        if cert and key:
            return SealPaths(
                self.resolve(cert), self.resolve(key), tuple(self.resolve(c) for c in chain)
            )
        return None

    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p


def _get(table: dict[str, Any], key: str, kind: type, where: str, default: Any = ...) -> Any:
    return tomlconf.get(table, key, kind, where, default, error=SettingsError)


def load_settings(path: Path) -> IssuerSettings:
    raw, resolve = tomlconf.read(path, SettingsError)
    base = path.resolve().parent

    db = _get(raw, "database", dict, str(path), {})
    url = _get(db, "url", str, "database", f"sqlite:///{base / 'issuer.sqlite'}")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url[len("sqlite:///") :]
        if rel and rel != ":memory:":
            url = f"sqlite:///{resolve(rel)}"

    srv = _get(raw, "server", dict, str(path), {})
    tls_raw = _get(raw, "tls", dict, str(path), None)
    tls = None
    if tls_raw is not None:
        client_ca = _get(tls_raw, "client_ca", str, "tls", None)
        if client_ca is None:
            # Without a client CA anyone who reaches the port may ask for
            # certificates; the setting that allows it says so in its name.
            if not _get(tls_raw, "unsafe_no_client_auth", bool, "tls", False):
                raise SettingsError(
                    "tls.client_ca is required (mutual TLS); set tls.unsafe_no_client_auth = true "
                    "to run without it"
                )
            log.warning("issuer runs WITHOUT client certificate authentication (unsafe_no_client_auth)")
        tls = TlsServerSettings(
            cert=resolve(_get(tls_raw, "cert", str, "tls")),
            key=resolve(_get(tls_raw, "key", str, "tls")),
            client_ca=resolve(client_ca) if client_ca else None,
        )
    server = ServerSettings(
        host=_get(srv, "host", str, "server", "127.0.0.1"),
        port=_get(srv, "port", int, "server", 8402),
        tls=tls,
        log_level=_get(srv, "log_level", str, "server", "warning"),
    )

    seals: dict[str, SealPaths] = {}
    for code, s in _get(raw, "seals", dict, str(path), {}).items():
        where = f"seals.{code}"
        if not isinstance(s, dict):
            raise SettingsError(f"{where} must be a table")
        chain = _get(s, "chain", list, where, [])
        seals[code] = SealPaths(
            cert=resolve(_get(s, "cert", str, where)),
            key=resolve(_get(s, "key", str, where)),
            chain=tuple(resolve(str(c)) for c in chain),
        )
    audit_key = None
    audit = raw.get("audit", {})
    if "key" in audit:
        key_path = resolve(str(audit["key"]))
        try:
            audit_key = key_path.read_bytes()
        except OSError as e:
            raise SettingsError(f"{path}: audit.key: cannot read {key_path}: {e}") from e
        if len(audit_key) < 32:
            raise SettingsError(f"{path}: audit.key: {key_path} holds {len(audit_key)} bytes; at least 32 are needed")
    else:
        log.warning("unsafe_unkeyed_audit: %s has no [audit] key, so the audit chain is not keyed", path)
    public_url = _get(srv, "public_url", str, "server", None)
    return IssuerSettings(
        database_url=url, server=server, seals=seals, base_dir=base, audit_key=audit_key,
        unsafe_plain_http=_get(raw, "unsafe_plain_http", bool, str(path), False), public_url=public_url,
    )
