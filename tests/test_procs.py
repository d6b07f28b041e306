"""Starting a service on a port someone else takes first (kofu.procs)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from kofu import procs
from kofu.procs import PortInUse, free_port, kofu_argv, start_service


def test_free_port_stays_out_of_the_kernels_ephemeral_range() -> None:
    low, high = procs._ephemeral_ports()
    handed = [free_port() for _ in range(200)]
    ports = set(handed)
    assert len(ports) == len(handed)  # never the same port twice: a world takes several at once
    assert all(not low <= p <= high and procs.port_is_free(p) for p in ports), (low, high, ports)


def test_free_port_skips_ports_browsers_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chromium refuses http://127.0.0.1:10080/ (net::ERR_UNSAFE_PORT): a verification site
    started there failed every browser test of a CI run."""
    monkeypatch.setattr(procs, "_ephemeral_ports", lambda: (32768, 60999))  # Linux's default
    picks = iter([10080, 10080, 10079])

    class Picker:
        def randrange(self, _low: int, _high: int) -> int:
            return next(picks)

    monkeypatch.setattr(procs.random, "SystemRandom", Picker)
    monkeypatch.setattr(procs, "port_is_free", lambda _port, host="127.0.0.1": True)
    monkeypatch.setattr(procs, "_HANDED_OUT", [])
    assert free_port() == 10079


def test_a_port_taken_after_the_check_is_port_in_use_not_a_stranger_greeted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port is free when checked and taken before the service binds: the readiness probe
    reaches the stranger, but the service is not ready until the listener is its own; it
    fails to bind, and the caller learns the port was taken, to try another."""
    import subprocess

    subprocess.run(kofu_argv("jpki", "init", str(tmp_path / "ca")), check=True, capture_output=True, timeout=120)
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen()
        port = stranger.getsockname()[1]
        monkeypatch.setattr(procs, "port_is_free", lambda _port, host="127.0.0.1": True)  # the check passed
        with pytest.raises(PortInUse) as e:
            start_service("jpki", kofu_argv("serve", "jpki", "--jpki", str(tmp_path / "ca"), "--port", str(port)),
                          port, tmp_path / "jpki.log", timeout=60)
    assert e.value.port == port and f"pid {os.getpid()} " in str(e.value.holder)
    assert "address already in use" in (tmp_path / "jpki.log").read_text().lower()  # it did try
