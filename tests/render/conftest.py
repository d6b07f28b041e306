"""Fixtures for the renderer's tests (documents come from kofu.render.samples)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write_pdf(tmp_path: Path) -> Callable[..., Path]:
    """Write PDF bytes to a file in the test's folder, for the poppler tools."""

    def write(data: bytes, name: str = "doc.pdf") -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write
