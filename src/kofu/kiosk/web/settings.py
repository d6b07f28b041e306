"""The touch kiosk's configuration, read once at start-up from a TOML file.

>>> settings = load_settings(Path("kiosk.toml"))

The file (relative paths are relative to the file's folder)::

    [server]
    host = "127.0.0.1"            # loopback only: the browser runs on the kiosk itself
    port = 8407
    log_level = "warning"

    [center]
    url = "https://127.0.0.1:8400"
    ca = "tls/ca-bundle.pem"          # trusts the center's server certificate
    client_cert = "tls/client.pem"    # the store operator's certificate (mutual TLS)
    client_key = "tls/client.key"

    [kiosk]
    id = "kiosk-1"
    store = "store-0001"
    languages = ["ja", "en", "ko"]    # the first is the default
    idle_timeout = 120                # seconds without a touch: the session is wiped
    payment_timeout = 90              # seconds to put the money in; then it is returned

    [devices]
    card_reader = "virtual"           # a folder of card files, picked on screen
    card_dir = "cards"
    printer = "spool"                 # "spool" (a folder) or "lp" (CUPS)
    spool = "spool"                   # the kiosk's print spool (emptied after each job)
    tray = "tray"                     # spool printer: where the paper comes out (one PDF a copy)
    lp_queue = ""                     # lp printer: the CUPS queue (-d)
    receipt_dir = "receipts"          # the simulated receipt printer's paper

Errors::

    SettingsError   the file is missing, not TOML, or a field is wrong (named)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kofu import tomlconf
from kofu.web import ServerSettings

DEFAULT_PORT = 8407
SUPPORTED_LANGUAGES = ("ja", "en", "ko")


class SettingsError(Exception):
    """The configuration cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class CenterSettings:
    url: str
    ca: Path
    client_cert: Path
    client_key: Path


@dataclass(frozen=True)
class DeviceSettings:
    card_dir: Path
    spool: Path
    tray: Path
    receipt_dir: Path
    printer: str = "spool"
    lp_queue: str = ""


@dataclass(frozen=True)
class KioskSettings:
    server: ServerSettings
    center: CenterSettings
    devices: DeviceSettings
    kiosk_id: str = "kiosk-1"
    store: str = ""
    languages: tuple[str, ...] = SUPPORTED_LANGUAGES
    idle_timeout: float = 120.0
    payment_timeout: float = 90.0


def _get(table: dict[str, Any], key: str, kind: type, where: str, default: Any = ...) -> Any:
    return tomlconf.get(table, key, kind, where, default, error=SettingsError)


def _number(table: dict[str, Any], key: str, where: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SettingsError(f"{where}.{key} must be a positive number of seconds, got {value!r}")
    return float(value)


def load_settings(path: Path) -> KioskSettings:
    raw, resolve = tomlconf.read(path, SettingsError)
    srv = _get(raw, "server", dict, str(path), {})
    host = _get(srv, "host", str, "server", "127.0.0.1")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise SettingsError(f"server.host must be a loopback address (the kiosk's own browser), got {host!r}")
    server = ServerSettings(
        host=host,
        port=_get(srv, "port", int, "server", DEFAULT_PORT),
        log_level=_get(srv, "log_level", str, "server", "warning"),
    )
    c = _get(raw, "center", dict, str(path))
    center = CenterSettings(
        url=_get(c, "url", str, "center"),
        ca=resolve(_get(c, "ca", str, "center")),
        client_cert=resolve(_get(c, "client_cert", str, "center")),
        client_key=resolve(_get(c, "client_key", str, "center")),
    )
    k = _get(raw, "kiosk", dict, str(path), {})
    languages = tuple(_get(k, "languages", list, "kiosk", list(SUPPORTED_LANGUAGES)))
    unknown = [lang for lang in languages if lang not in SUPPORTED_LANGUAGES]
    if unknown or not languages:
        raise SettingsError(f"kiosk.languages: {unknown or 'empty'}; supported: {', '.join(SUPPORTED_LANGUAGES)}")
    d = _get(raw, "devices", dict, str(path), {})
    printer = _get(d, "printer", str, "devices", "spool")
    if printer not in ("spool", "lp"):
        raise SettingsError(f"devices.printer must be \"spool\" or \"lp\", got {printer!r}")
    if _get(d, "card_reader", str, "devices", "virtual") != "virtual":
        raise SettingsError("devices.card_reader: only \"virtual\" (a folder of card files) is built")
    devices = DeviceSettings(
        card_dir=resolve(_get(d, "card_dir", str, "devices", "cards")),
        spool=resolve(_get(d, "spool", str, "devices", "spool")),
        tray=resolve(_get(d, "tray", str, "devices", "tray")),
        receipt_dir=resolve(_get(d, "receipt_dir", str, "devices", "receipts")),
        printer=printer,
        lp_queue=_get(d, "lp_queue", str, "devices", ""),
    )
    if printer == "lp" and not devices.lp_queue:
        raise SettingsError("devices.lp_queue is required with printer = \"lp\"")
    return KioskSettings(
        server=server,
        center=center,
        devices=devices,
        kiosk_id=_get(k, "id", str, "kiosk", "kiosk-1"),
        store=_get(k, "store", str, "kiosk", ""),
        languages=languages,
        idle_timeout=_number(k, "idle_timeout", "kiosk", 120.0),
        payment_timeout=_number(k, "payment_timeout", "kiosk", 90.0),
    )


def write_config(path: Path, *, port: int, center_url: str, tls: dict[str, str], card_dir: Path,
                 store: str, idle_timeout: float = 120, payment_timeout: float = 90) -> Path:
    """Write a kiosk.toml beside its device folders (the demo and the tests use it)."""
    import json

    def s(p: object) -> str:
        return json.dumps(str(p))  # a JSON string is a valid TOML basic string

    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""# Kiosk (the touch screen residents use)
[server]
host = "127.0.0.1"
port = {port}
log_level = "info"

[center]
url = {s(center_url)}
ca = {s(tls["ca"])}
client_cert = {s(tls["client_cert"])}
client_key = {s(tls["client_key"])}

[kiosk]
id = "kiosk-1"
store = {s(store)}
languages = ["ja", "en", "ko"]
idle_timeout = {idle_timeout}
payment_timeout = {payment_timeout}

[devices]
card_reader = "virtual"
card_dir = {s(card_dir)}
printer = "spool"
spool = {s(folder / "spool")}
tray = {s(folder / "tray")}
receipt_dir = {s(folder / "receipts")}
""",
        encoding="utf-8",
    )
    return path
