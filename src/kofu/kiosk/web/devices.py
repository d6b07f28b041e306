"""The kiosk's devices, each behind a small interface.

    CardSlot        where the resident places the card (a folder of card files, or a
                    PC/SC reader through pcscd and pyscard)
    CoinVendor      takes coins and notes, gives change, returns money (simulated)
    Printer         prints the duplex print job (a spool folder, or CUPS ``lp``)
    ReceiptPrinter  prints the receipt (simulated: a text file a receipt)

Nothing personal is written by these drivers but the certificate itself,
and only on its way to the paper: the spool printer writes each job to the
kiosk's spool and hands it to the printer (the tray, standing in for the
paper) at once, leaving the spool empty; ``lp`` takes the job on stdin, and
the CUPS scheduler deletes its copy when the job ends (``PreserveJobFiles
No``, see docs/devices.md) or when the kiosk cancels a failed job.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("kofu.kiosk.devices")

COINS = (10, 50, 100, 500)
NOTES = (1000, 5000, 10000)


class DeviceError(Exception):
    """A device failed; the message is for the operator's log, never the resident."""


# Card slot -------------------------------------------------------------------


class CardSlot(Protocol):
    def choices(self) -> list[str]: ...
    def place(self, name: str) -> None: ...
    def card(self) -> Any: ...
    def release(self) -> None:
        """Let go of the card (its verified PIN) while it is still in the slot, to be taken."""
    def remove(self) -> None: ...
    def present(self) -> bool:
        """Whether the resident's card is still in the slot."""


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

    def release(self) -> None:
        pass  # nothing is held open: each card() opens the file anew

    def remove(self) -> None:
        self._placed = None

    def present(self) -> bool:
        return self._placed is not None


class PcscCardSlot:
    """A PC/SC card reader (pcscd, read through pyscard).

    The resident puts the card in the reader; the screen offers the readers
    that hold a card (``choices``), and ``place`` opens the card in the chosen
    one. ``reader`` limits the readers to those whose name contains it (empty:
    every reader). The connection stays open while the card is placed, so the
    PIN verified on it signs on it; ``remove`` disconnects, which powers the
    card down and drops its security status.
    """

    def __init__(self, reader: str = "") -> None:
        self.reader = reader
        self._placed: Any = None  # kofu.jpki.reader.PcscCardReader
        self._placed_in = ""  # the reader the resident's card is in, until it is taken out

    def _readers(self) -> list[str]:
        try:
            from smartcard.System import readers
        except ImportError as e:
            raise DeviceError("the PC/SC card reader needs pyscard: pip install 'kofu[pcsc]'") from e
        try:
            names = [str(r) for r in readers()]
        except Exception as e:  # pyscard raises its own types when pcscd is not running
            raise DeviceError(f"cannot list the PC/SC readers (is pcscd running?): {e}") from e
        return [n for n in names if self.reader in n]

    def choices(self) -> list[str]:
        """The readers that hold a card now; none when PC/SC cannot be reached (said in
        the operator's log: the resident's screen just offers no card)."""
        try:
            return self._with_card()
        except DeviceError as e:
            log.error("card reader: %s", e)
            return []

    def _with_card(self) -> list[str]:
        names = self._readers()  # first: says so when pyscard is missing
        if not names:
            return []
        from smartcard import scard

        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise DeviceError(f"cannot reach pcscd: {scard.SCardGetErrorMessage(hresult)}")
        try:
            hresult, states = scard.SCardGetStatusChange(
                context, 0, [(n, scard.SCARD_STATE_UNAWARE) for n in names])
            if hresult != scard.SCARD_S_SUCCESS:
                raise DeviceError(f"cannot read the readers' state: {scard.SCardGetErrorMessage(hresult)}")
            return [name for name, state, _atr in states if state & scard.SCARD_STATE_PRESENT]
        finally:
            scard.SCardReleaseContext(context)

    def place(self, name: str) -> None:
        from kofu.jpki.errors import CardError
        from kofu.jpki.reader import PcscCardReader

        if name not in self._with_card():
            raise DeviceError(f"no card in a reader named {name!r}")
        self.remove()
        try:
            self._placed = PcscCardReader(name)
            self._placed_in = name
        except CardError as e:
            raise DeviceError(str(e)) from e

    def card(self) -> Any:
        """The JPKI application of the card in the reader (``kofu.jpki.client.JpkiCard``)."""
        from kofu.jpki.client import JpkiCard

        if self._placed is None:
            raise DeviceError("no card placed")
        return JpkiCard(self._placed)

    def release(self) -> None:
        """Disconnect: the reader powers the card down and its verified PIN is gone; the
        card stays in the reader until the resident takes it (``present()``)."""
        from kofu.jpki.errors import CardError

        placed, self._placed = self._placed, None
        if placed is not None:
            try:
                placed.close()
            except CardError:
                pass  # the card was pulled out already: nothing left to power down

    def remove(self) -> None:
        self.release()
        self._placed_in = ""

    def present(self) -> bool:
        """Whether the resident's card is still in its reader (PC/SC says so when it is pulled out).

        When PC/SC cannot be asked the card counts as still there: the resident is
        never moved on by a fault of the reader, only by the card being taken.
        """
        if not self._placed_in:
            return False
        try:
            return self._placed_in in self._with_card()
        except Exception as e:  # DeviceError, or pyscard's own types when pcscd went away
            log.error("card reader: %s", e)
            return True


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
    """CUPS: each copy is one job, ``lp -d QUEUE -o sides=two-sided-long-edge -t kofu -``
    with the PDF on stdin (never a file of the kiosk's), and a copy counts as
    printed only when the scheduler says its job is *completed*.

    Progress and failure are reported as the scheduler sees them: after each
    completed job ``on_copy`` is called; a job the scheduler aborts or cancels,
    a stopped queue, or no completion within ``timeout`` seconds raises
    :class:`DeviceError` (a job that did not end is cancelled and purged first).
    Every job is purged once followed, completed or not, so no copy of the
    certificate stays in the scheduler's spool even where it keeps job files. ``server``
    is the CUPS server (a host or a socket path; empty: the default of this
    machine). The job states are read with pycups (``pip install 'kofu[cups]'``).
    """

    JOB_PENDING, JOB_HELD, JOB_PROCESSING, JOB_STOPPED = 3, 4, 5, 6
    JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED = 7, 8, 9
    PRINTER_STOPPED = 5

    def __init__(self, queue: str, *, server: str = "", timeout: float = 120.0, poll: float = 0.2) -> None:
        self.queue = queue
        self.server = server
        self.timeout = timeout
        self.poll = poll

    def print_job(self, job: bytes, copies: int, on_copy: OnCopy) -> None:
        conn = self._connection()
        for n in range(1, copies + 1):
            job_id = self._submit(job)
            self._wait(conn, job_id, n)
            on_copy(n)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ, LC_ALL="C")  # lp's "request id is QUEUE-N" untranslated
        if self.server:
            env["CUPS_SERVER"] = self.server
        return env

    def _connection(self) -> Any:
        try:
            import cups
        except ImportError as e:
            raise DeviceError("the CUPS printer needs pycups: pip install 'kofu[cups]'") from e
        try:
            return cups.Connection(host=self.server) if self.server else cups.Connection()
        except RuntimeError as e:
            raise DeviceError(f"cannot reach the CUPS server {self.server or '(default)'}: {e}") from e

    def _submit(self, job: bytes) -> int:
        argv = ["lp", "-d", self.queue, "-n", "1", "-o", "sides=two-sided-long-edge", "-t", "kofu", "-"]
        try:
            r = subprocess.run(argv, input=job, capture_output=True, timeout=60, env=self._env())
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DeviceError(f"lp could not be run: {e}") from e
        if r.returncode != 0:
            raise DeviceError(f"lp failed ({r.returncode}): {r.stderr.decode(errors='replace')[:200]}")
        m = re.search(rf"\b{re.escape(self.queue)}-(\d+)\b", r.stdout.decode(errors="replace"))
        if m is None:
            raise DeviceError(f"lp gave no job id: {r.stdout.decode(errors='replace')[:200]}")
        return int(m.group(1))

    def _wait(self, conn: Any, job_id: int, copy: int) -> None:
        import cups

        deadline = time.monotonic() + self.timeout
        why = ""
        try:
            while True:
                a = conn.getJobAttributes(job_id, requested_attributes=["job-state", "job-printer-state-message"])
                state = int(a["job-state"])
                if state == self.JOB_COMPLETED:
                    # Purged even when done: a scheduler that keeps job files
                    # (PreserveJobFiles, a default of CUPS) would keep the certificate.
                    self._cancel(conn, job_id)
                    return
                if state in (self.JOB_CANCELED, self.JOB_ABORTED):
                    what = "cancelled" if state == self.JOB_CANCELED else "aborted"
                    raise DeviceError(f"copy {copy}: CUPS job {self.queue}-{job_id} was {what}: "
                                      f"{a.get('job-printer-state-message', '')}")
                p = conn.getPrinterAttributes(self.queue, requested_attributes=["printer-state",
                                                                                "printer-state-message"])
                if int(p["printer-state"]) == self.PRINTER_STOPPED:
                    why = f"the queue {self.queue} is stopped: {p.get('printer-state-message', '')}"
                elif time.monotonic() > deadline:
                    why = f"not printed within {self.timeout:g} s"
                if why:
                    self._cancel(conn, job_id)
                    raise DeviceError(f"copy {copy}: CUPS job {self.queue}-{job_id}: {why}")
                time.sleep(self.poll)
        except cups.IPPError as e:
            # Not found: the scheduler forgot the job (PreserveJobHistory No), so whether it
            # printed is unknown. docs/devices.md asks for the history to be kept. Whatever
            # the cause, the job is cancelled and purged if the scheduler still has it.
            self._cancel(conn, job_id)
            raise DeviceError(f"copy {copy}: cannot follow CUPS job {self.queue}-{job_id} "
                              f"(does the scheduler keep the job history?): {e}") from e

    def _cancel(self, conn: Any, job_id: int) -> None:
        """Cancel and purge: the scheduler drops the job's document (the certificate) at once."""
        import cups

        try:
            conn.cancelJob(job_id, purge_job=True)
        except (cups.IPPError, RuntimeError):
            pass  # best effort: the scheduler forgot the job or cannot be reached


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
