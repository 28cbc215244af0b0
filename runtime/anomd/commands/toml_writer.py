"""A small TOML writer for configuration values (the standard library only reads TOML).

It covers what :class:`anomd.settings.Settings` holds: strings, numbers, booleans, lists and
nested tables. Nested tables are written inline (``key = {a = 1}``), so a document is one flat
list of ``key = value`` lines that ``tomllib`` reads back to the same values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dumps(values: Mapping[str, Any]) -> str:
    """One ``key = value`` line per top-level key."""
    return "".join(f"{key(k)} = {value(v)}\n" for k, v in values.items())


def key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name)


def value(obj: Any) -> str:
    """A TOML value; raises TypeError for what TOML cannot hold (``None``, objects)."""
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        if math.isnan(obj):
            return "nan"
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return repr(obj)
    if isinstance(obj, str):
        # JSON string escapes (\" \\ \n \uXXXX) are valid TOML basic-string escapes.
        return json.dumps(obj)
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(value(item) for item in obj) + "]"
    if isinstance(obj, Mapping):
        return "{" + ", ".join(f"{key(str(k))} = {value(v)}" for k, v in obj.items()) + "}"
    raise TypeError(f"TOML cannot represent {type(obj).__name__} values")
