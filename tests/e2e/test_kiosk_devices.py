"""``kofu serve kiosk`` with its real device drivers: the card in a PC/SC reader
(pcscd + Debian's vpcd driver, the card file behind it, read with pyscard) and
the certificate printed through CUPS (``lp`` to a private scheduler whose
queue's paper tray is a folder; tests/devices.py).

The resident's touches are posted to the kiosk as the touch screen posts
them (the browser walks are tests/e2e/test_kiosk_ui.py); what this proves is
the devices: a certificate is issued through both, the paper is this holder's
certificate, the PIN's tries left and the lock come from the card through
PC/SC, and afterwards neither the kiosk (spool, receipts, temporary folder,
log) nor the CUPS scheduler's spool holds the holder's name or address.

Skips with the reason where pcscd/vpcd/pyscard or CUPS/pycups are missing;
fails instead under ``KOFU_REQUIRE_PCSC=1`` / ``KOFU_REQUIRE_CUPS=1`` (CI).
The world runs on SQLite only: the database is not what is tested here.
"""

from __future__ import annotations

import html
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kofu.jpki.vpcd import VpcdCard
from kofu.kiosk.web import catalog
from kofu.kiosk.web.settings import write_config
from kofu.procs import Service, free_port, kofu_argv, start_service
from tests.devices import (
    VPCD_PORT,
    VPCD_READER,
    CupsQueue,
    files_mentioning,
    private_cups,
    system_pcscd,
)
from tests.e2e.kiosk_people import card_with, fee_of, household, pdf_text, person

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("world", ["sqlite"], indirect=True)]

ja = catalog.translator("ja")


@pytest.fixture(scope="module")
def devices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CupsQueue]:
    with system_pcscd(tmp_path_factory.mktemp("pcscd") / "pcscd.log"), \
            private_cups(tmp_path_factory.mktemp("cups")) as q:
        yield q


@pytest.fixture(scope="module")
def kiosk(world: dict[str, Any], devices: CupsQueue) -> Iterator[dict[str, Any]]:
    root = world["_root"]
    folder = root / "kiosk-devices"
    port = free_port()
    toml = write_config(folder / "kiosk.toml", port=port, center_url=world["services"]["center"],
                        tls=world["tls"], card_dir=root / "cards", store="store-0001",
                        card_reader="pcsc", pcsc_reader=VPCD_READER,
                        printer="lp", lp_queue=devices.queue, lp_server=devices.server, lp_timeout=60)
    service: Service = start_service("kiosk-devices", kofu_argv("serve", "kiosk", "--config", str(toml)), port,
                                     folder / "kiosk.log", world["_env"])
    yield {"url": f"http://127.0.0.1:{port}", "folder": folder, "log": service.log, "cups": devices}
    service.stop()


class Touch:
    """One resident at the kiosk: each touch is the form post of the button touched."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, follow_redirects=True, timeout=60)
        self.page = self.http.get("/").text

    def screen(self) -> str:
        m = re.search(r'<main data-screen="([a-z-]+)"', self.page)
        assert m, self.page[:500]
        return m.group(1)

    def text(self) -> str:
        return html.unescape(self.page)

    def press(self, action: str, expect: str | None = None) -> None:
        self.page = self.http.post("/act", data={"a": action}).text
        if expect is not None:
            assert self.screen() == expect, (action, self.screen(), self.text()[-1500:])

    def wait_for(self, screen: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while self.screen() != screen:
            assert time.monotonic() < deadline, (screen, self.screen(), self.text()[-1500:])
            time.sleep(0.2)
            self.page = self.http.get("/").text

    def to_pin(self) -> None:
        self.wait_for("start")
        self.press("services", "services")
        self.press("certificates", "terms")
        self.press("agree", "card")
        # The card is in the reader: the screen offers the reader (pcscd may take a moment to see it).
        deadline = time.monotonic() + 10
        while f'value="place:{VPCD_READER}"' not in self.page:
            assert time.monotonic() < deadline, "the card screen does not offer the PC/SC reader"
            time.sleep(0.2)
            self.page = self.http.get("/").text
        self.press(f"place:{VPCD_READER}", "municipality")
        self.press("residence", "pin")

    def type_pin(self, pin: str) -> None:
        for digit in pin:
            self.press(f"digit:{digit}")
        self.press("ok")

    def close(self) -> None:
        self.http.close()


def own_card(card: dict[str, Any], tmp_path: Path) -> Path:
    """A copy of the card file for this test (its PIN counter changes)."""
    path = tmp_path / Path(card["path"]).name
    shutil.copy(card["path"], path)
    return path


def test_a_juminhyo_is_issued_through_the_pcsc_reader_and_printed_through_cups(world, kiosk,
                                                                              tmp_path: Path) -> None:
    root = world["_root"]
    q: CupsQueue = kiosk["cups"]
    card = card_with(world, "household")
    name, address = person(root, card)
    copies = 2
    fee = fee_of(root, card, "juminhyo") * copies
    before = set(q.papers())
    t = Touch(kiosk["url"])
    try:
        with VpcdCard(own_card(card, tmp_path), port=VPCD_PORT):
            t.to_pin()
            t.type_pin(card["pin"])
            assert t.screen() == "remove", t.text()[-1500:]
            t.press("removed")  # the kiosk lets go of the card; the resident takes it
        assert t.screen() == "kinds", t.text()[-1500:]
        t.press("kind:juminhyo", "scope")
        t.press("next", "items")
        t.press("next", "copies")
        t.press("more")
        t.press("next", "confirm")
        assert ja("yen", n=fee) in t.text()
        t.press("next", "pay")
        t.press("insert:1000")
        t.wait_for("reminder")
        assert ja("reminder.change", n=1000 - fee) in t.text()
        t.press("stop", "receipt")
        t.press("quit")
        t.wait_for("start")
    finally:
        t.close()
    # The paper: two copies, each this holder's certificate.
    printed = sorted(set(q.papers()) - before)
    assert len(printed) == copies
    for paper in printed:
        text = pdf_text(paper)
        for member in household(root, card)[:4]:
            assert member.replace(" ", "") in text, member
        assert "住民票の原本と相違ないことを証明する" in text
    secrets = [name, address]
    assert files_mentioning(q.tray, secrets)  # the search finds the holder where the holder is: on the paper
    # Nothing of the holder on the kiosk (spool, receipts, temporary files, log) or in CUPS's spool.
    folder = kiosk["folder"]
    assert files_mentioning(folder, secrets) == []
    assert files_mentioning(root / "service-tmp", secrets) == []
    assert files_mentioning(q.spool, secrets) == []
    assert not list(q.spool.glob("d*")), "the CUPS scheduler keeps a job's document"


def test_taking_the_card_out_of_the_pcsc_reader_moves_the_remove_screen_on_by_itself(world, kiosk,
                                                                                   tmp_path: Path) -> None:
    """「カードをお取りください」: no button needed with a real reader; the kiosk sees the card
    gone (PC/SC) and shows the kinds, as a multi-copy machine does."""
    card = card_with(world, "household", index=1)
    t = Touch(kiosk["url"])
    try:
        with VpcdCard(own_card(card, tmp_path), port=VPCD_PORT):
            t.to_pin()
            t.type_pin(card["pin"])
            assert t.screen() == "remove", t.text()[-1500:]
            assert 'hx-get="/poll?screen=remove"' in t.page  # the screen asks the kiosk every second
            for _ in range(3):  # while the card is in the reader the screen waits for it
                time.sleep(0.5)
                t.page = t.http.get("/poll?screen=remove").text
                t.page = t.http.get("/").text
                assert t.screen() == "remove", t.text()[-1500:]
        # The resident has taken the card (the vpcd card is out of the reader): nobody touches the screen.
        t.wait_for("kinds", timeout=20)
        assert ja("kind.juminhyo") in t.text()
        t.press("quit", "start")  # the card is gone already: nothing to give back, nothing to say
    finally:
        t.close()


def test_wrong_pins_through_pcsc_show_the_tries_left_and_then_the_lock(world, kiosk, tmp_path: Path) -> None:
    card = card_with(world, "single")
    path = own_card(card, tmp_path)
    wrong = "0000" if card["pin"] != "0000" else "1111"
    t = Touch(kiosk["url"])
    try:
        with VpcdCard(path, port=VPCD_PORT):
            t.to_pin()
            for left in (2, 1):
                t.type_pin(wrong)
                assert t.screen() == "pin"
                assert ja("pin.wrong", n=left) in t.text()
            t.type_pin(wrong)
            assert t.screen() == "message"
            assert ja("notice.locked") in t.text()
            t.press("ok")
            t.wait_for("start")
        # The lock is in the card: put back, the kiosk turns it away before asking the PIN.
        with VpcdCard(path, port=VPCD_PORT):
            t.press("services", "services")
            t.press("certificates", "terms")
            t.press("agree", "card")
            deadline = time.monotonic() + 10
            while f'value="place:{VPCD_READER}"' not in t.page:
                assert time.monotonic() < deadline
                time.sleep(0.2)
                t.page = t.http.get("/").text
            t.press(f"place:{VPCD_READER}", "message")
            assert ja("notice.locked") in t.text()
            t.press("ok")
    finally:
        t.close()


def test_a_jammed_cups_printer_cancels_the_order_and_returns_the_money(world, kiosk, tmp_path: Path) -> None:
    root = world["_root"]
    q: CupsQueue = kiosk["cups"]
    card = card_with(world, "single", index=1)
    name, address = person(root, card)
    before = set(q.papers())
    q.jam()
    t = Touch(kiosk["url"])
    try:
        with VpcdCard(own_card(card, tmp_path), port=VPCD_PORT):
            t.to_pin()
            t.type_pin(card["pin"])
            assert t.screen() == "remove", t.text()[-1500:]
            t.press("removed")
        t.press("kind:juminhyo")
        while t.screen() in ("scope", "items"):
            t.press("next")
        t.press("next", "confirm")
        t.press("next", "pay")
        t.press("insert:1000")
        t.wait_for("message")
        assert ja("notice.printer-failed") in t.text()
        assert ja("notice.refund", refund=1000) in t.text()
        t.press("ok")
    finally:
        q.jam(False)
        t.close()
    assert set(q.papers()) == before
    secrets = [name, address]
    assert files_mentioning(kiosk["folder"], secrets) == []
    assert files_mentioning(q.spool, secrets) == []


def test_a_cups_printer_that_jams_after_the_first_copy_reports_it_and_refunds_the_other(world, kiosk,
                                                                                     tmp_path: Path) -> None:
    root = world["_root"]
    q: CupsQueue = kiosk["cups"]
    card = card_with(world, "household", index=1)
    name, address = person(root, card)
    before = set(q.papers())
    q.jam(after=1)
    t = Touch(kiosk["url"])
    try:
        with VpcdCard(own_card(card, tmp_path), port=VPCD_PORT):
            t.to_pin()
            t.type_pin(card["pin"])
            assert t.screen() == "remove", t.text()[-1500:]
            t.press("removed")
        t.press("kind:juminhyo", "scope")
        t.press("next", "items")
        t.press("next", "copies")
        t.press("more")
        t.press("next", "confirm")
        t.press("next", "pay")
        t.press("insert:1000")
        t.wait_for("reminder")
        unit = fee_of(root, card, "juminhyo")
        # One copy is out and charged; the other's fee comes back with the change, never the whole 1000 yen.
        assert ja("notice.printer-partial") in t.text()
        assert ja("reminder.partial", n=1, total=2) in t.text()
        assert ja("reminder.refund", failed=1, refund=unit) in t.text()
        assert ja("reminder.change", n=1000 - 2 * unit) in t.text()
        t.press("stop", "receipt")
        t.press("quit")
        t.wait_for("start")
    finally:
        q.jam(False)
        t.close()
    printed = sorted(set(q.papers()) - before)
    assert len(printed) == 1
    assert name.replace(" ", "") in pdf_text(printed[0])
    secrets = [name, address]
    assert files_mentioning(kiosk["folder"], secrets) == []
    assert files_mentioning(q.spool, secrets) == []
