"""The kiosk's voice guidance: a clip for every step, made at build time.

``python -m kofu.kiosk.web.voice`` (run by ``make setup``) speaks every
message a screen announces (``SPOKEN``) in every language with Debian's
``espeak-ng`` into ``voice/<lang>/<key>.wav`` beside this file (a build
artefact, not committed: some 100 MB of WAV). Nothing is fetched at run time;
a kiosk without the folder shows every text but plays nothing, and says so in
its log. The clips are remade when a catalog, a voice or the list of clips changes (the
folder's ``manifest.json`` holds a hash of them).

espeak-ng reads kana but not kanji, and its Mandarin voice in Debian reads
tone digits in English; so a Japanese text is turned into hiragana first
(``pykakasi``) and a Chinese one into numbered pinyin for the
``cmn-latn-pinyin`` voice (``pypinyin``). The text shown is always the
catalog's.

Personal data (a holder's name, or a fee next to it) is never in a built
clip: the kiosk speaks it only in earphone mode, synthesised at that moment
into memory (:func:`synthesize`, ``espeak-ng --stdout``), never written to
disk and never played over the speaker.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

from kofu.kiosk.web import catalog

VOICE = Path(__file__).parent / "voice"
ESPEAK = "espeak-ng"
VOICES = {"ja": "ja", "en": "en-us", "ko": "ko", "zh-Hans": "cmn-latn-pinyin", "zh-Hant": "cmn-latn-pinyin",
          "es": "es", "pt": "pt-br"}
SPEED = 150  # words a minute: a little slower than espeak's default, for a public kiosk
SPOKEN_PREFIXES = ("prompt.", "notice.", "refusal.")
SPOKEN = ("reminder.take", "reminder.card", "remove.keep", "domicile.not-yet", "idle.warning")
PIN_TRIES = (1, 2)
"""``pin.wrong`` is built for each count of tries left a resident can hear."""


class VoiceError(Exception):
    """The synthesizer is missing or failed."""


def clip_ids() -> list[str]:
    """Every built clip: a message key, or ``key@name=value`` for one with a parameter."""
    keys = [k for k in catalog.messages(catalog.SOURCE)
            if k.startswith(SPOKEN_PREFIXES) or k in SPOKEN]
    keys = [k for k in keys if "{" not in catalog.messages(catalog.SOURCE)[k]]
    return keys + [f"pin.wrong@n={n}" for n in PIN_TRIES]


def clip_text(lang: str, clip: str) -> str:
    """What the clip says (and the caption shows), from the catalog."""
    key, _, param = clip.partition("@")
    params = dict([param.split("=", 1)]) if param else {}
    return catalog.translator(lang)(key, **params)


def clip_path(lang: str, clip: str, folder: Path = VOICE) -> Path:
    return folder / lang / f"{clip}.wav"


@cache
def _kakasi() -> object:
    import pykakasi

    return pykakasi.kakasi()  # type: ignore[no-untyped-call]


def reading(lang: str, text: str) -> str:
    """The text as espeak-ng can read it aloud."""
    if lang == "ja":
        return "".join(part["hira"] for part in _kakasi().convert(text))  # type: ignore[attr-defined]
    if lang in ("zh-Hans", "zh-Hant"):
        from pypinyin import Style, lazy_pinyin

        return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))
    return text


def synthesize(lang: str, text: str) -> bytes:
    """A WAV of ``text`` spoken in ``lang``, in memory (``espeak-ng --stdout``)."""
    if shutil.which(ESPEAK) is None:
        raise VoiceError(f"{ESPEAK} is not installed (scripts/ensure-system-packages.sh installs it)")
    # The text (it may hold names) goes on stdin: not in /proc/*/cmdline, and a text
    # starting with "-" is not taken for an option.
    r = subprocess.run([ESPEAK, "-v", VOICES[lang], "-s", str(SPEED), "--stdout", "--stdin"],
                       input=reading(lang, text).encode(), capture_output=True, timeout=60)
    if r.returncode != 0 or not r.stdout.startswith(b"RIFF"):
        raise VoiceError(f"{ESPEAK} failed ({r.returncode}): {r.stderr.decode(errors='replace')[:200]}")
    return r.stdout


def fingerprint() -> str:
    """A hash of what the clips are made from: the voices, the clips and every catalog."""
    h = hashlib.sha256(json.dumps([VOICES, SPEED, clip_ids()]).encode())
    for lang in catalog.LANGUAGES:
        h.update(catalog.mo_path(lang).read_bytes())
    return h.hexdigest()


def built(folder: Path = VOICE) -> bool:
    manifest = folder / "manifest.json"
    try:
        return bool(json.loads(manifest.read_text(encoding="utf-8"))["fingerprint"] == fingerprint())
    except (OSError, ValueError, KeyError):
        return False


def build(folder: Path = VOICE, *, force: bool = False) -> int:
    """Make every clip of every language into ``folder``; returns how many were made (0: up to date)."""
    if built(folder) and not force:
        return 0
    made = 0
    for lang in catalog.LANGUAGES:
        (folder / lang).mkdir(parents=True, exist_ok=True)
        for clip in clip_ids():
            path = clip_path(lang, clip, folder)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(synthesize(lang, clip_text(lang, clip)))
            tmp.replace(path)
            made += 1
    (folder / "manifest.json").write_text(json.dumps({"fingerprint": fingerprint(), "clips": clip_ids()}),
                                          encoding="utf-8")
    return made


def main(argv: list[str] | None = None) -> int:
    """``python -m kofu.kiosk.web.voice [--force]``: build the clips (skipped when up to date)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        made = build(force="--force" in args)
    except VoiceError as e:
        print(f"kofu kiosk voice: {e}", file=sys.stderr)
        return 1
    print(f"kiosk voice guidance: {made} clips made in {VOICE}" if made else
          f"kiosk voice guidance: up to date in {VOICE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
