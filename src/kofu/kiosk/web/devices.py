"""The kiosk's devices, each behind a small interface.

    CardSlot        where the resident places the card (simulated: a folder of card files)
    CoinVendor      takes coins and notes, gives change, returns money (simulated)
    Printer         prints the duplex print job (a spool folder, or CUPS ``lp``)
    ReceiptPrinter  prints the receipt (simulated: a text file a receipt)

Nothing personal is written by these drivers but the certificate itself,
and only on its way to the paper: the spool printer writes each job to the
kiosk's spool and hands it to the printer (the tray, standing in for the
paper) at once, leaving the spool empty; ``lp`` takes the job on stdin.
"""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

COINS = (10, 50, 100, 500)
NOTES = (1000, 5000, 10000)


class DeviceError(Exception):
    """A device failed; the message is for the operator's log, never the resident."""


# Card slot -------------------------------------------------------------------


class CardSlot(Protocol):
    def choices(self) -> list[str]: ...
    def place(self, name: str) -> None: ...
    def card(self) -> Any: ...
    def remove(self) -> None: ...
    def present(self) -> bool: ...


class VirtualCardSlot:
    """A folder of virtual card files; the resident "places" one by choosing it on screen."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._placed: Path | None = None

    def choices(self) -> list[str]:
        return sorted(p.name for p in self.folder.glob("*.card"))

    def place(self, name: str) -> None:
        path = self.folder / Path(name).name
        if not path.is_file():
            raise DeviceError(f"no card file {name!r} in {self.folder}")
        self._placed = path

    def card(self) -> Any:
        """The JPKI application of the placed card (``kofu.jpki.client.JpkiCard``)."""
        from kofu.jpki.client import JpkiCard
        from kofu.jpki.reader import VirtualCardReader

        if self._placed is None:
            raise DeviceError("no card placed")
        return JpkiCard(VirtualCardReader(self._placed))

    def remove(self) -> None:
        self._placed = None

    def present(self) -> bool:
        return self._placed is not None


# Coin vendor -------------------------------------------------------------------


class CoinVendor(Protocol):
    def insert(self, yen: int) -> int: ...
    def inserted(self) -> int: ...
    def collect(self, fee: int) -> int: ...
    def refund(self) -> int: ...


@dataclass
class SimulatedCoinVendor:
    """Counts what is put in; ``collect`` keeps the fee and pays out the change,
    ``refund`` pays back everything put in. ``paid_out`` lists every payout."""

    _inserted: int = 0
    paid_out: list[int] = field(default_factory=list)
    kept: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def insert(self, yen: int) -> int:
        if yen not in COINS + NOTES:
            raise DeviceError(f"the vendor takes no {yen}-yen piece")
        with self._lock:
            self._inserted += yen
            return self._inserted

    def inserted(self) -> int:
        return self._inserted

    def collect(self, fee: int) -> int:
        with self._lock:
            if self._inserted < fee:
                raise DeviceError(f"{self._inserted} yen put in, {fee} due")
            change = self._inserted - fee
            self.kept += fee
            self._inserted = 0
            if change:
                self.paid_out.append(change)
            return change

    def refund(self) -> int:
        with self._lock:
            back, self._inserted = self._inserted, 0
            if back:
                self.paid_out.append(back)
            return back


# Printers -------------------------------------------------------------------


OnCopy = Callable[[int], None]
"""Called with the number of copies printed so far."""


class Printer(Protocol):
    def print_job(self, job: bytes, copies: int, on_copy: OnCopy) -> None: ...


class SpoolPrinter:
    """The job goes to the kiosk's spool, and the printer takes it from there at
    once: it comes out in ``tray`` (one PDF a copy, the paper) and leaves the
    spool empty."""

    def __init__(self, spool: Path, tray: Path) -> None:
        self.spool = spool
        self.tray = tray
        spool.mkdir(parents=True, exist_ok=True)
        tray.mkdir(parents=True, exist_ok=True)

    def print_job(self, job: bytes, copies: int, on_copy: OnCopy) -> None:
        name = uuid.uuid4().hex
        for n in range(1, copies + 1):
            spooled = self.spool / f"{name}-{n}.pdf"
            fd = os.open(spooled, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(job)
                os.replace(spooled, self.tray / spooled.name)
            finally:
                spooled.unlink(missing_ok=True)
            on_copy(n)


class LpPrinter:
    """CUPS: ``lp -d QUEUE -n COPIES -o sides=two-sided-long-edge``, the job on stdin
    (never a file of the kiosk's). Progress is reported when ``lp`` has queued it.

    Not yet exercised by a test: no CUPS queue runs where the tests run.
    """

    def __init__(self, queue: str) -> None:
        self.queue = queue

    def print_job(self, job: bytes, copies: int, on_copy: OnCopy) -> None:
        argv = ["lp", "-d", self.queue, "-n", str(copies), "-o", "sides=two-sided-long-edge", "-t", "kofu", "-"]
        r = subprocess.run(argv, input=job, capture_output=True, timeout=120)
        if r.returncode != 0:
            raise DeviceError(f"lp failed ({r.returncode}): {r.stderr.decode(errors='replace')[:200]}")
        on_copy(copies)


# Receipt printer ---------------------------------------------------------------


class ReceiptPrinter(Protocol):
    def print_receipt(self, lines: list[str]) -> None: ...


class SimulatedReceiptPrinter:
    """Each receipt is a text file in ``folder`` (the receipt paper)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def print_receipt(self, lines: list[str]) -> None:
        (self.folder / f"receipt-{uuid.uuid4().hex[:12]}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
