"""``docs/api.md``: the HTTP reference, rendered from the server's own OpenAPI document.

Every route, its summary, its path parameters, the fields of its request and response bodies
(``$ref``s resolved, nested objects flattened as ``summary.threshold`` or ``data[].score``),
every other status it can answer with, and a curl example. The document is built from an in-memory app, so generating it needs no server;
``tests/test_api_docs.py`` regenerates it and compares it with the committed file.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

from anomd.docgen.curl_examples import EXAMPLES, curl

REF_PREFIX = "#/components/schemas/"
#: Sections in this order; tags not listed follow alphabetically.
TAG_ORDER = ("batch", "models", "streaming", "stream", "jobs", "system")
METHOD_ORDER = ("post", "get", "put", "patch", "delete")

Schema = dict[str, Any]


def openapi_document() -> Schema:
    """The OpenAPI document of a default app (no server, no environment, a throw-away data dir)."""
    from anomd.server.app import create_app
    from anomd.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="anomd-docs-") as data_dir:
        settings = load_settings(env={}, data_dir=data_dir, warm_up=False, log_level="error")
        # The app is never started, so its lifespan (warm-up, storage shutdown) never runs.
        return create_app(settings).openapi_schema.to_schema()


class _Renderer:
    def __init__(self, doc: Schema) -> None:
        self.doc = doc
        self.components: dict[str, Schema] = doc.get("components", {}).get("schemas", {})

    # -- types ----------------------------------------------------------------------------

    def resolve(self, schema: Schema) -> Schema:
        ref = schema.get("$ref")
        if ref is None:
            return schema
        name = ref.removeprefix(REF_PREFIX)
        if name not in self.components:
            raise ValueError(f"unresolvable $ref {ref!r}")
        return self.components[name]

    def type_text(self, schema: Schema) -> str:
        if "$ref" in schema:
            self.resolve(schema)
            return f"`{schema['$ref'].removeprefix(REF_PREFIX)}`"
        for key in ("anyOf", "oneOf"):
            if key in schema:
                parts = [self.type_text(s) for s in schema[key]]
                parts.sort(key=lambda p: p == "null")  # "X or null", never "null or X"
                return " or ".join(parts)
        if "enum" in schema:
            return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
        if "const" in schema:
            return f"`{json.dumps(schema['const'])}`"
        kind = schema.get("type")
        if isinstance(kind, list):
            return " or ".join(self.type_text({**schema, "type": k}) for k in kind)
        if kind == "array":
            items = schema.get("items")
            text = f"array of {self._group(self.type_text(items))}" if items else "array"
        elif kind == "object":
            extra = schema.get("additionalProperties")
            text = (
                f"object of {self._group(self.type_text(extra))}"
                if isinstance(extra, dict) and extra
                else "object"
            )
        else:
            text = kind or "any"
        constraints = self.constraints(schema)
        return f"{text} ({constraints})" if constraints else text

    @staticmethod
    def _group(text: str) -> str:
        return f"({text})" if " or " in text else text

    @staticmethod
    def constraints(schema: Schema) -> str:
        words = {
            "exclusiveMinimum": "> {}",
            "minimum": "≥ {}",
            "exclusiveMaximum": "< {}",
            "maximum": "≤ {}",
            "minLength": "length ≥ {}",
            "maxLength": "length ≤ {}",
            "minItems": "≥ {} items",
            "maxItems": "≤ {} items",
            "pattern": "matches `{}`",
        }
        return ", ".join(
            template.format(schema[key]) for key, template in words.items() if key in schema
        )

    # -- fields ---------------------------------------------------------------------------

    def nested_ref(self, schema: Schema) -> tuple[str, str] | None:
        """``(component, suffix)`` when a field holds an object (``.``) or a list of them (``[].``)."""
        if "$ref" in schema:
            return schema["$ref"].removeprefix(REF_PREFIX), "."
        if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
            return schema["items"]["$ref"].removeprefix(REF_PREFIX), "[]."
        options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
        if len(options) == 1:
            return self.nested_ref(options[0])
        return None

    def field_rows(
        self, schema: Schema, prefix: str = "", seen: frozenset[str] = frozenset()
    ) -> list[str]:
        schema = self.resolve(schema)
        required = set(schema.get("required", []))
        rows = []
        for name, prop in schema.get("properties", {}).items():
            default = json.dumps(prop["default"]) if "default" in prop else ""
            rows.append(
                _row(
                    f"`{prefix}{name}`",
                    self.type_text(prop),
                    "yes" if name in required else "",
                    f"`{default}`" if default else "",
                    prop.get("description", ""),
                )
            )
            nested = self.nested_ref(prop)
            if nested and nested[0] not in seen:
                component, suffix = nested
                rows.extend(
                    self.field_rows(
                        {"$ref": REF_PREFIX + component},
                        f"{prefix}{name}{suffix}",
                        seen | {component},
                    )
                )
        return rows

    def body_section(self, title: str, schema: Schema) -> list[str]:
        if "$ref" in schema:
            name = schema["$ref"].removeprefix(REF_PREFIX)
            rows = self.field_rows(schema, seen=frozenset({name}))
            head = [f"{title}: `{name}`", ""]
            if not rows:
                return head + ["An object with no declared fields.", ""]
            return head + [
                "| Field | Type | Required | Default | Description |",
                "|---|---|---|---|---|",
                *rows,
                "",
            ]
        if schema.get("properties"):
            return [
                f"{title}:",
                "",
                "| Field | Type | Required | Default | Description |",
                "|---|---|---|---|---|",
                *self.field_rows(schema),
                "",
            ]
        return [
            (
                f"{title}: {self.type_text(schema)} (its fields are not declared in the schema; "
                "see the summary)."
            ),
            "",
        ]

    # -- operations -----------------------------------------------------------------------

    def operations(self) -> list[tuple[str, str, Schema]]:
        ops = [
            (method, path, op)
            for path, item in self.doc.get("paths", {}).items()
            for method, op in item.items()
            if method in METHOD_ORDER
        ]

        workflow = list(EXAMPLES)

        def order(entry: tuple[str, str, Schema]) -> tuple[int, str, int, str, int]:
            method, path, op = entry
            tag = (op.get("tags") or ["other"])[0]
            rank = TAG_ORDER.index(tag) if tag in TAG_ORDER else len(TAG_ORDER)
            key = f"{method.upper()} {path}"
            step = workflow.index(key) if key in workflow else len(workflow)
            return rank, tag, step, path, METHOD_ORDER.index(method)

        # Within a tag, routes follow the examples' workflow (fit before score...); routes
        # without an example come last, by path. Not in the order the document lists them: a
        # handler with two paths (``/ready`` and ``/v1/ml/anomaly/ready``) has them in a set,
        # so that order changes with Python's hash seed from one run to the next.
        return sorted(ops, key=order)

    def operation(self, method: str, path: str, op: Schema) -> list[str]:
        lines = [f"### {method.upper()} {path}", "", op.get("summary", "").strip() + ".", ""]
        params = [p for p in op.get("parameters", []) if p.get("in") in ("path", "query")]
        if params:
            lines += [
                "Parameters:",
                "",
                "| Name | In | Type | Required | Description |",
                "|---|---|---|---|---|",
            ]
            lines += [
                _row(
                    f"`{p['name']}`",
                    p["in"],
                    self.type_text(p.get("schema", {})),
                    "yes" if p.get("required") else "",
                    p.get("description", ""),
                )
                for p in params
            ]
            lines.append("")
        content = op.get("requestBody", {}).get("content", {})
        body = content.get("application/json", {}).get("schema")
        if body:
            lines += self.body_section("Request body", body)
        lines += _alternative("Or a request body", content)
        status, response = _success(op)
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema:
            lines += self.body_section(f"Response `{status}`", schema)
        lines += _alternative(f"Or a response `{status}`", response.get("content", {}))
        lines += self.other_replies(op)
        example = EXAMPLES.get(f"{method.upper()} {path}")
        if example:
            lines += ["Example:", "", "```sh", curl(*example), "```", ""]
        return lines

    def other_replies(self, op: Schema) -> list[str]:
        """Every non-2xx status the route documents, with its body and when it happens."""
        rows = []
        for status, response in op.get("responses", {}).items():
            if str(status).startswith("2"):
                continue
            media = next(iter((response.get("content") or {}).values()), {})
            body = self.type_text(media["schema"]) if "schema" in media else ""
            rows.append(_row(str(status), body, response.get("description", "")))
        if not rows:
            return []
        return ["Other replies:", "", "| Status | Body | When |", "|---|---|---|", *rows, ""]

    def render(self) -> str:
        ops = self.operations()
        lines = [
            "# HTTP API reference",
            "",
            (
                "<!-- Generated from the OpenAPI document by `anomd docs api --output docs/api.md`; "
                "do not edit by hand. -->"
            ),
            "",
            *INTRO,
            "",
            "| Method | Path | Summary |",
            "|---|---|---|",
            *[_row(m.upper(), f"`{p}`", op.get("summary", "")) for m, p, op in ops],
            "",
        ]
        current = None
        for method, path, op in ops:
            tag = (op.get("tags") or ["other"])[0]
            if tag != current:
                current = tag
                lines += [f"## {tag.capitalize()}", ""]
            lines += self.operation(method, path, op)
        return "\n".join(lines).rstrip("\n") + "\n"


INTRO = [
    (
        "The server describes itself as OpenAPI at `/schema/openapi.json`; this page is that "
        "document rendered for people, with an example per route. Field names are a contract: "
        "clients rely on them, so a release adds fields and routes but never renames or removes "
        "one (`tests/test_api_docs.py` keeps this page equal to what the server serves)."
    ),
    "",
    "Conventions:",
    "",
    (
        "- Requests and responses are JSON. Request bodies are decoded strictly: a string where a "
        "number belongs is an error, not a coercion. Unknown top-level fields are ignored and "
        "listed in the response's `warnings`."
    ),
    (
        "- `/fit`, `/score` and `/detect` also take the rows as an Arrow IPC stream "
        "(`Content-Type: application/vnd.apache.arrow.stream`; the table's columns are the "
        "features, the other fields are query parameters), and `/score` and `/detect` answer in "
        "Arrow when `Accept` prefers it: same validation, limits and errors "
        "([inputs.md](inputs.md))."
    ),
    (
        '- Errors are RFC 9457 problem details: `{"type", "title", "status", "detail"}`, '
        "sent as `application/problem+json`, where `detail` says what to change. Statuses: 400/422 "
        "bad input, 403 backend disabled by the operator, 404 unknown model or backend, 409 "
        "conflict or rejected artifact, 413 body or row count over the limit, 415 a body not sent "
        "as `application/json` (or Arrow, where taken), 503 storage unavailable. Each route below lists the ones it can "
        "answer with. A 500 is a bug."
    ),
    (
        "- Examples assume a local server started with `anomd serve` (127.0.0.1:8000) and run in "
        "order: fit, score, detect, load, then the management routes."
    ),
]


def _alternative(title: str, content: Schema) -> list[str]:
    """Lines for the media types other than JSON a body may have (Arrow streams)."""
    lines = []
    for media, entry in content.items():
        if media != "application/json":
            lines += [f"{title}: `{media}`. {entry.get('schema', {}).get('description', '')}".rstrip(), ""]
    return lines


def _row(*cells: str) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _success(op: Schema) -> tuple[str, Schema]:
    for status, response in op.get("responses", {}).items():
        if str(status).startswith("2"):
            return str(status), response
    return "", {}


def render(doc: Schema | None = None) -> str:
    """The Markdown reference for ``doc`` (default: this version's OpenAPI document)."""
    return _Renderer(doc if doc is not None else openapi_document()).render()
