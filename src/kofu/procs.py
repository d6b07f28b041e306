"""Start Kofu services as real child processes and wait until they answer.

Used by ``kofu demo``, the end-to-end tests and the benchmarks, so that all of
them run the services exactly as an operator would: ``kofu serve …`` in its
own process, on a loopback port, with its own log file.

A service never outlives the process that started it: each child asks the
kernel for SIGTERM when its parent goes (``PR_SET_PDEATHSIG``), however the
parent goes (SIGKILL included), and a service that finds its port already
taken is refused before it starts (:class:`PortInUse`, naming the holder when
``/proc`` says who it is).

>>> svc = start_service("ocsp", ["kofu", "serve", "ocsp", ...], port=8403, log=Path("ocsp.log"))
>>> svc.stop()
"""

from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class ServiceFailedToStart(RuntimeError):
    """A service exited or did not open its port in time; the message holds its log tail."""


class PortInUse(ServiceFailedToStart):
    """The port a service needs is taken; the message names the holder when it can be known."""

    def __init__(self, port: int, holder: str | None) -> None:
        self.port = port
        self.holder = holder
        super().__init__(
            f"port {port} on 127.0.0.1 is already in use"
            + (f" by {holder}" if holder else " (by a process this user cannot see)")
        )


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could listen on ``host:port`` now.

    SO_REUSEADDR as the services (uvicorn) set it: a port left in TIME_WAIT by
    a previous run counts as free, a listening socket does not.
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _socket_inodes(port: int, *, listening: bool = False) -> list[str]:
    """Inodes of sockets bound to local ``port`` (/proc/net/tcp and tcp6), listeners first
    (only listeners with ``listening``)."""
    found: list[tuple[bool, str]] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local, state, inode = fields[1], fields[3], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == port and inode != "0" and (state == "0A" or not listening):
                found.append((state != "0A", inode))  # 0A: LISTEN
    return [inode for _, inode in sorted(found)]


def port_holder(port: int) -> str | None:
    """Who holds ``port`` ("pid 1234 (python -m kofu serve ocsp …)"), or None when unknown.

    Reads /proc/net/tcp{,6} for the socket and /proc/*/fd for its owner; only
    this user's processes (and everyone's, as root) can be seen.
    """
    inodes = _socket_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) not in wanted:
                    continue
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            cmd = " ".join(a.decode(errors="replace") for a in argv if a)
            return f"pid {proc.name} ({cmd[:120]})"
    return None


# Linux prctl(2): PR_SET_PDEATHSIG asks for a signal when the parent dies.
# Called through ctypes because no maintained library serves: python-prctl
# (last release 2020) and prctl (2010) are C extensions that need libcap
# headers to build, pyprctl is itself a thin ctypes wrapper, and neither
# psutil nor subprocess offers it. One call does not justify a dependency.
_PR_SET_PDEATHSIG = 1


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGTERM when this process dies.

    The signal fires when the *thread* that forked the child exits, so
    services must be started from a thread that lives as long as they should
    (the main thread in ``kofu demo``). None off Linux.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()
    sig = int(signal.SIGTERM)

    def preexec() -> None:
        # Runs in the child between fork and exec: only the prctl call and a
        # check that the parent did not die before it took effect.
        if prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def _ephemeral_ports() -> tuple[int, int]:
    """The range the kernel takes the local ports of outgoing connections from."""
    try:
        low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default
    return low, high


BROWSER_BLOCKED_PORTS: frozenset[int] = frozenset({10080})
"""Ports in free_port()'s range that browsers refuse to load (Chromium's and Firefox's
restricted ports, net::ERR_UNSAFE_PORT: 10080 is Amanda's): a kiosk or verification
page served there could not be opened. The rest of the lists lie below 10000."""


def free_port() -> int:
    """A loopback port that is free now, for a service about to be started on it.

    Taken at random below the kernel's ephemeral range where that leaves room
    (10000 up to it): a port the kernel handed out (bind to port 0) is where
    it also puts the local end of outgoing connections, which may take it
    before the service binds. Free now is not free later: another process may
    still take it first, and :func:`start_service` then raises
    :class:`PortInUse`, so that the caller can try another.
    """
    low, _high = _ephemeral_ports()
    if low - 10000 >= 1000:
        rng = random.SystemRandom()
        for _ in range(100):
            port = rng.randrange(10000, low)
            # Not one this process handed out lately: a caller taking several ports at
            # once (a world of services) must get different ones, none bound yet.
            if port not in _HANDED_OUT and port not in BROWSER_BLOCKED_PORTS and port_is_free(port):
                _HANDED_OUT.append(port)
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_HANDED_OUT: deque[int] = deque(maxlen=1000)
"""The ports :func:`free_port` gave out last in this process."""


def _listens(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` holds the listening socket on ``port``; None when /proc cannot tell."""
    wanted = {f"socket:[{i}]" for i in _socket_inodes(port, listening=True)}
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink(fd) in wanted:
                return True
        except OSError:
            continue
    return False


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
    """Start ``argv``, logging to ``log``, and wait until 127.0.0.1:``port`` accepts.

    Raises :class:`PortInUse` before starting anything when the port is taken
    (otherwise the readiness probe would greet the stranger holding it), and
    also when it is taken between that check and the service's bind: the
    service is ready only once the listening socket on the port is its own. The
    child runs in its own session, so a Ctrl-C at the terminal reaches only
    its supervisor, which stops the services in order; it gets SIGTERM when
    the supervisor dies.
    """
    if not port_is_free(port):
        raise PortInUse(port, port_holder(port))
    log.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log, "ab")
    full_env = dict(os.environ)
    full_env.update(env or {})
    process = subprocess.Popen(
        argv,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=full_env,
        start_new_session=True,
        # Not thread-safe in general; here only prctl and getppid run in the child.
        preexec_fn=_pdeathsig_preexec(),
    )
    service = Service(name, port, log, process, log_file)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            service.stop()
            tail = log_tail(log)
            if "address already in use" in tail.lower():  # taken since the check above
                raise PortInUse(port, port_holder(port))
            raise ServiceFailedToStart(f"{name} exited with status {process.returncode}:\n{tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pass
        except OSError:
            time.sleep(0.05)
            continue
        if _listens(process.pid, port) is not False:
            return service
        time.sleep(0.05)  # another process answers on the port: ours will fail to bind, or get it
    service.stop()
    raise ServiceFailedToStart(f"{name} did not open port {port} in {timeout:.0f} s:\n{log_tail(log)}")
