"""How the kiosk talks to a card: a ``CardReader`` sends one APDU and returns the answer.

>>> reader = VirtualCardReader(Path("card.json"))
>>> reader.transmit(bytes.fromhex("00A4040C0AD392F000260100000001")).hex()
'9000'

A real reader plugs in behind the same interface: :class:`PcscCardReader`
uses ``pyscard`` (``pip install kofu[pcsc]``) and is optional.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from kofu.jpki.card import VirtualCard
from kofu.jpki.errors import CardError


@runtime_checkable
class CardReader(Protocol):
    def transmit(self, apdu: bytes) -> bytes:
        """Send a command APDU; return the response data followed by SW1 SW2."""
        ...


class VirtualCardReader:
    """A reader with a virtual card (a card file) inserted."""

    def __init__(self, path: Path | str) -> None:
        self.card = VirtualCard(Path(path))

    def transmit(self, apdu: bytes) -> bytes:
        return self.card.transmit(apdu)


class PcscCardReader:
    """A PC/SC reader through ``pyscard``; the first reader with a card unless one is named."""

    def __init__(self, reader_name: str | None = None) -> None:
        try:
            from smartcard.System import readers
        except ImportError as e:
            raise CardError("PC/SC support needs pyscard: pip install 'kofu[pcsc]'") from e
        try:
            available = readers()
        except Exception as e:  # pyscard raises its own types when pcscd is missing
            raise CardError(f"cannot list PC/SC readers: {e}") from e
        # A reader named exactly so wins ("Reader 1" is not "Reader 10"); else a part of its name.
        exact = [r for r in available if reader_name is not None and str(r) == reader_name]
        chosen = exact or [r for r in available if reader_name is None or reader_name in str(r)]
        if not chosen:
            raise CardError(f"no PC/SC reader{' named ' + reader_name if reader_name else ''} found")
        self._connection: Any = chosen[0].createConnection()
        try:
            self._connection.connect()
        except Exception as e:
            raise CardError(f"cannot connect to the card in {chosen[0]}: {e}") from e

    def transmit(self, apdu: bytes) -> bytes:
        try:
            data, sw1, sw2 = self._connection.transmit(list(apdu))
        except Exception as e:
            raise CardError(f"the card did not answer: {e}") from e
        return bytes(data) + bytes([sw1, sw2])

    def close(self) -> None:
        """Disconnect (the reader powers the card down: its security status is gone)."""
        try:
            self._connection.release()  # disconnects, then releases the PC/SC context
        except Exception as e:  # pyscard raises its own types when the card or pcscd is gone
            raise CardError(f"cannot disconnect from the card: {e}") from e
