"""The JPKI directory: from a user-authentication certificate serial to the holder's
municipality and opaque resident link — never the name.

>>> app = directory_app(Path("var/jpki"))
>>> # GET /v1/holders/1f3a…  →  {"serial": "1f3a…", "municipality": "282286",
>>> #                            "resident_link": "…", "status": "good", "not_after": "…"}

The center calls it over mutual TLS (``kofu serve jpki --tls-cert … --client-ca …``).
Only the center is answered: the LGPKI CA that the client CA names also
certifies store operators and municipalities, so a client certificate whose
role (O) is not ``center`` gets 403. Only user-authentication serials are
answered: the signing certificate is not how a kiosk identifies a person, so
its serial gets 404 like any unknown one.
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
from kofu.web import PEER_CERT_STATE_KEY

CENTER_ROLE = "center"


def caller_is_center(der: bytes | None) -> bool:
    """A client certificate, and its subject's role (O) is the center's.

    No certificate at all is refused too, when TLS asks for one; the directory
    served without a client CA (local checks) has no caller to tell apart.
    """
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    if der is None:
        return False
    subject = x509.load_der_x509_certificate(der).subject
    return CENTER_ROLE in [str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def directory_app(directory: Path, *, require_center: bool = False) -> Starlette:
    """``require_center``: answer only a caller presenting the center's certificate
    (``kofu serve jpki`` sets it whenever it asks for client certificates)."""
    store = CertStore(directory / DB)

    async def holder(request: Request) -> JSONResponse:
        if require_center and not caller_is_center(getattr(request.state, PEER_CERT_STATE_KEY, None)):
            return JSONResponse({"error": "only the center may ask the directory"}, status_code=403)
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
