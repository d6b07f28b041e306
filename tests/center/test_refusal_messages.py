"""What reaches the kiosk when an issuer refuses: its words, in Japanese and English.

An IssueCertificate refused at issuance (the hour turned 23:00 between the
offer and the payment, maintenance began) arrives as a SOAP fault whose
FaultDetail carries the resident's words; the center passes both languages on
in the kiosk API's JSON {error, message, message_en, detail}.
"""

from __future__ import annotations

from typing import Any

import pytest
import zeep.exceptions
from lxml import etree

from kofu.center import errors
from kofu.center.widearea_client import WideAreaClient, parse_fault
from kofu.domain.rules import NEUTRAL_MESSAGE_EN, NEUTRAL_MESSAGE_JA
from kofu.widearea import NAMESPACE

HOURS_JA = "ただいまコンビニ交付のサービス時間外です。サービス時間は毎日6:30～23:00（12月29日～1月3日を除く）です。"
HOURS_EN = "The service is closed at this hour. Certificates are issued every day from 6:30 to 23:00 Japan time."


def fault(code: str, *, retryable: bool = False, ja: str | None = None, en: str | None = None) -> zeep.exceptions.Fault:
    detail = etree.Element("detail")
    node = etree.SubElement(detail, f"{{{NAMESPACE}}}FaultDetail")
    etree.SubElement(node, f"{{{NAMESPACE}}}Code").text = code
    etree.SubElement(node, f"{{{NAMESPACE}}}Retryable").text = "true" if retryable else "false"
    if ja is not None:
        message = etree.SubElement(node, f"{{{NAMESPACE}}}Message")
        etree.SubElement(message, f"{{{NAMESPACE}}}Ja").text = ja
        etree.SubElement(message, f"{{{NAMESPACE}}}En").text = en
    return zeep.exceptions.Fault(f"refused ({code})", code="soap:Client", detail=detail)  # type: ignore[no-untyped-call]


def test_parse_fault_reads_both_languages() -> None:
    got = parse_fault(fault("center-hours", ja=HOURS_JA, en=HOURS_EN))
    assert (got.code, got.retryable, got.message_ja, got.message_en) == ("center-hours", False, HOURS_JA, HOURS_EN)
    bare = parse_fault(fault("fee-mismatch"))
    assert (bare.message_ja, bare.message_en) == (None, None)


class _Refusing:
    def __init__(self, f: zeep.exceptions.Fault) -> None:
        self.f = f

    def IssueCertificate(self, **_kw: Any) -> Any:  # noqa: N802 - the wide-area operation's name
        raise self.f


@pytest.mark.parametrize(("f", "message", "message_en"), [
    # A refusal about the clock: the issuer's own words, both languages.
    (fault("center-hours", ja=HOURS_JA, en=HOURS_EN), HOURS_JA, HOURS_EN),
    # About the person: the issuer sends the neutral words; without any, the center's neutral ones.
    (fault("resident-removed", ja=NEUTRAL_MESSAGE_JA, en=NEUTRAL_MESSAGE_EN),
     NEUTRAL_MESSAGE_JA, NEUTRAL_MESSAGE_EN),
    (fault("nothing-offered"), NEUTRAL_MESSAGE_JA, NEUTRAL_MESSAGE_EN),
])
def test_an_issuer_refusal_reaches_the_kiosk_in_both_languages(
    monkeypatch: pytest.MonkeyPatch, f: zeep.exceptions.Fault, message: str, message_en: str
) -> None:
    client = WideAreaClient("https://127.0.0.1:1", ca="ca.pem", client_cert="c.pem", client_key="k.pem", retries=1)
    monkeypatch.setattr(client, "_service", lambda: _Refusing(f))
    with pytest.raises(errors.Refused) as e:
        client.call("IssueCertificate", MessageSerial="s-1")
    body = e.value.to_json()
    assert e.value.status == 403
    assert body["error"] == parse_fault(f).code
    assert (body["message"], body["message_en"]) == (message, message_en)
    assert set(body) == {"error", "message", "message_en", "detail"}


def test_every_center_error_speaks_both_languages() -> None:
    classes = [errors.CenterError, *errors.CenterError.__subclasses__()]
    assert len(classes) == 11
    for cls in classes:
        body = cls("why").to_json()
        assert body["message"] and body["message_en"], cls
        assert body["message_en"].isascii(), cls
