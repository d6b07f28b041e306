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

Relative paths are taken relative to the TOML file's folder.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kofu.domain.ids import MunicipalityCode, validate_municipality_code
from kofu.web import ServerSettings, TlsServerSettings


class SettingsError(ValueError):
    """The configuration file is missing a value or has a wrong one; the message names it."""


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
    base = path.parent.resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise SettingsError(f"cannot read center settings {path}: {e}") from e

    def req(table: dict[str, Any], key: str, where: str) -> Any:
        if key not in table:
            raise SettingsError(f"{path}: missing {where}{key}")
        return table[key]

    def p(value: object) -> Path:
        q = Path(str(value))
        return q if q.is_absolute() else base / q

    server = dict(raw.get("server", {}))
    tls_raw = raw.get("tls")
    tls = None
    if tls_raw:
        tls = TlsServerSettings(
            cert=p(req(tls_raw, "cert", "tls.")),
            key=p(req(tls_raw, "key", "tls.")),
            client_ca=p(tls_raw["client_ca"]) if "client_ca" in tls_raw else None,
            # The kiosk API demands a store certificate per route; the published QR keys
            # and the OpenAPI document are public.
            client_cert_optional=True,
        )
    jpki = req(raw, "jpki", "")
    lgpki = req(raw, "lgpki", "")
    af = dict(raw.get("antiforgery", {}))
    if af and not {"master_key", "qr_keys", "qr_kid"} <= set(af):
        raise SettingsError(f"{path}: [antiforgery] needs master_key, qr_keys and qr_kid")
    issuers: dict[MunicipalityCode, str] = {}
    for code, url in dict(raw.get("issuers", {})).items():
        try:
            issuers[validate_municipality_code(code)] = str(url).rstrip("/")
        except ValueError as e:
            raise SettingsError(f"{path}: issuers: {e}") from e
    return CenterSettings(
        region=str(raw.get("region", "east")),
        database=str(raw.get("database", {}).get("url", f"sqlite:///{base / 'center.sqlite'}")),
        server=ServerSettings(
            host=str(server.get("host", "127.0.0.1")),
            port=int(server.get("port", 8401)),
            tls=tls,
            log_level=str(server.get("log_level", "warning")),
        ),
        jpki_ca=p(req(jpki, "ca", "jpki.")),
        ocsp_url=str(req(jpki, "ocsp_url", "jpki.")).rstrip("/"),
        directory_url=str(req(jpki, "directory_url", "jpki.")).rstrip("/"),
        lgpki_ca=p(req(lgpki, "ca", "lgpki.")),
        client_cert=p(req(lgpki, "client_cert", "lgpki.")),
        client_key=p(req(lgpki, "client_key", "lgpki.")),
        issuers=issuers,
        issuer_retries=int(raw.get("issuer_retries", 3)),
        issuer_timeout=float(raw.get("issuer_timeout", 10.0)),
        session_ttl_seconds=int(raw.get("session_ttl_seconds", 600)),
        settle_after_seconds=int(raw["settle_after_seconds"]) if "settle_after_seconds" in raw else None,
        antiforgery_master_key=p(af["master_key"]) if "master_key" in af else None,
        antiforgery_qr_keys=p(af["qr_keys"]) if "qr_keys" in af else None,
        antiforgery_qr_kid=str(af["qr_kid"]) if "qr_kid" in af else None,
    )
