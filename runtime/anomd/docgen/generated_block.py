"""Replacing the generated part of a hand-written Markdown file.

The generated text sits between two HTML comments, so the prose around it stays hand-written
and the generator only ever rewrites what it owns.
"""

from __future__ import annotations


def markers(name: str) -> tuple[str, str]:
    return (
        f"<!-- BEGIN GENERATED {name}: `anomd docs` rewrites this block; edit the code instead -->",
        f"<!-- END GENERATED {name} -->",
    )


def extract(text: str, name: str) -> str:
    """The current content of block ``name``.

    Raises:
        ValueError: The markers are missing or out of order.
    """
    begin, end = markers(name)
    start = text.find(begin)
    stop = text.find(end)
    if start < 0 or stop < start:
        raise ValueError(
            f"generated block {name!r} not found (expected the markers {begin!r} and {end!r})"
        )
    return text[start + len(begin) : stop].strip("\n")


def replace(text: str, name: str, content: str) -> str:
    """``text`` with block ``name`` holding ``content``."""
    extract(text, name)  # validates the markers
    begin, end = markers(name)
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{content.strip(chr(10))}\n{end}{tail}"
