"""Center settings, read once at start-up from a TOML file.

    region = "east"                      # this process's region (east/west share one database)

    [database]
    url = "sqlite:///center.sqlite"      # or postgresql://user@host/db

    [server]
    host = "127.0.0.1"
    port = 8401
    log_level = "warning"

    [tls]                                # the kiosk API: HTTPS, store operators present client certs
    cert = "center-server.pem"
    key = "center-server.key"
    client_ca = "lgpki/ca.pem"

    [jpki]
    ca = "jpki/ca.pem"                   # the card certificates' root
    ocsp_url = "http://127.0.0.1:8403"
    directory_url = "https://127.0.0.1:8404"

    [lgpki]
    ca = "lgpki/ca.pem"                  # trusts issuers' TLS, the directory's TLS and the e-seals
    client_cert = "center-client.pem"    # what the center presents to issuers and the directory
    client_key = "center-client.key"

    settle_after_seconds = 1200          # optional: orders untouched this long are settled (sweeper)

    [issuers]                            # routing: municipality code -> issuer URL
    "282286" = "https://127.0.0.1:8402"

    [antiforgery]                        # optional: without it the kiosk prints the sealed front only
    master_key = "antiforgery/master.key"   # scrambling keys derive from it (never printed)
    qr_keys = "antiforgery/qr-keys"         # QR signing keys; all public keys are published
    qr_kid = "2026-1"                       # the key that signs now

Relative paths (and a relative SQLite file) are taken relative to the TOML
file's folder. Errors: ``kofu.tomlconf.SettingsError``, naming the file,
the field and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kofu.domain.ids import MunicipalityCode, validate_municipality_code
from kofu.tomlconf import SettingsError, TomlFile
from kofu.web import ServerSettings, TlsServerSettings

__all__ = ["CenterSettings", "SettingsError", "load"]


@dataclass(frozen=True)
class CenterSettings:
    region: str
    database: str
    server: ServerSettings
    jpki_ca: Path
    ocsp_url: str
    directory_url: str
    lgpki_ca: Path
    client_cert: Path
    client_key: Path
    issuers: dict[MunicipalityCode, str]
    """Routing table: which issuer serves which municipality."""
    issuer_retries: int = 3
    """Attempts per wide-area call (same 電文通番 each time)."""
    issuer_timeout: float = 10.0
    session_ttl_seconds: int = 600
    settle_after_seconds: int | None = None
    """Orders untouched this long are settled by the sweeper (default: session lifetime + 10 min)."""
    antiforgery_master_key: Path | None = None
    antiforgery_qr_keys: Path | None = None
    antiforgery_qr_kid: str | None = None


def load(path: Path) -> CenterSettings:
    f = TomlFile.read(path)
    tls = None
    if f.get("", "tls", dict, None):
        tls = TlsServerSettings(
            cert=f.required_path("tls", "cert"),
            key=f.required_path("tls", "key"),
            client_ca=f.optional_path("tls", "client_ca"),
            # The kiosk API demands a store certificate per route; the published QR keys
            # and the OpenAPI document are public.
            client_cert_optional=True,
        )
    f.table("jpki")
    f.table("lgpki")
    af = f.table("antiforgery", {})
    if af and not {"master_key", "qr_keys", "qr_kid"} <= set(af):
        missing = sorted({"master_key", "qr_keys", "qr_kid"} - set(af))
        raise f.error("antiforgery", f"needs master_key, qr_keys and qr_kid (missing: {', '.join(missing)})")
    issuers: dict[MunicipalityCode, str] = {}
    for code in f.table("issuers", {}):
        url = f.get("issuers", code, str)
        try:
            issuers[validate_municipality_code(code)] = url.rstrip("/")
        except ValueError as e:
            raise f.error(f"issuers.{code}", f"must be keyed by a municipality code ({e})") from e
    settle = f.get("", "settle_after_seconds", int, None)
    return CenterSettings(
        region=f.get("", "region", str, "east"),
        database=f.database_url("center.sqlite"),
        server=ServerSettings(
            host=f.get("server", "host", str, "127.0.0.1"),
            port=f.get("server", "port", int, 8401),
            tls=tls,
            log_level=f.get("server", "log_level", str, "warning"),
        ),
        jpki_ca=f.required_path("jpki", "ca"),
        ocsp_url=f.get("jpki", "ocsp_url", str).rstrip("/"),
        directory_url=f.get("jpki", "directory_url", str).rstrip("/"),
        lgpki_ca=f.required_path("lgpki", "ca"),
        client_cert=f.required_path("lgpki", "client_cert"),
        client_key=f.required_path("lgpki", "client_key"),
        issuers=issuers,
        issuer_retries=f.get("", "issuer_retries", int, 3),
        issuer_timeout=f.number("", "issuer_timeout", 10.0, positive=True, unit="seconds"),
        session_ttl_seconds=f.get("", "session_ttl_seconds", int, 600),
        settle_after_seconds=settle,
        antiforgery_master_key=f.optional_path("antiforgery", "master_key"),
        antiforgery_qr_keys=f.optional_path("antiforgery", "qr_keys"),
        antiforgery_qr_kid=f.get("antiforgery", "qr_kid", str, None),
    )
