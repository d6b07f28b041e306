"""The kiosk's HTTP client for the center's kiosk API (mutual TLS)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from kofu.web import client_ssl_context


class KioskError(Exception):
    """The center refused or could not be reached; ``message`` (Japanese) and
    ``message_en`` (English) are what the resident sees."""

    def __init__(self, code: str, message: str, detail: str = "", status: int = 0, message_en: str = "") -> None:
        super().__init__(f"{code}: {detail or message}")
        self.code = code
        self.message = message
        self.detail = detail
        self.status = status
        self.message_en = message_en


@dataclass(frozen=True)
class KioskTls:
    ca: Path
    cert: Path
    key: Path


class CenterClient:
    def __init__(self, base_url: str, tls: KioskTls, timeout: float = 60.0) -> None:
        self.base = base_url.rstrip("/")
        self.http = httpx.Client(verify=client_ssl_context(tls.ca, tls.cert, tls.key), timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, json: Any = None) -> httpx.Response:
        try:
            r = self.http.request(method, self.base + path, json=json)
        except httpx.HTTPError as e:
            raise KioskError(
                "center-unreachable",
                "ただいまセンターに接続できません。しばらくしてから再度お試しください。",
                str(e),
                message_en="The center cannot be reached at the moment. Please try again later.",
            ) from e
        if r.status_code >= 400:
            try:
                body = r.json()
                raise KioskError(body.get("error", "error"), body.get("message", ""), body.get("detail", ""),
                                 r.status_code, body.get("message_en", ""))
            except ValueError:
                raise KioskError("error", "エラーが発生しました。", r.text[:200], r.status_code,
                                 "An error occurred.") from None
        return r

    def start_session(self, kiosk_id: str) -> tuple[str, bytes]:
        body = self._call("POST", "/v1/sessions", {"kiosk_id": kiosk_id}).json()
        return body["session_id"], base64.b64decode(body["challenge"])

    def authenticate(self, sid: str, cert_der: bytes, signature: bytes) -> str:
        body = self._call(
            "POST",
            f"/v1/sessions/{sid}/authentication",
            {"certificate": base64.b64encode(cert_der).decode(), "signature": base64.b64encode(signature).decode()},
        ).json()
        return str(body["municipality"])

    def offers(self, sid: str) -> list[dict[str, Any]]:
        return list(self.availability(sid)["offers"])

    def availability(self, sid: str) -> dict[str, Any]:
        """The whole offers answer: ``offers``, and ``unavailable`` (kinds closed at this hour, with why)."""
        body = dict(self._call("GET", f"/v1/sessions/{sid}/offers").json())
        body.setdefault("unavailable", [])  # a center before message_en sends none
        return body

    def order(self, sid: str, **order: Any) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/sessions/{sid}/orders", order).json())

    def pay(self, sid: str, oid: str, amount: int) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/sessions/{sid}/orders/{oid}/payment", {"amount": amount}).json())

    def print_job(self, sid: str, oid: str) -> tuple[bytes, dict[str, str]]:
        r = self._call("GET", f"/v1/sessions/{sid}/orders/{oid}/print")
        return r.content, dict(r.headers)

    def printed(self, sid: str, oid: str, copies: int) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/sessions/{sid}/orders/{oid}/printed", {"copies": copies}).json())

    def cancel(self, sid: str, oid: str, reason: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/sessions/{sid}/orders/{oid}/cancel", {"reason": reason}).json())

    def close_session(self, sid: str) -> int:
        """Close the session (one card holder, one transaction); returns the refund due."""
        return int(self._call("POST", f"/v1/sessions/{sid}/close").json()["refund"])
