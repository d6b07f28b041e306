"""verify.toml: defaults, relative paths, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from kofu.verify.settings import DEFAULT_MAX_UPLOAD_BYTES, SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "verify.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_minimal_file_gets_safe_defaults(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[keys]\nmaster_key = "k/master.key"\nqr_keys = "/abs/qr"\n'))
    assert s.master_key == tmp_path / "k/master.key"
    assert s.qr_keys == Path("/abs/qr")
    assert s.server.host == "127.0.0.1" and s.server.tls is None
    assert s.limits.max_upload_bytes == DEFAULT_MAX_UPLOAD_BYTES == 20 * 1024 * 1024


def test_tls_and_limits(tmp_path: Path) -> None:
    s = load_settings(
        write(
            tmp_path,
            '[server]\nport = 9000\n[tls]\ncert = "c.pem"\nkey = "c.key"\n'
            '[keys]\nmaster_key = "m"\nqr_keys = "q"\n[limits]\nmax_upload_bytes = 1000\nmax_pixels = 5\n',
        )
    )
    assert s.server.port == 9000
    assert s.server.tls is not None and s.server.tls.cert == tmp_path / "c.pem"
    assert s.server.tls.client_ca is None  # a public site
    assert (s.limits.max_upload_bytes, s.limits.max_pixels) == (1000, 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "keys is required"),
        ('[keys]\nmaster_key = "m"\n', "keys.qr_keys is required"),
        ('[keys]\nmaster_key = 1\nqr_keys = "q"\n', "keys.master_key must be a str"),
        (
            '[server]\nport = "80"\n[keys]\nmaster_key = "m"\nqr_keys = "q"\n',
            "server.port must be a int",
        ),
        ('[keys]\nmaster_key = "m"\nqr_keys = "q"\n[limits]\nmax_pixels = 0\n', "must be positive"),
        ("[keys\n", "not valid TOML"),
    ],
)
def test_errors_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "nope.toml")
