# ruff: noqa: F811  (pytest fixtures imported from test_site are redefined as parameters)
"""Finding 4 of issue 13: the verification site could be stalled.

As found: a small PDF whose content stream decompresses to a large drawing
kept pdfium busy for minutes, kept running after the client left, held the
pdfium lock so every other PDF verification timed out, and the process
ignored SIGTERM; uploads were read before the two-slot limit. Here against
``kofu serve verify`` as a real process with a 2-second verification limit.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kofu.procs import Service, free_port, kofu_argv, start_service
from tests.verify.test_site import Scans, center_keys, scans  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


def drawing_bomb() -> bytes:
    """About 40 KB of PDF whose page is 400,000 filled paths (minutes of pdfium)."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.pages[0].obj.Contents = pdf.make_stream(b"0 0 m 595 842 l 0 842 l 595 0 l h f\n" * 400_000)
    out = io.BytesIO()
    pdf.save(out, compress_streams=True)
    assert len(out.getvalue()) < 64 * 1024
    return out.getvalue()


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (a zombie waiting for its reaper is not)."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _start(center_keys: Any, d: Path, **limits: float) -> tuple[str, Service]:
    master, qr, _, _ = center_keys
    config = d / "verify.toml"
    lines = "".join(f"{k} = {v}\n" for k, v in limits.items())
    config.write_text(f'[keys]\nmaster_key = "{master}"\nqr_keys = "{qr}"\n\n[limits]\n{lines}', encoding="utf-8")
    port = free_port()
    svc = start_service("verify", kofu_argv("serve", "verify", "--config", str(config), "--port", str(port)),
                        port, d / "verify.log")
    return f"http://127.0.0.1:{port}", svc


@pytest.fixture
def site(center_keys, tmp_path: Path) -> Iterator[tuple[str, Service]]:
    url, svc = _start(center_keys, tmp_path, max_seconds=2, max_queue_seconds=1)
    try:
        yield url, svc
    finally:
        svc.stop()


def _post(url: str, data: bytes, name: str = "back.pdf", timeout: float = 60) -> httpx.Response:
    return httpx.post(url + "/api/verify", files={"back": (name, data, "application/pdf")}, timeout=timeout)


def test_drawing_bomb_is_stopped_and_others_are_served(site, scans: Scans) -> None:
    url, svc = site
    bomb = drawing_bomb()
    outcome: dict[str, Any] = {}

    def attack() -> None:
        started = time.monotonic()
        outcome["response"] = _post(url, bomb)
        outcome["seconds"] = time.monotonic() - started

    t = threading.Thread(target=attack)
    t.start()
    time.sleep(0.3)
    # Meanwhile a genuine scan is verified: nothing is held by the bomb.
    r = _post(url, scans.back.read_bytes(), "back.jpg")
    assert r.status_code == 200 and r.json()["qr_valid"] is True
    t.join(30)
    assert outcome["response"].status_code == 422, outcome["response"].text
    assert "limits" in outcome["response"].json()["error"] and outcome["seconds"] < 10
    assert svc.process.poll() is None and httpx.get(url + "/healthz").text == "ok"


def test_worker_is_killed_when_the_client_goes(center_keys, tmp_path: Path) -> None:
    url, svc = _start(center_keys, tmp_path, max_seconds=60)  # only the client's leaving can stop it early
    try:
        assert _post(url, b"not a scan", "x.png").status_code == 400  # the worker machinery is up
        baseline = len(_descendants(svc.process.pid))

        def leave_early() -> None:
            with pytest.raises(httpx.TimeoutException):
                _post(url, drawing_bomb(), timeout=1.5)

        t = threading.Thread(target=leave_early)
        t.start()
        time.sleep(0.8)
        assert len(_descendants(svc.process.pid)) > baseline  # the worker is rendering …
        t.join(10)
        deadline = time.monotonic() + 2  # … and is gone soon after the client
        while len(_descendants(svc.process.pid)) > baseline and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_descendants(svc.process.pid)) == baseline
    finally:
        svc.stop()


def test_slots_are_taken_before_the_upload_is_read(site) -> None:
    url, _svc = site
    bomb = drawing_bomb()
    threads = [threading.Thread(target=_post, args=(url, bomb)) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.4)
    started = time.monotonic()
    r = _post(url, bomb)
    assert r.status_code == 503 and time.monotonic() - started < 1.9
    for t in threads:
        t.join(30)


def test_sigterm_stops_it_within_seconds(center_keys, tmp_path: Path) -> None:
    url, svc = _start(center_keys, tmp_path, max_seconds=120)
    try:
        def doomed() -> None:
            with pytest.raises(httpx.HTTPError):  # the server goes away under it
                _post(url, drawing_bomb())

        t = threading.Thread(target=doomed)
        t.start()
        time.sleep(1.0)
        children = _descendants(svc.process.pid)
        started = time.monotonic()
        svc.process.send_signal(signal.SIGTERM)
        svc.process.wait(15)
        assert time.monotonic() - started < 8
        deadline = time.monotonic() + 3
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(children), {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:80] for pid in _alive(children)}
        t.join(10)
    finally:
        svc.stop()


def _allocate(back: bytes, front: bytes | None) -> Any:
    return bytearray(len(back) * 1024 * 1024)  # back's length in MiB


def test_memory_limit_stops_the_worker() -> None:
    """resource.setrlimit(RLIMIT_AS) in the worker: an allocation past it fails there, not here."""
    import asyncio

    from kofu.verify.worker import VerificationAborted, run_isolated

    async def go(mib: int) -> Any:
        return await run_isolated(_allocate, b"x" * mib, None, max_seconds=30, max_memory_bytes=1024 * 1024 * 1024)

    assert len(asyncio.run(go(64))) == 64 * 1024 * 1024
    with pytest.raises(VerificationAborted, match="more memory"):
        asyncio.run(go(2048))
