"""Model names and artifact filenames.

Names are validated, never rewritten: ``a b`` is refused rather than turned into ``a_b`` or
``ab``, so two different names can never land on the same artifact.
"""

from __future__ import annotations

import re

from anomd.errors import InvalidInput

_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: At most 255 characters in all, the longest file name common filesystems allow: a longer
#: name can never be a stored model (and the filesystem would fail on it: a 503, not a 404).
_FILENAME = re.compile(r"[A-Za-z0-9._-]{1,248}\.joblib")
MODELS_PREFIX = "models/"
SUFFIX = ".joblib"


def check_name(name: str, what: str = "model name") -> str:
    """Accepts letters, digits, ``-``, ``_``, ``.``; at most 128 characters; not only dots."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or set(name) == {"."}:
        raise InvalidInput(
            f"invalid {what} {name!r}: use 1-128 characters from letters, digits, '-', '_' and '.'"
        )
    return name


def check_new_name(name: str, limit: int, what: str = "model name") -> str:
    """A name for something about to be created: valid, and within the operator's (possibly
    lower) length limit. Existing longer names stay usable, so only creation checks this."""
    check_name(name, what)
    if len(name) > limit:
        raise InvalidInput(f"{what} {name!r} is {len(name)} characters; this server allows at most {limit}")
    return name


def model_filename(name: str, backend: str) -> str:
    """``fraud-detector`` + ``ecod`` → ``fraud-detector_ecod.joblib``."""
    return f"{check_name(name)}_{backend}{SUFFIX}"


def check_filename(filename: str) -> str:
    if not _FILENAME.fullmatch(filename) or filename.startswith("."):
        raise InvalidInput(f"invalid model filename {filename!r}: expected <model>_<backend>.joblib")
    return filename


def model_key(filename: str) -> str:
    return MODELS_PREFIX + check_filename(filename)
