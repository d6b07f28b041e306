"""One verification in a child process the site can kill (finding 4 of issue 13).

A scan is untrusted input: a 10 KB PDF whose content stream decompresses to
a huge drawing kept pdfium busy for minutes and hundreds of megabytes, held
the process's pdfium lock (so every other PDF verification waited), kept
running after the client left, and a thread cannot be stopped, so the
process ignored SIGTERM. Here each verification runs in a child process:

- ``resource.setrlimit`` caps its address space (RLIMIT_AS: an allocation
  past it fails inside the child) and its CPU seconds (RLIMIT_CPU: the kernel
  kills it);
- the parent also keeps a wall-clock deadline, and watches the client: when
  the deadline passes or the client goes, the child gets SIGKILL;
- whatever ends the request (a result, an error, a cancelled task during the
  server's shutdown) ends the child with it.

Children come from a ``forkserver`` whose process has already imported the
verification code, so a child starts in milliseconds, and it is forked from
a single-threaded process (never from the server's threads).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

_context: Any = None


class VerificationAborted(Exception):
    """The child was stopped: over its time or memory limit, or the client went away."""

    def __init__(self, message: str, *, limit: bool) -> None:
        super().__init__(message)
        self.limit = limit


def _ctx() -> Any:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["kofu.antiforgery.verify", "kofu.verify.worker"])
    return _context


def _child(
    conn: multiprocessing.connection.Connection,
    verify: Callable[[bytes, bytes | None], Any],
    back: bytes,
    front: bytes | None,
    max_memory_bytes: int,
    max_cpu_seconds: int,
) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (max_memory_bytes, max_memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (max_cpu_seconds, max_cpu_seconds + 1))
    try:
        result = verify(back, front)
        conn.send(("ok", result))
    except MemoryError:
        conn.send(("limit", "the scan needs more memory than the site allows for one verification"))
    except Exception as e:  # sent back and raised in the parent (exceptions pickle with their state)
        conn.send(("error", e))
    finally:
        conn.close()


async def run_isolated(
    verify: Callable[[bytes, bytes | None], Any],
    back: bytes,
    front: bytes | None,
    *,
    max_seconds: float,
    max_memory_bytes: int,
    client_gone: Callable[[], Awaitable[bool]] | None = None,
) -> Any:
    """``verify(back, front)`` in a killable child; its result, or its exception raised here."""
    receiver, sender = _ctx().Pipe(duplex=False)
    process = _ctx().Process(
        target=_child,
        args=(sender, verify, back, front, max_memory_bytes, max(1, int(max_seconds) + 1)),
        daemon=True,
    )
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, process.start)
    sender.close()
    deadline = time.monotonic() + max_seconds
    try:
        while True:
            if await loop.run_in_executor(None, receiver.poll, 0.2):
                try:
                    kind, value = receiver.recv()
                except EOFError as e:  # the kernel killed it (RLIMIT_CPU) or it crashed
                    raise VerificationAborted("the verification was stopped: over the site's limits", limit=True) from e
                if kind == "ok":
                    return value
                if kind == "limit":
                    raise VerificationAborted(str(value), limit=True)
                raise value
            if time.monotonic() > deadline:
                raise VerificationAborted(f"the verification took longer than {max_seconds:g} s", limit=True)
            if client_gone is not None and await client_gone():
                raise VerificationAborted("the client went away", limit=False)
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        await loop.run_in_executor(None, process.join, 5)
