"""The kiosk API: JSON over HTTPS with mutual TLS, one certificate per store operator.

FastAPI generates the OpenAPI document from the models below and serves it at
``/openapi.json`` (and a reader at ``/docs``). Handlers parse, call one
service function, and turn :class:`~kofu.center.errors.CenterError` into a
status code with a JSON body ``{"error", "message", "message_en", "detail"}``
where ``message`` (Japanese) and ``message_en`` (English) are what the kiosk
shows the resident.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography import x509
from cryptography.x509.oid import NameOID
from fastapi import Depends, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AliasChoices, BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kofu.center.errors import AuthenticationFailed, CenterError
from kofu.center.service import CenterService, OrderView
from kofu.domain.rules import Kind, OrderOptions
from kofu.web import PEER_CERT_STATE_KEY

STORE_ROLE = "store-operator"

log = logging.getLogger("kofu.center.api")

MAX_BODY_BYTES = 64 * 1024
"""No kiosk request comes near this (a card certificate is the largest field, 8 KiB of base64)."""

NEUTRAL_BAD_REQUEST = "ただいま処理できません。係員にお問い合わせください。"
NEUTRAL_BAD_REQUEST_EN = "This cannot be processed now. Please ask a member of staff."
"""What a resident is shown when the kiosk software sent something malformed."""

Id = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$", description="an id the center handed out")]


class StartSession(BaseModel):
    kiosk_id: str = Field(min_length=1, max_length=64, description="the kiosk terminal within the store")


class SessionStarted(BaseModel):
    session_id: str
    challenge: str = Field(description="base64 of 32 random bytes for the card to sign (single use)")


class Authenticate(BaseModel):
    certificate: str = Field(max_length=8192, description="base64 DER of the card's user-authentication certificate")
    signature: str = Field(max_length=2048, description="base64 of the card's signature over the challenge")


class AuthenticatedOut(BaseModel):
    municipality: str


class MemberOut(BaseModel):
    id: str = Field(description="send back in CreateOrder.members",
                    validation_alias=AliasChoices("id", "resident_id"))  # read from a domain MemberChoice
    name: str = Field(description="to show on the screen; not stored by the center")
    holder: bool = Field(default=False, description="the card holder themself (preselected on the screen)")


class OfferOut(BaseModel):
    kind: str
    fee: int = Field(description="yen per copy")
    max_copies: int
    scopes: list[str]
    with_householder: bool
    with_domicile: bool
    with_individual_number: bool = False
    members: list[MemberOut] = Field(default_factory=list, description="household members (fuhyo: persons of the register) that may be chosen")
    tax_kinds: list[str] = Field(default_factory=list, description="zeimu: shotoku 所得・課税, nozei 納税")
    years: list[int] = Field(default_factory=list, description="zeimu: fiscal years offered")
    koseki_scopes: list[str] = Field(default_factory=list, description="koseki: all 全部事項, self 個人事項")
    counter_fee: int | None = Field(default=None, description="the counter fee per copy, for comparison")


class UnavailableOut(BaseModel):
    kind: str
    error: str = Field(description="why, machine-readable (kind-hours)")
    message: str = Field(description="what the kiosk shows the resident if this kind is chosen (Japanese)")
    message_en: str = Field(description="the same in English")


class OffersOut(BaseModel):
    offers: list[OfferOut]
    unavailable: list[UnavailableOut] = Field(
        default_factory=list,
        description="kinds the municipality offers, but not at this hour (their own hours), with the hours",
    )


class CreateOrder(BaseModel):
    kind: Kind
    scope: Literal["household", "self"] = "household"
    with_householder: bool = False
    with_domicile: bool = False
    with_individual_number: bool = False
    members: list[str] = Field(default_factory=list, max_length=50, description="chosen member ids (scope household; fuhyo: 一部 of these persons; koseki with koseki_scope self: whose 個人事項)")
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


class CertificateStatus(BaseModel):
    serial: str
    status: Literal["valid", "void", "pending", "unknown"]
    reason: str | None = Field(default=None, description="why void (or what a partial print means); no personal data")
    copies: int | None = Field(default=None, description="copies that exist validly")


class ErrorOut(BaseModel):
    error: str = Field(description="machine-readable reason, e.g. center-hours, center-year-end, maintenance, "
                                   "municipality-hours, kind-hours, copies-limit, refused, nothing-offered")
    message: str = Field(description="what the kiosk shows the resident (Japanese)")
    message_en: str = Field(description="what the kiosk shows the resident (English)")
    detail: str


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"error": code, "message": NEUTRAL_BAD_REQUEST, "message_en": NEUTRAL_BAD_REQUEST_EN, "detail": detail[:300]},
        status_code=status,
    )


class _BadJson(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _reject_constant(name: str) -> Any:
    raise _BadJson(422, f"request body has a non-finite number ({name}); JSON numbers must be finite")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadJson(422, f"request body has a number out of range ({text[:20]}…)")
    return value


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as e:
                raise _BadJson(422, "request body has a string that is not Unicode text (a lone surrogate)") from e
            if "\x00" in item:
                # Valid JSON, but no text column stores it (PostgreSQL refuses NUL) and no id or reason has one.
                raise _BadJson(422, "request body has a string with a NUL character (U+0000)")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def check_json_body(body: bytes) -> None:
    """Parse ``body`` as strict JSON (RFC 8259): finite numbers, Unicode strings without NUL; raise _BadJson."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _BadJson(400, f"request body is not UTF-8 JSON (byte {e.start})") from e
    try:
        parsed = json.loads(text, parse_constant=_reject_constant, parse_float=_finite)
    except json.JSONDecodeError as e:
        raise _BadJson(400, f"request body is not JSON: {e.msg} at line {e.lineno} column {e.colno}") from e
    except ValueError as e:  # an integer too long to convert
        raise _BadJson(422, f"request body has a number out of range: {str(e)[:80]}") from e
    _check_strings(parsed)


class StrictJsonBodies:
    """Check every request body before FastAPI parses it.

    Written by hand because FastAPI parses bodies with ``json.loads``, which
    accepts ``NaN``, ``Infinity``, ``1e400`` (as inf) and lone surrogates;
    its validation-error answer then cannot encode them (HTTP 500, and the
    connection dropped). There is no hook to change the parser, so this ASGI
    layer reads the body (capped at :data:`MAX_BODY_BYTES` while it streams),
    refuses what is not strict JSON in the ``ErrorOut`` shape, and replays the
    body to the app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await _error(413, "body-too-large", f"request body over {MAX_BODY_BYTES} bytes")(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            try:
                check_json_body(body)
            except _BadJson as e:
                code = "bad-json" if e.status == 400 else "bad-value"
                await _error(e.status, code, e.detail)(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _validation_detail(exc: RequestValidationError) -> str:
    """Where and what, never the input itself (it may be long, or not text at all)."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()))
        parts.append(f"{loc}: {str(err.get('msg', ''))[:120]}")
    return "; ".join(parts) or "request does not match the API"


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
        responses={
            status: {"model": ErrorOut}
            for status in (400, 401, 402, 403, 404, 409, 413, 422, 500, 502, 503)
        },
    )
    app.add_middleware(StrictJsonBodies)

    @app.exception_handler(CenterError)
    async def _center_error(_request: Request, exc: CenterError) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "bad-request", _validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": "not-found" if exc.status_code == 404 else "bad-request", "message": NEUTRAL_BAD_REQUEST,
             "message_en": NEUTRAL_BAD_REQUEST_EN, "detail": str(exc.detail)[:300]},
            status_code=exc.status_code, headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("kiosk API request failed")
        return JSONResponse(CenterError("internal error").to_json(), status_code=500)

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

    @app.get(
        "/v1/certificates/{serial}/status", response_model=CertificateStatus,
        summary="whether a certificate serial is valid or void (public: for receivers and the verification site)",
    )
    def certificate_status(
        serial: Annotated[str, PathParam(pattern=r"^[0-9A-Za-z-]{1,64}$")],
    ) -> JSONResponse:
        # Public, like the QR keys: a serial is 128 random bits printed on the paper itself.
        body = CertificateStatus(**service.certificate_status(serial)).model_dump()
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.post("/v1/sessions", response_model=SessionStarted)
    def start_session(body: StartSession, store_id: Store) -> SessionStarted:
        sid, challenge = service.start_session(store_id, body.kiosk_id)
        return SessionStarted(session_id=sid, challenge=base64.b64encode(challenge).decode())

    @app.post("/v1/sessions/{session_id}/authentication", response_model=AuthenticatedOut)
    def authenticate(session_id: Id, body: Authenticate, store_id: Store) -> AuthenticatedOut:
        cert = _b64(body.certificate, "certificate")
        sig = _b64(body.signature, "signature")
        return AuthenticatedOut(municipality=service.authenticate(session_id, store_id, cert, sig))

    @app.get("/v1/sessions/{session_id}/offers", response_model=OffersOut)
    def offers(session_id: Id, store_id: Store) -> OffersOut:
        offered, unavailable = service.availability(session_id, store_id)
        return OffersOut(
            # KindOffer (kofu.widearea.messages) has OfferOut's fields by the same names.
            offers=[OfferOut.model_validate(o, from_attributes=True) for o in offered],
            unavailable=[
                UnavailableOut(kind=u.kind, error=u.code, message=u.message_ja, message_en=u.message_en)
                for u in unavailable
            ],
        )

    @app.post("/v1/sessions/{session_id}/orders", response_model=OrderOut)
    def create_order(session_id: Id, body: CreateOrder, store_id: Store) -> OrderOut:
        options = OrderOptions.from_dict(body.model_dump(exclude={"kind", "copies"}))
        return _out(service.create_order(session_id, store_id, body.kind.value, options, body.copies))

    @app.get("/v1/sessions/{session_id}/orders/{order_id}", response_model=OrderOut)
    def get_order(session_id: Id, order_id: Id, store_id: Store) -> OrderOut:
        return _out(service.order(order_id, session_id, store_id))

    @app.post("/v1/sessions/{session_id}/orders/{order_id}/payment", response_model=Paid)
    def pay(session_id: Id, order_id: Id, body: Payment, store_id: Store) -> Paid:
        view, change = service.pay(order_id, session_id, store_id, body.amount)
        return Paid(order=_out(view), change=change)

    @app.get(
        "/v1/sessions/{session_id}/orders/{order_id}/print",
        response_class=Response,
        responses={200: {"content": {"application/pdf": {}}, "description": "the sealed certificate, one copy"}},
    )
    def print_job(session_id: Id, order_id: Id, store_id: Store) -> Response:
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
    def printed(session_id: Id, order_id: Id, body: Printed, store_id: Store) -> OrderOut:
        return _out(service.printed(order_id, session_id, store_id, body.copies))

    @app.post("/v1/sessions/{session_id}/orders/{order_id}/cancel", response_model=Cancelled)
    def cancel(session_id: Id, order_id: Id, body: Cancel, store_id: Store) -> Cancelled:
        view, refund = service.cancel(order_id, session_id, store_id, body.reason)
        return Cancelled(order=_out(view), refund=refund)

    @app.post("/v1/sessions/{session_id}/close", response_model=SessionClosed)
    def close_session(session_id: Id, store_id: Store) -> SessionClosed:
        return SessionClosed(refund=service.close_session(session_id, store_id))

    return app
