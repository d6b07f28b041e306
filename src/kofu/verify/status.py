"""Asking the center whether a certificate serial is still valid (finding 2 of issue 13).

A certificate can be voided after its QR was signed: cancelled, or reported
by the kiosk's printer as not printed. The QR cannot say so; the center can.

>>> CenterStatus("https://127.0.0.1:8401", ca=Path("tls/ca-bundle.pem")).lookup("3f2a…")
{"checked": True, "status": "void", "reason": "misprint: reported as not printed", ...}

The answer carries ids, counts and reasons only. Offline (no center given) or
when the center does not answer, the result says the status was not checked:
never "valid" by default.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

import httpx

NOT_CHECKED_OFFLINE = "失効・無効の確認はしていません（オフライン）。 / Status not checked (offline)."
NOT_CHECKED_UNREACHABLE = "発行センターに確認できませんでした。 / The issuing center could not be asked for the status."
_SERIAL = re.compile(r"^[0-9A-Za-z-]{1,64}$")


def not_checked(message: str = NOT_CHECKED_OFFLINE) -> dict[str, Any]:
    return {"checked": False, "status": None, "reason": None, "message": message}


class CenterStatus:
    def __init__(self, url: str, ca: Path | None = None, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca)) if ca is not None else True
        self.http = httpx.Client(verify=verify, timeout=timeout, trust_env=False)

    def lookup(self, serial: str) -> dict[str, Any]:
        if not _SERIAL.match(serial):
            return not_checked("証明書番号が読み取れません。 / The serial is unreadable.")
        try:
            r = self.http.get(f"{self.url}/v1/certificates/{serial}/status")
            if r.status_code != 200:
                return not_checked(NOT_CHECKED_UNREACHABLE)
            body = r.json()
            status = str(body["status"])
            reason = body.get("reason")
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return not_checked(NOT_CHECKED_UNREACHABLE)
        if status not in ("valid", "void", "pending", "unknown"):
            return not_checked(NOT_CHECKED_UNREACHABLE)
        return {"checked": True, "status": status, "reason": None if reason is None else str(reason)[:200],
                "message": _MESSAGES[status]}


_MESSAGES = {
    "valid": "有効：発行センターの記録で有効です。 / Valid according to the issuing center.",
    "void": "無効：この証明書は発行センターで無効とされています。 / Void: the issuing center has voided this certificate.",
    "pending": "未確定：印刷の報告がまだありません。 / Not final: the kiosk has not reported the print yet.",
    "unknown": "不明：発行センターにこの証明書番号の記録がありません。 / Unknown: the issuing center has no record of this serial.",
}
