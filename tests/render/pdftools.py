"""Poppler's command-line tools, as a person checking a certificate would use them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def run(*cmd: str) -> str:
    if shutil.which(cmd[0]) is None:
        pytest.fail(f"{cmd[0]} is not installed; run scripts/ensure-system-packages.sh")
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def pdftotext(path: Path, page: int | None = None) -> str:
    pages = [] if page is None else ["-f", str(page), "-l", str(page)]
    return run("pdftotext", *pages, str(path), "-")
