"""Run an ASGI app the same way for every Kofu service: uvicorn, loopback by
default, optional TLS and mutual TLS.

>>> run_app(app, ServerSettings(host="127.0.0.1", port=8402, tls=TlsServerSettings(...)))
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TlsServerSettings:
    cert: Path
    """PEM certificate chain of this server."""
    key: Path
    """PEM private key of this server."""
    client_ca: Path | None = None
    """When set, clients must present a certificate chaining to this CA (mutual TLS)."""
    client_cert_optional: bool = False
    """With ``client_ca``: a client *may* come without a certificate (public routes); the
    app then decides per route (the center's kiosk API refuses such requests)."""


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    tls: TlsServerSettings | None = None
    log_level: str = "warning"


PEER_CERT_STATE_KEY = "tls_peer_certificate_der"
"""Key under ``request.state`` holding the DER client certificate of a mutual-TLS connection."""


def _peer_cert_protocol() -> type:
    """A uvicorn HTTP protocol that exposes the TLS client certificate to the app.

    uvicorn does not implement the ASGI TLS extension, so there is no standard
    way to learn which client certificate a request came with. Every request
    scope gets a copy of the protocol's ``app_state`` as ``scope["state"]``;
    giving each connection its own ``app_state`` with the peer certificate in
    it puts the certificate in ``request.state`` of every request on that
    connection, without touching uvicorn's request parsing.
    """
    base: type
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    except ImportError:  # httptools is an optional speed-up of uvicorn
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol

    class PeerCertProtocol(base):  # type: ignore[misc]  # base chosen at run time
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            state: dict[str, Any] = getattr(self, "app_state")  # noqa: B009  # set by uvicorn's base
            self.app_state = {**state, PEER_CERT_STATE_KEY: der}

    return PeerCertProtocol


GRACEFUL_SHUTDOWN_SECONDS = 3.0
"""How long SIGTERM waits for requests in flight and open connections, for every service.

Unbounded, uvicorn waits for every connection to close: an idle keep-alive TLS
connection whose client never answers the server's close_notify held the issuer
up for asyncio's SSL shutdown timeout (30 s) and more (tests/issuer/test_shutdown.py)."""


def run_app(app: Any, settings: ServerSettings, *, graceful_shutdown_seconds: float = GRACEFUL_SHUTDOWN_SECONDS) -> None:
    """Serve ``app``; ``graceful_shutdown_seconds`` bounds how long SIGTERM waits for
    requests in flight and open connections before cancelling them."""
    import uvicorn

    kwargs: dict[str, Any] = {"http": _peer_cert_protocol(), "timeout_graceful_shutdown": graceful_shutdown_seconds}
    if settings.tls is not None:
        kwargs.update(
            ssl_certfile=str(settings.tls.cert),
            ssl_keyfile=str(settings.tls.key),
        )
        if settings.tls.client_ca is not None:
            reqs = ssl.CERT_OPTIONAL if settings.tls.client_cert_optional else ssl.CERT_REQUIRED
            kwargs.update(ssl_ca_certs=str(settings.tls.client_ca), ssl_cert_reqs=reqs)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        **kwargs,
    )


def client_ssl_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """An SSL context that trusts only ``ca`` and, for mutual TLS, presents ``cert``/``key``."""
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key) if key else None)
    return ctx
