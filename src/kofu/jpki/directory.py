"""The JPKI directory: from a user-authentication certificate serial to the holder's
municipality and opaque resident link — never the name.

>>> app = directory_app(Path("var/jpki"))
>>> # GET /v1/holders/1f3a…  →  {"serial": "1f3a…", "municipality": "282286",
>>> #                            "resident_link": "…", "status": "good", "not_after": "…"}

The center calls it over mutual TLS (``kofu serve jpki --tls-cert … --client-ca …``).
Only user-authentication serials are answered: the signing certificate is not
how a kiosk identifies a person, so its serial gets 404 like any unknown one.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from kofu.jpki.ca import DB
from kofu.jpki.errors import UnknownSerial
from kofu.jpki.store import CertStore, normalise_serial


def directory_app(directory: Path) -> Starlette:
    store = CertStore(directory / DB)

    async def holder(request: Request) -> JSONResponse:
        raw = request.path_params["serial"]
        try:
            serial = normalise_serial(raw)
        except ValueError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        try:
            record = store.get(serial)
        except UnknownSerial:
            record = None
        if record is None or record.kind != "auth":
            return JSONResponse(
                {"error": f"no user-authentication certificate with serial {serial}"}, status_code=404
            )
        return JSONResponse(
            {
                "serial": record.serial,
                "municipality": record.municipality,
                "resident_link": record.resident_link,
                "status": record.status,
                "not_after": record.not_after.isoformat(),
            }
        )

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    return Starlette(
        routes=[
            Route("/v1/holders/{serial}", holder, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
