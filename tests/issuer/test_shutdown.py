"""SIGTERM stops the issuer within seconds, even with a client's keep-alive connection open.

uvicorn waits for open connections before it stops; an idle TLS connection whose
client never answers the server's close_notify kept the issuer up for asyncio's
SSL shutdown timeout (30 s) and more. Every service bounds its graceful shutdown
(``kofu.web.GRACEFUL_SHUTDOWN_SECONDS``).
"""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any

import requests

from kofu.web import GRACEFUL_SHUTDOWN_SECONDS


def test_sigterm_stops_the_issuer_with_a_keep_alive_connection_open(issuer_service: Any) -> None:
    world, svc, url = issuer_service
    s = requests.Session()
    s.trust_env = False
    s.verify = str(world.ca)
    s.cert = (str(world.client_cert), str(world.client_key))
    try:
        # Two requests on one pooled connection: it is kept alive and left idle.
        assert s.get(f"{url}/wide-area?wsdl", timeout=30).status_code == 200
        assert s.get(f"{url}/wide-area?wsdl", timeout=30).status_code == 200
        started = time.monotonic()
        svc.process.send_signal(signal.SIGTERM)
        try:
            svc.process.wait(GRACEFUL_SHUTDOWN_SECONDS + 3)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the issuer was still running {GRACEFUL_SHUTDOWN_SECONDS + 3} s after SIGTERM") from None
        took = time.monotonic() - started
    finally:
        s.close()
    assert took < GRACEFUL_SHUTDOWN_SECONDS + 3, took
