"""The kiosk's message catalogs: every text a resident sees, per language.

One JSON file per language in ``catalog/`` (``ja.json``, ``en.json``,
``ko.json``), a flat object of message keys to texts with ``{name}``
placeholders (``str.format``). Why JSON and not gettext/Babel: the kiosk has
a few hundred short messages keyed by screen and none needs plural forms
(Japanese and Korean have none; English counts are written so that they need
none), so a flat key → text file is all a translator edits, there is no
compile step or build artefact to keep in step, and a test proves every
catalog has exactly the keys of the Japanese one. Names, addresses and
certificate contents never pass through a catalog.

The center's refusal codes (``error`` of its JSON) map to ``refusal.<code>``:
what the resident can do, in their language. In Japanese and English the
center's own words (``message``/``message_en``, which say until when for the
hours) are shown under it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).parent / "catalog"
LANGUAGE_NAMES = {"ja": "日本語", "en": "English", "ko": "한국어"}
SOURCE = "ja"


@cache
def messages(lang: str) -> dict[str, str]:
    return dict(json.loads((FOLDER / f"{lang}.json").read_text(encoding="utf-8")))


def translator(lang: str) -> Callable[..., str]:
    table = messages(lang)
    source = messages(SOURCE)

    def tr(key: str, **params: Any) -> str:
        text = table.get(key) or source.get(key) or key
        return text.format(**params) if params else text

    return tr


def refusal_key(code: str) -> str:
    key = f"refusal.{code}"
    return key if key in messages(SOURCE) else "refusal.generic"


def notice_text(lang: str, notice: Any) -> list[str]:
    """The lines a notice shows: the catalog's message, the center's words, money and card reminders."""
    tr = translator(lang)
    lines = [tr(notice.key)]
    center = {"ja": notice.center_message, "en": notice.center_message_en}.get(lang, "")
    if center and center != lines[0]:
        lines.append(center)
    if notice.params.get("refund"):
        lines.append(tr("notice.refund", refund=notice.params["refund"]))
    if notice.params.get("card"):
        lines.append(tr("notice.take-card"))
    return lines
