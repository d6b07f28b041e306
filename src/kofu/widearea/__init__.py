"""The wide-area interface (広域交付インタフェース) between the center and the issuers.

SOAP 1.1 over HTTPS with mutual TLS. The WSDL and XSD in this folder are the
contract; the issuer serves them at ``<issuer URL>/wide-area?wsdl`` and the
center builds its zeep client from that URL alone.

This module holds what both sides must agree on beyond the WSDL: the interface
versions and the order binding.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CURRENT_VERSION = "2.1"
"""The version the center sends."""

ACCEPTED_VERSIONS = ("2.1", "2.0")
"""Two versions are accepted at a time; anything else gets a SOAP fault naming these."""

NAMESPACE = "urn:kofu:wide-area:2"

HERE = Path(__file__).parent
WSDL_PATH = HERE / "wide-area.wsdl"
XSD_PATH = HERE / "wide-area.xsd"


def order_binding(resident_link: str, order_id: str, message_serial: str) -> str:
    """The hash that binds a sealed certificate to one holder and one order.

    The issuer writes it inside the signed PDF (document keywords, covered by
    the e-seal). Before the center hands print data to a kiosk, it recomputes
    the hash from *its own* session state (the authenticated holder's link, the
    order it created, the 電文通番 it sent) and compares. A print job that
    picked up someone else's document under load cannot pass.
    """
    for name, value in (("resident_link", resident_link), ("order_id", order_id), ("message_serial", message_serial)):
        if not value or "\n" in value:
            raise ValueError(f"{name} must be a non-empty single-line string")
    data = f"kofu-binding-v1\n{resident_link}\n{order_id}\n{message_serial}".encode()
    return hashlib.sha256(data).hexdigest()
