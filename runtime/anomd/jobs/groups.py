"""Names of per-entity models: ``<model>.<group>``.

A group's model is an ordinary stored model, so it is listed, inspected, scored and deleted like
any other; its name is the shared name, a dot, and the group's value as text. Model names allow
letters, digits, ``-``, ``_`` and ``.`` only (they become file and object names), so a value
with other characters (``sensor 7``, ``é``), or one that would make the name too long, is
written readably with a 12-hex-digit SHA-256 of the value appended (``fleet.sensor-7-3f9a…``):
two values never share a model, and the same value always finds the same one.
"""

from __future__ import annotations

import hashlib
import re

_SAFE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")
_DIGEST = 12
#: Room a shared name must leave for the shortest hashed group part (``.`` + digest).
GROUP_ROOM = _DIGEST + 1


def group_model_name(model: str, group: str, limit: int = 128) -> str:
    """The stored name of ``group``'s model (``group`` as the job reads it: the value as text)."""
    plain = f"{model}.{group}"
    if _SAFE.fullmatch(group) and len(plain) <= limit:
        return plain
    digest = hashlib.sha256(group.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]
    room = limit - len(model) - GROUP_ROOM - 1
    readable = _UNSAFE_RUN.sub("-", group).strip("-")[: max(room, 0)]
    return f"{model}.{readable}-{digest}" if readable else f"{model}.{digest}"
