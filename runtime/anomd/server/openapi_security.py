"""Stating the API keys in the OpenAPI document, when the server has keys.

Clients generated from the document then know to send a bearer token, and which routes answer
401 (no or unknown key) and 403 (a read key on an admin route). Which scope an operation needs
comes from the same table the key check uses (``auth.required_scope``), so the document cannot
drift from what the server enforces.
"""

from __future__ import annotations

from litestar.openapi.spec import Components, OpenAPI, SecurityScheme

from anomd.server.auth import required_scope
from anomd.server.openapi_body import problem_reply

SCHEME = "apiKey"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def document_api_keys(schema: OpenAPI) -> None:
    """Adds the bearer scheme, and per operation its security requirement and 401/403 replies."""
    schema.components = schema.components or Components()
    schema.components.security_schemes = {
        SCHEME: SecurityScheme(
            type="http", scheme="bearer",
            description="An API key from the server's `read_keys` or `admin_keys` "
                        "(docs/security.md): `Authorization: Bearer <key>`.",
        ),
    }
    for path, item in (schema.paths or {}).items():
        for method in _METHODS:
            operation = getattr(item, method, None)
            if operation is None:
                continue
            needed = required_scope(method.upper(), path)
            if needed == "open":
                continue
            operation.security = [{SCHEME: []}]
            responses = operation.responses = dict(operation.responses or {})
            responses["401"] = problem_reply("No API key was sent, or it is not a valid one.")
            if needed == "admin":
                also = responses.get("403")
                text = "The API key may only read; this route needs an admin key."
                if also is not None and getattr(also, "description", None):
                    text = f"{text} Or: {also.description}"
                responses["403"] = problem_reply(text)
