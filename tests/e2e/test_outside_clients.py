"""What an outside client sees of a running world, using only demo.json."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import requests
import zeep
import zeep.exceptions
from zeep.transports import Transport

from kofu.antiforgery.keys import published_keys
from kofu.web import client_ssl_context
from kofu.widearea import CURRENT_VERSION

pytestmark = pytest.mark.slow


def _zeep(world, cert: str, key: str) -> zeep.Client:
    session = requests.Session()
    session.trust_env = False  # this machine's REQUESTS_CA_BUNDLE would replace our CA
    session.verify = world["tls"]["ca"]
    session.cert = (cert, key)
    return zeep.Client(f"{world['services']['issuer']}/wide-area?wsdl", transport=Transport(session=session))


def test_zeep_from_wsdl_with_the_center_certificate(world) -> None:
    client = _zeep(world, world["tls"]["center_client_cert"], world["tls"]["center_client_key"])
    status = client.service.GetServiceStatus(InterfaceVersion=CURRENT_VERSION)
    assert {m.Code for m in status.Municipality} >= {"282286", "282154"}


def test_a_store_operator_cannot_call_the_issuer(world) -> None:
    client = _zeep(world, world["tls"]["client_cert"], world["tls"]["client_key"])
    with pytest.raises(zeep.exceptions.Fault, match="not the center"):
        client.service.GetServiceStatus(InterfaceVersion=CURRENT_VERSION)


def test_center_publishes_openapi_and_qr_keys_but_the_kiosk_api_needs_a_store_certificate(world) -> None:
    anonymous = client_ssl_context(Path(world["tls"]["ca"]))
    with httpx.Client(verify=anonymous) as c:
        spec = c.get(f"{world['services']['center']}/openapi.json").json()
        keys = c.get(f"{world['services']['center']}/.well-known/kofu-qr-keys.json").json()
        r = c.post(f"{world['services']['center']}/v1/sessions", json={"kiosk_id": "k"})
    assert "/v1/sessions" in spec["paths"]
    # The QR keys a receiver needs: the center's own public keys, every one, and nothing private.
    published = published_keys(Path(world["antiforgery"]["keys"]))["keys"]
    assert published and keys["keys"] == published
    assert all(k["kty"] == "EC" and k["crv"] == "P-256" and k["kid"] and "d" not in k for k in keys["keys"])
    assert r.status_code == 401 and r.json()["error"] == "no-client-certificate"


def test_center_refuses_a_center_certificate_as_a_store(world) -> None:
    """Only store-operator certificates open kiosk sessions."""
    tls = client_ssl_context(
        Path(world["tls"]["ca"]), Path(world["tls"]["center_client_cert"]), Path(world["tls"]["center_client_key"])
    )
    with httpx.Client(verify=tls) as c:
        r = c.post(f"{world['services']['center']}/v1/sessions", json={"kiosk_id": "k"})
    assert r.status_code == 401 and r.json()["error"] == "not-a-store"
