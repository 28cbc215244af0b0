"""The README's curl walk-through, run verbatim against a real server, answers as printed.

Every ``bash`` block that calls ``curl`` is executed by bash in README order, with the URL
pointed at a fresh test server. ``curl`` itself is a shell function that makes the same request
from Python (``tests/readme_curl.py``): the test suite must run on a machine that has only
Python and uv. Each reply is compared with the ``json`` block printed under its command: every
field shown must be there; numbers must agree to the digits shown; ``...`` and ``…`` elide;
fields that differ by machine or moment (paths, times) are only checked to exist.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from anomd.testing import running_server

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CURL = Path(__file__).resolve().parent / "readme_curl.py"
BLOCK = re.compile(r"```bash\n(?P<command>.*?)```\n(?:```json\n(?P<reply>.*?)```)?", re.DOTALL)
#: Fields whose value depends on where and when the README was run (the artifact records the
#: folder it was written to, so its size follows the path's length).
VARYING = {"saved_path", "created", "training_time_ms", "size_bytes"}


def walkthrough() -> list[tuple[str, str | None]]:
    blocks = [(m["command"], m["reply"]) for m in BLOCK.finditer(README.read_text())]
    return [(command, reply) for command, reply in blocks if "curl " in command]


def printed(reply: str) -> Any:
    """The README's reply as JSON, elisions removed, numbers kept as written."""
    text = re.sub(r",\s*\.\.\.\s*}", "}", reply).replace("…", "")
    return json.loads(text, parse_float=Decimal)


def agrees(shown: Any, actual: Any, where: str) -> list[str]:
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        problems = []
        for key, value in shown.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing")
            elif key not in VARYING:
                problems += agrees(value, actual[key], f"{where}.{key}")
        return problems
    if isinstance(shown, list):
        if not isinstance(actual, list) or len(actual) != len(shown):
            return [f"{where}: expected {len(shown)} items, got {actual!r}"]
        return [p for i, (s, a) in enumerate(zip(shown, actual)) for p in agrees(s, a, f"{where}[{i}]")]
    if isinstance(shown, Decimal):
        digits = max(0, -shown.as_tuple().exponent)  # type: ignore[operator]
        if not isinstance(actual, (int, float)) or abs(actual - float(shown)) > 0.6 * 10**-digits:
            return [f"{where}: README shows {shown}, the server answered {actual!r}"]
        return []
    if isinstance(shown, str) and isinstance(actual, str) and where.endswith("content_hash"):
        return [] if actual.startswith(shown) else [f"{where}: {actual!r} does not start with {shown!r}"]
    return [] if shown == actual else [f"{where}: README shows {shown!r}, the server answered {actual!r}"]


def test_the_readme_walkthrough_answers_as_printed(tmp_path) -> None:
    steps = walkthrough()
    assert len(steps) >= 7, "the README's curl walk-through was not found"
    with running_server(data_dir=tmp_path / "data") as server:
        prelude = f'curl() {{ "{sys.executable}" "{CURL}" "$@"; }}\n'
        problems = []
        for command, reply in steps:
            script = prelude + command.replace("http://127.0.0.1:8000", server.url)
            run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, check=False)
            assert run.returncode == 0, f"{command}\n{run.stderr}"
            if reply is None:
                continue
            actual = json.loads(run.stdout)
            problems += [f"{command.splitlines()[0]} ...: {p}" for p in agrees(printed(reply), actual, "reply")]
    assert not problems, "the README no longer matches the server:\n" + "\n".join(problems)


def test_the_comparison_catches_a_wrong_number() -> None:
    shown = printed('{"a": {"score": 0.3182, "n": 2, "hash": "x"}, "saved_path": "/home/you", ...}')
    assert agrees(shown, {"a": {"score": 0.31819, "n": 2, "hash": "x"}, "saved_path": "/tmp/x", "b": 1}, "r") == []
    assert agrees(shown, {"a": {"score": 0.2867, "n": 2, "hash": "x"}, "saved_path": "/tmp"}, "r")
    assert agrees(shown, {"a": {"score": 0.3182, "n": 3, "hash": "x"}, "saved_path": "/tmp"}, "r")
    assert agrees(shown, {"a": {"score": 0.3182, "n": 2, "hash": "x"}}, "r") == ["r.saved_path: missing"]
