"""Documenting request bodies that handlers decode themselves.

Handlers read the raw body (see ``body.py``), so Litestar cannot infer the request schema. This
attaches the msgspec JSON schema of the request Struct to the operation instead, and collects
the Structs' component schemas for the OpenAPI document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPIMediaType, Operation, Reference, RequestBody

REF = "#/components/schemas/{name}"
_REQUEST_TYPES: list[type[msgspec.Struct]] = []


def json_body(kind: type[msgspec.Struct]) -> type[Operation]:
    """An ``operation_class`` whose request body is ``kind``'s schema."""
    _REQUEST_TYPES.append(kind)

    @dataclass
    class _JSONBodyOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                required=True,
                content={"application/json": OpenAPIMediaType(schema=Reference(ref=REF.format(name=kind.__name__)))},
            )

    return _JSONBodyOperation


def request_components() -> dict[str, Any]:
    """JSON schemas of every request Struct registered with :func:`json_body`."""
    _, components = msgspec.json.schema_components(_REQUEST_TYPES, ref_template=REF)
    return components
