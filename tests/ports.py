"""Services on ports that may be taken between choosing and binding.

:func:`kofu.procs.free_port` gives a port that is free *now*; another process
(another test run on this machine, say) may take it before the service binds.
:func:`kofu.procs.start_service` then raises :class:`~kofu.procs.PortInUse`,
and the fixtures here start again on other ports instead of failing the test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kofu.procs import PortInUse, Service, free_port, start_service

T = TypeVar("T")
ATTEMPTS = 4


def retry_on_taken_port(start: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """``start()``, which takes fresh ports from free_port() on every call, again while a port was taken."""
    for attempt in range(attempts):
        try:
            return start()
        except PortInUse:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def start_on_a_free_port(
    name: str, argv: Callable[[int], list[str]], log: Path, env: dict[str, str] | None = None,
) -> Service:
    """``start_service(name, argv(port), port, log, env)`` on a free port, another one if it is taken meanwhile."""

    def start() -> Service:
        port = free_port()
        return start_service(name, argv(port), port, log, env)

    return retry_on_taken_port(start)
