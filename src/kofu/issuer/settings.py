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

    [freshness]                           # optional: data older than this is not issued from
    max_age_hours = 48                    # every municipality (no limit when absent)
    [freshness.282286]                    # one municipality's own limit
    max_age_hours = 26

    [seals.282286]                        # the municipality's e-seal; may instead come from the import file
    cert = "seals/282286.pem"
    key = "seals/282286.key"
    chain = ["seals/lgpki-ca.pem"]

Errors::

    SettingsError   (kofu.tomlconf) the file is missing, not TOML, or a field is
                    wrong: one line naming the file, the field and what was expected
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from kofu.tomlconf import SettingsError, TomlFile
from kofu.web import ServerSettings, TlsServerSettings

log = logging.getLogger(__name__)


__all__ = ["IssuerSettings", "SealPaths", "SettingsError", "load_settings"]


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
    max_data_age: dict[str, timedelta] = field(default_factory=dict)
    """Per municipality code (``[freshness.CODE] max_age_hours``): older data is not issued from."""
    default_max_data_age: timedelta | None = None
    """``[freshness] max_age_hours``: the limit of municipalities without their own."""
    unsafe_plain_http: bool = False
    """Serve without TLS: anyone who reaches the port gets sealed certificates. Refused unless set."""
    public_url: str | None = None
    """Where the center reaches the wide-area endpoint (the WSDL's soap:address), without /wide-area."""

    def max_age_for(self, code: str) -> timedelta | None:
        return self.max_data_age.get(code, self.default_max_data_age)

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


def load_settings(path: Path) -> IssuerSettings:
    f = TomlFile.read(path)
    base = f.base
    url = f.database_url("issuer.sqlite")
    tls = None
    if f.get("", "tls", dict, None) is not None:
        client_ca = f.get("tls", "client_ca", str, None)
        if client_ca is None:
            # Without a client CA anyone who reaches the port may ask for
            # certificates; the setting that allows it says so in its name.
            if not f.get("tls", "unsafe_no_client_auth", bool, False):
                raise f.error(
                    "tls.client_ca",
                    "is required (mutual TLS); set tls.unsafe_no_client_auth = true to run without it",
                )
            log.warning("issuer runs WITHOUT client certificate authentication (unsafe_no_client_auth)")
        tls = TlsServerSettings(
            cert=f.required_path("tls", "cert"),
            key=f.required_path("tls", "key"),
            client_ca=f.path(client_ca) if client_ca else None,
        )
    server = ServerSettings(
        host=f.get("server", "host", str, "127.0.0.1"),
        port=f.get("server", "port", int, 8402),
        tls=tls,
        log_level=f.get("server", "log_level", str, "warning"),
    )

    seals: dict[str, SealPaths] = {}
    for code in f.table("seals", {}):
        where = f"seals.{code}"
        f.get("seals", code, dict)
        seals[code] = SealPaths(
            cert=f.required_path(where, "cert"),
            key=f.required_path(where, "key"),
            chain=tuple(f.path(str(c)) for c in f.get(where, "chain", list, [])),
        )
    audit_key = None
    key_name = f.get("audit", "key", str, None)
    if key_name is not None:
        key_path = f.path(key_name)
        try:
            audit_key = key_path.read_bytes()
        except OSError as e:
            raise f.error("audit.key", f"must name a readable key file; cannot read {key_path}: {e.strerror or e}") from e
        if len(audit_key) < 32:
            raise f.error("audit.key", f"must hold at least 32 bytes; {key_path} holds {len(audit_key)}")
    else:
        log.warning("unsafe_unkeyed_audit: %s has no [audit] key, so the audit chain is not keyed", path)
    max_data_age: dict[str, timedelta] = {}
    default_max_data_age = None
    for key, value in f.table("freshness", {}).items():
        if key == "max_age_hours":
            default_max_data_age = _hours(f, "freshness", key)
        elif isinstance(value, dict):
            max_data_age[key] = _hours(f, f"freshness.{key}", "max_age_hours")
        else:
            raise f.error(f"freshness.{key}", "must be a table with max_age_hours, or max_age_hours")
    return IssuerSettings(
        database_url=url, server=server, seals=seals, base_dir=base, audit_key=audit_key,
        max_data_age=max_data_age, default_max_data_age=default_max_data_age,
        unsafe_plain_http=f.get("", "unsafe_plain_http", bool, False),
        public_url=f.get("server", "public_url", str, None),
    )


def _hours(f: TomlFile, where: str, key: str) -> timedelta:
    value = f.table(where).get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 24 * 365:
        raise f.error(f"{where}.{key}", f"must be a number of hours, more than 0 and at most a year, got {value!r}")
    return timedelta(hours=value)
