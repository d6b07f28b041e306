"""The real-device tests skip with the reason on a machine without the Debian packages,
and fail instead under KOFU_REQUIRE_PCSC=1 / KOFU_REQUIRE_CUPS=1 (CI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.outcomes import Failed, Skipped

from tests import devices


@pytest.mark.parametrize("required", ["", "1"])
def test_a_missing_vpcd_driver_skips_or_fails_as_required(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           required: str) -> None:
    monkeypatch.setattr(devices, "VPCD_DRIVER", tmp_path / "no-libifdvpcd.so")
    monkeypatch.setenv("KOFU_REQUIRE_PCSC", required)
    with pytest.raises(Failed if required else Skipped, match="vsmartcard-vpcd"):
        devices.require_pcsc()


@pytest.mark.parametrize("required", ["", "1"])
def test_missing_cups_tools_skip_or_fail_as_required(monkeypatch: pytest.MonkeyPatch, required: str) -> None:
    monkeypatch.setattr(devices.shutil, "which", lambda _tool: None)
    monkeypatch.setattr(devices, "Path", lambda *_parts: Path("/nonexistent"))
    monkeypatch.setenv("KOFU_REQUIRE_CUPS", required)
    with pytest.raises(Failed if required else Skipped, match="Debian package cups"):
        devices.require_cups()
