"""Verification site configuration, read once at start-up from a TOML file.

>>> settings = load_settings(Path("verify.toml"))

The file (relative paths are relative to the file's folder)::

    [server]
    host = "127.0.0.1"
    port = 8406
    log_level = "warning"

    [tls]                          # omit for plain HTTP (tests, a site behind a TLS proxy)
    cert = "tls/verify.pem"
    key = "tls/verify.key"

    [keys]
    master_key = "keys/scramble-master.key"   # the center's scramble master key (secret)
    qr_keys = "keys/qr"                       # folder of the center's QR signing keys; only
                                              # the published public keys are read from it

    [center]                       # optional: ask the center whether a serial was voided
    url = "https://127.0.0.1:8401"
    ca = "tls/ca-bundle.pem"       # trusts the center's TLS certificate

    [limits]
    max_upload_bytes = 20971520    # per file (20 MiB)
    max_pixels = 60000000          # decoded size of one scan (image bombs are refused)
    max_seconds = 60               # one verification, wall clock (its worker process is killed past it)
    max_memory_bytes = 3221225472  # one verification's address space (3 GiB, resource.setrlimit)
    max_queue_seconds = 30         # waiting for a free slot before the upload is read; then 503

The site is public (any receiver may upload), so there is no client
certificate; TLS is plain server TLS.

Errors::

    SettingsError   the file is missing, not TOML, or a field is wrong (named)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kofu import tomlconf
from kofu.web import ServerSettings, TlsServerSettings

MiB = 1024 * 1024
DEFAULT_MAX_UPLOAD_BYTES = 20 * MiB
# An A4 page at 600 dpi is 4961 x 7016 = 35 Mpx; 60 Mpx leaves room for a
# generous scan margin and refuses a decompression bomb long before it hurts.
DEFAULT_MAX_PIXELS = 60_000_000


class SettingsError(Exception):
    """The configuration cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class UploadLimits:
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    """Largest accepted file, per uploaded file; checked while the body streams in."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """Largest accepted decoded image (width x height), passed to ``load_scan``."""
    max_seconds: float = 60.0
    """One verification's wall-clock limit; its worker process is killed past it."""
    max_memory_bytes: int = 3 * 1024 * MiB
    """One verification's address space (RLIMIT_AS of its worker process)."""
    max_queue_seconds: float = 30.0
    """How long a request waits for a free slot (before its upload is read); then 503."""


@dataclass(frozen=True)
class VerifySettings:
    server: ServerSettings
    master_key: Path
    """The center's scramble master key; the per-serial keys are derived from it."""
    qr_keys: Path
    """Folder holding the center's QR signing keys; the site reads only the public set."""
    limits: UploadLimits = UploadLimits()
    center_url: str | None = None
    """The center whose ``/v1/certificates/{serial}/status`` says whether a serial was voided."""
    center_ca: Path | None = None


def _get(table: dict[str, Any], key: str, kind: type, where: str, default: Any = ...) -> Any:
    return tomlconf.get(table, key, kind, where, default, error=SettingsError)


def _number(table: dict[str, Any], key: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(f"limits.{key} must be a number, got {value!r}")
    return float(value)


def load_settings(path: Path) -> VerifySettings:
    raw, resolve = tomlconf.read(path, SettingsError)
    srv = _get(raw, "server", dict, str(path), {})
    tls_raw = _get(raw, "tls", dict, str(path), None)
    tls = None
    if tls_raw is not None:
        tls = TlsServerSettings(
            cert=resolve(_get(tls_raw, "cert", str, "tls")),
            key=resolve(_get(tls_raw, "key", str, "tls")),
        )
    server = ServerSettings(
        host=_get(srv, "host", str, "server", "127.0.0.1"),
        port=_get(srv, "port", int, "server", 8406),
        tls=tls,
        log_level=_get(srv, "log_level", str, "server", "warning"),
    )
    keys = _get(raw, "keys", dict, str(path))
    lim = _get(raw, "limits", dict, str(path), {})
    limits = UploadLimits(
        max_upload_bytes=_get(lim, "max_upload_bytes", int, "limits", DEFAULT_MAX_UPLOAD_BYTES),
        max_pixels=_get(lim, "max_pixels", int, "limits", DEFAULT_MAX_PIXELS),
        max_seconds=_number(lim, "max_seconds", 60.0),
        max_memory_bytes=_get(lim, "max_memory_bytes", int, "limits", 3 * 1024 * MiB),
        max_queue_seconds=_number(lim, "max_queue_seconds", 30.0),
    )
    if min(limits.max_upload_bytes, limits.max_pixels, limits.max_seconds, limits.max_memory_bytes,
           limits.max_queue_seconds) <= 0:
        raise SettingsError("limits: every limit must be positive")
    center = _get(raw, "center", dict, str(path), {})
    center_url = _get(center, "url", str, "center", None)
    center_ca = _get(center, "ca", str, "center", None)
    return VerifySettings(
        center_url=center_url,
        center_ca=resolve(center_ca) if center_ca is not None else None,
        server=server,
        master_key=resolve(_get(keys, "master_key", str, "keys")),
        qr_keys=resolve(_get(keys, "qr_keys", str, "keys")),
        limits=limits,
    )
