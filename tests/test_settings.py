"""One settings dialect (issue 15, item 4): every service's TOML file is read by
``kofu.tomlconf``; a bad value is one line on stderr naming the file, the field
and what was expected, with exit code 2; relative paths, a relative SQLite
file included, resolve against the config file's folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kofu.procs import kofu_argv
from kofu.tomlconf import SettingsError

CENTER = """
[database]
url = "sqlite:///db/center.sqlite"
[server]
port = 8401
[jpki]
ca = "jpki.pem"
ocsp_url = "http://127.0.0.1:1"
directory_url = "https://127.0.0.1:2"
[lgpki]
ca = "ca.pem"
client_cert = "c.pem"
client_key = "c.key"
"""
ISSUER = """
[database]
url = "sqlite:///db/issuer.sqlite"
[server]
port = 8402
"""
VERIFY = """
[server]
port = 8406
[keys]
master_key = "m.key"
qr_keys = "qr"
"""
KIOSK = """
[server]
port = 8407
[center]
url = "https://127.0.0.1:1"
ca = "ca.pem"
client_cert = "c.pem"
client_key = "c.key"
"""
GOOD = {"center": CENTER, "issuer": ISSUER, "verify": VERIFY, "kiosk": KIOSK}


def bad(tmp_path: Path, service: str) -> Path:
    path = tmp_path / "conf" / "bad.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = GOOD[service]
    port = text.split("port = ")[1].split("\n")[0]
    path.write_text(text.replace(f"port = {port}", 'port = "eighty"'), encoding="utf-8")
    return path


def assert_one_line(done: subprocess.CompletedProcess[str], path: Path, field: str, expected: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and field in lines[0] and expected in lines[0], lines[0]


COMMANDS = [
    ("center", ["serve", "center"]),
    ("issuer", ["serve", "issuer"]),
    ("verify", ["serve", "verify"]),
    ("kiosk", ["serve", "kiosk"]),
    ("center", ["center", "reconcile"]),
    ("center", ["center", "records"]),
    ("center", ["center", "compare"]),
    ("issuer", ["issuer", "import", "IMPORT"]),
    ("issuer", ["issuer", "audit-verify"]),
    ("issuer", ["issuer", "render", "--municipality", "282286", "--resident", "r", "--kind", "juminhyo",
                "--out", "OUT"]),
]


@pytest.mark.parametrize(("service", "command"), COMMANDS, ids=[" ".join(c[:2]) for _, c in COMMANDS])
def test_a_bad_value_is_one_line_and_exit_2(tmp_path: Path, service: str, command: list[str]) -> None:
    path = bad(tmp_path, service)
    argv = [str(tmp_path / "x.json") if a == "IMPORT" else str(tmp_path / "o.pdf") if a == "OUT" else a
            for a in command]
    if "IMPORT" in command:  # positional after --config
        argv = argv[:2] + ["--config", str(path), argv[2]]
    else:
        argv = argv + ["--config", str(path)]
    done = subprocess.run(kofu_argv(*argv), capture_output=True, text=True, timeout=120)
    assert_one_line(done, path, "server.port", "an integer")
    assert "eighty" in done.stderr


@pytest.mark.parametrize("service", ["center", "issuer", "verify", "kiosk"])
def test_a_missing_field_is_one_line_and_exit_2(tmp_path: Path, service: str) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("[server]\nhost = 127\n", encoding="utf-8")
    done = subprocess.run(kofu_argv("serve", service, "--config", str(path)),
                          capture_output=True, text=True, timeout=120)
    assert_one_line(done, path, "", "")
    assert "must be" in done.stderr or "is required" in done.stderr


def _load(service: str, path: Path):  # type: ignore[no-untyped-def]
    if service == "center":
        from kofu.center.settings import load
        return load(path)
    if service == "issuer":
        from kofu.issuer.settings import load_settings
        return load_settings(path)
    if service == "verify":
        from kofu.verify.settings import load_settings as load_verify
        return load_verify(path)
    from kofu.kiosk.web.settings import load_settings as load_kiosk
    return load_kiosk(path)


@pytest.mark.parametrize("service", ["center", "issuer", "verify", "kiosk"])
def test_one_settings_error_naming_file_field_and_expectation(tmp_path: Path, service: str) -> None:
    path = bad(tmp_path, service)
    with pytest.raises(SettingsError) as e:
        _load(service, path)
    assert str(e.value) == f"{path}: server.port must be a int (an integer), got 'eighty'"


@pytest.mark.parametrize("service", ["center", "issuer"])
def test_a_relative_sqlite_file_is_beside_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     service: str) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    path = conf / f"{service}.toml"
    path.write_text(GOOD[service], encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    s = _load(service, Path("..") / "conf" / f"{service}.toml")
    url = s.database if service == "center" else s.database_url
    assert url == f"sqlite:///{conf / 'db' / f'{service}.sqlite'}"
    # No [database]: the default file is beside the config too.
    path.write_text(GOOD[service].replace(f'url = "sqlite:///db/{service}.sqlite"', ""), encoding="utf-8")
    s = _load(service, path)
    url = s.database if service == "center" else s.database_url
    assert url == f"sqlite:///{conf / f'{service}.sqlite'}"
    # Absolute files, in-memory databases and other engines are left alone.
    for other in (f"sqlite:///{tmp_path / 'abs.sqlite'}", "sqlite:///:memory:", "postgresql://u@h/db"):
        path.write_text(GOOD[service].replace(f"sqlite:///db/{service}.sqlite", other), encoding="utf-8")
        s = _load(service, path)
        assert (s.database if service == "center" else s.database_url) == other


@pytest.mark.parametrize("service", ["center", "issuer", "verify", "kiosk"])
def test_relative_paths_are_beside_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              service: str) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    path = conf / f"{service}.toml"
    extra = '[tls]\ncert = "t.pem"\nkey = "t.key"\nclient_ca = "ca.pem"\n' if service != "kiosk" else ""
    path.write_text(GOOD[service] + extra, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    s = _load(service, Path("conf") / f"{service}.toml")
    if service == "kiosk":
        assert s.center.ca == conf / "ca.pem" and s.devices.card_dir == conf / "cards"
    else:
        assert s.server.tls.cert == conf / "t.pem"
