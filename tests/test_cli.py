"""The ``kofu`` command: every command module imports, or ``kofu`` fails loudly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kofu.cli import _COMMAND_MODULES


def _kofu_help(prelude: str) -> subprocess.CompletedProcess[str]:
    """``kofu --help`` in a fresh interpreter, after ``prelude`` has run in it."""
    code = f"{prelude}\nimport sys\nfrom kofu.cli import main\nsys.exit(main(['--help']))\n"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_every_command_is_listed_without_the_optional_extras() -> None:
    # pyscard (kofu[pcsc]) is not installed here: no command module needs it to import.
    r = _kofu_help("import sys\nsys.modules['smartcard'] = None")
    assert r.returncode == 0, r.stderr
    for command in ("serve", "jpki", "card", "lgpki", "issuer", "center", "kiosk", "verify",
                    "demo", "bench"):
        assert f"    {command} " in r.stdout


_MISSING = "import sys\nsys.modules[{name!r}] = None"
_BROKEN = """
import importlib.abc, sys

class Broken(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname == {name!r}:
            raise ImportError("cannot import name 'gone' from 'kofu.somewhere'")
        return None

sys.meta_path.insert(0, Broken())
"""


@pytest.mark.parametrize("name", ["kofu.kiosk.cli", "kofu.bench"])
@pytest.mark.parametrize(
    ("prelude", "error"),
    [(_MISSING, "ModuleNotFoundError: import of"), (_BROKEN, "ImportError: cannot import name")],
    ids=["missing", "broken"],
)
def test_a_command_module_that_does_not_import_stops_kofu(
    prelude: str, error: str, name: str
) -> None:
    assert name in _COMMAND_MODULES
    r = _kofu_help(prelude.format(name=name))
    assert r.returncode != 0
    assert "usage: kofu" not in r.stdout
    assert "Traceback (most recent call last)" in r.stderr
    assert error in r.stderr
    assert f"kofu: the command module {name} failed to import" in r.stderr
