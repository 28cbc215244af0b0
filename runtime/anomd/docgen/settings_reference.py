"""The settings table of ``docs/configuration.md``, built from :class:`anomd.settings.Settings`.

A field's meaning is its ``#:`` comment in ``settings.py`` (the Sphinx convention), read from
the source, so adding a setting with its comment is all it takes to document it; a field
without one makes :func:`field_docs` fail loudly instead of publishing an empty cell.
"""

from __future__ import annotations

import inspect
import re
import textwrap

import msgspec
import msgspec.inspect as mi

from anomd.settings import Settings

BLOCK = "settings"
_FIELD_LINE = re.compile(r"^    (\w+)\s*:")
_DOC_LINE = re.compile(r"^    #:\s?(.*)$")


def field_docs() -> dict[str, str]:
    """Each field's ``#:`` comment, joined into one sentence.

    Raises:
        ValueError: A field has no ``#:`` comment.
    """
    docs: dict[str, str] = {}
    pending: list[str] = []
    for line in textwrap.dedent(inspect.getsource(Settings)).splitlines():
        doc = _DOC_LINE.match(line)
        if doc:
            pending.append(doc.group(1).strip())
            continue
        field = _FIELD_LINE.match(line)
        if field and field.group(1) in Settings.__struct_fields__:
            docs[field.group(1)] = " ".join(pending)
        pending = []
    undocumented = [name for name in Settings.__struct_fields__ if not docs.get(name)]
    if undocumented:
        raise ValueError(
            "settings without a `#:` comment in anomd/settings.py: " + ", ".join(undocumented)
        )
    return docs


def type_label(info: mi.Type) -> str:
    """How a field's type reads in the table, with its constraints and environment syntax."""
    if isinstance(info, mi.BoolType):
        return "boolean"
    if isinstance(info, mi.IntType):
        bounds = []
        if info.ge is not None:
            bounds.append(f"≥ {info.ge}")
        if info.le is not None:
            bounds.append(f"≤ {info.le}")
        return "integer" + (f" ({', '.join(bounds)})" if bounds else "")
    if isinstance(info, mi.StrType):
        return "string"
    if isinstance(info, mi.LiteralType):
        return "one of " + ", ".join(f"`{v}`" for v in info.values)
    if isinstance(info, mi.ListType):
        return "list of strings (env: comma-separated)"
    if isinstance(info, mi.DictType):
        return "table (env: JSON object)"
    return type(info).__name__.removesuffix("Type").lower()


def default_label(field: mi.Field) -> str:
    default = (
        field.default_factory() if field.default_factory is not mi.NODEFAULT else field.default
    )
    if default in ("", [], {}):
        return "empty"
    return f"`{msgspec.json.encode(default).decode()}`"


def render() -> str:
    """The Markdown table: TOML key, environment variable, type, default, meaning."""
    docs = field_docs()
    lines = [
        "| TOML key | Environment variable | Type | Default | Meaning |",
        "|---|---|---|---|---|",
    ]
    for field in mi.type_info(Settings).fields:  # type: ignore[union-attr]
        meaning = docs[field.name].replace("``", "`").replace("|", "\\|")
        lines.append(
            f"| `{field.name}` | `ANOMD_{field.name.upper()}` | {type_label(field.type)} | "
            f"{default_label(field)} | {meaning} |"
        )
    return "\n".join(lines)
