"""A virtual card in a real PC/SC reader: a card file served to pcscd's vpcd driver.

>>> with VpcdCard(Path("card.json")):       # the card is in the reader
...     ...                                  # pyscard / any PC/SC client sees it
>>> # leaving the block takes the card out

    python -m kofu.jpki.vpcd CARD [--host 127.0.0.1] [--port 35963]

inserts the card until Ctrl-C (or SIGTERM) takes it out.

Debian's ``vsmartcard-vpcd`` is a reader driver for pcscd: each of its
readers listens on a TCP port (35963 for the first, "Virtual PCD 00 00") for a
virtual ICC. When one connects, a card is in the reader; when it hangs up,
the card is out. The card side answers the driver's messages, each a 2-byte
big-endian length and its bytes:

    1 byte  0 power off, 1 power on, 2 reset (no answer); 4 send the ATR (answer: the ATR)
    else    a command APDU (answer: the response APDU, data and SW1 SW2)

Why this is written here rather than using vsmartcard's own card side
(``vicc``, Debian ``vsmartcard-vpicc``): vicc runs in Debian's system Python
with card types of its own (ISO 7816, nPA, PIV...), none of which is the JPKI
application, and it cannot import Kofu's card model (it would need Kofu and
its dependencies in the system Python). The protocol above is all of vicc's
transport there is; the card itself is :class:`kofu.jpki.card.VirtualCard`,
the same model the virtual card reader uses, so PIN counters, locks and
signatures behave identically on both paths.

A power-off or reset drops the card's security status (a verified PIN), as a
real card's does; the retry counters live in the card file.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from kofu.jpki.card import VirtualCard
from kofu.jpki.errors import CardError

VPCD_PORT = 35963
"""The first vpcd reader's port (Debian's /etc/reader.conf.d/vpcd: 0x8C7B)."""

CTRL_OFF = 0
CTRL_ON = 1
CTRL_RESET = 2
CTRL_ATR = 4

HISTORICAL = b"KOFU-JPKI"


def _atr() -> bytes:
    """TS 3B, T0 (TD1 follows, 9 historical bytes), TD1 80 (TD2 follows, T=0),
    TD2 01 (T=1), the historical bytes, and TCK (the XOR of T0..the last byte is 0)."""
    body = bytes([0x80 | len(HISTORICAL), 0x80, 0x01]) + HISTORICAL
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


ATR = _atr()


class VpcdError(CardError):
    """The virtual reader could not be reached or broke the protocol."""


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
        # The driver writes a message's length and its bytes in two writes: with Nagle on
        # its side, the second waits for our ACK, which Linux would delay by up to 40 ms.
        # Acknowledge at once (the flag does not stick, so set it after every read).
        if hasattr(socket, "TCP_QUICKACK"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    return bytes(buf)


def _send(sock: socket.socket, data: bytes) -> None:
    sock.sendall(struct.pack("!H", len(data)) + data)


def serve(sock: socket.socket, card_path: Path, seen: threading.Event | None = None) -> None:
    """Answer the vpcd driver on ``sock`` until it hangs up (or the socket is closed).

    ``seen`` is set when the reader first asks for the ATR: pcscd has found the card.
    """
    card: VirtualCard | None = None
    while True:
        try:
            head = _recv_exact(sock, 2)
        except OSError:
            return
        if head is None:
            return
        (size,) = struct.unpack("!H", head)
        try:
            msg = _recv_exact(sock, size) if size else b""
        except OSError:
            return
        if msg is None:
            return
        if len(msg) == 1:
            if msg[0] in (CTRL_OFF, CTRL_ON, CTRL_RESET):
                card = None  # powered off or reset: the security status is gone
            elif msg[0] == CTRL_ATR:
                _send(sock, ATR)
                if seen is not None:
                    seen.set()
            continue
        if not msg:
            continue
        if card is None:
            card = VirtualCard(card_path)
        _send(sock, card.transmit(msg))


class VpcdCard:
    """A card file inserted into a vpcd reader (a thread answers the reader)."""

    def __init__(self, card_path: Path, *, host: str = "127.0.0.1", port: int = VPCD_PORT) -> None:
        self.card_path = Path(card_path)
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def insert(self, timeout: float = 10.0) -> None:
        """Put the card in the reader; waits up to ``timeout`` seconds for pcscd's driver to
        listen, and then for pcscd to find the card (it polls the reader a few times a second)."""
        VirtualCard(self.card_path)  # a missing or corrupt card file fails here, not in the reader
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
                break
            except OSError as e:
                if time.monotonic() > deadline:
                    raise VpcdError(f"no vpcd reader listens on {self.host}:{self.port} (is pcscd running "
                                    f"with vsmartcard-vpcd?): {e}") from e
                time.sleep(0.1)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        seen = threading.Event()
        self._thread = threading.Thread(target=serve, args=(sock, self.card_path, seen), daemon=True,
                                        name=f"vpcd-card-{self.port}")
        self._thread.start()
        if not seen.wait(max(0.0, deadline - time.monotonic()) + 5):
            self.remove()
            raise VpcdError(f"pcscd did not power up the card in the vpcd reader on port {self.port}")

    def remove(self) -> None:
        """Take the card out of the reader."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> VpcdCard:
        self.insert()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.remove()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kofu.jpki.vpcd",
                                description="Insert a virtual card file into pcscd's vpcd reader until stopped.")
    p.add_argument("card", type=Path, help="the card file")
    p.add_argument("--host", default="127.0.0.1", help="where pcscd runs (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=VPCD_PORT, help=f"the vpcd reader's port (default {VPCD_PORT})")
    args = p.parse_args(argv)
    card = VpcdCard(args.card, host=args.host, port=args.port)
    try:
        card.insert()
    except CardError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"card {args.card.name} is in the reader on port {args.port}; Ctrl-C takes it out", file=sys.stderr)
    try:
        while not stop.is_set() and card._thread is not None and card._thread.is_alive():
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    card.remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
