"""Fixtures for the verification site's tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kofu.procs import free_port


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a loopback port in this process; yields the base URL.

    For the edge tests that replace the verification with a double; the real
    service runs as a ``kofu serve verify`` process (test_site.py).
    """
    import uvicorn

    for _attempt in range(4):  # a port taken between free_port() and the bind: another one
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        if server.started:
            break
        # uvicorn exits (SystemExit in its thread) when it cannot bind.
    else:
        raise RuntimeError("uvicorn did not start: no port could be bound")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
