"""The verification result reads as the certificate prints it."""

from __future__ import annotations

from datetime import date

from kofu.antiforgery.qr import QrPayload
from kofu.domain.ids import issue_number
from kofu.verify.app import payload_rows
from kofu.verify.describe import describe

SERIAL = "3f" * 16


def payload(**kw: object) -> QrPayload:
    base: dict[str, object] = dict(serial=SERIAL, municipality="282286", kind="juminhyo",
                                   issued_on=date(2026, 11, 21), page=1, pages=2, fields_digest=b"\0" * 32,
                                   municipality_name="加東市")
    base.update(kw)
    return QrPayload(**base)  # type: ignore[arg-type]


def test_kind_municipality_and_date_as_printed() -> None:
    d = describe(payload())
    assert d == {
        "certificate_number": issue_number(SERIAL, date(2026, 11, 21)),
        "kind_name": "住民票の写し",
        "title": "住民票の写し",
        "municipality": "加東市（282286）",
        "issued_on_wareki": "令和8年11月21日",
    }
    # The printed title, signed in the QR, is what the receiver reads; the category stays.
    tax = describe(payload(kind="zeimu", title="納税証明書"))
    assert (tax["title"], tax["kind_name"]) == ("納税証明書", "各種税証明書")
    # A QR printed before the title was signed in it: the category name.
    assert describe(payload(kind="zeimu"))["title"] == "各種税証明書"
    # A QR printed before the name was signed in it: the code alone.
    assert describe(payload(municipality_name=None))["municipality"] == "282286"


def test_result_rows() -> None:
    rows = {ja: value for ja, _en, value in payload_rows(payload(kind="koseki"), SERIAL)}
    assert rows["証明書の種類"] == "戸籍証明書" and rows["市区町村"] == "加東市（282286）"
    assert rows["発行日"] == "令和8年11月21日" and rows["証明書番号"] == issue_number(SERIAL, date(2026, 11, 21))
    assert rows["シリアル番号（QR）"] == SERIAL and rows["枚数"].startswith("2枚中1枚目")
    assert "juminhyo" not in rows.values() and "koseki" not in rows.values()
    signed = payload(kind="koseki", title="戸籍全部事項証明書")
    rows = {ja: value for ja, _en, value in payload_rows(signed, SERIAL)}
    assert rows["証明書の種類"] == "戸籍全部事項証明書"
