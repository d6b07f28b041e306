"""The verification site (証明書復号画像表示システム): a receiver uploads scans of
a certificate's back side and, optionally, its front, and sees whether the QR
signature holds, the restored image, and whether the front was altered.

>>> app = build_app(Verifier.from_settings(load_settings(Path("verify.toml"))))
>>> run_app(app, settings.server)

Routes::

    GET  /             the upload form
    POST /verify       the result page (multipart: back, front)
    POST /api/verify   the same as JSON
    GET  /healthz      "ok"
    GET  /static/...   style sheet and script

The handlers only read the upload (in memory, kofu.verify.uploads), call
``kofu.antiforgery.verify.check_scan`` in a worker thread, and turn its
errors into a status code and a message. Nothing of an upload or a result is
stored, logged or cached: images go back inline as ``data:`` URLs and every
response says ``Cache-Control: no-store``.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kofu.verify.describe import describe
from kofu.verify.settings import UploadLimits, VerifySettings
from kofu.verify.uploads import UploadError, read_uploads

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
UPLOAD_FIELDS = ("back", "front")

# Inline scripts and styles are not allowed; images may be data: URLs because
# the restored and marked images are sent inline (never stored as files).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    # A result page holds certificate images: no cache, proxy or back button keeps it.
    "cache-control": "no-store",
    "pragma": "no-cache",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (pages, JSON, static files, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode("latin-1").lower() not in SECURITY_HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclasses.dataclass(frozen=True)
class Verifier:
    """What the handlers call: the keys, the limits, and one function."""

    keyring: Any
    """kofu.antiforgery.keys.ScrambleKeyring (restores the scrambled image)."""
    jwks: Mapping[str, Any]
    """The center's published QR keys (a JWK set)."""
    limits: UploadLimits = UploadLimits()
    max_concurrent: int = 2
    """Verifications at once; each holds two decoded scans (~100 MB), so this bounds memory."""
    status: Callable[[str], dict[str, Any]] | None = None
    """Asks the center whether a serial is valid or void (kofu.verify.status); None: offline."""
    isolated: bool = False
    """Run each verification in a killable worker process with time and memory limits
    (kofu.verify.worker); what ``kofu serve verify`` does. Off for in-process tests."""

    @classmethod
    def from_settings(cls, settings: VerifySettings) -> Verifier:
        from kofu.antiforgery.keys import ScrambleKeyring, published_keys
        from kofu.verify.status import CenterStatus

        lookup = CenterStatus(settings.center_url, settings.center_ca).lookup if settings.center_url else None
        return cls(
            keyring=ScrambleKeyring.from_file(settings.master_key),
            jwks=published_keys(settings.qr_keys),
            limits=settings.limits,
            status=lookup,
            isolated=True,
        )

    def in_child(self) -> Verifier:
        """What a worker process gets: the keys and limits (no HTTP client to pickle)."""
        return dataclasses.replace(self, status=None, isolated=False)

    def certificate_status(self, result: Any) -> dict[str, Any]:
        from kofu.verify.status import not_checked

        if not result.qr_valid or result.serial is None:
            return not_checked("QRコードが有効でないため確認していません。 / Not checked: the QR is not valid.")
        if self.status is None:
            return not_checked()
        return self.status(str(result.serial))

    def verify(self, back: bytes, front: bytes | None) -> Any:
        """Run check_scan; raises kofu.antiforgery.errors.AntiforgeryError subclasses."""
        from kofu.antiforgery.verify import check_scan

        # Each scan is decoded once, under the site's limits: a bomb or a file
        # that is no image is refused with a clear message before any work.
        lim = self.limits
        return check_scan(
            back,
            front,
            keyring=self.keyring,
            jwks=self.jwks,
            max_pixels=lim.max_pixels,
            max_bytes=lim.max_upload_bytes,
        )


# ---------------------------------------------------------------- presentation


def _png_data_url(png: bytes | None) -> str | None:
    if not png:
        return None
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _field(payload: Any, *names: str) -> Any:
    """The first of ``names`` present in the payload (a mapping or an object)."""
    for name in names:
        if isinstance(payload, Mapping):
            if payload.get(name) is not None:
                return payload[name]
        elif getattr(payload, name, None) is not None:
            return getattr(payload, name)
    return None


def _text(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def payload_rows(payload: Any, serial: Any) -> list[tuple[str, str, str]]:
    """(Japanese label, English label, value) rows for the QR payload.

    A verified payload reads as the certificate prints it: 証明書番号, the
    printed title (or, on a QR without it, the kind's Japanese name), the
    municipality's name with its code, the issue
    date in 和暦 (kofu.verify.describe); the serial follows as the QR holds it.
    """
    if not isinstance(payload, Mapping) and isinstance(getattr(payload, "issued_on", None), date):
        d = describe(payload)
        described = [
            ("証明書番号", "Certificate number", d["certificate_number"]),
            ("証明書の種類", "Kind", d["title"]),
            ("市区町村", "Municipality", d["municipality"]),
            ("発行日", "Issued on", d["issued_on_wareki"]),
            ("シリアル番号（QR）", "Serial (QR)", str(serial if serial is not None else payload.serial)),
        ]
        described.append(
            ("枚数", "Page", f"{payload.pages}枚中{payload.page}枚目 (page {payload.page} of {payload.pages})")
        )
        return described
    rows: list[tuple[str, str, str]] = []
    candidates = [
        ("証明書番号", "Serial", ("serial",)),
        ("市区町村", "Municipality", ("municipality_name", "municipality", "municipality_code")),
        ("証明書の種類", "Kind", ("title", "kind_name", "kind")),
        ("発行日", "Issued on", ("issued_on", "date", "issued")),
    ]
    for ja, en, names in candidates:
        value = serial if names == ("serial",) and serial is not None else _field(payload, *names)
        if value is not None:
            rows.append((ja, en, _text(value)))
    page = _field(payload, "page")
    pages = _field(payload, "pages", "page_count", "of")
    if page is not None and pages is not None:
        rows.append(("枚数", "Page", f"{pages}枚中{page}枚目 (page {page} of {pages})"))
    return rows


def _regions(result: Any, which: str = "regions") -> list[dict[str, int]]:
    return [
        {"x": int(r.x), "y": int(r.y), "width": int(r.width), "height": int(r.height)}
        for r in (getattr(result, which, None) or ())
    ]


def _diagnostics(result_or_error: Any) -> list[str]:
    d = getattr(result_or_error, "diagnostics", None)
    if d is None:
        return []
    if callable(d):
        d = d()
    if isinstance(d, str):
        return [d] if d else []
    return [str(x) for x in d]


def result_json(result: Any, front_given: bool, status: dict[str, Any] | None = None) -> dict[str, Any]:
    restored = getattr(result, "restored_png", None)
    marked = getattr(result, "marked_png", None)
    payload = getattr(result, "payload", None)
    certificate = None
    if dataclasses.is_dataclass(payload) and not isinstance(payload, type):
        certificate = describe(payload)
        payload = dataclasses.asdict(payload)
    return {
        "certificate": certificate,
        "qr_valid": bool(result.qr_valid),
        "serial": None if result.serial is None else str(result.serial),
        "payload": _jsonable(payload),
        # None with a front given: the front could not be judged (never "no alteration").
        "tampered": None if not front_given or result.tampered is None else bool(result.tampered),
        "regions": _regions(result) if front_given else [],
        "unchecked": _regions(result, "unchecked") if front_given else [],
        "score": getattr(result, "score", None) if front_given else None,
        "restored_png_base64": base64.b64encode(restored).decode("ascii") if restored else None,
        "marked_png_base64": (
            base64.b64encode(marked).decode("ascii") if front_given and marked else None
        ),
        "diagnostics": _diagnostics(result),
        "status": status,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _text(value)


# ---------------------------------------------------------------- the app


def build_app(verifier: Verifier) -> Starlette:
    import jinja2

    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    busy = asyncio.Semaphore(verifier.max_concurrent)
    max_mib = f"{verifier.limits.max_upload_bytes / (1024 * 1024):g}"

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = templates.get_template(name).render(max_mib=max_mib, **context)
        return HTMLResponse(html, status_code=status)

    async def run(request: Request) -> tuple[Any, bool]:
        """Read, verify; raises UploadError or AntiforgeryError."""
        files = await read_uploads(
            request, fields=UPLOAD_FIELDS, max_file_bytes=verifier.limits.max_upload_bytes
        )
        if "back" not in files:
            raise UploadError(
                "裏面のスキャン画像を選んでください。 / Please choose the scan of the back side."
            )
        back = files["back"].data
        front = files["front"].data if "front" in files else None
        if verifier.isolated:
            from kofu.verify.worker import run_isolated

            result = await run_isolated(
                verifier.in_child().verify, back, front,
                max_seconds=verifier.limits.max_seconds,
                max_memory_bytes=verifier.limits.max_memory_bytes,
                client_gone=request.is_disconnected,
            )
        else:
            result = await run_in_threadpool(verifier.verify, back, front)
        # Voided means voided: the QR cannot tell, the center can.
        status = await run_in_threadpool(verifier.certificate_status, result)
        return (result, status), front is not None

    async def handle(
        request: Request,
        ok: Callable[[Any, bool], Response],
        fail: Callable[[int, str, list[str]], Response],
    ) -> Response:
        # A slot is taken before the upload is read, so queued uploads cannot pile up in
        # memory; a request that cannot get one in time is told to come back.
        try:
            await asyncio.wait_for(busy.acquire(), timeout=verifier.limits.max_queue_seconds)
        except TimeoutError:
            return fail(503, BUSY_MESSAGE, [])
        try:
            result, front_given = await run(request)
        except UploadError as e:
            return fail(e.status_code, str(e), [])
        except Exception as e:
            from kofu.verify.worker import VerificationAborted

            if isinstance(e, VerificationAborted):
                log.warning("verification stopped: %s", e)
                return fail(422 if e.limit else 499, _aborted_message(e), [])
            # Imported here so that a bad upload is refused without loading the core.
            from kofu.antiforgery.errors import AntiforgeryError, ScanRejected

            if isinstance(e, ScanRejected):
                # Not an image we can read, or an image bomb: the sender's file is at fault.
                return fail(400, _scan_rejected_message(e), _diagnostics(e))
            if isinstance(e, AntiforgeryError):
                # A readable scan that does not verify (no QR, unknown key, no
                # scrambled image found): a result, told as such.
                return fail(422, _not_verified_message(e), _diagnostics(e))
            raise
        finally:
            busy.release()
        return ok(result, front_given)

    async def index(request: Request) -> Response:
        return page("index.html")

    async def verify_page(request: Request) -> Response:
        def ok(result: Any, front_given: bool) -> Response:
            result, status = result
            data = result_json(result, front_given, status)
            return page(
                "result.html",
                r=data,
                rows=payload_rows(getattr(result, "payload", None), data["serial"]),
                front_given=front_given,
                restored_url=_png_data_url(getattr(result, "restored_png", None)),
                marked_url=_png_data_url(getattr(result, "marked_png", None))
                if front_given
                else None,
            )

        def fail(status: int, message: str, diagnostics: list[str]) -> Response:
            return page("error.html", status=status, message=message, diagnostics=diagnostics)

        return await handle(request, ok, fail)

    async def verify_api(request: Request) -> Response:
        def ok(result: Any, front_given: bool) -> Response:
            result, status = result
            return JSONResponse(result_json(result, front_given, status))

        def fail(status: int, message: str, diagnostics: list[str]) -> Response:
            return JSONResponse({"error": message, "diagnostics": diagnostics}, status_code=status)

        return await handle(request, ok, fail)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> Response:
        return page(
            "error.html",
            status=404,
            message="ページがありません。 / Page not found.",
            diagnostics=[],
        )

    app = Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/verify", verify_page, methods=["POST"]),
            Route("/api/verify", verify_api, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        exception_handlers={404: not_found},
    )
    app.add_middleware(SecurityHeaders)
    return app


BUSY_MESSAGE = (
    "ただいま混み合っています。しばらくしてから再度お試しください。"
    " / The site is busy. Please try again in a moment."
)


def _aborted_message(e: Exception) -> str:
    return (
        "このファイルは確認できませんでした（処理の上限を超えました）。"
        f" / This file could not be verified: it exceeds the site's processing limits. ({e})"
    )


def _scan_rejected_message(e: Exception) -> str:
    return (
        "ファイルを画像として読み取れませんでした（PNG・JPEG・PDF のスキャン画像を選んでください）。"
        " / The file could not be read as a scan (please choose a PNG, JPEG or PDF scan)."
        f" ({e})"
    )


def _not_verified_message(e: Exception) -> str:
    return f"この証明書は確認できませんでした。 / This certificate could not be verified. ({e})"
