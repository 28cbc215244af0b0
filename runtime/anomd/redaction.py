"""The settings with their secrets replaced, fit to print or log.

``anomd config show`` prints this, and the server logs it once at start-up, so what a process
really runs with can be checked without exposing the signing key, API keys or credentials.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from anomd.settings import Settings

MASK = "********"
#: ``storage_options`` keys whose values are credentials.
_SECRET_OPTION = re.compile(r"secret|password|passwd|token|credential|session", re.IGNORECASE)


def masked(settings: Settings) -> dict[str, Any]:
    """The settings as plain values with secrets replaced by ``********``."""
    values = msgspec.to_builtins(settings)
    if values["secret_key"]:
        values["secret_key"] = MASK
    for keys in ("admin_keys", "read_keys"):
        values[keys] = [MASK] * len(values[keys])
    for options in ("storage_options", "job_storage_options"):
        values[options] = {
            k: (MASK if _SECRET_OPTION.search(k) and v else v)
            for k, v in values[options].items()
        }
    values["storage"] = _mask_uri_password(values["storage"])
    return values


def _mask_uri_password(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{MASK}@{host}"))
