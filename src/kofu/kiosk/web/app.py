"""The touch kiosk: the resident's screens (seed 001 §4.1), server-rendered.

One resident at a time stands at a kiosk; their transaction (``Txn``) lives
in this process's memory only, keyed by a cookie, and moves along the
screens below. Every action is a form POST to ``/act`` (answered with a
redirect to ``/``); the payment and printing screens poll ``/poll`` with
htmx. The center is reached through :mod:`kofu.kiosk.client` and the
issuance itself runs :func:`kofu.kiosk.flow.issue`, as the headless kiosk does.

    start → services → terms → card → municipality → pin → remove → kinds
    → scope (交付種別) → items (記載事項) / persons (個人事項, 附票 一部: whose)
    → copies (部数) → confirm → pay
    → printing → reminder → receipt → start

``quit`` (終了する) on any screen, the idle timeout and the payment timeout
wipe the transaction and return the money put in. Once paper has come out
the fee of the copies printed is collected and never refunded; the change and
the fee of any copy the printer failed to print are paid back (the center is
told how many copies came out, and refunds the rest). After printing only the
summary a receipt needs is kept (kind, copies, fee, change, refund), and it
too is wiped when the resident leaves.

When the coin vendor fails after the paper came out, it still holds the
resident's money: the kiosk writes its fault file and takes no one (503, "out
of service") until the staff has settled and run ``kofu kiosk clear-fault``;
only then is what the vendor held paid out, to the staff standing at it, never
with the next resident's refund.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kofu import clock
from kofu.domain.rules import Kind
from kofu.kiosk.web import catalog, voice
from kofu.kiosk.web.devices import (
    COINS,
    NOTES,
    CardSlot,
    CoinVendor,
    DeviceError,
    LpPrinter,
    PcscCardSlot,
    Printer,
    ReceiptPrinter,
    SimulatedCoinVendor,
    SimulatedReceiptPrinter,
    SpoolPrinter,
    VirtualCardSlot,
)
from kofu.kiosk.web.settings import KioskSettings

log = logging.getLogger("kofu.kiosk.web")

COOKIE = "kofu_kiosk"
WEB = Path(__file__).parent
KINDS = tuple(k.value for k in Kind)
# Screens on which the idle timeout does not apply (their own deadlines do).
NO_IDLE = ("start", "pay", "printing")
# Screens on which the transaction of the resident at the kiosk may be taken over by a
# browser without its cookie: nothing under way (see ``Kiosk.txn``).
IDLE_SCREENS = ("start", "message", "receipt")
# Screens with 前画面へ.
BACKABLE = ("services", "terms", "card", "municipality", "domicile", "pin", "scope", "items", "persons", "copies",
            "confirm", "pay")
# The option screens (before 部数).
OPTION_SCREENS = ("scope", "items", "persons")
# The choices each option screen shows (``set:<name>=...``); any other is ignored there.
SCREEN_OPTIONS = {
    "scope": ("scope", "tax_kind", "year", "koseki_scope", "part"),
    "items": ("householder", "domicile", "individual_number", "member"),
    "persons": ("member",),
}


class KioskBusy(Exception):
    """A request without the cookie of the transaction under way at this kiosk."""


class KioskOutOfService(KioskBusy):
    """No new transaction: a fault holds money the staff must settle (``Kiosk.fault_file``)."""


@dataclass
class Notice:
    """A message for the resident: a catalog key, or the center's refusal."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)
    center_message: str = ""
    center_message_en: str = ""


@dataclass
class Txn:
    sid: str
    lang: str
    screen: str = "start"
    contrast: bool = False
    """High-contrast display, chosen by the resident."""
    earphone: bool = False
    """Earphones plugged in (simulated by a button): personal data may be spoken."""
    magnify: bool = False
    """Screen magnification (text and targets about 175 %), chosen by the resident."""
    wheelchair: bool = False
    """The wheelchair layout: every button in the lower part of the screen, reachable seated."""
    history: list[str] = field(default_factory=list)
    last_touch: float = field(default_factory=time.monotonic)
    card_name: str | None = None
    pin: str = ""
    tries_left: int | None = None
    auth: Any = None
    offers: list[dict[str, Any]] = field(default_factory=list)
    unavailable: list[dict[str, Any]] = field(default_factory=list)
    kind: str | None = None
    scope: str = "household"
    with_householder: bool = False
    with_domicile: bool = False
    with_individual_number: bool = False
    members: list[str] = field(default_factory=list)
    """Chosen ids. 住民票: empty for the whole household. 戸籍 個人事項 and 附票 一部: the
    persons of the register whose entries are certified, never empty (the holder
    preselected); a 附票 with none is 全部."""
    tax_kind: str | None = None
    year: int | None = None
    koseki_scope: str | None = None
    copies: int = 1
    pay_deadline: float = 0.0
    printed: int = 0
    done: bool = False
    receipt: dict[str, Any] | None = None
    notice: Notice | None = None
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def offer(self) -> dict[str, Any]:
        return next(o for o in self.offers if o["kind"] == self.kind)

    def fee_total(self) -> int:
        return int(self.offer()["fee"]) * self.copies


def option_screens(t: Txn) -> list[str]:
    """The option screens the chosen kind has, in order, before 部数.

    A 戸籍個人事項証明書 asks whose entries (persons of the holder's own register,
    戸籍法 10条), when the offer lists them and marks the holder to preselect; so
    does a 戸籍の附票の写し 一部, which then asks for 本籍・筆頭者 (記載事項).
    """
    if t.kind in ("juminhyo", "kisai"):
        return ["scope", "items"]
    if t.kind == "koseki" and t.koseki_scope == "self" and holder_id(t.offer()):
        return ["scope", "persons"]
    if t.kind == "fuhyo":
        return ["scope", *(["persons"] if t.members else []), "items"]
    if t.kind in ("zeimu", "koseki"):
        return ["scope"]
    return []


def fuhyo_parts(offer: dict[str, Any]) -> list[str]:
    """The 交付種別 of a 附票 the kiosk offers: 全部, and 一部 (chosen persons, the
    holder preselected) when the offer lists the register's persons and marks the holder."""
    if "household" not in (offer.get("scopes") or []):
        return []
    return ["all", "some"] if holder_id(offer) else ["all"]


def holder_id(offer: dict[str, Any]) -> str | None:
    """The id of the card holder among the offer's members, if the center marks one."""
    return next((m["id"] for m in offer.get("members") or [] if m.get("holder")), None)


class Kiosk:
    """The kiosk: its devices, the center client and the one live transaction per cookie."""

    def __init__(self, settings: KioskSettings, *, slot: CardSlot | None = None,
                 vendor: CoinVendor | None = None, printer: Printer | None = None,
                 receipts: ReceiptPrinter | None = None, center: Any = None) -> None:
        self.settings = settings
        d = settings.devices
        self.slot: CardSlot = slot or (
            PcscCardSlot(d.pcsc_reader) if d.card_reader == "pcsc" else VirtualCardSlot(d.card_dir))
        self.vendor: CoinVendor = vendor or SimulatedCoinVendor()
        self.printer: Printer = printer or (
            LpPrinter(d.lp_queue, server=d.lp_server, timeout=d.lp_timeout) if d.printer == "lp"
            else SpoolPrinter(d.spool, d.tray))
        self.receipts: ReceiptPrinter = receipts or SimulatedReceiptPrinter(d.receipt_dir)
        if center is None:
            from kofu.kiosk.client import CenterClient, KioskTls

            c = settings.center
            center = CenterClient(c.url, KioskTls(c.ca, c.client_cert, c.client_key), timeout=30.0)
        self.center = center
        self.txns: dict[str, Txn] = {}
        self.lock = threading.Lock()
        self.fault_file = d.fault_path
        # The vendor holds money that is not the next resident's: set while the fault
        # file is there (after a restart too), and in memory when it could not be written.
        self._vendor_holds = self.fault_file.exists()
        self._fault_unrecorded = False
        held = self.vendor.inserted()
        if held and not self._vendor_holds:
            # Money in the vendor before anyone started: a transaction this process
            # never saw (a crash, or a fault file that could not be written).
            self.record_fault(f"the coin vendor held {held} yen at start")
        if not voice.built():
            log.warning("voice guidance is not built (%s): the screens show every text but play nothing; "
                        "run make setup or python -m kofu.kiosk.web.voice", voice.VOICE)

    # Transactions ---------------------------------------------------------

    def txn(self, sid: str | None) -> Txn:
        """The transaction of this cookie (a new one if none); expired ones are wiped first.

        One resident at a time stands at a kiosk: a request without the cookie of
        the transaction under way (another tab, a stray process on loopback, a
        browser that lost its cookie) raises :class:`KioskBusy` and changes nothing,
        so it can neither end the resident's transaction nor see their screen. It
        may start a new one only when nothing is under way (``IDLE_SCREENS``), and
        a transaction left alone ends by the idle timeout or the payment deadline.
        """
        now = time.monotonic()
        with self.lock:
            for other in list(self.txns.values()):
                # Checked again under the transaction's lock: its own request may have
                # moved it on (paid, printing) between the first look and the lock.
                if other.screen not in NO_IDLE and now - other.last_touch > self.settings.idle_timeout:
                    with other.lock:
                        if other.screen not in NO_IDLE and now - other.last_touch > self.settings.idle_timeout:
                            self.wipe(other, Notice("notice.idle"))
                elif other.sid != sid and other.screen == "pay" and now > other.pay_deadline:
                    # Its payment deadline passes without its browser too: the money goes back.
                    with other.lock:
                        if other.screen == "pay" and now > other.pay_deadline:
                            self.wipe(other, Notice("notice.payment-timeout"))
            t = self.txns.get(sid or "")
            if t is None:
                if any(o.screen not in IDLE_SCREENS for o in self.txns.values()):
                    raise KioskBusy()
                if self.out_of_service():
                    raise KioskOutOfService()
                t = Txn(secrets.token_urlsafe(24), self.settings.languages[0])
                self.txns = {t.sid: t}  # one resident at a time stands at a kiosk
            elif t.screen == "start" and self.out_of_service():
                raise KioskOutOfService()  # the resident who saw the fault's notice, once they leave it
            return t

    def out_of_service(self) -> bool:
        """Whether a fault must be cleared by the staff before anyone starts (under ``self.lock``).

        Once the staff has removed the fault file (``kofu kiosk clear-fault``), what
        the vendor held is paid out to them before the next resident starts; if the
        vendor fails again the kiosk stays out of service.
        """
        if self._fault_unrecorded or self.fault_file.exists():
            self._vendor_holds = True
            return True
        if self._vendor_holds:
            try:
                back = self.vendor.refund()
            except Exception as e:
                self.record_fault(f"the coin vendor failed paying out what it held: {type(e).__name__}")
                return True
            log.warning("fault cleared: the coin vendor paid out the %d yen it held, to the staff", back)
            self._vendor_holds = False
        return False

    def record_fault(self, reason: str) -> None:
        """Take the kiosk out of service: the fault file says since when and why (no personal data)."""
        log.error("out of service until the staff clears it (%s): %s", self.fault_file, reason)
        self._vendor_holds = True
        record = {"since": clock.now().isoformat(timespec="seconds"), "kiosk": self.settings.kiosk_id,
                  "store": self.settings.store, "reason": reason}
        try:
            self.fault_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.fault_file.with_name(self.fault_file.name + ".tmp")
            tmp.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
            os.replace(tmp, self.fault_file)
        except OSError:
            log.exception("cannot write the fault file: out of service until this process restarts")
            self._fault_unrecorded = True

    def wipe(self, t: Txn, notice: Notice | None = None, *, refund: bool = True) -> None:
        """End the transaction: money put in goes back (unless ``refund`` is false),
        the card is released, nothing is kept."""
        with t.lock:
            # What a faulted vendor holds is for the staff (``out_of_service``), never a refund here.
            refunded = self.vendor.refund() if refund and not self._vendor_holds else 0
            had_card = self.slot.present()
            self.slot.remove()
            # The next resident starts in the default language and display; a notice
            # for this one is still in theirs.
            fresh = Txn(t.sid, self.settings.languages[0])
            if notice is not None or refunded or had_card:
                n = notice or Notice("notice.cancelled")
                n.params = {**n.params, "refund": refunded, "card": had_card}
                fresh.notice = n
                fresh.screen = "message"
                fresh.lang, fresh.contrast, fresh.earphone = t.lang, t.contrast, t.earphone
                fresh.magnify, fresh.wheelchair = t.magnify, t.wheelchair
            for name in Txn.__dataclass_fields__:
                if name not in ("lock",):
                    setattr(t, name, getattr(fresh, name))

    def go(self, t: Txn, screen: str, *, remember: bool = True) -> None:
        if remember and t.screen != screen:
            t.history.append(t.screen)
        t.screen = screen

    def back(self, t: Txn) -> None:
        if t.history:
            t.screen = t.history.pop()

    def refuse(self, t: Txn, e: Any) -> None:
        """Show a refusal of the center (``KioskError``) and end the transaction."""
        log.info("refusal %s (status %s)", e.code, e.status)
        self.wipe(t, Notice(catalog.refusal_key(e.code), center_message=e.message, center_message_en=e.message_en))

    # Actions ---------------------------------------------------------------

    def act(self, t: Txn, action: str, form: dict[str, str]) -> None:
        from kofu.jpki.errors import CardError, CardLocked, WrongPin
        from kofu.kiosk import flow
        from kofu.kiosk.client import KioskError

        t.last_touch = time.monotonic()
        verb, _, arg = action.partition(":")
        if verb == "lang":
            if arg in self.settings.languages:
                t.lang = arg
            return
        if verb in ("contrast", "earphone", "magnify", "wheelchair"):  # the display and sound switches
            setattr(t, verb, not getattr(t, verb))
            return
        if verb == "stay":
            return  # "more time, please": the touch itself was the point
        if t.screen == "printing":
            return  # nothing stops a print job once it has started
        if t.screen != "message":
            t.notice = None
        if verb == "quit" and t.screen != "reminder":
            # ⑬ has only the stop button (seed 001): the certificate is out and the
            # resident takes it and stops the reminder, which leads to the receipt.
            self.wipe(t)
            return
        if verb == "back" and t.screen in BACKABLE:
            if t.screen == "pay":
                refunded = self.vendor.refund()
                t.notice = Notice("notice.refunded", {"refund": refunded}) if refunded else None
            self.back(t)
            return
        s = t.screen
        if s == "message":
            if verb == "ok":
                self.wipe(t)
                t.screen, t.notice = "start", None
        elif s == "start" and verb == "services":
            self.go(t, "services")
        elif s == "services" and verb == "certificates":
            self.go(t, "terms")
        elif s == "terms" and verb == "agree":
            self.go(t, "card")
        elif s == "card" and verb == "place":
            try:
                self.slot.place(arg)
            except DeviceError:
                return
            t.card_name = arg
            problem = self.check_card()
            if problem:
                self.wipe(t, Notice(problem))
            else:
                self.go(t, "municipality")
        elif s == "municipality" and verb == "residence":
            t.pin, t.tries_left = "", None
            self.go(t, "pin")
        elif s == "municipality" and verb == "domicile":
            self.go(t, "domicile")
        elif s == "pin":
            if verb == "digit" and arg.isdigit() and len(arg) == 1 and len(t.pin) < 4:
                t.pin += arg
            elif verb == "clear":
                t.pin = ""
            elif verb == "ok" and len(t.pin) == 4:
                pin, t.pin = t.pin, ""
                try:
                    t.auth = flow.authenticate(self.center, self.slot.card(), pin, self.settings.kiosk_id)
                except WrongPin as e:
                    t.tries_left = e.tries_left
                    if e.tries_left == 0:
                        self.wipe(t, Notice("notice.locked"))
                    return
                except CardLocked:
                    self.wipe(t, Notice("notice.locked"))
                    return
                except (CardError, DeviceError):
                    self.wipe(t, Notice("notice.card-unreadable"))
                    return
                except KioskError as e:
                    self.refuse(t, e)
                    return
                finally:
                    del pin
                t.history = []
                # The PIN has signed: the card is let go (powered down) before the resident
                # is asked to take it out of the reader.
                self.slot.release()
                self.go(t, "remove", remember=False)
        elif s == "remove" and verb == "removed":
            self.card_removed(t)
        elif s == "kinds" and verb == "kind":
            closed = next((u for u in t.unavailable if u["kind"] == arg), None)
            if closed is not None:
                t.notice = Notice(catalog.refusal_key(closed["error"]), center_message=closed.get("message", ""),
                                  center_message_en=closed.get("message_en", ""))
                return
            if not any(o["kind"] == arg for o in t.offers):
                return
            self.choose_kind(t, arg)
            self.go(t, (option_screens(t) or ["copies"])[0])
        elif s in OPTION_SCREENS and verb == "set":
            self.set_option(t, arg, form)
        elif s in OPTION_SCREENS and verb == "next":
            screens = option_screens(t) + ["copies"]
            if s not in screens:
                return
            self.go(t, screens[screens.index(s) + 1])
        elif s == "copies":
            most = int(t.offer()["max_copies"])
            if verb == "more":
                t.copies = min(most, t.copies + 1)
            elif verb == "fewer":
                t.copies = max(1, t.copies - 1)
            elif verb == "next":
                self.go(t, "confirm")
        elif s == "confirm" and verb == "next":
            t.pay_deadline = time.monotonic() + self.settings.payment_timeout
            t.notice = None
            self.go(t, "pay")
        elif s == "pay" and verb == "insert":
            try:
                inserted = self.vendor.insert(int(arg))
            except (ValueError, DeviceError):
                return
            t.pay_deadline = time.monotonic() + self.settings.payment_timeout
            if inserted >= t.fee_total():
                self.start_issue(t, inserted)
        elif s == "reminder" and verb == "stop":
            self.go(t, "receipt", remember=False)

    def card_removed(self, t: Txn) -> None:
        """The card is out of the reader (taken, or the simulated tray's button): on to the kinds."""
        from kofu.kiosk.client import KioskError

        self.slot.remove()
        try:
            available = self.center.availability(t.auth.session_id)
        except KioskError as e:
            self.refuse(t, e)
            return
        t.offers, t.unavailable = list(available["offers"]), list(available["unavailable"])
        if not t.offers and not t.unavailable:
            self.wipe(t, Notice("refusal.nothing-offered"))
            return
        self.go(t, "kinds", remember=False)

    def check_card(self) -> str | None:
        """What is wrong with the placed card before its PIN is asked, as a catalog key (``None``: fine).

        The kiosk reads the user-authentication certificate (no PIN needed) and
        checks its validity period at the service clock and the PIN counter.
        Revocation can only be known by the center (OCSP), after the PIN.
        """
        from kofu.jpki.errors import CardError

        try:
            card = self.slot.card()
            cert = card.auth_certificate()
            tries = card.pin_tries_left()
        except (CardError, DeviceError, OSError, ValueError):
            return "notice.no-auth-cert"
        now = clock.now()
        if cert.not_valid_after_utc < now:
            return "notice.card-expired"
        if cert.not_valid_before_utc > now:
            return "notice.card-not-yet-valid"
        if tries == 0:
            return "notice.locked"
        return None

    def choose_kind(self, t: Txn, kind: str) -> None:
        t.kind = kind
        o = t.offer()
        t.copies = 1
        t.with_householder = t.with_domicile = t.with_individual_number = False
        t.members = []
        scopes = list(o.get("scopes") or ["self"])
        # 住民票: the whole household first; 附票: 全部 (the whole register) first.
        t.scope = "household" if "household" in scopes and kind in ("juminhyo", "kisai", "fuhyo") else scopes[0]
        t.tax_kind = (o.get("tax_kinds") or [None])[0] if kind == "zeimu" else None
        years = o.get("years") or []
        t.year = max(years) if kind == "zeimu" and years else None
        t.koseki_scope = (o.get("koseki_scopes") or ["all"])[0] if kind == "koseki" else None

    def set_option(self, t: Txn, arg: str, form: dict[str, str]) -> None:
        o = t.offer()
        name, _, value = arg.partition("=")
        if name not in SCREEN_OPTIONS.get(t.screen, ()):
            return  # not a choice of this screen: nothing changes
        if name == "part" and t.kind == "fuhyo" and value in fuhyo_parts(o):
            # 附票 全部 (the whole register: scope household, no persons) or 一部 (the holder preselected).
            if value == "some" and not t.members:
                t.members = [holder_id(o) or ""]
            elif value == "all":
                t.members = []
        elif t.kind == "fuhyo" and name not in ("part", "domicile", "member"):
            return  # a 附票 has 全部/一部 and 本籍・筆頭者 only (its scope self is 一部 of the holder)
        elif name == "scope" and value in (o.get("scopes") or []):
            t.scope = value
            if value == "self":
                t.members = []
        elif name == "tax_kind" and value in (o.get("tax_kinds") or []):
            t.tax_kind = value
        elif name == "year" and value.isdigit() and int(value) in (o.get("years") or []):
            t.year = int(value)
        elif name == "koseki_scope" and value in (o.get("koseki_scopes") or []):
            if value != t.koseki_scope:
                # 個人事項 starts with the holder's own entry; 全部事項 has no choice of persons.
                holder = holder_id(o)
                t.members = [holder] if value == "self" and holder else []
            t.koseki_scope = value
        elif name == "member" and t.kind in ("koseki", "fuhyo"):
            everyone = [m["id"] for m in o.get("members") or []]
            some = t.koseki_scope == "self" if t.kind == "koseki" else t.screen == "persons"
            if not some or value not in everyone or not t.members:
                return  # a stray id, or no choice of persons here: nothing changes
            chosen = [m for m in t.members if m != value] if value in t.members else t.members + [value]
            if chosen:  # at least one person: the last one chosen stays
                t.members = [m for m in everyone if m in chosen]
        elif name == "householder" and o.get("with_householder"):
            t.with_householder = not t.with_householder
        elif name == "domicile" and o.get("with_domicile"):
            t.with_domicile = not t.with_domicile
        elif name == "individual_number" and o.get("with_individual_number"):
            t.with_individual_number = not t.with_individual_number
        elif name == "member" and any(m["id"] == value for m in o.get("members") or []):
            chosen = t.members or [m["id"] for m in o["members"]]
            chosen = [m for m in chosen if m != value] if value in chosen else chosen + [value]
            everyone = [m["id"] for m in o["members"]]
            # Nobody chosen, or everyone: the whole household (the center's "members": []).
            t.members = [] if not chosen or set(chosen) == set(everyone) else [m for m in everyone if m in chosen]

    def request(self, t: Txn, paid: int) -> Any:
        from kofu.domain.rules import OrderOptions, Scope
        from kofu.kiosk import flow

        options = OrderOptions(
            scope=Scope(t.scope), with_householder=t.with_householder, with_domicile=t.with_domicile,
            with_individual_number=t.with_individual_number, members=tuple(t.members),
            tax_kind=t.tax_kind, year=t.year, koseki_scope=t.koseki_scope,
        )
        return flow.IssueRequest(kind=t.kind or "", options=options, copies=t.copies, pay=paid)

    # Issuance (a thread; the printing screen polls) ---------------------------

    def start_issue(self, t: Txn, paid: int) -> None:
        t.printed, t.done = 0, False
        self.go(t, "printing", remember=False)
        req = self.request(t, paid)
        threading.Thread(target=self._issue, args=(t, req), daemon=True, name="kiosk-issue").start()

    def _issue(self, t: Txn, req: Any) -> None:
        from kofu.kiosk import flow
        from kofu.kiosk.client import KioskError

        unit = int(t.offer()["fee"])

        def printer(job: bytes, copies: int) -> int | None:
            def on_copy(n: int) -> None:
                t.printed = n

            try:
                self.printer.print_job(job, copies, on_copy)
            except Exception as e:
                if t.printed == 0:
                    # Nothing came out: the order is cancelled and the money put in goes back.
                    log.error("printer failed before printing: %s", type(e).__name__)
                    raise flow.NothingPrinted(str(e)) from e
                # Some copies came out: they are reported and charged, the rest refunded.
                log.error("printer failed after %d of %d copies: %s", t.printed, copies, type(e).__name__)
                return t.printed
            return None

        reported = True
        try:
            result = flow.issue(self.center, t.auth, req, printer)
        except flow.PrintedNotReported as e:
            log.error("printed but not reported to the center: order %s (%s)", e.result.order_id, e.cause.code)
            result, reported = e.result, False
        except KioskError as e:
            with t.lock:
                self.refuse(t, e)
            return
        except flow.NothingPrinted:
            with t.lock:
                self.wipe(t, Notice("notice.printer-failed"))
            return
        except Exception:  # a device failed after printing began: say so; the paper that came out is paid for
            log.exception("issuance failed at the kiosk")
            with t.lock:
                if t.printed:
                    try:
                        self.vendor.collect(unit * t.printed)
                    except Exception as e:
                        self.payout_failed(t, e)
                        return
                self.wipe(t, Notice("notice.device-failed"))
            return
        with t.lock:
            # The paper is out: the vendor keeps the fee of the copies printed and pays
            # back the rest (the change, and the fee of copies the printer failed).
            fee = unit * result.copies
            try:
                paid_out = self.vendor.collect(fee)
            except Exception as e:
                self.payout_failed(t, e)
                return
            refund = unit * (req.copies - result.copies)
            t.receipt = {
                "kind": result.kind, "copies": result.copies, "ordered": req.copies, "fee": fee, "paid": req.pay,
                "change": paid_out - refund, "refund": refund, "serial": result.certificate_serial,
                "reported": reported, "at": clock.now().strftime("%Y-%m-%d %H:%M"),
                "koseki_scope": req.options.koseki_scope, "persons": len(req.options.members),
                "fuhyo_part": ("some" if req.options.members else "all") if req.kind == "fuhyo" else None,
            }
            if refund:
                t.notice = Notice("notice.printer-partial")
            del result  # the certificate itself is dropped here
            t.auth = None
            t.offers, t.unavailable = [], []
            t.done = True
            t.screen = "reminder"

    def payout_failed(self, t: Txn, e: Exception) -> None:
        """The coin vendor failed after the paper came out: the resident is sent to the staff.

        The certificate is printed (and reported, or logged as not reported), so
        nothing is cancelled at the center and nothing is refunded here: what the
        vendor holds is for the staff to settle, and the kiosk is out of service
        until they clear the fault. Only the error's type is logged.
        """
        # Not under self.lock (taken before a transaction's lock, never after): the
        # file is written whole by a rename, and the flags only ever go up here.
        self.record_fault(f"the coin vendor failed after printing: {type(e).__name__}")
        self.wipe(t, Notice("notice.device-failed"), refund=False)

    def poll(self, t: Txn) -> None:
        """What changes without a touch: the payment deadline, and the card taken out of a real reader.

        On 「カードをお取りください」 the kiosk moves on by itself once the reader no
        longer holds the card, as a multi-copy machine does (a real reader's
        ``present()`` asks PC/SC; the simulated tray's card stays until its button).
        """
        if t.screen == "pay" and time.monotonic() > t.pay_deadline:
            self.wipe(t, Notice("notice.payment-timeout"))
        elif t.screen == "remove" and not self.slot.present():
            t.last_touch = time.monotonic()
            self.card_removed(t)

    def print_receipt(self, t: Txn) -> None:
        r = t.receipt
        if r is None or r.get("printed"):
            return
        tr = catalog.translator(t.lang)
        self.receipts.print_receipt([
            tr("receipt.title"),
            f"{tr('receipt.store')}: {self.settings.store} / {self.settings.kiosk_id}",
            f"{tr('receipt.date')}: {r['at']}",
            f"{tr('kind.' + r['kind'])} × {r['copies']}",
            # Which 戸籍 certificate, and for how many persons (their names are not printed here).
            *([f"{tr('koseki.' + r['koseki_scope'])}: {tr('receipt.persons', n=r['persons'] or 1)}"]
              if r.get("koseki_scope") == "self" else
              [tr("koseki." + r["koseki_scope"])] if r.get("koseki_scope") else []),
            *([f"{tr('fuhyo.some')}: {tr('receipt.persons', n=r['persons'])}"] if r.get("fuhyo_part") == "some" else
              [tr("fuhyo.all")] if r.get("fuhyo_part") == "all" else []),
            f"{tr('receipt.fee')}: {r['fee']}",
            f"{tr('receipt.paid')}: {r['paid']}",
            f"{tr('receipt.change')}: {r['change']}",
            *([f"{tr('receipt.refund')}: {r['refund']}"] if r.get("refund") else []),
        ])
        r["printed"] = True


REMINDER_REPEAT = 3.0
"""Seconds between two 「証明書をお取りください」 until the resident presses stop."""


def voice_clips(t: Txn) -> list[dict[str, Any]]:
    """What the screen says aloud, in order: built clips, and in earphone mode the personal readout.

    Each clip's text is shown as a caption while it plays. Over the speaker only
    the built clips play; they hold no personal data (:mod:`kofu.kiosk.web.voice`).
    """
    spoken = set(voice.clip_ids())
    clips: list[dict[str, Any]] = []

    def say(clip: str, repeat: float = 0) -> None:
        if clip in spoken:
            clips.append({"id": clip, "src": f"/voice/{t.lang}/{clip}.wav", "text": voice.clip_text(t.lang, clip),
                          "personal": False, "repeat": repeat})

    if t.screen == "message" and t.notice is not None:
        say(t.notice.key)
        if t.notice.params.get("refund"):
            say("notice.refunded")
        if t.notice.params.get("card"):
            say("notice.take-card")
    else:
        say(f"prompt.{t.screen}")
        if t.notice is not None:
            say(t.notice.key)
    if t.screen == "pin" and t.tries_left:
        say(f"pin.wrong@n={t.tries_left}")
    extra = {"remove": "remove.keep", "domicile": "domicile.not-yet"}.get(t.screen)
    if extra:
        say(extra)
    if t.screen == "reminder":
        say("reminder.card")
        say("reminder.take", repeat=REMINDER_REPEAT)
    personal = personal_text(t) if t.earphone else None
    if personal:
        clips.append({"id": "personal", "src": f"/voice/personal?screen={t.screen}&n={secrets.token_hex(4)}",
                      "text": personal, "personal": True, "repeat": 0})
    return clips


def personal_text(t: Txn) -> str | None:
    """The personal readout of this screen (names, and the fee beside them), for earphones only."""
    if t.screen not in ("items", "persons", "confirm") or not t.kind or not t.offers:
        return None
    tr = catalog.translator(t.lang)
    o = t.offer()
    sep = "、" if t.lang in ("ja", "zh-Hans", "zh-Hant") else ", "
    names = [m["name"] for m in o.get("members") or [] if not t.members or m["id"] in t.members]
    parts = []
    if t.screen == "confirm":
        parts.append(tr("voice.confirm", kind=tr(f"kind.{t.kind}"), copies=t.copies, fee=t.fee_total()))
    if names and t.scope == "household" and t.kind in ("juminhyo", "kisai"):
        parts.append(tr("voice.members", names=sep.join(names)))
    if names and t.members and (t.kind == "koseki" and t.koseki_scope == "self" or t.kind == "fuhyo"):
        parts.append(tr("voice.members", names=sep.join(names)))
    return " ".join(parts) or None


def build_app(kiosk: Kiosk) -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    env = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape(["html"]))

    def headers(resp: Response, t: Txn) -> Response:
        resp.set_cookie(COOKIE, t.sid, httponly=True, samesite="strict")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def render(t: Txn, template: str = "screen.html") -> str:
        tr = catalog.translator(t.lang)
        ctx: dict[str, Any] = {
            "t": t, "_": tr, "kinds": KINDS, "coins": COINS, "notes": NOTES, "languages": kiosk.settings.languages,
            "language_names": catalog.LANGUAGE_NAMES, "idle": int(kiosk.settings.idle_timeout),
            "inserted": kiosk.vendor.inserted(), "cards": kiosk.slot.choices() if t.screen == "card" else [],
            "notice_text": catalog.notice_text(t.lang, t.notice) if t.notice else "",
            "voice": voice_clips(t),
            "voice_idle": {"id": "idle.warning", "src": f"/voice/{t.lang}/idle.warning.wav",
                           "text": voice.clip_text(t.lang, "idle.warning"), "personal": False, "repeat": 0},
        }
        if t.kind and t.offers and t.screen in (*OPTION_SCREENS, "copies", "confirm", "pay"):
            ctx["offer"] = t.offer()
            ctx["fuhyo_parts"] = fuhyo_parts(ctx["offer"]) if t.kind == "fuhyo" else []
            ctx["fee_total"] = t.fee_total()
            ctx["remaining"] = max(0, t.fee_total() - kiosk.vendor.inserted())
            ctx["seconds_left"] = max(0, int(t.pay_deadline - time.monotonic()))
        if t.screen == "receipt":
            kiosk.print_receipt(t)
        return env.get_template(template).render(ctx)

    def _index(sid: str | None) -> tuple[Txn, str]:
        t = kiosk.txn(sid)
        with t.lock:
            kiosk.poll(t)
            return t, render(t)

    def _act(sid: str | None, form: dict[str, str]) -> Txn:
        t = kiosk.txn(sid)
        with t.lock:
            kiosk.act(t, form.get("a", ""), form)
        return t

    def _poll(sid: str | None, screen: str | None) -> tuple[Txn, str | None]:
        t = kiosk.txn(sid)
        with t.lock:
            kiosk.poll(t)
            if t.screen != screen:
                return t, None
            return t, render(t, "poll.html")

    def busy(e: KioskBusy) -> Response:
        """The answer to a request without the cookie of the transaction under way (409), or
        to anyone while the kiosk is out of service (503)."""
        out = isinstance(e, KioskOutOfService)
        html = env.get_template("busy.html").render(
            {"lang": kiosk.settings.languages[0], "languages": kiosk.settings.languages,
             "translator": catalog.translator, "screen": "out-of-service" if out else "busy",
             "title": "outofservice.title" if out else "busy.title",
             "text": "outofservice.staff" if out else "busy.wait"})
        return HTMLResponse(html, status_code=503 if out else 409,
                            headers={"Cache-Control": "no-store", "Refresh": "10"})

    # Each handler runs its work in the thread pool: the center calls and the
    # transaction's lock must not block the event loop.
    async def index(request: Request) -> Response:
        try:
            t, html = await run_in_threadpool(_index, request.cookies.get(COOKIE))
        except KioskBusy as e:
            return busy(e)
        return headers(HTMLResponse(html), t)

    async def act(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            t = await run_in_threadpool(_act, request.cookies.get(COOKIE), form)
        except KioskBusy as e:
            return busy(e)
        return headers(RedirectResponse("/", status_code=303), t)

    async def poll(request: Request) -> Response:
        try:
            t, html = await run_in_threadpool(_poll, request.cookies.get(COOKIE),
                                              request.query_params.get("screen"))
        except KioskBusy as e:
            return busy(e)
        if html is None:
            return headers(Response(status_code=200, headers={"HX-Redirect": "/"}), t)
        return headers(HTMLResponse(html), t)

    clips = set(voice.clip_ids())

    async def clip(request: Request) -> Response:
        """A built clip: only the catalog's own clips, from the build folder."""
        lang, name = request.path_params["lang"], request.path_params["clip"]
        path = voice.clip_path(lang, name) if lang in catalog.LANGUAGES and name in clips else None
        if path is None or not path.is_file():
            return Response(status_code=404)
        return FileResponse(path, media_type="audio/wav")

    def _personal(sid: str | None, screen: str | None) -> bytes | None:
        t = kiosk.txn(sid)
        with t.lock:
            if not t.earphone or t.screen != screen:
                return None  # never over the speaker
            text, lang = personal_text(t), t.lang
        return voice.synthesize(lang, text) if text else None

    async def personal(request: Request) -> Response:
        """The personal readout, synthesised into memory, in earphone mode only (403 otherwise)."""
        try:
            wav = await run_in_threadpool(_personal, request.cookies.get(COOKIE), request.query_params.get("screen"))
        except voice.VoiceError as e:
            log.error("voice: %s", e)
            return Response(status_code=503)
        except KioskBusy as e:
            return busy(e)
        if wav is None:
            return Response(status_code=403)
        return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    async def health(_request: Request) -> Response:
        return Response("ok", media_type="text/plain")

    return Starlette(routes=[
        Route("/", index),
        Route("/act", act, methods=["POST"]),
        Route("/poll", poll),
        Route("/healthz", health),
        Route("/voice/personal", personal),
        Route("/voice/{lang}/{clip}.wav", clip),
        Mount("/static", StaticFiles(directory=WEB / "static"), name="static"),
    ])
