"""Start Kofu services as real child processes and wait until they answer.

Used by ``kofu demo``, the end-to-end tests and the benchmarks, so that all of
them run the services exactly as an operator would: ``kofu serve …`` in its
own process, on a loopback port, with its own log file.

>>> svc = start_service("ocsp", ["kofu", "serve", "ocsp", ...], port=8403, log=Path("ocsp.log"))
>>> svc.stop()
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


class ServiceFailedToStart(RuntimeError):
    """A service exited or did not open its port in time; the message holds its log tail."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kofu_argv(*args: str) -> list[str]:
    """The argv that runs ``kofu`` with this interpreter (works without the console script)."""
    return [sys.executable, "-m", "kofu", *args]


@dataclass
class Service:
    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]
    _log_file: object = field(repr=False, default=None)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]

    def kill(self) -> None:
        """Kill without a clean shutdown (to test crash behaviour)."""
        self.process.kill()
        self.process.wait(10)


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_service(
    name: str,
    argv: list[str],
    port: int,
    log: Path,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Service:
    """Start ``argv``, logging to ``log``, and wait until 127.0.0.1:``port`` accepts."""
    log.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log, "ab")
    full_env = dict(os.environ)
    full_env.update(env or {})
    process = subprocess.Popen(
        argv, stdout=log_file, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
    )
    service = Service(name, port, log, process, log_file)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            service.stop()
            raise ServiceFailedToStart(
                f"{name} exited with status {process.returncode}:\n{log_tail(log)}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return service
        except OSError:
            time.sleep(0.05)
    service.stop()
    raise ServiceFailedToStart(f"{name} did not open port {port} in {timeout:.0f} s:\n{log_tail(log)}")
