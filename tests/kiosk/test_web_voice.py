"""The touch kiosk's voice guidance without a browser: which clips exist, what each screen
says, and that personal data is only ever in the earphone readout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kofu.kiosk.web import catalog, voice
from kofu.kiosk.web.app import Txn, voice_clips
from tests.conftest import require_tool

TEMPLATES = Path(catalog.__file__).parent / "templates"
SCREENS = set(re.findall(r"t\.screen == '([a-z]+)'", (TEMPLATES / "screen.html").read_text(encoding="utf-8")))

OFFER = {"kind": "juminhyo", "fee": 300, "max_copies": 5, "scopes": ["household", "self"],
         "with_householder": True, "members": [{"id": "m1", "name": "山田 太郎"}, {"id": "m2", "name": "山田 花子"}]}


def txn(screen: str, *, earphone: bool, lang: str = "ja") -> Txn:
    t = Txn("sid", lang, screen=screen, earphone=earphone)
    t.offers, t.kind, t.scope, t.copies = [OFFER], "juminhyo", "household", 2
    return t


def test_every_screen_has_a_clip_and_no_built_clip_has_a_placeholder() -> None:
    ids = set(voice.clip_ids())
    assert {f"prompt.{s}" for s in SCREENS} <= ids
    assert {"reminder.take", "pin.wrong@n=1", "pin.wrong@n=2", "domicile.not-yet"} <= ids
    for lang in catalog.LANGUAGES:
        for clip in ids:
            text = voice.clip_text(lang, clip)
            assert text and "{" not in text, (lang, clip)


def test_the_speaker_never_gets_personal_data_and_the_earphones_do() -> None:
    for screen in ("items", "confirm"):
        speaker = voice_clips(txn(screen, earphone=False))
        assert speaker and all(not c["personal"] and c["src"].endswith(".wav") for c in speaker)
        assert not any("山田" in c["text"] or "600" in c["text"] for c in speaker)
    personal = [c for c in voice_clips(txn("confirm", earphone=True)) if c["personal"]]
    assert len(personal) == 1
    assert "山田 太郎" in personal[0]["text"] and "600" in personal[0]["text"]
    assert "山田" not in personal[0]["src"]  # the server reads it from the session, not from the page


def test_the_reminder_repeats_and_every_clip_has_its_caption() -> None:
    clips = voice_clips(txn("reminder", earphone=False, lang="es"))
    take = [c for c in clips if c["id"] == "reminder.take"]
    assert len(take) == 1 and take[0]["repeat"] > 0 and take[0]["text"] == catalog.translator("es")("reminder.take")
    assert clips[-1] is take[0]  # it repeats last, after everything else was said


def test_a_reading_is_what_espeak_ng_can_say() -> None:
    assert re.fullmatch(r"[\u3040-\u309f\u30fc、。 ]+", voice.reading("ja", "証明書をお取りください"))
    assert voice.reading("zh-Hant", "請取走證明書") == "qing3 qu3 zou3 zheng4 ming2 shu1"
    assert voice.reading("es", "Recoja su certificado") == "Recoja su certificado"


def test_a_clip_is_a_wav_made_in_memory() -> None:
    require_tool("espeak-ng")
    wav = voice.synthesize("ko", catalog.translator("ko")("reminder.take"))
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and len(wav) > 10_000


def test_the_text_goes_to_espeak_ng_on_stdin_so_a_leading_dash_is_read_not_taken_for_an_option(
        monkeypatch: pytest.MonkeyPatch) -> None:
    require_tool("espeak-ng")
    argvs: list[list[str]] = []
    run = voice.subprocess.run
    monkeypatch.setattr(voice.subprocess, "run", lambda argv, **kw: argvs.append(argv) or run(argv, **kw))
    wav = voice.synthesize("en", "--help 山田太郎")
    assert wav.startswith(b"RIFF") and b"WAVE" in wav[:12]
    assert not any("help" in a or "山田" in a for a in argvs[0])  # not in /proc/*/cmdline


def test_building_makes_every_clip_of_every_language_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[str, str]] = []
    monkeypatch.setattr(voice, "synthesize", lambda lang, text: made.append((lang, text)) or b"RIFF....WAVE")
    assert voice.build(tmp_path) == len(catalog.LANGUAGES) * len(voice.clip_ids())
    assert voice.built(tmp_path)
    assert voice.clip_path("zh-Hans", "prompt.pin", tmp_path).read_bytes() == b"RIFF....WAVE"
    assert ("pt", catalog.translator("pt")("prompt.pin")) in made
    assert voice.build(tmp_path) == 0  # up to date: nothing is made again


def test_the_kiosk_serves_only_its_own_clips_and_the_personal_readout_only_into_earphones(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from kofu.kiosk.web.app import COOKIE, Kiosk, build_app
    from kofu.kiosk.web.settings import load_settings, write_config

    assert voice.built(), f"voice guidance is not built in {voice.VOICE}: run make setup"
    toml = write_config(tmp_path / "kiosk.toml", port=8407, center_url="https://127.0.0.1:1",
                        tls={"ca": "ca.pem", "client_cert": "c.pem", "client_key": "c.key"},
                        card_dir=tmp_path, store="s")
    kiosk = Kiosk(load_settings(toml), center=object())
    with TestClient(build_app(kiosk)) as client:
        for lang in catalog.LANGUAGES:
            r = client.get(f"/voice/{lang}/prompt.start.wav")
            assert r.status_code == 200 and r.content[:4] == b"RIFF", lang
        for path in ("/voice/fr/prompt.start.wav", "/voice/ja/manifest.wav", "/voice/ja/..%2Fmanifest.json",
                     "/voice/ja/kind.juminhyo.wav"):
            assert client.get(path).status_code == 404, path
        assert client.get("/").status_code == 200
        sid = client.cookies[COOKIE]
        t = kiosk.txns[sid]
        t.screen, t.offers, t.kind, t.scope = "confirm", [OFFER], "juminhyo", "household"
        assert client.get("/voice/personal?screen=confirm").status_code == 403  # over the speaker: never
        client.post("/act", data={"a": "earphone"})
        assert t.earphone
        r = client.get("/voice/personal?screen=confirm")
        assert r.status_code == 200 and r.content[:4] == b"RIFF"
        assert r.headers["cache-control"] == "no-store"
        assert client.get("/voice/personal?screen=pay").status_code == 403  # only the screen shown
