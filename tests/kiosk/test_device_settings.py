"""kiosk.toml's [devices]: the real drivers are chosen there, and a wrong value is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from kofu.kiosk.web.devices import LpPrinter, PcscCardSlot, SpoolPrinter, VirtualCardSlot
from kofu.kiosk.web.settings import SettingsError, load_settings, write_config

TLS = {"ca": "ca.pem", "client_cert": "client.pem", "client_key": "client.key"}


def config(tmp_path: Path, **devices: object) -> Path:
    return write_config(tmp_path / "kiosk.toml", port=8407, center_url="https://127.0.0.1:8400", tls=TLS,
                        card_dir=tmp_path / "cards", store="store-0001", **devices)  # type: ignore[arg-type]


def kiosk_devices(path: Path) -> tuple[object, object]:
    from kofu.kiosk.web.app import Kiosk

    k = Kiosk(load_settings(path), center=object())
    return k.slot, k.printer


def test_the_simulated_devices_are_the_default(tmp_path: Path) -> None:
    slot, printer = kiosk_devices(config(tmp_path))
    assert isinstance(slot, VirtualCardSlot) and isinstance(printer, SpoolPrinter)


def test_the_pcsc_reader_and_the_cups_printer_are_chosen_in_devices(tmp_path: Path) -> None:
    path = config(tmp_path, card_reader="pcsc", pcsc_reader="Virtual PCD 00 00", printer="lp",
                  lp_queue="certificates", lp_server="/run/cups/cups.sock", lp_timeout=30)
    d = load_settings(path).devices
    assert (d.card_reader, d.pcsc_reader, d.printer, d.lp_queue, d.lp_server, d.lp_timeout) == (
        "pcsc", "Virtual PCD 00 00", "lp", "certificates", "/run/cups/cups.sock", 30)
    slot, printer = kiosk_devices(path)
    assert isinstance(slot, PcscCardSlot) and slot.reader == "Virtual PCD 00 00"
    assert isinstance(printer, LpPrinter)
    assert (printer.queue, printer.server, printer.timeout) == ("certificates", "/run/cups/cups.sock", 30)


@pytest.mark.parametrize(("devices", "field"), [
    ({"card_reader": "usb"}, "devices.card_reader"),
    ({"printer": "lp"}, "devices.lp_queue"),  # lp without a queue
    ({"printer": "lp", "lp_queue": "q", "lp_timeout": 0}, "devices.lp_timeout"),
    ({"printer": "inkjet"}, "devices.printer"),
])
def test_a_wrong_device_setting_names_its_field(tmp_path: Path, devices: dict[str, object], field: str) -> None:
    with pytest.raises(SettingsError, match=field.replace(".", r"\.")):
        load_settings(config(tmp_path, **devices))
