"""The touch kiosk's simulated devices."""

from __future__ import annotations

from pathlib import Path

import pytest

from kofu.kiosk.web.devices import DeviceError, SimulatedCoinVendor, SpoolPrinter


def test_the_coin_vendor_keeps_the_fee_and_pays_out_change_or_everything_back() -> None:
    v = SimulatedCoinVendor()
    with pytest.raises(DeviceError):
        v.insert(20)  # no 20-yen piece
    v.insert(100)
    v.insert(1000)
    with pytest.raises(DeviceError):
        v.collect(2000)
    assert v.collect(400) == 700 and v.kept == 400 and v.inserted() == 0
    v.insert(500)
    assert v.refund() == 500 and v.refund() == 0
    assert v.paid_out == [700, 500]


def test_the_spool_printer_leaves_its_spool_empty(tmp_path: Path) -> None:
    p = SpoolPrinter(tmp_path / "spool", tmp_path / "tray")
    seen: list[int] = []
    p.print_job(b"%PDF-1.7 job", 3, seen.append)
    assert seen == [1, 2, 3]
    assert not list((tmp_path / "spool").iterdir())
    assert [f.read_bytes() for f in sorted((tmp_path / "tray").iterdir())] == [b"%PDF-1.7 job"] * 3


def test_a_spool_printer_that_cannot_print_leaves_nothing_in_its_spool(tmp_path: Path) -> None:
    p = SpoolPrinter(tmp_path / "spool", tmp_path / "tray")
    (tmp_path / "tray").rmdir()
    (tmp_path / "tray").write_bytes(b"")
    with pytest.raises(OSError):
        p.print_job(b"%PDF-1.7 job", 1, lambda n: None)
    assert not list((tmp_path / "spool").iterdir())
