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
    languages = ["ja", "en", "ko", "zh-Hans", "zh-Hant", "es", "pt"]  # the first is the default
    idle_timeout = 120                # seconds without a touch: the session is wiped
    payment_timeout = 90              # seconds to put the money in; then it is returned

    [devices]
    card_reader = "virtual"           # "virtual" (a folder of card files, picked on screen)
                                      # or "pcsc" (a PC/SC reader through pcscd; docs/devices.md)
    card_dir = "cards"
    pcsc_reader = ""                  # pcsc: only readers whose name contains this ("": any)
    printer = "spool"                 # "spool" (a folder) or "lp" (CUPS)
    spool = "spool"                   # the kiosk's print spool (emptied after each job)
    tray = "tray"                     # spool printer: where the paper comes out (one PDF a copy)
    lp_queue = ""                     # lp printer: the CUPS queue (-d)
    lp_server = ""                    # lp printer: the CUPS server, host or socket ("": this machine's)
    lp_timeout = 120                  # lp printer: seconds a copy may take before it counts as failed
    receipt_dir = "receipts"          # the simulated receipt printer's paper
    fault_file = "out-of-service.json"  # written when the coin vendor fails holding a resident's
                                      # money: the kiosk takes no one until the staff clears it
                                      # (kofu kiosk clear-fault --config kiosk.toml)

Errors::

    SettingsError   (kofu.tomlconf) the file is missing, not TOML, or a field is
                    wrong: one line naming the file, the field and what was expected
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from kofu.tomlconf import SettingsError, TomlFile
from kofu.web import ServerSettings

DEFAULT_PORT = 8407
SUPPORTED_LANGUAGES = ("ja", "en", "ko", "zh-Hans", "zh-Hant", "es", "pt")  # kofu.kiosk.web.catalog.LANGUAGES


__all__ = ["KioskSettings", "SettingsError", "load_settings", "write_config"]


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
    card_reader: str = "virtual"
    pcsc_reader: str = ""
    lp_server: str = ""
    lp_timeout: float = 120.0
    fault_file: Path | None = None
    """The out-of-service marker (``None``: ``out-of-service.json`` beside the spool)."""

    @property
    def fault_path(self) -> Path:
        return self.fault_file or self.spool.parent / "out-of-service.json"


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


def load_settings(path: Path) -> KioskSettings:
    f = TomlFile.read(path)
    host = f.get("server", "host", str, "127.0.0.1")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise f.error("server.host", f"must be a loopback address (the kiosk's own browser), got {host!r}")
    server = ServerSettings(
        host=host,
        port=f.get("server", "port", int, DEFAULT_PORT),
        log_level=f.get("server", "log_level", str, "warning"),
    )
    f.table("center")
    center = CenterSettings(
        url=f.get("center", "url", str),
        ca=f.required_path("center", "ca"),
        client_cert=f.required_path("center", "client_cert"),
        client_key=f.required_path("center", "client_key"),
    )
    languages = tuple(f.get("kiosk", "languages", list, list(SUPPORTED_LANGUAGES)))
    unknown = [lang for lang in languages if lang not in SUPPORTED_LANGUAGES]
    if unknown or not languages:
        raise f.error("kiosk.languages", f"must be a non-empty list of {', '.join(SUPPORTED_LANGUAGES)}; "
                                         f"got {list(languages)!r}")
    printer = f.get("devices", "printer", str, "spool")
    if printer not in ("spool", "lp"):
        raise f.error("devices.printer", f"must be \"spool\" or \"lp\", got {printer!r}")
    card_reader = f.get("devices", "card_reader", str, "virtual")
    if card_reader not in ("virtual", "pcsc"):
        raise f.error("devices.card_reader", f"must be \"virtual\" (a folder of card files) or \"pcsc\" "
                                             f"(a PC/SC reader), got {card_reader!r}")
    devices = DeviceSettings(
        card_dir=f.required_path("devices", "card_dir", "cards"),
        spool=f.required_path("devices", "spool", "spool"),
        tray=f.required_path("devices", "tray", "tray"),
        receipt_dir=f.required_path("devices", "receipt_dir", "receipts"),
        printer=printer,
        lp_queue=f.get("devices", "lp_queue", str, ""),
        card_reader=card_reader,
        pcsc_reader=f.get("devices", "pcsc_reader", str, ""),
        lp_server=f.get("devices", "lp_server", str, ""),
        lp_timeout=f.number("devices", "lp_timeout", 120.0, positive=True, unit="seconds"),
        fault_file=f.required_path("devices", "fault_file", "out-of-service.json"),
    )
    if printer == "lp" and not devices.lp_queue:
        raise f.error("devices.lp_queue", "is required with printer = \"lp\" (a CUPS queue name)")
    return KioskSettings(
        server=server,
        center=center,
        devices=devices,
        kiosk_id=f.get("kiosk", "id", str, "kiosk-1"),
        store=f.get("kiosk", "store", str, ""),
        languages=languages,
        idle_timeout=f.number("kiosk", "idle_timeout", 120.0, positive=True, unit="seconds"),
        payment_timeout=f.number("kiosk", "payment_timeout", 90.0, positive=True, unit="seconds"),
    )


def write_config(path: Path, *, port: int, center_url: str, tls: dict[str, str], card_dir: Path,
                 store: str, idle_timeout: float = 120, payment_timeout: float = 90,
                 card_reader: str = "virtual", pcsc_reader: str = "", printer: str = "spool",
                 lp_queue: str = "", lp_server: str = "", lp_timeout: float = 120) -> Path:
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
languages = ["ja", "en", "ko", "zh-Hans", "zh-Hant", "es", "pt"]
idle_timeout = {idle_timeout}
payment_timeout = {payment_timeout}

[devices]
card_reader = {s(card_reader)}
card_dir = {s(card_dir)}
pcsc_reader = {s(pcsc_reader)}
printer = {s(printer)}
spool = {s(folder / "spool")}
tray = {s(folder / "tray")}
lp_queue = {s(lp_queue)}
lp_server = {s(lp_server)}
lp_timeout = {lp_timeout}
receipt_dir = {s(folder / "receipts")}
fault_file = {s(folder / "out-of-service.json")}
""",
        encoding="utf-8",
    )
    return path
