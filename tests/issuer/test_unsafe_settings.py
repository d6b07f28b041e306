"""Finding 6 of issue 13: an issuer config without [tls] served plain HTTP and
issued sealed certificates to anonymous callers, with no warning."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from kofu.procs import free_port, kofu_argv, start_service
from tests.issuer.conftest import write_config

pytestmark = pytest.mark.slow


@pytest.fixture
def plain(tmp_path: Path) -> tuple[Path, int]:
    port = free_port()
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'issuer.sqlite'}", port, None), port


def test_issuer_without_tls_refuses_to_start(plain: tuple[Path, int]) -> None:
    config, _port = plain
    done = subprocess.run(kofu_argv("serve", "issuer", "--config", str(config)),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "no [tls]" in done.stderr and "unsafe_plain_http" in done.stderr


def test_explicit_unsafe_setting_starts_and_says_so_loudly(plain: tuple[Path, int], tmp_path: Path) -> None:
    config, port = plain
    config.write_text("unsafe_plain_http = true\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    log = tmp_path / "issuer.log"
    svc = start_service("issuer", kofu_argv("serve", "issuer", "--config", str(config)), port, log)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).text == "ok"
        wsdl = httpx.get(f"http://127.0.0.1:{port}/wide-area?wsdl", headers={"Host": "evil.example"}).text
        assert f'location="http://127.0.0.1:{port}/wide-area"' in wsdl
    finally:
        svc.stop()
    text = log.read_text(errors="replace")
    assert "UNSAFE" in text and "plain HTTP" in text


def test_soap_body_cap_declared_and_streamed(issuer_service) -> None:
    """Finding 7 (untested promise): the issuer's SOAP body cap, for a declared length
    and for a chunked body that only grows past it while streaming."""
    from kofu.web import client_ssl_context
    from kofu.widearea.soap import MAX_REQUEST_BYTES

    world, svc, url = issuer_service
    ctx = client_ssl_context(world.ca, world.client_cert, world.client_key)
    big = b"<x>" + b"a" * MAX_REQUEST_BYTES + b"</x>"

    def chunks():
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536]

    with httpx.Client(verify=ctx, timeout=60) as http:
        for body in (big, chunks()):
            r = http.post(f"{url}/wide-area", content=body, headers={"Content-Type": "text/xml"})
            assert r.status_code == 500 and b"too-large" in r.content, r.text[:300]
        assert http.get(f"{url}/healthz").text == "ok"
    assert svc.process.poll() is None
