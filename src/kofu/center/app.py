"""The kiosk API: JSON over HTTPS with mutual TLS, one certificate per store operator.

FastAPI generates the OpenAPI document from the models below and serves it at
``/openapi.json`` (and a reader at ``/docs``). Handlers parse, call one
service function, and turn :class:`~kofu.center.errors.CenterError` into a
status code with a JSON body ``{"error", "message", "detail"}`` where
``message`` is what the kiosk shows the resident.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated, Literal

from cryptography import x509
from cryptography.x509.oid import NameOID
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from kofu.center.errors import AuthenticationFailed, CenterError
from kofu.center.service import CenterService, OrderOptions, OrderView
from kofu.web import PEER_CERT_STATE_KEY

STORE_ROLE = "store-operator"


class StartSession(BaseModel):
    kiosk_id: str = Field(min_length=1, max_length=64, description="the kiosk terminal within the store")


class SessionStarted(BaseModel):
    session_id: str
    challenge: str = Field(description="base64 of 32 random bytes for the card to sign (single use)")


class Authenticate(BaseModel):
    certificate: str = Field(max_length=8192, description="base64 DER of the card's user-authentication certificate")
    signature: str = Field(max_length=2048, description="base64 of the card's signature over the challenge")


class Authenticated(BaseModel):
    municipality: str


class MemberOut(BaseModel):
    id: str = Field(description="send back in CreateOrder.members")
    name: str = Field(description="to show on the screen; not stored by the center")


class OfferOut(BaseModel):
    kind: str
    fee: int = Field(description="yen per copy")
    max_copies: int
    scopes: list[str]
    with_householder: bool
    with_domicile: bool
    with_individual_number: bool = False
    members: list[MemberOut] = Field(default_factory=list, description="household members that may be chosen")
    tax_kinds: list[str] = Field(default_factory=list, description="zeimu: shotoku 所得・課税, nozei 納税")
    years: list[int] = Field(default_factory=list, description="zeimu: fiscal years offered")
    koseki_scopes: list[str] = Field(default_factory=list, description="koseki: all 全部事項, self 個人事項")
    counter_fee: int | None = Field(default=None, description="the counter fee per copy, for comparison")


class Offers(BaseModel):
    offers: list[OfferOut]


class CreateOrder(BaseModel):
    kind: Literal["juminhyo", "kisai", "inkan", "zeimu", "koseki", "fuhyo"]
    scope: Literal["household", "self"] = "household"
    with_householder: bool = False
    with_domicile: bool = False
    with_individual_number: bool = False
    members: list[str] = Field(default_factory=list, max_length=50, description="chosen member ids (scope household)")
    tax_kind: Literal["shotoku", "nozei"] | None = None
    year: int | None = Field(default=None, ge=1989, le=2200, description="fiscal year (年度) of a tax certificate")
    koseki_scope: Literal["all", "self"] | None = None
    copies: int = Field(ge=1, le=99)


class OrderOut(BaseModel):
    order_id: str
    state: str
    kind: str
    copies: int
    fee: int = Field(description="total yen for all copies")
    paid: int
    certificate_serial: str | None
    pages: int | None
    copies_printed: int | None = Field(default=None, description="as the printer reported them")
    refunded: int = Field(default=0, description="yen given back: a cancel, or the fees of copies that failed")


class Payment(BaseModel):
    amount: int = Field(ge=0, le=1_000_000, description="yen put in the coin vendor")


class Paid(BaseModel):
    order: OrderOut
    change: int


class Printed(BaseModel):
    copies: int = Field(
        ge=0, le=99,
        description="copies that came out of the printer; the rest are refunded and voided (0: none, all refunded)",
    )


class Cancel(BaseModel):
    reason: str = Field(default="cancelled at the kiosk", max_length=200)


class Cancelled(BaseModel):
    order: OrderOut
    refund: int


class SessionClosed(BaseModel):
    refund: int = Field(description="yen to give back: an order not yet handed out is cancelled")


class ErrorOut(BaseModel):
    error: str
    message: str = Field(description="what the kiosk shows the resident")
    detail: str


def _out(v: OrderView) -> OrderOut:
    return OrderOut(**v.__dict__)


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise AuthenticationFailed(f"{what} is not valid base64", code="bad-request") from e


def store_identity(der: bytes | None) -> str:
    """The store operator id from its mutual-TLS client certificate."""
    if not der:
        raise AuthenticationFailed("no client certificate: kiosks must use mutual TLS", code="no-client-certificate")
    cert = x509.load_der_x509_certificate(der)
    subject = cert.subject
    roles = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if STORE_ROLE not in roles:
        raise AuthenticationFailed(f"client certificate is not a store operator's ({roles})", code="not-a-store")
    for oid in (NameOID.SERIAL_NUMBER, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME):
        values = subject.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    raise AuthenticationFailed("client certificate names no store operator", code="not-a-store")


def _store(request: Request) -> str:
    return store_identity(getattr(request.state, PEER_CERT_STATE_KEY, None))


Store = Annotated[str, Depends(_store)]
"""The calling store operator, from its client certificate (module level so FastAPI resolves it)."""


QR_KEYS_PATH = "/.well-known/kofu-qr-keys.json"
"""Where the center publishes the public keys of the certificates' signed QR codes."""


def create_app(service: CenterService, qr_keys: Path | None = None) -> FastAPI:
    app = FastAPI(
        title="Kofu center: kiosk API",
        version="1",
        description="The convenience-store kiosk's interface to the certificate issuance center (証明書交付センター).",
        responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    )

    @app.exception_handler(CenterError)
    async def _center_error(_request: Request, exc: CenterError) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=exc.status)

    @app.get(QR_KEYS_PATH, summary="the public keys that sign certificate QR codes (JWK set, public)")
    def qr_keys_document() -> JSONResponse:
        if qr_keys is None:
            return JSONResponse({"keys": []})
        from kofu.antiforgery.keys import published_keys

        # Read at each request: a key added by rotation is published without a restart.
        return JSONResponse(published_keys(qr_keys), headers={"Cache-Control": "max-age=300"})

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "region": service.region}

    @app.post("/v1/sessions", response_model=SessionStarted)
    def start_session(body: StartSession, store_id: Store) -> SessionStarted:
        sid, challenge = service.start_session(store_id, body.kiosk_id)
        return SessionStarted(session_id=sid, challenge=base64.b64encode(challenge).decode())

    @app.post("/v1/sessions/{session_id}/authentication", response_model=Authenticated)
    def authenticate(session_id: str, body: Authenticate, store_id: Store) -> Authenticated:
        cert = _b64(body.certificate, "certificate")
        sig = _b64(body.signature, "signature")
        return Authenticated(municipality=service.authenticate(session_id, store_id, cert, sig))

    @app.get("/v1/sessions/{session_id}/offers", response_model=Offers)
    def offers(session_id: str, store_id: Store) -> Offers:
        return Offers(
            offers=[
                OfferOut(
                    kind=o.kind,
                    fee=o.fee,
                    max_copies=o.max_copies,
                    scopes=list(o.scopes),
                    with_householder=o.with_householder,
                    with_domicile=o.with_domicile,
                    with_individual_number=o.with_individual_number,
                    members=[MemberOut(id=m.id, name=m.name) for m in o.members],
                    tax_kinds=list(o.tax_kinds),
                    years=list(o.years),
                    koseki_scopes=list(o.koseki_scopes),
                    counter_fee=o.counter_fee,
                )
                for o in service.offers(session_id, store_id)
            ]
        )

    @app.post("/v1/sessions/{session_id}/orders", response_model=OrderOut)
    def create_order(session_id: str, body: CreateOrder, store_id: Store) -> OrderOut:
        options = OrderOptions(
            body.scope, body.with_householder, body.with_domicile, body.with_individual_number,
            tuple(body.members), body.tax_kind, body.year, body.koseki_scope,
        )
        return _out(service.create_order(session_id, store_id, body.kind, options, body.copies))

    @app.get("/v1/sessions/{session_id}/orders/{order_id}", response_model=OrderOut)
    def get_order(session_id: str, order_id: str, store_id: Store) -> OrderOut:
        return _out(service.order(order_id, session_id, store_id))

    @app.post("/v1/sessions/{session_id}/orders/{order_id}/payment", response_model=Paid)
    def pay(session_id: str, order_id: str, body: Payment, store_id: Store) -> Paid:
        view, change = service.pay(order_id, session_id, store_id, body.amount)
        return Paid(order=_out(view), change=change)

    @app.get(
        "/v1/sessions/{session_id}/orders/{order_id}/print",
        response_class=Response,
        responses={200: {"content": {"application/pdf": {}}, "description": "the sealed certificate, one copy"}},
    )
    def print_job(session_id: str, order_id: str, store_id: Store) -> Response:
        job = service.print_job(order_id, session_id, store_id)
        return Response(
            job.pdf,
            media_type="application/pdf",
            headers={
                "X-Kofu-Certificate-Serial": job.certificate_serial,
                "X-Kofu-Pages": str(job.pages),
                "X-Kofu-Copies": str(job.copies),
                "Cache-Control": "no-store",
            },
        )

    @app.post("/v1/sessions/{session_id}/orders/{order_id}/printed", response_model=OrderOut)
    def printed(session_id: str, order_id: str, body: Printed, store_id: Store) -> OrderOut:
        return _out(service.printed(order_id, session_id, store_id, body.copies))

    @app.post("/v1/sessions/{session_id}/orders/{order_id}/cancel", response_model=Cancelled)
    def cancel(session_id: str, order_id: str, body: Cancel, store_id: Store) -> Cancelled:
        view, refund = service.cancel(order_id, session_id, store_id, body.reason)
        return Cancelled(order=_out(view), refund=refund)

    @app.post("/v1/sessions/{session_id}/close", response_model=SessionClosed)
    def close_session(session_id: str, store_id: Store) -> SessionClosed:
        return SessionClosed(refund=service.close_session(session_id, store_id))

    return app
