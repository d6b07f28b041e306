"""Fixtures for the renderer's tests (documents come from kofu.render.samples)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.render.sealing import SealKit, make_test_seal


@pytest.fixture
def write_pdf(tmp_path: Path) -> Callable[..., Path]:
    """Write PDF bytes to a file in the test's folder, for the poppler tools."""

    def write(data: bytes, name: str = "doc.pdf") -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


@pytest.fixture(scope="session")
def test_seal(tmp_path_factory: pytest.TempPathFactory) -> SealKit:
    """One test CA, seal and NSS database for all the renderer's tests."""
    return make_test_seal(tmp_path_factory.mktemp("render-seal"))
