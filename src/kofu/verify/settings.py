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

    SettingsError   (kofu.tomlconf) the file is missing, not TOML, or a field is
                    wrong: one line naming the file, the field and what was expected
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kofu.tomlconf import SettingsError, TomlFile
from kofu.web import ServerSettings, TlsServerSettings

MiB = 1024 * 1024
DEFAULT_MAX_UPLOAD_BYTES = 20 * MiB
# An A4 page at 600 dpi is 4961 x 7016 = 35 Mpx; 60 Mpx leaves room for a
# generous scan margin and refuses a decompression bomb long before it hurts.
DEFAULT_MAX_PIXELS = 60_000_000


__all__ = ["SettingsError", "UploadLimits", "VerifySettings", "load_settings"]


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


def load_settings(path: Path) -> VerifySettings:
    f = TomlFile.read(path)
    tls = None
    if f.get("", "tls", dict, None) is not None:
        tls = TlsServerSettings(cert=f.required_path("tls", "cert"), key=f.required_path("tls", "key"))
    server = ServerSettings(
        host=f.get("server", "host", str, "127.0.0.1"),
        port=f.get("server", "port", int, 8406),
        tls=tls,
        log_level=f.get("server", "log_level", str, "warning"),
    )
    f.table("keys")
    limits = UploadLimits(
        max_upload_bytes=f.get("limits", "max_upload_bytes", int, DEFAULT_MAX_UPLOAD_BYTES),
        max_pixels=f.get("limits", "max_pixels", int, DEFAULT_MAX_PIXELS),
        max_seconds=f.number("limits", "max_seconds", 60.0),
        max_memory_bytes=f.get("limits", "max_memory_bytes", int, 3 * 1024 * MiB),
        max_queue_seconds=f.number("limits", "max_queue_seconds", 30.0),
    )
    for name in ("max_upload_bytes", "max_pixels", "max_seconds", "max_memory_bytes", "max_queue_seconds"):
        if getattr(limits, name) <= 0:
            raise f.error(f"limits.{name}", f"must be positive, got {getattr(limits, name)!r}")
    return VerifySettings(
        center_url=f.get("center", "url", str, None),
        center_ca=f.optional_path("center", "ca"),
        server=server,
        master_key=f.required_path("keys", "master_key"),
        qr_keys=f.required_path("keys", "qr_keys"),
        limits=limits,
    )
