"""``anomd docs``: regenerate (or check) the reference pages generated from the code.

For maintainers: ``docs/api.md`` comes from the OpenAPI document and the settings table of
``docs/configuration.md`` from :class:`anomd.settings.Settings`. ``--check`` fails when the
committed file is stale, which is what the tests and CI use.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from anomd.commands.common import UsageError, add_command


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub,
        "docs",
        help="regenerate the generated reference docs (for maintainers)",
        description="Regenerate or check documentation that is generated from the code.",
        epilog=(
            "examples:\n"
            "  anomd docs api --output docs/api.md\n"
            "  anomd docs config --output docs/configuration.md\n"
            "  anomd docs api --output docs/api.md --check"
        ),
    )
    pages = parser.add_subparsers(dest="page", required=True, metavar="PAGE")
    api = add_command(
        pages,
        "api",
        help="the HTTP reference (docs/api.md) from the OpenAPI document",
        description="Render the HTTP API reference from the server's OpenAPI document.",
    )
    config = add_command(
        pages,
        "config",
        help="the settings table inside docs/configuration.md",
        description=(
            "Render the table of settings. With --output, only the generated block between "
            "its marker comments is replaced; the prose around it is kept."
        ),
    )
    for page, run in ((api, run_api), (config, run_config)):
        page.add_argument(
            "--output", "-o", metavar="FILE", help="write here (default: print to stdout)"
        )
        page.add_argument(
            "--check",
            action="store_true",
            help="do not write; exit 1 if FILE differs from what would be generated",
        )
        page.set_defaults(run=run)


def run_api(args: argparse.Namespace) -> int:
    from anomd.docgen.api_reference import render

    return _emit(args, lambda current: render())


def run_config(args: argparse.Namespace) -> int:
    from anomd.docgen import generated_block
    from anomd.docgen.settings_reference import BLOCK, render

    table = render()
    if not args.output:
        return _emit(args, lambda current: table + "\n")

    def updated(current: str | None) -> str:
        if current is None:
            raise UsageError(
                f"{args.output} does not exist; it must contain the {BLOCK!r} block markers"
            )
        try:
            return generated_block.replace(current, BLOCK, table)
        except ValueError as exc:
            raise UsageError(f"{args.output}: {exc}") from None

    return _emit(args, updated)


def _emit(args: argparse.Namespace, build) -> int:
    if args.check and not args.output:
        raise UsageError("--check needs --output FILE to compare with")
    path = Path(args.output) if args.output else None
    current = path.read_text() if path and path.exists() else None
    text = build(current)
    if path is None:
        sys.stdout.write(text)
        return 0
    if args.check:
        if text != current:
            print(
                f"anomd: {path} is out of date; run: anomd docs {args.page} --output {path}",
                file=sys.stderr,
            )
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0
