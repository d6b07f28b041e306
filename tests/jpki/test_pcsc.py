"""The card through a real PC/SC stack: the card file behind Debian's vpcd reader
driver in pcscd, read with pyscard by the kiosk's ``PcscCardSlot``.

Skips with the reason on a machine without pcscd, vsmartcard-vpcd or pyscard;
fails instead under ``KOFU_REQUIRE_PCSC=1`` (CI).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from kofu.jpki.cardfile import CardFile
from kofu.jpki.errors import CardLocked, WrongPin
from kofu.jpki.vpcd import VpcdCard, VpcdError
from kofu.kiosk.web.devices import DeviceError, PcscCardSlot
from tests.devices import VPCD_PORT, VPCD_READER, system_pcscd


def until_seen(slot: PcscCardSlot, readers: list[str], timeout: float = 5.0) -> None:
    """pcscd polls the readers a few times a second: wait until the slot offers ``readers``."""
    deadline = time.monotonic() + timeout
    while (now := slot.choices()) != readers:
        assert time.monotonic() < deadline, f"pcscd shows cards in {now}, not in {readers}"
        time.sleep(0.05)


def until_empty(slot: PcscCardSlot) -> None:
    until_seen(slot, [])


def until_in(slot: PcscCardSlot) -> None:
    until_seen(slot, [VPCD_READER])


@pytest.fixture(scope="module")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with system_pcscd(tmp_path_factory.mktemp("pcscd") / "pcscd.log"):
        yield


@pytest.fixture
def slot(pcscd: None) -> Iterator[PcscCardSlot]:
    s = PcscCardSlot(VPCD_READER)
    yield s
    s.remove()


def test_the_card_in_the_reader_is_read_verified_and_signs_through_pcsc(slot, fresh_card: Path) -> None:
    assert slot.choices() == []  # an empty reader offers nothing
    with VpcdCard(fresh_card, port=VPCD_PORT):
        until_in(slot)
        slot.place(VPCD_READER)
        card = slot.card()
        cert = card.auth_certificate()
        assert cert.public_bytes(Encoding.DER) == CardFile(fresh_card).read().auth_cert_der
        assert card.pin_tries_left() == 3
        card.verify_pin("1234")
        signature = card.sign_with_auth_key(b"challenge from the center")
        key = cert.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        key.verify(signature, b"challenge from the center", padding.PKCS1v15(), hashes.SHA256())
        slot.remove()
        assert not slot.present()
    until_empty(slot)  # the card is out


def test_wrong_pins_count_down_through_pcsc_and_lock_the_card(slot, fresh_card: Path) -> None:
    with VpcdCard(fresh_card, port=VPCD_PORT):
        until_in(slot)
        slot.place(VPCD_READER)
        card = slot.card()
        for left in (2, 1):
            with pytest.raises(WrongPin) as e:
                card.verify_pin("9999")
            assert e.value.tries_left == left
            assert card.pin_tries_left() == left
        with pytest.raises((WrongPin, CardLocked)) as last:
            card.verify_pin("9999")
        assert isinstance(last.value, CardLocked) or last.value.tries_left == 0
        assert card.pin_tries_left() == 0
        with pytest.raises(CardLocked):
            card.verify_pin("1234")  # even the right PIN: the card is locked
        slot.remove()
    until_empty(slot)
    # The counter is in the card: taken out and put back, it is still locked.
    with VpcdCard(fresh_card, port=VPCD_PORT):
        until_in(slot)
        slot.place(VPCD_READER)
        assert slot.card().pin_tries_left() == 0
        slot.remove()  # the kiosk lets go of the card before the resident takes it


def test_a_verified_pin_does_not_outlive_the_card_being_taken_out(slot, fresh_card: Path) -> None:
    with VpcdCard(fresh_card, port=VPCD_PORT):
        until_in(slot)
        slot.place(VPCD_READER)
        slot.card().verify_pin("1234")
        slot.remove()
        slot.place(VPCD_READER)
        from kofu.jpki.errors import CardProtocolError

        with pytest.raises(CardProtocolError):
            slot.card().sign_with_auth_key(b"no PIN on this connection")


def test_placing_without_a_card_or_a_reader_is_a_clear_error(slot, fresh_card: Path, tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="no card in a reader"):
        slot.place(VPCD_READER)
    with pytest.raises(DeviceError, match="no card placed"):
        slot.card()
    with pytest.raises(VpcdError, match="no vpcd reader listens"):
        VpcdCard(fresh_card, port=1).insert(timeout=0.2)
    from kofu.jpki.errors import CardFileError

    (tmp_path / "not-a-card.json").write_text("{}")
    with pytest.raises(CardFileError):
        VpcdCard(tmp_path / "not-a-card.json").insert()


def test_a_reader_named_exactly_is_chosen_over_one_whose_name_only_contains_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import smartcard.System

    from kofu.jpki.reader import PcscCardReader

    class Reader:
        def __init__(self, name: str) -> None:
            self.name = name

        def __str__(self) -> str:
            return self.name

        def createConnection(self) -> object:  # noqa: N802 (pyscard's name)
            return SimpleNamespace(connect=lambda: None, name=self.name)

    monkeypatch.setattr(smartcard.System, "readers", lambda: [Reader("Reader 10"), Reader("Reader 1")])
    assert PcscCardReader("Reader 1")._connection.name == "Reader 1"
    assert PcscCardReader("Reader 10")._connection.name == "Reader 10"
    assert PcscCardReader("10")._connection.name == "Reader 10"  # a part of a name still finds it
