"""Library versions recorded in every artifact, so a model can be traced to what built it."""

from __future__ import annotations

import platform
from functools import cache

from importlib_metadata import PackageNotFoundError, version

_TRACKED = ("anomd", "pyod", "numpy", "scikit-learn", "scipy", "joblib", "torch", "suod")


@cache
def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _TRACKED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def anomd_version() -> str:
    return library_versions().get("anomd", "0+unknown")
