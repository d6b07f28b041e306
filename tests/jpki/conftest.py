"""A test CA with two cards, made by the real CLI (session-scoped: RSA keys are slow)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from kofu.procs import kofu_argv

HOLDER = {
    "name": "山田 太郎",
    "name_kana": "ヤマダ タロウ",
    "birth_date": "1981-10-20",
    "sex": "male",
    "address": "兵庫県加東市社50番地",
    "municipality": "282286",
}


def kofu(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(kofu_argv(*args), capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"kofu {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


@dataclass(frozen=True)
class JpkiTestCa:
    dir: Path
    card: Path
    issued: dict[str, str]
    other_card: Path
    other_issued: dict[str, str]


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> JpkiTestCa:
    root = tmp_path_factory.mktemp("jpki")
    kofu("jpki", "init", str(root / "ca"))
    holder = root / "holder.json"
    holder.write_text(json.dumps(HOLDER, ensure_ascii=False), encoding="utf-8")
    issued = json.loads(
        kofu("jpki", "issue-card", str(root / "ca"), "--holder", str(holder), "--pin", "1234",
             "--password", "ABCD1234", "--out", str(root / "card.json")).stdout
    )
    other = dict(HOLDER, resident_link="link-of-hanako-0001", name="山田 花子", sex="female")
    holder2 = root / "holder2.json"
    holder2.write_text(json.dumps(other, ensure_ascii=False), encoding="utf-8")
    other_issued = json.loads(
        kofu("jpki", "issue-card", str(root / "ca"), "--holder", str(holder2), "--pin", "4321",
             "--password", "PASS5678", "--out", str(root / "card2.json")).stdout
    )
    return JpkiTestCa(root / "ca", root / "card.json", issued, root / "card2.json", other_issued)


@pytest.fixture
def fresh_card(test_ca: JpkiTestCa, tmp_path: Path) -> Path:
    """A private copy of the first card, with full tries, for tests that change its counters."""
    card = tmp_path / "card.json"
    shutil.copy(test_ca.card, card)
    return card
