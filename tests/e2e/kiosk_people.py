"""What the kiosk tests know of the demo world's people: a card holder's name,
address and household as the issuer holds them, a kind's fee, a card with a
tag, and a printed page's text (pdftotext). Shared by the touch-kiosk walks
and the real-device tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


def import_doc(root: Path) -> dict[str, Any]:
    return dict(json.loads((root / "issuer" / "import.json").read_text(encoding="utf-8")))


def person(root: Path, card: dict[str, Any]) -> tuple[str, str]:
    """The card holder's name and address, as the issuer holds them."""
    for m in import_doc(root)["municipalities"]:
        for h in m["households"]:
            for p in h["members"]:
                if p["id"] == card["resident"]:
                    return p["name"], h["address"]
    raise KeyError(card["resident"])


def household(root: Path, card: dict[str, Any]) -> list[str]:
    """The names a 世帯全員 住民票 of the card holder lists (members who moved out are not on it)."""
    for m in import_doc(root)["municipalities"]:
        for h in m["households"]:
            if any(p["id"] == card["resident"] for p in h["members"]):
                return [p["name"] for p in h["members"] if p.get("status") != "removed"]
    raise KeyError(card["resident"])


def fee_of(root: Path, card: dict[str, Any], kind: str) -> int:
    m = next(m for m in import_doc(root)["municipalities"] if m["code"] == card["municipality"])
    return int(m["fees"][kind])


def card_with(world: dict[str, Any], tag: str, index: int = 0, without: str = "mj-name") -> dict[str, Any]:
    return [c for c in world["cards"] if tag in c["tags"] and without not in c["tags"]][index]


def pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return out.replace(" ", "").replace("\u3000", "")
