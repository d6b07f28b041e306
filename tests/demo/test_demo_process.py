"""``kofu demo`` as a user runs it: a real process, its services its children.

One world is built (10–20 s) and started three times: killed with SIGKILL
(while it runs, a second demo on the same ports must refuse to start), then
started at night and hung up (SIGHUP). After each death no service of it may
be left: no process alive, every port free. Loopback only; every wait is
bounded.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kofu.clock import JST
from kofu.procs import PortInUse, kofu_argv, port_is_free, start_service
from tests.clocks import business_morning

pytestmark = pytest.mark.slow

RUNNING = "Kofu demo running"
SERVICES = 6  # ocsp, jpki, issuer, center, verify, kiosk
START_TIMEOUT = 240.0  # building the world takes 10-20 s alone; the machine is shared


def _free_base() -> int:
    """A port base whose ports are free now."""
    rng = random.Random()
    for _ in range(100):
        base = rng.randrange(20000, 60000, 10)
        if all(port_is_free(p) for p in range(base, base + SERVICES)):
            return base
    raise RuntimeError(f"no {SERVICES} free consecutive ports found")


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    """Running (a zombie left to an init that does not reap counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Demo:
    """``kofu demo`` in its own process, its output collected as it comes."""

    def __init__(self, root: Path, base: int, clock: datetime) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("KOFU_CLOCK", "MAKELEVEL")}
        self.argv = kofu_argv("demo", "--data", str(root), "--port-base", str(base), "--clock", clock.isoformat())
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        self.output: list[str] = []
        self.ports = list(range(base, base + SERVICES))
        self.services: list[int] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.decode(errors="replace"))

    @property
    def text(self) -> str:
        return "".join(self.output)

    def wait_running(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while RUNNING not in self.text:
            assert self.process.poll() is None, f"demo exited {self.process.returncode}:\n{self.text}"
            assert time.monotonic() < deadline, f"demo not running after {START_TIMEOUT} s:\n{self.text}"
            time.sleep(0.2)
        self.services = _children(self.process.pid)
        # Honest only if it found them: the demo's services are its direct children.
        assert len(self.services) == SERVICES, (self.services, self.text)
        assert not any(port_is_free(p) for p in self.ports)

    def assert_nothing_left(self, within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            left = [p for p in self.services if _alive(p)]
            taken = [p for p in self.ports if not port_is_free(p)]
            if not left and not taken:
                return
            time.sleep(0.2)
        pytest.fail(f"{within:.0f} s after the demo died: services alive {left}, ports taken {taken}")

    def cleanup(self) -> None:
        """Whatever the test found, leave nothing behind."""
        for pid in [self.process.pid, *self.services]:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.process.wait(10)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """A demo world's folder and port base (the first test builds it; the others reuse it)."""
    yield tmp_path_factory.mktemp("demo") / "var", _free_base()


def test_sigkill_leaves_no_service_and_taken_ports_refuse_a_second_demo(
    world: tuple[Path, int], tmp_path: Path
) -> None:
    root, base = world
    demo = Demo(root, base, business_morning())
    try:
        demo.wait_running()
        assert "Closed at the demo's clock" not in demo.text  # a business morning: everything open
        # The touch kiosk: its URL in the banner, its first screen there.
        assert f"kiosk   http://127.0.0.1:{base + 5}" in demo.text
        import httpx

        assert "証明書交付サービス" in httpx.get(f"http://127.0.0.1:{base + 5}/", timeout=10).text

        # A second demo on the same ports: refused before it announces or writes anything.
        second_root = tmp_path / "second"
        second = subprocess.run(
            kofu_argv("demo", "--data", str(second_root), "--port-base", str(base),
                      "--clock", business_morning().isoformat()),
            capture_output=True, text=True, timeout=60,
        )
        assert second.returncode != 0
        assert RUNNING not in second.stdout + second.stderr
        assert "Building" not in second.stdout
        assert not (second_root / "demo.json").exists()
        # Named with the first demo's center process as its holder.
        assert any(f"{base} (center): held by pid {pid} (" in second.stderr for pid in demo.services), second.stderr
        assert "--port-base" in second.stderr

        demo.process.send_signal(signal.SIGKILL)
        demo.process.wait(10)
        demo.assert_nothing_left()
    finally:
        demo.cleanup()


def test_at_night_the_banner_says_what_is_closed_and_sighup_stops_everything(world: tuple[Path, int]) -> None:
    root, base = world
    # 23:30 on a business day, after the world's cards were made.
    night = business_morning().replace(hour=23, minute=30)
    demo = Demo(root, base, night)
    try:
        demo.wait_running()
        text = demo.text
        assert f"Closed at the demo's clock, {night:%Y-%m-%d}" in text and "23:30 JST" in text, text
        next_day = (night + timedelta(days=1)).strftime("%Y-%m-%d")
        assert f"every certificate (加東市, 三木市): the center serves 06:30–23:00; open again {next_day}" in text
        # The one line that starts it on an in-hours clock: the user's arguments, a business morning.
        hint = next(line.strip() for line in text.splitlines() if line.strip().startswith("kofu demo"))
        assert hint.startswith(f"kofu demo --data {root} --port-base {base} --clock ")
        hinted = datetime.fromisoformat(hint.rsplit(" ", 1)[1])
        assert hinted > night and hinted.astimezone(JST).hour == 10

        demo.process.send_signal(signal.SIGHUP)
        assert demo.process.wait(30) == 0  # the demo stopped its services itself
        demo.assert_nothing_left()
    finally:
        demo.cleanup()


def test_clock_needs_an_offset(tmp_path: Path) -> None:
    run = subprocess.run(kofu_argv("demo", "--data", str(tmp_path / "d"), "--clock", "2026-12-07T10:00"),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "--clock: '2026-12-07T10:00' needs an offset" in run.stderr
    assert not (tmp_path / "d").exists()


def test_a_taken_port_is_refused_naming_its_holder(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortInUse) as e:
            start_service("x", kofu_argv("serve", "ocsp", "--port", str(port)), port, tmp_path / "x.log")
    assert f"port {port} on 127.0.0.1 is already in use by pid {os.getpid()} " in str(e.value)
    assert not (tmp_path / "x.log").exists()  # nothing was started


def test_sigterm_stops_everything(world: tuple[Path, int]) -> None:
    root, base = world
    demo = Demo(root, base, business_morning())
    try:
        demo.wait_running()
        demo.process.send_signal(signal.SIGTERM)
        assert demo.process.wait(30) == 0
        demo.assert_nothing_left()
    finally:
        demo.cleanup()
