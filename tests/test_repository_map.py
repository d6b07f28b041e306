"""The project carries its own map: docs/architecture.md, and nothing points outside the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Spelled in pieces so that this file does not match itself.
OUTSIDE = ("shared" + "/", "DES" + "IGN.md")


_NOT_SOURCES = {".git", ".venv", "var", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def _tracked_files() -> list[Path]:
    """The files git tracks; outside a git checkout (an unpacked release), every file but
    the virtual environment, demo data and caches."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            p for p in ROOT.rglob("*")
            if p.is_file() and not any(part in _NOT_SOURCES or part.endswith(".egg-info")
                                       for part in p.relative_to(ROOT).parts)
        ]
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_no_file_points_outside_the_repository() -> None:
    files = _tracked_files()
    assert len(files) > 50  # the listing worked
    offenders = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if any(word in line for word in OUTSIDE):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_architecture_has_a_box_for_every_package() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted(p.parent.name for p in (ROOT / "src" / "kofu").glob("*/__init__.py"))
    assert "center" in packages and "issuer" in packages
    missing = [name for name in packages if f"| `{name}/` |" not in text]
    assert missing == []
    assert "docs/architecture.md" in (ROOT / "README.md").read_text(encoding="utf-8")
