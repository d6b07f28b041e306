"""The site's edge in process: pages, headers, upload limits, error mapping.

The verification itself is replaced by a recording double here, so these
tests pin down what the edge promises (uploads held in memory and bounded,
the right status codes and messages, results shown and escaped) without
paying for a restoration; test_site.py runs the real thing in a browser.
"""

from __future__ import annotations

import base64
import io
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import Image
from starlette.testclient import TestClient

from kofu.verify.app import CONTENT_SECURITY_POLICY, Verifier, build_app
from kofu.verify.settings import UploadLimits

LIMIT = 64 * 1024


def png(width: int = 40, height: int = 30, colour: str = "white") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Result:
    qr_valid: bool
    payload: Any
    serial: str | None
    restored_png: bytes | None
    tampered: bool | None
    regions: tuple[Region, ...]
    marked_png: bytes | None
    diagnostics: tuple[str, ...] = ()
    unchecked: tuple[Region, ...] = ()


@dataclass(frozen=True)
class RecordingVerifier(Verifier):
    result: Any = None
    raises: BaseException | None = None
    calls: list[tuple[bytes, bytes | None]] = field(default_factory=list)

    def verify(self, back: bytes, front: bytes | None) -> Any:
        self.calls.append((back, front))
        if self.raises is not None:
            raise self.raises
        return self.result


GOOD = Result(
    qr_valid=True,
    payload={
        "serial": "K-0001",
        "municipality": "加東市",
        "kind": "住民票の写し",
        "issued_on": "2025-04-01",
        "page": 1,
        "pages": 2,
    },
    serial="K-0001",
    restored_png=png(60, 80),
    tampered=True,
    regions=(Region(10, 20, 30, 12),),
    marked_png=png(60, 80, "red"),
    diagnostics=("aligned with 0.4° rotation",),
)


def client(verifier: Verifier) -> TestClient:
    return TestClient(build_app(verifier))


def verifier(**kw: Any) -> RecordingVerifier:
    kw.setdefault("result", GOOD)
    return RecordingVerifier(
        keyring=None, jwks={}, limits=UploadLimits(max_upload_bytes=LIMIT), **kw
    )


def test_index_is_japanese_form_with_security_headers() -> None:
    r = client(verifier()).get("/")
    assert r.status_code == 200
    assert '<html lang="ja">' in r.text
    assert "証明書の確認" in r.text
    assert re.search(r'<input id="back" name="back" type="file" required', r.text)
    assert re.search(r'<input id="front" name="front" type="file"\s', r.text)
    assert 'enctype="multipart/form-data"' in r.text
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in r.text and " style=" not in r.text  # nothing inline


def test_static_and_health() -> None:
    c = client(verifier())
    assert c.get("/healthz").text == "ok"
    css = c.get("/static/site.css")
    assert css.status_code == 200 and css.headers["cache-control"] == "no-store"
    assert c.get("/static/site.js").status_code == 200
    missing = c.get("/nope")
    assert missing.status_code == 404 and "Page not found" in missing.text


def test_api_back_only() -> None:
    v = verifier()
    back = png()
    r = client(v).post("/api/verify", files={"back": ("back.png", back, "image/png")})
    assert r.status_code == 200, r.text
    assert v.calls == [(back, None)]
    body = r.json()
    assert body["qr_valid"] is True
    assert body["serial"] == "K-0001"
    assert body["tampered"] is None and body["regions"] == []  # no front, no verdict
    assert base64.b64decode(body["restored_png_base64"]) == GOOD.restored_png
    assert body["diagnostics"] == ["aligned with 0.4° rotation"]
    assert r.headers["cache-control"] == "no-store"


def test_api_back_and_front() -> None:
    v = verifier()
    r = client(v).post(
        "/api/verify",
        files={
            "back": ("b.jpg", b"BACK", "image/jpeg"),
            "front": ("f.pdf", b"FRONT", "application/pdf"),
        },
    )
    assert r.status_code == 200, r.text
    assert v.calls == [(b"BACK", b"FRONT")]
    body = r.json()
    assert body["tampered"] is True
    assert body["regions"] == [{"x": 10, "y": 20, "width": 30, "height": 12}]
    assert base64.b64decode(body["marked_png_base64"]) == GOOD.marked_png


def test_result_page_shows_payload_images_and_regions() -> None:
    r = client(verifier()).post(
        "/verify",
        files={"back": ("b.png", b"B", "image/png"), "front": ("f.png", b"F", "image/png")},
    )
    assert r.status_code == 200
    assert 'data-valid="true"' in r.text
    assert "加東市" in r.text and "住民票の写し" in r.text and "2枚中1枚目" in r.text
    assert "改ざんの疑いあり" in r.text
    restored = re.search(r'<img id="restored" src="data:image/png;base64,([^"]+)"', r.text)
    assert restored and base64.b64decode(restored.group(1)) == GOOD.restored_png
    assert re.search(r'<img id="marked" src="data:image/png;base64,', r.text)
    assert re.search(r"<td>1</td><td>10</td><td>20</td><td>30</td><td>12</td>", r.text)


def test_untampered_and_invalid_qr_are_said_plainly() -> None:
    from dataclasses import replace

    res = replace(GOOD, qr_valid=False, tampered=False, regions=())
    r = client(verifier(result=res)).post(
        "/verify",
        files={"back": ("b.png", b"B", "image/png"), "front": ("f.png", b"F", "image/png")},
    )
    assert 'data-valid="false"' in r.text and "無効" in r.text
    assert "改ざんの疑いなし" in r.text and 'id="regions"' not in r.text


def test_parts_not_checked_are_shown_apart() -> None:
    """Issue 17: a part of a photo that could not be judged (glare) is shown as not checked,
    never folded into "no alteration"; the API lists it apart from the regions."""
    from dataclasses import replace

    res = replace(GOOD, tampered=False, regions=(), unchecked=(Region(600, 1100, 300, 320),))
    c = client(verifier(result=res))
    files = {"back": ("b.png", b"B", "image/png"), "front": ("f.png", b"F", "image/png")}
    r = c.post("/verify", files=files)
    assert 'data-unchecked="1"' in r.text and "一部未確認" in r.text
    assert "判定できた部分に改ざんの疑いなし" in r.text
    body = c.post("/api/verify", files=files).json()
    assert body["tampered"] is False and body["regions"] == []
    assert body["unchecked"] == [{"x": 600, "y": 1100, "width": 300, "height": 320}]


def test_a_front_that_could_not_be_judged_is_never_said_to_match() -> None:
    """A front given but not judged (too much of a photo blurred, glare everywhere): the page
    says 未確認 and the API answers tampered null, never "no alteration"."""
    from dataclasses import replace

    res = replace(GOOD, tampered=None, regions=(), unchecked=(Region(0, 0, 1240, 1754),))
    c = client(verifier(result=res))
    files = {"back": ("b.png", b"B", "image/png"), "front": ("f.png", b"F", "image/png")}
    r = c.post("/verify", files=files)
    assert 'data-tampered="unchecked"' in r.text and "判定できません（未確認）" in r.text
    assert "改ざんの疑いなし" not in r.text
    body = c.post("/api/verify", files=files).json()
    assert body["tampered"] is None


def test_payload_is_escaped() -> None:
    from dataclasses import replace

    res = replace(GOOD, payload={**GOOD.payload, "municipality": "<script>alert(1)</script>"})
    r = client(verifier(result=res)).post("/verify", files={"back": ("b.png", b"B", "image/png")})
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text


def test_back_is_required() -> None:
    v = verifier()
    c = client(v)
    r = c.post("/verify", files={"front": ("f.png", b"F", "image/png")})
    assert r.status_code == 400 and "裏面のスキャン画像を選んでください" in r.text
    # A file input left empty arrives as an empty part: the same as absent.
    r = c.post("/api/verify", files={"back": ("", b"", "application/octet-stream")})
    assert r.status_code == 400 and "back side" in r.json()["error"]
    assert v.calls == []


def test_not_multipart_is_refused() -> None:
    r = client(verifier()).post(
        "/api/verify", content=b"hello", headers={"content-type": "text/plain"}
    )
    assert r.status_code == 400 and "multipart/form-data" in r.json()["error"]


def test_malformed_multipart_is_refused() -> None:
    r = client(verifier()).post(
        "/api/verify",
        content=b'--XX\r\nContent-Disposition: form-data; name="back"\r\n\r\nabc\r\n--YY--garbage',
        headers={"content-type": "multipart/form-data; boundary=XX"},
    )
    assert r.status_code == 400, r.text


def test_field_twice_is_refused() -> None:
    v = verifier()
    r = client(v).post(
        "/api/verify",
        files=[("back", ("a.png", b"A", "image/png")), ("back", ("b.png", b"B", "image/png"))],
    )
    assert r.status_code == 400 and "twice" in r.json()["error"]
    assert v.calls == []


@pytest.mark.parametrize("which", ["back", "front"])
def test_oversized_file_is_refused_before_verification(which: str) -> None:
    v = verifier()
    files = {
        "back": ("b.png", b"B", "image/png"),
        which: ("x.png", b"\0" * (LIMIT + 1), "image/png"),
    }
    r = client(v).post("/verify", files=files)
    assert r.status_code == 413
    assert "ファイルが大きすぎます" in r.text and "at most 0.0625 MiB per file" in r.text
    assert v.calls == []
    # Exactly the limit is fine.
    files[which] = ("x.png", b"\0" * LIMIT, "image/png")
    assert client(v).post("/verify", files=files).status_code == 200


def test_declared_length_over_the_cap_is_refused_unread() -> None:
    v = verifier()
    # Two files of LIMIT plus 1 MiB of envelope is the most a request may declare.
    r = client(v).post(
        "/api/verify",
        content=b"x",
        headers={
            "content-type": "multipart/form-data; boundary=XX",
            "content-length": str(2 * LIMIT + 1024 * 1024 + 1),
        },
    )
    assert r.status_code == 413
    assert v.calls == []


def test_uploads_never_touch_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any temporary file made while a request is handled fails the test.

    Starlette's own form parser spools each file to a SpooledTemporaryFile
    (and to disk past 1 MiB); this catches a return to it.
    """

    def no_temp_files(*a: Any, **kw: Any) -> Any:
        raise AssertionError("an upload went to a temporary file")

    import starlette.formparsers

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, no_temp_files)
    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", no_temp_files)
    v = verifier()
    big = bytes(range(256)) * (LIMIT // 256)
    r = client(v).post("/api/verify", files={"back": ("b.png", big, "image/png")})
    assert r.status_code == 200, r.text
    assert v.calls == [(big, None)]
