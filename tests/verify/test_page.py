"""The upload page in a real browser (Debian's chromium), with the verification
replaced by a double: the form, its script under the Content-Security-Policy,
the result page's images and the refusals, as a receiver sees them.

The same flow against the real service and real scans is in test_site.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kofu.verify.app import build_app
from tests.verify.conftest import serve_in_thread
from tests.verify.test_app import GOOD, LIMIT, png, verifier

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, Any]]:
    v = verifier()
    with serve_in_thread(build_app(v)) as url:
        yield url, v


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(locale="ja-JP")
    p = context.new_page()
    problems: list[str] = []
    # A CSP violation or a script error shows up on the console: none is allowed.
    p.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: problems.append(str(e)))
    p.problems = problems
    yield p
    context.close()


def test_form_submit_shows_result_with_images(
    site: tuple[str, Any], page: Any, tmp_path: Path
) -> None:
    url, v = site
    page.goto(url + "/")
    assert page.locator("h1").inner_text().startswith("証明書の確認")
    assert page.get_by_label("裏面のスキャン").get_attribute("required") is not None
    back, front = tmp_path / "back.png", tmp_path / "front.png"
    back.write_bytes(png(50, 70, "gray"))
    front.write_bytes(png(50, 70, "white"))
    page.set_input_files("#back", str(back))
    page.set_input_files("#front", str(front))
    with page.expect_navigation() as nav:
        page.click("#submit")
    assert nav.value.status == 200
    assert v.calls[-1] == (back.read_bytes(), front.read_bytes())
    assert page.locator("#qr-verdict").get_attribute("data-valid") == "true"
    assert "改ざんの疑いあり" in page.locator("#tamper-verdict").inner_text()
    for img in ("#restored", "#marked"):
        assert page.eval_on_selector(img, "i => i.complete && i.naturalWidth") == 60
    assert page.locator("#regions tbody tr").count() == len(GOOD.regions)
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)
    assert page.problems == []


def test_submit_disables_button_while_verifying(
    site: tuple[str, Any], page: Any, tmp_path: Path
) -> None:
    """site.js runs (it is a file, allowed by the CSP): the button greys out on submit."""
    url, _ = site
    page.goto(url + "/")
    # Keep the page on the form to look at it: a listener of the test's own
    # cancels the navigation; site.js's listener still runs.
    page.evaluate(
        "document.getElementById('verify-form').addEventListener('submit', e => e.preventDefault())"
    )
    assert page.locator("#submit").is_enabled() and not page.locator("#busy").is_visible()
    back = tmp_path / "b.png"
    back.write_bytes(png())
    page.set_input_files("#back", str(back))
    page.click("#submit")
    assert page.locator("#submit").is_disabled()
    assert page.locator("#busy").is_visible()
    assert page.problems == []


def test_oversized_upload_shows_413_page(site: tuple[str, Any], page: Any, tmp_path: Path) -> None:
    url, v = site
    calls = len(v.calls)
    page.goto(url + "/")
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (LIMIT + 1))
    page.set_input_files("#back", str(big))
    with page.expect_navigation() as nav:
        page.click("#submit")
    assert nav.value.status == 413
    assert "ファイルが大きすぎます" in page.locator("#error-message").inner_text()
    assert len(v.calls) == calls
    assert httpx.get(url + "/healthz").text == "ok"
