"""The kiosk's message catalogs: every text a resident sees or hears, per language.

gettext catalogs, one a language: ``locale/<lang>/LC_MESSAGES/kiosk.po`` is
what a translator edits, ``kiosk.mo`` beside it what the kiosk loads (Python's
:mod:`gettext`). The ``.mo`` files are compiled from the ``.po`` files with
Babel (``python -m kofu.kiosk.web.catalog``) and committed, so an installed
kiosk needs no build step and no Babel; a test compiles every ``.po`` again
and fails when a committed ``.mo`` differs from it.

The message ids are symbolic keys named after the screen (``prompt.pin``,
``refusal.card-revoked``), not Japanese source text: a key stays put when
the Japanese wording changes, and the templates stay readable. Each
non-Japanese ``.po`` carries the Japanese text as an extracted comment
(``#.``) for its translator. Placeholders are ``str.format`` fields
(``{n}``), flagged ``python-brace-format``; no message needs plural forms
(Japanese, Korean and Chinese have none; the European texts are written so
that they need none). Names, addresses and certificate contents never pass
through a catalog.

The center's refusal codes (``error`` of its JSON) map to ``refusal.<code>``:
what the resident can do, in their language. In Japanese and English the
center's own words (``message``/``message_en``, which say until when for the
hours) are shown under it.
"""

from __future__ import annotations

import gettext
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

LOCALE = Path(__file__).parent / "locale"
DOMAIN = "kiosk"
LANGUAGES = ("ja", "en", "ko", "zh-Hans", "zh-Hant", "es", "pt")
"""The kiosk's languages (BCP 47 tags, as the pages' ``lang`` attributes)."""
LANGUAGE_NAMES = {"ja": "日本語", "en": "English", "ko": "한국어", "zh-Hans": "中文(简体字)",
                  "zh-Hant": "中文(繁體字)", "es": "Español", "pt": "Português"}
SOURCE = "ja"


def folder(lang: str) -> Path:
    """``locale/<lang>/LC_MESSAGES`` (gettext's folder names: ``zh_Hans`` for ``zh-Hans``)."""
    if lang not in LANGUAGES:
        raise KeyError(f"no catalog for language {lang!r}; the kiosk has {', '.join(LANGUAGES)}")
    return LOCALE / lang.replace("-", "_") / "LC_MESSAGES"


def po_path(lang: str) -> Path:
    return folder(lang) / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return folder(lang) / f"{DOMAIN}.mo"


@cache
def _load(lang: str) -> gettext.GNUTranslations:
    with mo_path(lang).open("rb") as f:
        return gettext.GNUTranslations(f)


@cache
def translations(lang: str) -> gettext.GNUTranslations:
    """The compiled catalog of ``lang``; a message it lacks falls back to Japanese."""
    with mo_path(lang).open("rb") as f:
        t = gettext.GNUTranslations(f)
    if lang != SOURCE:
        t.add_fallback(_load(SOURCE))
    return t


@cache
def messages(lang: str) -> dict[str, str]:
    """Every message of ``lang``'s compiled catalog, id → text (without the header)."""
    table: dict[Any, str] = _load(lang)._catalog  # type: ignore[attr-defined]  # the parsed .mo
    return {k: v for k, v in table.items() if isinstance(k, str) and k}


def translator(lang: str) -> Callable[..., str]:
    t = translations(lang)

    def tr(key: str, **params: Any) -> str:
        text = t.gettext(key)
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


# Compiling (Babel: a developer's tool, not needed at run time) ------------------


def compiled(lang: str) -> bytes:
    """The ``.mo`` Babel compiles from ``lang``'s ``.po``."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path(lang).open("rb") as f:
        cat = read_po(f, locale=lang.replace("-", "_"), domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, cat, use_fuzzy=False)
    return out.getvalue()


def compile_all(*, check: bool = False) -> list[str]:
    """Compile every ``.po`` to its ``.mo`` (``check``: only list the stale ones)."""
    stale = []
    for lang in LANGUAGES:
        data = compiled(lang)
        path = mo_path(lang)
        if not path.exists() or path.read_bytes() != data:
            stale.append(lang)
            if not check:
                path.write_bytes(data)
    return stale


def main(argv: list[str] | None = None) -> int:
    """``python -m kofu.kiosk.web.catalog [--check]``: compile the catalogs (or check they are compiled)."""
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    stale = compile_all(check=check)
    for lang in stale:
        print(f"{mo_path(lang)}: {'stale, run python -m kofu.kiosk.web.catalog' if check else 'compiled'}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
