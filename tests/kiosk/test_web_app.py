"""The touch kiosk's web application without a browser (Starlette's test client):
one resident at a time, the display modes, the reminder's footer and the card
taken out of a real reader. The browser walks are tests/e2e/test_kiosk_ui.py."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kofu.kiosk.web import catalog

ja = catalog.translator("ja")
OFFER = {"kind": "juminhyo", "fee": 300, "max_copies": 5, "scopes": ["household", "self"], "members": []}


class Center:
    """The center's kiosk API as far as these screens reach it."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def availability(self, session_id: str) -> dict[str, Any]:
        self.asked.append(session_id)
        return {"offers": [OFFER], "unavailable": []}


class Reader:
    """A card reader whose card the test takes out (``present()`` as PC/SC reports it)."""

    def __init__(self) -> None:
        self.inside = False
        self.released = 0

    def choices(self) -> list[str]:
        return ["reader"] if self.inside else []

    def place(self, name: str) -> None:
        pass

    def card(self) -> Any:
        raise AssertionError("not read in these tests")

    def release(self) -> None:
        pass

    def remove(self) -> None:
        self.released += 1

    def present(self) -> bool:
        return self.inside


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Any]:
    from kofu.kiosk.web.app import Kiosk
    from kofu.kiosk.web.settings import load_settings, write_config

    toml = write_config(tmp_path / "kiosk.toml", port=8407, center_url="https://127.0.0.1:1",
                        tls={"ca": "ca.pem", "client_cert": "c.pem", "client_key": "c.key"},
                        card_dir=tmp_path, store="s")
    yield Kiosk(load_settings(toml), center=Center(), slot=Reader())


def client(kiosk: Any) -> Any:
    from starlette.testclient import TestClient

    from kofu.kiosk.web.app import build_app

    return TestClient(build_app(kiosk))


def screen(html: str) -> str:
    m = re.search(r'<main data-screen="([a-z-]+)"', html)
    assert m, html[:300]
    return m.group(1)


def test_a_request_without_the_cookie_neither_ends_nor_sees_the_residents_transaction(kiosk: Any) -> None:
    from kofu.kiosk.web.app import COOKIE

    with client(kiosk) as resident, client(kiosk) as stray:
        assert screen(resident.get("/").text) == "start"
        assert screen(resident.post("/act", data={"a": "services"}).text) == "services"
        sid = resident.cookies[COOKIE]
        for r in (stray.get("/"), stray.post("/act", data={"a": "quit"}), stray.get("/poll?screen=services"),
                  stray.get("/voice/personal?screen=services")):
            assert r.status_code == 409, r.text[:300]
            assert ja("busy.title") in r.text and catalog.translator("en")("busy.wait") in r.text
            assert ja("prompt.services") not in r.text  # the resident's screen is not shown
            assert COOKIE not in stray.cookies
        stray.cookies.set(COOKIE, "someone-elses-old-cookie")
        assert stray.get("/").status_code == 409
        stray.cookies.clear()
        # The resident's transaction is untouched and goes on.
        assert list(kiosk.txns) == [sid] and kiosk.txns[sid].screen == "services"
        assert screen(resident.post("/act", data={"a": "certificates"}).text) == "terms"
        # Once the resident has quit, the next one (any browser) starts afresh.
        assert screen(resident.post("/act", data={"a": "quit"}).text) == "start"
        r = stray.get("/")
        assert r.status_code == 200 and screen(r.text) == "start"
        assert stray.cookies[COOKIE] != sid and sid not in kiosk.txns


def test_a_payment_left_alone_is_refunded_at_its_deadline_even_without_its_browser(kiosk: Any) -> None:
    from kofu.kiosk.web.app import COOKIE

    with client(kiosk) as resident, client(kiosk) as next_one:
        resident.get("/")
        t = kiosk.txns[resident.cookies[COOKIE]]
        t.screen, t.offers, t.kind = "pay", [OFFER], "juminhyo"
        kiosk.vendor.insert(100)
        t.pay_deadline = time.monotonic() + 60
        assert next_one.get("/").status_code == 409
        assert kiosk.vendor.inserted() == 100
        t.pay_deadline = time.monotonic() - 1  # the resident walked away
        assert next_one.get("/").status_code == 200
        assert kiosk.vendor.inserted() == 0 and t.screen == "message"


def test_the_reminder_has_only_its_stop_button_and_quit_does_not_drop_the_receipt(kiosk: Any) -> None:
    from kofu.kiosk.web.app import COOKIE

    with client(kiosk) as resident:
        resident.get("/")
        t = kiosk.txns[resident.cookies[COOKIE]]
        t.screen, t.done = "reminder", True
        t.receipt = {"kind": "juminhyo", "copies": 1, "ordered": 1, "fee": 300, "paid": 300, "change": 0,
                     "refund": 0, "serial": "x", "reported": True, "at": "2026-01-05 10:00"}
        html = resident.get("/").text
        assert 'value="quit"' not in html and ja("nav.quit") not in html
        assert 'value="stop"' in html
        assert screen(resident.post("/act", data={"a": "quit"}).text) == "reminder"
        assert t.receipt is not None
        assert screen(resident.post("/act", data={"a": "stop"}).text) == "receipt"


@pytest.mark.parametrize("mode", ["magnify", "wheelchair"])
def test_magnification_and_the_wheelchair_layout_are_on_every_screen_and_stay_until_the_resident_leaves(
    kiosk: Any, mode: str
) -> None:
    from kofu.kiosk.web.app import COOKIE

    with client(kiosk) as resident:
        html = resident.get("/").text
        assert f'value="{mode}" aria-pressed="false"' in html and ja(f"nav.{mode}") in html
        html = resident.post("/act", data={"a": mode}).text
        assert re.search(rf'<body class="[^"]*\b{mode}\b', html) and f'value="{mode}" aria-pressed="true"' in html
        html = resident.post("/act", data={"a": "services"}).text
        assert screen(html) == "services" and re.search(rf'<body class="[^"]*\b{mode}\b', html)
        assert kiosk.txns[resident.cookies[COOKIE]].__dict__[mode]
        html = resident.post("/act", data={"a": mode}).text
        assert not re.search(rf'<body class="[^"]*\b{mode}\b', html)
        resident.post("/act", data={"a": mode})
        html = resident.post("/act", data={"a": "quit"}).text  # the next resident starts in the default display
        assert screen(html) == "start" and not re.search(rf'<body class="[^"]*\b{mode}\b', html)


def test_the_remove_screen_moves_on_by_itself_once_the_card_is_out_of_the_reader(kiosk: Any) -> None:
    from kofu.kiosk.web.app import COOKIE

    with client(kiosk) as resident:
        resident.get("/")
        t = kiosk.txns[resident.cookies[COOKIE]]
        t.screen, t.auth = "remove", SimpleNamespace(session_id="session-1")
        kiosk.slot.inside = True  # the card the PIN was verified on, still in the reader
        html = resident.get("/").text
        assert screen(html) == "remove" and 'hx-get="/poll?screen=remove"' in html
        assert resident.get("/poll?screen=remove").status_code == 200 and t.screen == "remove"
        assert kiosk.center.asked == []
        kiosk.slot.inside = False  # the resident takes the card
        r = resident.get("/poll?screen=remove")
        assert r.headers.get("HX-Redirect") == "/"
        assert t.screen == "kinds" and kiosk.center.asked == ["session-1"] and kiosk.slot.released == 1
        assert screen(resident.get("/").text) == "kinds"


def test_a_payment_paid_while_a_second_browser_waits_for_its_lock_is_not_refunded(kiosk: Any) -> None:
    import threading

    from kofu.kiosk.web.app import COOKIE, KioskBusy

    with client(kiosk) as resident:
        resident.get("/")
        t = kiosk.txns[resident.cookies[COOKIE]]
        t.screen, t.offers, t.kind = "pay", [OFFER], "juminhyo"
        kiosk.vendor.insert(100)
        t.pay_deadline = time.monotonic() - 1
        outcome: list[str] = []

        def second_browser() -> None:
            try:
                kiosk.txn(None)
                outcome.append("started")
            except KioskBusy:
                outcome.append("busy")

        with t.lock:  # the resident's own request is paying, just at the deadline
            other = threading.Thread(target=second_browser)
            other.start()
            other.join(0.3)  # it waits for the resident's lock (checked, not locked, before the fix)
            t.screen = "printing"
        other.join(10)
        assert outcome == ["busy"]
        assert t.screen == "printing" and kiosk.vendor.inserted() == 100


def test_a_coin_vendor_failing_after_printing_puts_the_kiosk_out_of_service_until_the_staff_clears_it(
        kiosk: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from kofu.cli import main as cli_main
    from kofu.kiosk import flow
    from kofu.kiosk.web.app import COOKIE, Kiosk
    from kofu.kiosk.web.devices import DeviceError

    class BrokenVendor:
        refunds = 0

        def insert(self, yen: int) -> int:
            return yen

        def inserted(self) -> int:
            return 300

        def collect(self, fee: int) -> int:
            raise DeviceError("the coin hopper jammed")

        def refund(self) -> int:
            self.refunds += 1
            return 300

    def issue(center: Any, auth: Any, req: Any, printer: Any) -> Any:
        return SimpleNamespace(kind="juminhyo", copies=1, certificate_serial="x", order_id="o")

    monkeypatch.setattr(flow, "issue", issue)
    kiosk.vendor = BrokenVendor()
    with client(kiosk) as resident:
        resident.get("/")
        t = kiosk.txns[resident.cookies[COOKIE]]
        t.offers, t.kind, t.copies = [OFFER], "juminhyo", 1
        kiosk.start_issue(t, 300)
        deadline = time.monotonic() + 10
        while t.screen == "printing" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert t.screen == "message" and t.notice is not None and t.notice.key == "notice.device-failed"
        assert kiosk.vendor.refunds == 0 and t.receipt is None
        assert screen(resident.get("/").text) == "message"

        # The vendor holds the resident's money: the kiosk takes no one until the staff
        # has settled it, and nobody's refund pays it out meanwhile.
        resident.post("/act", data={"a": "ok"})
        r = resident.get("/")
        assert r.status_code == 503 and screen(r.text) == "out-of-service"
        assert catalog.translator("ja")("outofservice.staff") in r.text
    with client(kiosk) as stranger:
        assert stranger.get("/").status_code == 503
    record = json.loads(kiosk.fault_file.read_text(encoding="utf-8"))
    assert record["reason"] == "the coin vendor failed after printing: DeviceError" and record["kiosk"] == "kiosk-1"
    assert kiosk.vendor.refunds == 0
    # A restarted kiosk stays out of service.
    restarted = Kiosk(kiosk.settings, center=Center(), slot=Reader(), vendor=kiosk.vendor)
    with client(restarted) as stranger:
        assert stranger.get("/").status_code == 503
    # A kiosk started with money in the vendor and no fault file (it could not be
    # written) is out of service too, and says so in a fault file of its own.
    kiosk.fault_file.rename(tmp_path / "kept.json")
    unrecorded = Kiosk(kiosk.settings, center=Center(), slot=Reader(), vendor=kiosk.vendor)
    with client(unrecorded) as stranger:
        assert stranger.get("/").status_code == 503
    assert "held 300 yen at start" in json.loads(kiosk.fault_file.read_text(encoding="utf-8"))["reason"]
    (tmp_path / "kept.json").replace(kiosk.fault_file)

    # The staff settles and clears it: what the vendor held is paid out once, to them,
    # before the next resident starts with nothing put in.
    assert cli_main(["kiosk", "clear-fault", "--config", str(tmp_path / "kiosk.toml")]) == 0
    assert cli_main(["kiosk", "clear-fault", "--config", str(tmp_path / "kiosk.toml")]) == 1  # nothing left
    with client(kiosk) as next_resident:
        r = next_resident.get("/")
        assert r.status_code == 200 and screen(r.text) == "start"
        assert kiosk.vendor.refunds == 1
        next_resident.get("/")
        assert kiosk.vendor.refunds == 1


KOSEKI = {"kind": "koseki", "fee": 450, "max_copies": 5, "scopes": ["self"], "with_householder": False,
          "with_domicile": False, "koseki_scopes": ["all", "self"],
          "members": [{"id": "R-father", "name": "山田 太郎", "holder": False},
                      {"id": "R-holder", "name": "山田 花子", "holder": True},
                      {"id": "R-son", "name": "山田 一郎", "holder": False}]}


def pressed(html: str) -> dict[str, bool]:
    """The person buttons of the screen: id → aria-pressed."""
    return {m: p == "true" for m, p in re.findall(r'value="set:member=([^"]+)" aria-pressed="(true|false)"', html)}


def test_a_koseki_individual_certificate_is_of_the_persons_the_resident_chooses_the_holder_preselected(
        kiosk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from kofu.kiosk import flow
    from kofu.kiosk.web.app import COOKIE

    ordered: list[Any] = []

    def issue(center: Any, auth: Any, req: Any, printer: Any) -> Any:
        ordered.append(req)
        return SimpleNamespace(kind="koseki", copies=req.copies, certificate_serial="x", order_id="o")

    monkeypatch.setattr(flow, "issue", issue)
    with client(kiosk) as resident:
        resident.get("/")
        t = kiosk.txns[resident.cookies[COOKIE]]
        t.screen, t.offers, t.auth = "kinds", [KOSEKI], SimpleNamespace(session_id="s")
        assert screen(resident.post("/act", data={"a": "kind:koseki"}).text) == "scope"
        # 全部事項 (the default) has no choice of persons: 部数 comes next, and a member is refused.
        resident.post("/act", data={"a": "set:member=R-son"})
        assert t.members == []
        html = resident.post("/act", data={"a": "next"}).text
        assert screen(html) == "copies"
        resident.post("/act", data={"a": "back"})
        resident.post("/act", data={"a": "set:koseki_scope=self"})
        html = resident.post("/act", data={"a": "next"}).text
        assert screen(html) == "persons"
        assert ja("prompt.persons") in html and all(m["name"] in html for m in KOSEKI["members"])
        assert pressed(html) == {"R-father": False, "R-holder": True, "R-son": False}
        # The last person chosen stays chosen; a stray id changes nothing.
        assert pressed(resident.post("/act", data={"a": "set:member=R-holder"}).text)["R-holder"]
        for stray in ("R-stranger", "", "R-son,R-father"):
            html = resident.post("/act", data={"a": f"set:member={stray}"}).text
            assert screen(html) == "persons" and t.members == ["R-holder"], stray
        resident.post("/act", data={"a": "set:member=R-son"})
        html = resident.post("/act", data={"a": "set:member=R-holder"}).text
        assert pressed(html) == {"R-father": False, "R-holder": False, "R-son": True}
        from kofu.kiosk.web.app import personal_text

        t.earphone = True  # the chosen names are read out into earphones only
        assert personal_text(t) == ja("voice.members", names="山田 一郎")
        t.earphone = False
        assert screen(resident.post("/act", data={"a": "next"}).text) == "copies"
        html = resident.post("/act", data={"a": "next"}).text
        assert screen(html) == "confirm"
        row = re.search(rf'<th scope="row">{ja("items.members")}</th><td>(.*?)</td>', html)
        assert row and "山田 一郎" in row.group(1) and "山田 花子" not in row.group(1)
        assert ja("koseki.self") in html
        resident.post("/act", data={"a": "next"})
        resident.post("/act", data={"a": "insert:500"})
        deadline = time.monotonic() + 10
        while t.screen == "printing" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert t.screen == "reminder"
        # The order carries the chosen person, as a 個人事項証明書.
        assert [(r.kind, r.options.koseki_scope, r.options.members) for r in ordered] == [
            ("koseki", "self", ("R-son",))]
        assert screen(resident.post("/act", data={"a": "stop"}).text) == "receipt"
    receipt = next(kiosk.receipts.folder.glob("receipt-*.txt")).read_text(encoding="utf-8")
    assert f"{ja('koseki.self')}: {ja('receipt.persons', n=1)}" in receipt
    assert "山田" not in receipt  # no name on the receipt paper


def test_going_back_to_full_entries_drops_the_chosen_persons(kiosk: Any) -> None:
    from kofu.kiosk.web.app import COOKIE

    with client(kiosk) as resident:
        resident.get("/")
        t = kiosk.txns[resident.cookies[COOKIE]]
        t.screen, t.offers, t.auth = "kinds", [KOSEKI], SimpleNamespace(session_id="s")
        resident.post("/act", data={"a": "kind:koseki"})
        resident.post("/act", data={"a": "set:koseki_scope=self"})
        resident.post("/act", data={"a": "next"})
        resident.post("/act", data={"a": "set:member=R-father"})
        assert t.members == ["R-father", "R-holder"]
        resident.post("/act", data={"a": "back"})
        resident.post("/act", data={"a": "set:koseki_scope=all"})
        assert t.members == [] and kiosk.request(t, 450).options.members == ()
        html = resident.post("/act", data={"a": "next"}).text
        assert screen(html) == "copies"
        resident.post("/act", data={"a": "next"})
        assert ja("items.members") not in resident.get("/").text


FUHYO = {"kind": "fuhyo", "fee": 300, "max_copies": 5, "scopes": ["household", "self"], "with_householder": False,
         "with_domicile": True, "with_individual_number": False,
         "members": [{"id": "R-father", "name": "山田 太郎", "holder": False},
                     {"id": "R-holder", "name": "山田 花子", "holder": True},
                     {"id": "R-son", "name": "山田 一郎", "holder": False}]}


def confirm_row(html: str, key: str) -> str | None:
    row = re.search(rf'<th scope="row">{re.escape(ja(key))}</th><td>(.*?)</td>', html)
    return row.group(1) if row else None


def issue_recording(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    from kofu.kiosk import flow

    ordered: list[Any] = []

    def issue(center: Any, auth: Any, req: Any, printer: Any) -> Any:
        ordered.append(req)
        return SimpleNamespace(kind=req.kind, copies=req.copies, certificate_serial="x", order_id="o")

    monkeypatch.setattr(flow, "issue", issue)
    return ordered


def pay_and_take(kiosk: Any, resident: Any, t: Any) -> None:
    resident.post("/act", data={"a": "next"})
    resident.post("/act", data={"a": "insert:500"})
    deadline = time.monotonic() + 10
    while t.screen == "printing" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert t.screen == "reminder"
    assert screen(resident.post("/act", data={"a": "stop"}).text) == "receipt"


def test_a_fuhyo_of_chosen_persons_with_the_domicile_the_holder_preselected(
        kiosk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """附票 一部: 交付種別 → persons (the holder preselected) → 記載事項 (本籍・筆頭者) → 部数."""
    from kofu.kiosk.web.app import COOKIE

    ordered = issue_recording(monkeypatch)
    with client(kiosk) as resident:
        resident.get("/")
        t = kiosk.txns[resident.cookies[COOKIE]]
        t.screen, t.offers, t.auth = "kinds", [FUHYO], SimpleNamespace(session_id="s")
        html = resident.post("/act", data={"a": "kind:fuhyo"}).text
        assert screen(html) == "scope"
        # 全部 and 一部, 全部 chosen first.
        assert re.findall(r'value="set:part=(\w+)" aria-pressed="(true|false)"', html) == [
            ("all", "true"), ("some", "false")]
        assert ja("fuhyo.all") in html and ja("fuhyo.some") in html
        html = resident.post("/act", data={"a": "set:part=some"}).text
        assert re.findall(r'value="set:part=(\w+)" aria-pressed="(true|false)"', html) == [
            ("all", "false"), ("some", "true")]
        html = resident.post("/act", data={"a": "next"}).text
        assert screen(html) == "persons"
        assert ja("fuhyo.some") in html and all(m["name"] in html for m in FUHYO["members"])
        assert pressed(html) == {"R-father": False, "R-holder": True, "R-son": False}
        resident.post("/act", data={"a": "set:member=R-son"})
        html = resident.post("/act", data={"a": "set:member=R-holder"}).text
        assert pressed(html) == {"R-father": False, "R-holder": False, "R-son": True}
        from kofu.kiosk.web.app import personal_text

        t.earphone = True  # the chosen names are read out into earphones only
        assert personal_text(t) == ja("voice.members", names="山田 一郎")
        t.earphone = False
        html = resident.post("/act", data={"a": "next"}).text
        assert screen(html) == "items"
        # 本籍・筆頭者 only, default off; no person buttons here.
        assert f'value="set:domicile" aria-pressed="false">{ja("items.domicile")}: {ja("no")}' in html
        assert "set:householder" not in html and "set:individual_number" not in html and not pressed(html)
        html = resident.post("/act", data={"a": "set:domicile"}).text
        assert f'value="set:domicile" aria-pressed="true">{ja("items.domicile")}: {ja("yes")}' in html
        assert screen(resident.post("/act", data={"a": "next"}).text) == "copies"
        html = resident.post("/act", data={"a": "next"}).text
        assert screen(html) == "confirm"
        assert confirm_row(html, "screen.scope") == ja("fuhyo.some")
        members = confirm_row(html, "items.members")
        assert members and "山田 一郎" in members and "山田 花子" not in members and "山田 太郎" not in members
        assert confirm_row(html, "items.domicile") == ja("yes")
        pay_and_take(kiosk, resident, t)
    # The order: 一部 (scope household with the chosen person) with 本籍・筆頭者.
    assert [(r.kind, r.options.scope.value, r.options.members, r.options.with_domicile, r.options.koseki_scope)
            for r in ordered] == [("fuhyo", "household", ("R-son",), True, None)]
    receipt = next(kiosk.receipts.folder.glob("receipt-*.txt")).read_text(encoding="utf-8")
    assert f"{ja('fuhyo.some')}: {ja('receipt.persons', n=1)}" in receipt
    assert "山田" not in receipt  # no name on the receipt paper


def test_a_fuhyo_of_the_whole_register_leaves_the_domicile_out_by_default(
        kiosk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from kofu.kiosk.web.app import COOKIE

    ordered = issue_recording(monkeypatch)
    with client(kiosk) as resident:
        resident.get("/")
        t = kiosk.txns[resident.cookies[COOKIE]]
        t.screen, t.offers, t.auth = "kinds", [FUHYO], SimpleNamespace(session_id="s")
        resident.post("/act", data={"a": "kind:fuhyo"})
        # 全部 has no choice of persons: 記載事項 comes next.
        html = resident.post("/act", data={"a": "next"}).text
        assert screen(html) == "items" and not pressed(html)
        assert screen(resident.post("/act", data={"a": "next"}).text) == "copies"
        html = resident.post("/act", data={"a": "next"}).text
        assert confirm_row(html, "screen.scope") == ja("fuhyo.all")
        assert confirm_row(html, "items.domicile") == ja("no")
        assert confirm_row(html, "items.members") is None
        pay_and_take(kiosk, resident, t)
    assert [(r.kind, r.options.scope.value, r.options.members, r.options.with_domicile) for r in ordered] == [
        ("fuhyo", "household", (), False)]
    receipt = next(kiosk.receipts.folder.glob("receipt-*.txt")).read_text(encoding="utf-8")
    assert ja("fuhyo.all") in receipt and ja("fuhyo.some") not in receipt and "山田" not in receipt


def test_stray_fuhyo_choices_change_nothing(kiosk: Any) -> None:
    """Values the screen does not show (a stray id, another kind's option, an option of
    another screen, the offer's scope self) are ignored: the order stays as shown."""
    from kofu.kiosk.web.app import COOKIE

    with client(kiosk) as resident:
        resident.get("/")
        t = kiosk.txns[resident.cookies[COOKIE]]
        t.screen, t.offers, t.auth = "kinds", [FUHYO], SimpleNamespace(session_id="s")
        resident.post("/act", data={"a": "kind:fuhyo"})

        def state() -> tuple[Any, ...]:
            o = kiosk.request(t, 300).options
            return t.screen, o.scope.value, o.members, o.with_domicile, o.with_householder, o.koseki_scope

        # On 交付種別 (全部): persons and 記載事項 are not chosen here.
        before = state()
        for stray in ("set:part=self", "set:part=", "set:scope=self", "set:member=R-son", "set:domicile",
                      "set:householder", "set:koseki_scope=self", "set:individual_number", "set:year=2025"):
            resident.post("/act", data={"a": stray})
            assert state() == before, stray
        resident.post("/act", data={"a": "set:part=some"})
        resident.post("/act", data={"a": "next"})
        assert t.screen == "persons" and t.members == ["R-holder"]
        before = state()
        for stray in ("set:member=R-stranger", "set:member=", "set:member=R-son,R-father", "set:part=all",
                      "set:domicile", "set:scope=self", "set:member=R-holder"):  # the last one chosen stays
            resident.post("/act", data={"a": stray})
            assert state() == before, stray
        resident.post("/act", data={"a": "set:member=R-father"})
        resident.post("/act", data={"a": "next"})
        assert t.screen == "items" and t.members == ["R-father", "R-holder"]
        before = state()
        for stray in ("set:member=R-son", "set:part=all", "set:householder", "set:scope=self"):
            resident.post("/act", data={"a": stray})
            assert state() == before, stray
        # Back to 交付種別 and 全部: the chosen persons are dropped, and persons is no longer on the way.
        resident.post("/act", data={"a": "back"})
        resident.post("/act", data={"a": "back"})
        assert t.screen == "scope"
        resident.post("/act", data={"a": "set:part=all"})
        assert kiosk.request(t, 300).options.members == ()
        assert screen(resident.post("/act", data={"a": "next"}).text) == "items"


def test_without_the_holder_marked_a_fuhyo_is_offered_whole_only(kiosk: Any) -> None:
    from kofu.kiosk.web.app import COOKIE

    unmarked = {**FUHYO, "members": [{**m, "holder": False} for m in FUHYO["members"]]}
    with client(kiosk) as resident:
        resident.get("/")
        t = kiosk.txns[resident.cookies[COOKIE]]
        t.screen, t.offers, t.auth = "kinds", [unmarked], SimpleNamespace(session_id="s")
        html = resident.post("/act", data={"a": "kind:fuhyo"}).text
        assert re.findall(r'value="set:part=(\w+)"', html) == ["all"]
        resident.post("/act", data={"a": "set:part=some"})
        assert t.members == [] and screen(resident.post("/act", data={"a": "next"}).text) == "items"
