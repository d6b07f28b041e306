"""Reading a service's TOML settings file: typed fields, errors that name them.

Each service keeps its own settings dataclass and its own ``SettingsError``;
this module holds the reading they share.

>>> raw, resolve = read(Path("issuer.toml"), SettingsError)
>>> port = get(raw.get("server", {}), "port", int, "server", 8402, error=SettingsError)
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any


def read(path: Path, error: type[Exception]) -> tuple[dict[str, Any], Callable[[str], Path]]:
    """The parsed file, and a function resolving paths relative to its folder."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise error(f"cannot read {path}: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path} is not valid TOML: {e}") from e
    base = path.resolve().parent

    def resolve(p: str) -> Path:
        q = Path(p)
        return q if q.is_absolute() else base / q

    return raw, resolve


def get(table: dict[str, Any], key: str, kind: type, where: str, default: Any = ..., *, error: type[Exception]) -> Any:
    """``table[key]`` checked to be a ``kind``; ``default`` when absent, else required."""
    if key not in table:
        if default is ...:
            raise error(f"{where}.{key} is required")
        return default
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise error(f"{where}.{key} must be a {kind.__name__}, got {value!r}")
    return value
