"""The kiosk's CUPS printer (``LpPrinter``) against a real CUPS scheduler.

A private ``cupsd`` (tests/devices.py) with a queue whose paper tray is a
folder. Every copy is a job; a copy counts when the scheduler says its job
is completed; a jam, a stopped queue or a missing queue is reported, and
neither the scheduler's spool nor the kiosk's temporary folder keeps the
certificate. Skips with the reason where CUPS is not installed; fails
instead under ``KOFU_REQUIRE_CUPS=1`` (CI).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kofu.kiosk.web.devices import DeviceError, LpPrinter
from tests.devices import CupsQueue, files_mentioning, private_cups

HOLDER = "山田 太郎"
ADDRESS = "加東市"


@pytest.fixture(scope="module")
def certificate() -> bytes:
    from kofu.render import render_juminhyo
    from kofu.render import samples as s

    pdf = render_juminhyo(s.document((s.member(0),))).pdf
    assert HOLDER.split()[0] in pdftotext_bytes(pdf)  # the search below can find the holder
    return pdf


def pdftotext_bytes(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-q", "-", "-"], input=pdf, capture_output=True, timeout=60).stdout.decode()


@pytest.fixture(scope="module")
def cups_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CupsQueue]:
    with private_cups(tmp_path_factory.mktemp("cups")) as q:
        yield q


@pytest.fixture
def q(cups_queue: CupsQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CupsQueue]:
    for paper in cups_queue.papers():
        paper.unlink()
    cups_queue.jam(False)
    subprocess.run(["cupsenable", cups_queue.queue], env=cups_queue.env(), check=True, timeout=30)
    kiosk_tmp = tmp_path / "kiosk-tmp"
    kiosk_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(kiosk_tmp))  # lp's temporary files, if it made any
    yield cups_queue
    assert not list(kiosk_tmp.iterdir()), "the kiosk's temporary folder keeps a print job"


def nothing_left(q: CupsQueue) -> None:
    assert not [p.name for p in q.spool.glob("d*")], "the scheduler keeps a job's document"
    assert files_mentioning(q.spool, [HOLDER, HOLDER.split()[0], ADDRESS]) == []


def test_each_copy_counts_when_its_job_is_completed_and_nothing_stays_behind(q, certificate) -> None:
    printer = LpPrinter(q.queue, server=q.server, timeout=60)
    seen: list[tuple[int, int]] = []
    printer.print_job(certificate, 2, lambda n: seen.append((n, len(q.papers()))))
    assert seen == [(1, 1), (2, 2)]  # the paper was out before the copy was counted
    papers = q.papers()
    assert len(papers) == 2
    for paper in papers:
        assert paper.read_bytes() == certificate
        assert HOLDER.split()[0] in pdftotext_bytes(paper.read_bytes())
    # The check below can fail: it finds the holder on the paper.
    assert files_mentioning(q.tray, [HOLDER.split()[0]])
    nothing_left(q)
    # Each job asked for duplex printing (as its backend was given it).
    assert all("sides=two-sided-long-edge" in p.with_suffix(".options").read_text() for p in papers)


def test_a_scheduler_that_keeps_job_files_keeps_no_certificate(certificate, tmp_path: Path) -> None:
    with private_cups(tmp_path / "cups", preserve_job_files=True) as keeping:
        LpPrinter(keeping.queue, server=keeping.server, timeout=60).print_job(certificate, 1, lambda n: None)
        assert len(keeping.papers()) == 1
        nothing_left(keeping)


def test_a_jam_before_the_first_copy_is_reported_and_nothing_counts(q, certificate) -> None:
    q.jam()
    seen: list[int] = []
    with pytest.raises(DeviceError, match="aborted: paper jam"):
        LpPrinter(q.queue, server=q.server, timeout=60).print_job(certificate, 1, seen.append)
    assert seen == [] and q.papers() == []
    nothing_left(q)


def test_a_jam_after_the_first_copy_reports_the_second_and_keeps_the_first(q, certificate) -> None:
    seen: list[int] = []

    def on_copy(n: int) -> None:
        seen.append(n)
        q.jam()

    with pytest.raises(DeviceError, match="copy 2: .*aborted"):
        LpPrinter(q.queue, server=q.server, timeout=60).print_job(certificate, 2, on_copy)
    assert seen == [1] and len(q.papers()) == 1
    nothing_left(q)


def test_a_stopped_queue_is_reported_and_its_job_cancelled_and_purged(q, certificate) -> None:
    subprocess.run(["cupsdisable", "-r", "out of paper", q.queue], env=q.env(), check=True, timeout=30)
    seen: list[int] = []
    with pytest.raises(DeviceError, match="is stopped"):
        LpPrinter(q.queue, server=q.server, timeout=60).print_job(certificate, 1, seen.append)
    assert seen == [] and q.papers() == []
    assert "kofu" not in q.lpstat("-o", q.queue)  # no job waits for the queue to start again
    nothing_left(q)


def test_a_copy_that_takes_too_long_is_cancelled(q, certificate) -> None:
    subprocess.run(["cupsdisable", q.queue], env=q.env(), check=True, timeout=30)
    printer = LpPrinter(q.queue, server=q.server, timeout=0.5)
    printer.PRINTER_STOPPED = -1  # look only at the clock here
    with pytest.raises(DeviceError, match="not printed within 0.5 s"):
        printer.print_job(certificate, 1, lambda n: None)
    nothing_left(q)


def test_a_queue_that_does_not_exist_is_a_clear_error(q, certificate) -> None:
    with pytest.raises(DeviceError, match="lp failed"):
        LpPrinter("no-such-queue", server=q.server).print_job(certificate, 1, lambda n: None)
