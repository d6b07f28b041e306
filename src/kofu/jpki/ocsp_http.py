"""The OCSP responder over HTTP (RFC 6960 appendix A, RFC 5019): a bare ASGI app.

>>> app = ocsp_app(OcspResponder.load(Path("var/jpki")))
>>> run_app(app, ServerSettings(port=8403))

POST any path with ``Content-Type: application/ocsp-request``, or GET
``/<base64 of the DER request>`` (URL-encoded). ``GET /healthz`` answers 200.
Every OCSP answer is HTTP 200 with an OCSP response, including
``malformedRequest`` for a bad or oversized body: a client's garbage never
becomes a 500. A plain ASGI callable rather than a Starlette app, because
this is the one hot path of the system and each layer costs throughput.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from kofu.jpki.ocsp import MALFORMED, MAX_REQUEST_BYTES, Answer, OcspResponder, Refresher

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_OCSP_HEADERS = [(b"content-type", b"application/ocsp-response")]


async def _reply(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _decode_get_path(raw_path: str) -> bytes | None:
    # The base64 text may itself contain '/', so take the whole path after the first slash.
    text = unquote(raw_path.lstrip("/"))
    if not text or len(text) > MAX_REQUEST_BYTES * 2:
        return None
    text = text.replace(" ", "+")  # a '+' decoded as a space by a careless client
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def ocsp_app(responder: OcspResponder, refresh_seconds: float | None = None) -> Callable[..., Awaitable[None]]:
    """The ASGI app; ``refresh_seconds`` starts the background refresher with the app's lifespan."""
    refresher = Refresher(responder, refresh_seconds) if refresh_seconds is not None else None

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if refresher is not None:
                        refresher.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if refresher is not None:
                        refresher.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        method = scope["method"]
        answer: Answer
        if method == "POST":
            body = bytearray()
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > MAX_REQUEST_BYTES:
                    # Stop reading: the answer is known, and a huge body must not fill memory.
                    await _reply(send, 200, MALFORMED, _OCSP_HEADERS)
                    return
            answer = responder.answer(bytes(body))
            await _reply(send, 200, answer.der, _OCSP_HEADERS)
            return
        if method in ("GET", "HEAD"):
            path = scope.get("raw_path") or scope["path"].encode()
            path_text = path.decode("latin-1").split("?", 1)[0]
            if path_text == "/healthz":
                await _reply(send, 200, b"ok\n", [(b"content-type", b"text/plain")])
                return
            request = _decode_get_path(path_text)
            answer = Answer(MALFORMED, False) if request is None else responder.answer(request)
            headers = list(_OCSP_HEADERS)
            if answer.cacheable:
                # RFC 5019 6.2: let HTTP caches keep a pre-signed response for a while.
                headers.append((b"cache-control", b"max-age=60, public, no-transform, must-revalidate"))
            await _reply(send, 200, b"" if method == "HEAD" else answer.der, headers)
            return
        await _reply(send, 405, b"use GET or POST\n", [(b"content-type", b"text/plain"), (b"allow", b"GET, POST")])

    return app
