"""Reading a service's TOML settings file: the one loader every service uses.

Each service (center, issuer, verify, the touch kiosk) describes its file in
its own ``settings`` module and turns it into frozen dataclasses with a
:class:`TomlFile`; this module holds everything they share:

* one :class:`SettingsError`, whose message is one line naming the FILE, the
  FIELD (dotted, as written in the file) and what was EXPECTED;
* typed reads (``get``, ``number``, ``table``) that refuse a wrong type
  instead of coercing it (``port = "eighty"`` is refused as such, never a
  bare ``ValueError``);
* paths, including a relative SQLite database URL, resolved against the
  config file's folder, never the working directory (:meth:`TomlFile.path`,
  :meth:`TomlFile.database_url`).

Why dataclasses with this small loader rather than pydantic-settings: every
service already keeps its settings as frozen dataclasses (``kofu.web``'s
``ServerSettings`` and ``TlsServerSettings`` are shared with the web layer),
the files are read once at start and never layered with environment
variables, and the rules that matter are across fields (a loopback-only
kiosk, ``lp_queue`` with ``printer = "lp"``, mutual TLS unless explicitly
waived), which read most plainly as code next to the fields. Keeping the
dataclasses keeps every caller and test unchanged; a new dependency would have
changed every settings class for no new behaviour.

>>> f = TomlFile.read(Path("issuer.toml"))
>>> port = f.get("server", "port", int, 8402)
>>> url = f.database_url("issuer.sqlite")
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_EXPECTED = {
    "int": "an integer",
    "str": "a string",
    "bool": "true or false",
    "dict": "a table",
    "list": "an array",
    "float": "a number",
}


class SettingsError(Exception):
    """A settings file cannot be used; the message names the file, the field and what was expected."""


@dataclass(frozen=True)
class TomlFile:
    """One parsed settings file; every error it raises names ``file``."""

    file: Path
    raw: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> TomlFile:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise SettingsError(f"{path}: cannot read: {e.strerror or e}") from e
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"{path}: cannot read: not valid TOML ({e})") from e
        return cls(path, raw)

    @property
    def base(self) -> Path:
        """The config file's folder: relative paths in it resolve here."""
        return self.file.resolve().parent

    def error(self, field: str, message: str) -> SettingsError:
        """``FILE: FIELD message`` (``message`` says what was expected)."""
        return SettingsError(f"{self.file}: {field} {message}" if field else f"{self.file}: {message}")

    def table(self, where: str, default: Any = ...) -> dict[str, Any]:
        """The table at dotted ``where`` ("" is the top level); ``default`` when absent, else required."""
        node: Any = self.raw
        if not where:
            return node  # type: ignore[no-any-return]
        parts = where.split(".")
        for i, part in enumerate(parts):
            parent = ".".join(parts[:i])
            node = self._get(node, part, dict, parent, default if i == len(parts) - 1 else {})
            if node is None:
                return None  # type: ignore[return-value]
        return node  # type: ignore[no-any-return]

    def get(self, where: str, key: str, kind: type, default: Any = ...) -> Any:
        """``[where] key`` checked to be a ``kind``; ``default`` when absent, else required."""
        return self._get(self.table(where, {}), key, kind, where, default)

    def number(self, where: str, key: str, default: float, *, positive: bool = False, unit: str = "") -> float:
        """``[where] key``: an integer or a float (not a boolean); more than 0 when ``positive``."""
        value = self.table(where, {}).get(key, default)
        ok = not isinstance(value, bool) and isinstance(value, int | float) and (not positive or value > 0)
        if not ok:
            what = "a positive number" if positive else "a number"
            raise self.error(_name(where, key), f"must be {what}{' of ' + unit if unit else ''}, got {value!r}")
        return float(value)

    def path(self, value: str) -> Path:
        """``value`` as a path: absolute as written, else relative to the config file's folder."""
        p = Path(value)
        return p if p.is_absolute() else self.base / p

    def optional_path(self, where: str, key: str) -> Path | None:
        value = self.get(where, key, str, None)
        return None if value is None else self.path(value)

    def required_path(self, where: str, key: str, default: Any = ...) -> Path:
        return self.path(self.get(where, key, str, default))

    def database_url(self, default_file: str) -> str:
        """``[database] url``; a relative SQLite file resolves against the config file's folder."""
        url: str = self.get("database", "url", str, f"sqlite:///{default_file}")
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url[len("sqlite:///") :]
            if rel and rel != ":memory:" and not rel.startswith("file:"):
                return f"sqlite:///{self.path(rel)}"
        return url

    def _get(self, table: dict[str, Any], key: str, kind: type, where: str, default: Any) -> Any:
        name = _name(where, key)
        expected = _EXPECTED.get(kind.__name__, kind.__name__)
        if key not in table:
            if default is ...:
                raise self.error(name, f"is required ({expected})")
            return default
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(name, f"must be a {kind.__name__} ({expected}), got {value!r}")
        return value


def _name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
