"""Errors of the center, each with the HTTP status the kiosk API answers and a
message a resident can be shown.

    CenterError
    ├── AuthenticationFailed      401  challenge, certificate chain or card signature wrong
    ├── CardRevoked               403  OCSP says revoked (or unknown)
    ├── TrustServiceUnavailable   503  OCSP responder or JPKI directory did not answer (fail closed)
    ├── NotParticipating          403  the holder's municipality does not offer kiosk issuance
    ├── Refused                   403  the issuer's rules refuse (hours, restrictions, …)
    ├── PaymentShort              402  less money than the fee
    ├── OrderConflict             409  an action out of order (print before payment, …)
    ├── NotFound                  404  unknown or expired session or order
    ├── IssuerUnavailable         502  the issuer did not answer after the retries
    └── DocumentRejected          502  the issuer's document failed the seal or binding check

Each error carries what the kiosk shows the resident, in Japanese
(``message``) and English (``message_en``). A refusal about the person is
deliberately neutral: a resident is never told *why* beyond what they can act
on (a protected person's refusal must look like any other). A refusal about
the clock or the municipality's settings (hours, the year-end closure,
maintenance, a kind's hours, the copy limit) carries the issuer's specific
words, which say why and until when.
"""

from __future__ import annotations

from kofu.domain.rules import NEUTRAL_MESSAGE_EN, NEUTRAL_MESSAGE_JA


class CenterError(Exception):
    status = 500
    code = "internal"
    resident_message = "ただいま処理できません。しばらくしてから再度お試しください。"
    resident_message_en = "This cannot be processed at the moment. Please try again later."

    def __init__(
        self, detail: str, *, code: str | None = None, resident_message: str | None = None,
        resident_message_en: str | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if resident_message is not None:
            self.resident_message = resident_message
        if resident_message_en is not None:
            self.resident_message_en = resident_message_en

    def to_json(self) -> dict[str, str]:
        return {"error": self.code, "message": self.resident_message, "message_en": self.resident_message_en,
                "detail": self.detail}


class AuthenticationFailed(CenterError):
    status = 401
    code = "authentication-failed"
    resident_message = "カードの認証に失敗しました。カードを置き直して、もう一度お試しください。"
    resident_message_en = "The card could not be authenticated. Please place the card again and retry."


class CardRevoked(CenterError):
    status = 403
    code = "card-revoked"
    resident_message = "このカードの電子証明書は失効しています。お住まいの市区町村窓口にお問い合わせください。"
    resident_message_en = "This card's electronic certificate has been revoked. Please contact the counter of your municipality."


class TrustServiceUnavailable(CenterError):
    status = 503
    code = "trust-service-unavailable"


class NotParticipating(CenterError):
    status = 403
    code = "not-participating"
    resident_message = "お住まいの市区町村はコンビニ交付サービスを提供していません。"
    resident_message_en = "Your municipality does not offer certificates at convenience stores."


class Refused(CenterError):
    status = 403
    code = "refused"
    resident_message = NEUTRAL_MESSAGE_JA
    resident_message_en = NEUTRAL_MESSAGE_EN


class PaymentShort(CenterError):
    status = 402
    code = "payment-short"
    resident_message = "投入金額が手数料に足りません。"
    resident_message_en = "The money put in is less than the fee."


class OrderConflict(CenterError):
    status = 409
    code = "order-conflict"


class NotFound(CenterError):
    status = 404
    code = "not-found"
    resident_message = "受付が見つからないか、時間切れです。最初からやり直してください。"
    resident_message_en = "The transaction was not found or has timed out. Please start again."


class IssuerUnavailable(CenterError):
    status = 502
    code = "issuer-unavailable"
    resident_message = "ただいま市区町村のシステムに接続できません。しばらくしてから再度お試しください。"
    resident_message_en = "Your municipality's system cannot be reached at the moment. Please try again later."


class DocumentRejected(CenterError):
    status = 502
    code = "document-rejected"
