"""The virtual card: APDUs, the kiosk client, and the PIN counter across processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from kofu.jpki.card import JPKI_AID
from kofu.jpki.client import JpkiCard
from kofu.jpki.errors import CardLocked, CardProtocolError, CardStateWriteFailed, WrongPin
from kofu.jpki.reader import CardReader, VirtualCardReader
from kofu.procs import kofu_argv
from tests.jpki.conftest import JpkiTestCa, kofu

SELECT_AP = bytes.fromhex("00A4040C0A") + JPKI_AID


def _sw(resp: bytes) -> str:
    return resp[-2:].hex().upper()


def _info(card: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(kofu("card", "info", str(card), "--json").stdout)


def test_apdu_conversation(fresh_card: Path) -> None:
    reader = VirtualCardReader(fresh_card)
    assert isinstance(reader, CardReader)
    assert _sw(reader.transmit(bytes.fromhex("00A4020C02000A"))) == "6A82"  # no AP selected yet
    assert _sw(reader.transmit(SELECT_AP)) == "9000"
    assert _sw(reader.transmit(bytes.fromhex("00A4040C0AD392F000260100000002"))) == "6A82"
    assert _sw(reader.transmit(SELECT_AP)) == "9000"
    assert _sw(reader.transmit(bytes.fromhex("00A4020C02000A"))) == "9000"
    head = reader.transmit(bytes.fromhex("00B0000004"))
    assert _sw(head) == "9000" and head[0] == 0x30
    # PIN EF: empty VERIFY tells the tries left.
    assert _sw(reader.transmit(bytes.fromhex("00A4020C020018"))) == "9000"
    assert _sw(reader.transmit(bytes.fromhex("00200080"))) == "63C3"
    assert _sw(reader.transmit(bytes.fromhex("0020008004") + b"9999")) == "63C2"
    assert _sw(reader.transmit(bytes.fromhex("00200080"))) == "63C2"
    # Signing before a successful VERIFY is refused.
    assert _sw(reader.transmit(bytes.fromhex("00A4020C020017"))) == "9000"
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + bytes(32)
    assert _sw(reader.transmit(bytes.fromhex("802A008033") + digest_info + b"\x00")) == "6982"
    reader.transmit(bytes.fromhex("00A4020C020018"))
    assert _sw(reader.transmit(bytes.fromhex("0020008004") + b"1234")) == "9000"
    reader.transmit(bytes.fromhex("00A4020C020017"))
    resp = reader.transmit(bytes.fromhex("802A008033") + digest_info + b"\x00")
    assert _sw(resp) == "9000" and len(resp) == 256 + 2
    assert _sw(reader.transmit(bytes.fromhex("802A008003010203"))) == "6A80"  # not a DigestInfo
    # The signing certificate needs the password, not the PIN.
    reader.transmit(bytes.fromhex("00A4020C020001"))
    assert _sw(reader.transmit(bytes.fromhex("00B0000004"))) == "6982"
    # Bad commands.
    assert _sw(reader.transmit(bytes.fromhex("00"))) == "6700"
    assert _sw(reader.transmit(bytes.fromhex("00FF0000"))) == "6D00"
    assert _sw(reader.transmit(bytes.fromhex("A0A4040C"))) == "6E00"
    assert _info(fresh_card)["pin_tries_left"] == 3  # a correct PIN restored the counter


def test_client_signature_verifies_with_the_auth_certificate(fresh_card: Path) -> None:
    card = JpkiCard(VirtualCardReader(fresh_card))
    assert card.pin_tries_left() == 3
    card.verify_pin("1234")
    message = b"challenge from the center " + os.urandom(16)
    signature = card.sign_with_auth_key(message)
    card.auth_certificate().public_key().verify(signature, message, PKCS1v15(), SHA256())  # type: ignore[union-attr, call-arg, arg-type]
    with pytest.raises(CardProtocolError):
        card.sign_certificate()  # password not verified yet
    card.verify_password("ABCD1234")
    assert card.sign_certificate().serial_number != card.auth_certificate().serial_number


def test_wrong_pin_then_lock_then_reset(fresh_card: Path) -> None:
    card = JpkiCard(VirtualCardReader(fresh_card))
    with pytest.raises(WrongPin) as e:
        card.verify_pin("0000")
    assert e.value.tries_left == 2
    with pytest.raises(WrongPin):
        card.verify_pin("0001")
    with pytest.raises(CardLocked):
        card.verify_pin("0002")
    with pytest.raises(CardLocked):
        card.verify_pin("1234")  # the right PIN no longer helps
    assert card.pin_tries_left() == 0
    assert _info(fresh_card)["locked"] is True
    kofu("card", "reset", str(fresh_card))
    card = JpkiCard(VirtualCardReader(fresh_card))
    assert card.pin_tries_left() == 3
    card.verify_pin("1234")


def test_password_has_five_tries(fresh_card: Path) -> None:
    card = JpkiCard(VirtualCardReader(fresh_card))
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongPin) as e:
            card.verify_password("WRONG99")
        assert e.value.tries_left == left
    with pytest.raises(CardLocked):
        card.verify_password("WRONG99")
    info = _info(fresh_card)
    assert info["password_tries_left"] == 0 and info["pin_tries_left"] == 3


def test_card_sign_cli_exit_codes_across_processes(fresh_card: Path) -> None:
    ok = kofu("card", "sign", str(fresh_card), "--pin", "1234", "--data", "68656c6c6f")
    assert len(bytes.fromhex(ok.stdout.strip())) == 256
    for left in (2, 1):
        r = kofu("card", "sign", str(fresh_card), "--pin", "9999", "--data", "00", check=False)
        assert r.returncode == 2 and f"{left} tries left" in r.stderr
    r = kofu("card", "sign", str(fresh_card), "--pin", "9999", "--data", "00", check=False)
    assert r.returncode == 3 and "locked" in r.stderr
    r = kofu("card", "sign", str(fresh_card), "--pin", "1234", "--data", "00", check=False)
    assert r.returncode == 3
    assert _info(fresh_card)["pin_tries_left"] == 0


def test_concurrent_wrong_pins_from_many_processes_never_lose_a_decrement(fresh_card: Path) -> None:
    # Eight processes, each one wrong PIN, all at once: 3 tries → exactly three
    # answers "wrong"/"locked" consume them; all others see the lock.
    def attempt(_: int) -> int:
        return subprocess.run(
            kofu_argv("card", "sign", str(fresh_card), "--pin", "9999", "--data", "00"),
            capture_output=True, timeout=120,
        ).returncode

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(attempt, range(8)))
    assert sorted(codes) == [2, 2, 3, 3, 3, 3, 3, 3], codes
    assert _info(fresh_card)["pin_tries_left"] == 0


def _serial_outcomes(pins: list[str], right: str = "1234", tries: int = 3) -> set[tuple[tuple[int, ...], int]]:
    """Every (exit codes in ``pins`` order, tries left after) that some one-at-a-time order gives.

    The card's rule: a wrong PIN takes a try (the last one answers "locked", exit 3),
    the right one restores all tries (exit 0), and a locked card refuses any PIN (exit 3).
    """
    from itertools import permutations

    outcomes = set()
    for order in permutations(range(len(pins))):
        left, codes = tries, [0] * len(pins)
        for i in order:
            if left == 0:
                codes[i] = 3
            elif pins[i] == right:
                left, codes[i] = tries, 0
            else:
                left -= 1
                codes[i] = 2 if left else 3
        outcomes.add((tuple(codes), left))
    return outcomes


def test_concurrent_wrong_and_right_pins_count_exactly(fresh_card: Path) -> None:
    # Three wrong PINs alongside right ones, all at once: whatever the interleaving,
    # the answers and the counter left must be those of some one-at-a-time order.
    pins = ["9999", "1234", "9998", "1234", "9997"]

    def attempt(pin: str) -> int:
        return subprocess.run(
            kofu_argv("card", "sign", str(fresh_card), "--pin", pin, "--data", "00"),
            capture_output=True, timeout=120,
        ).returncode

    with ThreadPoolExecutor(len(pins)) as pool:
        codes = list(pool.map(attempt, pins))
    left = _info(fresh_card)["pin_tries_left"]
    assert (tuple(codes), left) in _serial_outcomes(pins), (codes, left)
    # Then wrong PINs until the card locks: each one takes exactly one try.
    while left > 0:
        r = kofu("card", "sign", str(fresh_card), "--pin", "9990", "--data", "00", check=False)
        left -= 1
        if left:
            assert r.returncode == 2 and f"{left} tries left" in r.stderr, (r.returncode, r.stderr)
        else:
            assert r.returncode == 3 and "locked" in r.stderr, (r.returncode, r.stderr)
    info = _info(fresh_card)
    assert info["pin_tries_left"] == 0 and info["locked"] is True
    # Locked means locked: the right PIN is refused and restores nothing.
    r = kofu("card", "sign", str(fresh_card), "--pin", "1234", "--data", "00", check=False)
    assert r.returncode == 3 and "locked" in r.stderr and r.stdout == ""
    assert _info(fresh_card)["pin_tries_left"] == 0


_CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import kofu.jpki.cardfile as cf
    from kofu.jpki.client import JpkiCard
    from kofu.jpki.reader import VirtualCardReader

    real_replace = os.replace
    mode = sys.argv[2]

    def crash(src, dst):
        if mode == "before-replace":
            os.kill(os.getpid(), 9)   # temp file written and fsynced, never renamed
        real_replace(src, dst)
        if mode == "after-decrement":
            os.kill(os.getpid(), 9)   # the decrement is stored, the PIN never checked

    cf.os.replace = crash
    JpkiCard(VirtualCardReader(Path(sys.argv[1]))).verify_pin(sys.argv[3])
    """
)


@pytest.mark.parametrize("pin", ["1234", "9999"])
def test_killed_before_rename_leaves_the_old_card(fresh_card: Path, tmp_path: Path, pin: str) -> None:
    before = fresh_card.read_bytes()
    script = tmp_path / "crash.py"
    script.write_text(_CRASH_SCRIPT)
    r = subprocess.run([sys.executable, str(script), str(fresh_card), "before-replace", pin], capture_output=True)
    assert r.returncode == -signal.SIGKILL
    assert fresh_card.read_bytes() == before  # old content, intact
    assert list(tmp_path.glob(".card.json.*.tmp"))  # the stale temp file is left over...
    card = JpkiCard(VirtualCardReader(fresh_card))
    assert card.pin_tries_left() == 3  # ...and ignored
    with pytest.raises(WrongPin):
        card.verify_pin("0000")
    assert _info(fresh_card)["pin_tries_left"] == 2


def test_killed_after_decrement_keeps_the_decrement_even_for_the_right_pin(fresh_card: Path, tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(_CRASH_SCRIPT)
    for expected_left in (2, 1, 0):
        r = subprocess.run([sys.executable, str(script), str(fresh_card), "after-decrement", "1234"])
        assert r.returncode == -signal.SIGKILL
        assert _info(fresh_card)["pin_tries_left"] == expected_left
    with pytest.raises(CardLocked):
        JpkiCard(VirtualCardReader(fresh_card)).verify_pin("1234")


def test_a_failing_write_refuses_the_verify(fresh_card: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kofu.jpki.cardfile as cardfile

    def broken(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    before = fresh_card.read_bytes()
    monkeypatch.setattr(cardfile.os, "replace", broken)
    card = JpkiCard(VirtualCardReader(fresh_card))
    with pytest.raises(CardStateWriteFailed):
        card.verify_pin("1234")  # the right PIN is not even looked at
    with pytest.raises(CardProtocolError):
        card.sign_with_auth_key(b"x")
    monkeypatch.undo()
    assert fresh_card.read_bytes() == before
    assert not list(fresh_card.parent.glob(".card.json.*.tmp"))


def test_corrupt_card_file_is_reported(tmp_path: Path) -> None:
    card = tmp_path / "bad.json"
    card.write_text('{"format": "kofu-virtual-card/1"')
    r = kofu("card", "info", str(card), check=False)
    assert r.returncode == 1 and "corrupt" in r.stderr


def test_card_info_human_output(test_ca: JpkiTestCa) -> None:
    out = kofu("card", "info", str(test_ca.card)).stdout
    assert test_ca.issued["auth_serial"] in out and "PIN tries left:      3/3" in out
