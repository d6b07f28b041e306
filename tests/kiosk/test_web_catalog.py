"""The touch kiosk's message catalogs and settings, without a browser."""

from __future__ import annotations

import re
import string
from pathlib import Path

import babel  # noqa: F401  (a dev dependency: missing, the module fails rather than skips)
import pytest

from kofu.kiosk.web import catalog
from kofu.kiosk.web.settings import SUPPORTED_LANGUAGES, SettingsError, load_settings, write_config

TEMPLATES = Path(catalog.__file__).parent / "templates"
APP = Path(catalog.__file__).parent / "app.py"


def fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_the_kiosk_offers_every_language_it_has_a_catalog_for() -> None:
    assert SUPPORTED_LANGUAGES == catalog.LANGUAGES
    assert set(catalog.LANGUAGE_NAMES) == set(catalog.LANGUAGES)
    folders = {p.name for p in catalog.LOCALE.iterdir() if p.is_dir()}
    assert folders == {lang.replace("-", "_") for lang in catalog.LANGUAGES}


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_every_catalog_has_every_message_with_the_same_placeholders(lang: str) -> None:
    source, table = catalog.messages("ja"), catalog.messages(lang)
    assert len(source) > 150
    assert set(table) == set(source), set(table) ^ set(source)
    for key, text in table.items():
        assert text.strip(), key
        assert fields(text) == fields(source[key]), key
    if lang != "ja":
        assert sum(table[k] != source[k] for k in table) > 0.8 * len(table)  # translated, not copied


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_every_committed_mo_is_what_babel_compiles_from_its_po(lang: str) -> None:
    assert catalog.mo_path(lang).read_bytes() == catalog.compiled(lang), (
        f"{catalog.mo_path(lang)} is stale: run python -m kofu.kiosk.web.catalog")


def test_a_catalog_that_lacks_a_message_falls_back_to_japanese_and_a_wrong_language_is_refused() -> None:
    assert catalog.translator("es")("no.such.key") == "no.such.key"
    assert catalog.translations("es").gettext("prompt.pin") != catalog.translations("ja").gettext("prompt.pin")
    with pytest.raises(KeyError, match="no catalog for language 'fr'"):
        catalog.translator("fr")


def test_no_user_facing_text_is_written_in_the_kiosks_code() -> None:
    """Texts come from the catalogs: no Japanese, Korean or Chinese letters in a string of
    app.py (docstrings aside) nor in a template outside a script comment."""
    import ast

    letters = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
    tree = ast.parse(APP.read_text(encoding="utf-8"))
    docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            assert not letters.search(node.value), f"app.py:{node.lineno}: {node.value!r}"
    for f in TEMPLATES.glob("*.html"):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            assert not letters.search(line.split("// ", 1)[0]), f"{f.name}:{n}: {line.strip()}"


def test_every_key_the_screens_and_the_app_use_is_in_the_catalog() -> None:
    used: set[str] = set()
    for f in [*TEMPLATES.glob("*.html"), APP]:
        used |= set(re.findall(r"""(?<![A-Za-z])(?:_|tr|Notice)\(['"]([a-z][a-z0-9.-]*[a-z0-9])['"]\s*[,)]""", f.read_text(encoding="utf-8")))
    screens = set(re.findall(r"t\.screen == '([a-z]+)'", (TEMPLATES / "screen.html").read_text(encoding="utf-8")))
    used |= {f"prompt.{s}" for s in screens} | {f"screen.{s}" for s in screens}
    # Keys made from a value: every value's key.
    from kofu.kiosk.web.app import KINDS

    used |= {f"kind.{k}" for k in KINDS} | {"scope.household", "scope.self", "tax.shotoku", "tax.nozei",
                                             "koseki.all", "koseki.self", "yes", "no"}
    assert len(screens) >= 17 and len(used) > 60
    assert used - set(catalog.messages("ja")) == set()


def test_the_centers_refusal_codes_map_to_catalog_messages() -> None:
    from kofu.center import errors
    from kofu.domain.rules import RefusalCode

    # A refusal about the person reaches the kiosk as the neutral "refused" (kofu.center.errors).
    codes = {c.value for c in RefusalCode if not c.value.startswith("resident-")}
    codes |= {e.code for e in vars(errors).values() if isinstance(e, type) and issubclass(e, errors.CenterError)}
    codes |= {"center-unreachable"}  # kofu.kiosk.client, when the center does not answer
    for code in codes:
        assert catalog.refusal_key(code) == f"refusal.{code}", code
    assert catalog.refusal_key("something-new") == "refusal.generic"


def test_the_kiosk_listens_on_loopback_only(tmp_path: Path) -> None:
    toml = write_config(tmp_path / "kiosk.toml", port=8407, center_url="https://127.0.0.1:1",
                        tls={"ca": "ca.pem", "client_cert": "c.pem", "client_key": "c.key"},
                        card_dir=tmp_path, store="s")
    assert load_settings(toml).server.host == "127.0.0.1"
    toml.write_text(toml.read_text().replace('host = "127.0.0.1"', 'host = "0.0.0.0"'))
    with pytest.raises(SettingsError, match="loopback"):
        load_settings(toml)
