"""What the plugin contracts (detector, transform) share: running every check, and its words.

A contract is an object with one ``check_<name>`` method per check. Every check runs even when
an earlier one fails, so one run lists every problem at once; a check whose prerequisite failed
raises :class:`NotRun` and is reported as such rather than as a second, misleading failure.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Sequence
from typing import Any

#: Plugin ids (``backend`` values, transform names): lower case, digits and ``_``.
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


class NotRun(Exception):
    """A check could not run because something it needs (a first fit, parsed options) failed."""


def run_checks(contract: Any, checks: Sequence[str], passed: list[str]) -> dict[str, str]:
    """Runs ``contract.check_<name>()`` for each name; appends passes to ``passed``.

    Returns:
        Each failed check's name with what went wrong, in check order.
    """
    failures: dict[str, str] = {}
    for name in checks:
        check: Callable[[], None] = getattr(contract, f"check_{name}")
        try:
            check()
        except AssertionError as exc:
            failures[name] = str(exc) or "assertion failed"
        except NotRun as exc:
            failures[name] = f"not run: {exc}"
        except Exception as exc:  # noqa: BLE001 - a crash is a contract failure with its reason
            failures[name] = f"raised {describe(exc)}"
        else:
            passed.append(name)
    return failures


def raise_failures(contract: str, subject: str, failures: dict[str, str], checks: Sequence[str]) -> None:
    """Raises one AssertionError listing every failed check, if any failed.

    Args:
        contract: Which contract (``detector``, ``transform``...), for the first line.
        subject: What was checked, e.g. ``transform 'rolling'``.
    """
    if failures:
        lines = "\n".join(f"  - {name}: {msg}" for name, msg in failures.items())
        raise AssertionError(
            f"anomd {contract} contract: {subject} failed {len(failures)} of {len(checks)} checks:\n{lines}"
        )


def describe(exc: BaseException) -> str:
    """An exception with the place it was raised, for a failure message."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
