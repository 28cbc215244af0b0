"""Options and params of plugins: validated into their msgspec Struct, published as JSON schema.

Detectors' ``params``, transforms' and post-processors' options all work the same way: the
plugin declares a Struct (``forbid_unknown_fields=True``), the runtime converts what a client
sent into it strictly (a typo is an error, not ignored) and publishes its schema inline, so a
client needs no ``$defs`` lookup.
"""

from __future__ import annotations

from typing import Any

import msgspec

from anomd.errors import InvalidInput


def parse_struct(
    raw: dict[str, Any] | None, struct: type[msgspec.Struct], what: str,
    noun: str = "options", field: str = "option",
) -> Any:
    """``raw`` converted into ``struct``, strictly.

    Args:
        what: Names the owner in the error, e.g. ``transform 'rolling'``.
        noun: What the whole is called (``options``, ``params``).
        field: What one key is called (``option``, ``parameter``).

    Raises:
        InvalidInput: ``invalid options for transform 'rolling': ... - at option `windows```,
            or ``... unknown option `windoes```.
    """
    try:
        return msgspec.convert(raw or {}, struct, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if text.startswith("Object contains unknown field"):
            detail = f"unknown {field} " + text.removeprefix("Object contains unknown field ").split(" ")[0]
        else:
            detail = text.replace("- at `$.", f"- at {field} `")
        raise InvalidInput(f"invalid {noun} for {what}: {detail}") from None


def inline_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """The JSON schema of ``struct`` with its own definition inlined at the top."""
    schema = msgspec.json.schema(struct)
    defs = schema.pop("$defs", {})
    ref = schema.pop("$ref", None)
    if ref:
        schema = {**defs[ref.rsplit("/", 1)[-1]], **schema}
    return schema
