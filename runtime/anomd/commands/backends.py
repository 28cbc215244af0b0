"""``anomd backends``: which detectors this installation can run."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from anomd.commands.common import (
    add_command,
    add_config_option,
    plugin_host,
    print_json,
    settings_from,
)
from anomd.commands.tables import render_table

if TYPE_CHECKING:
    from anomd.backend_catalog import BackendRow


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub,
        "backends",
        help="list the registered detectors and whether they can run",
        description=(
            "List every detector registered by a plugin: its id (the `backend` value clients "
            "send), name, category, speed class, availability and the plugin that provides it. "
            "A backend is unavailable when an optional dependency is missing (the install hint "
            "is shown) or when the configuration's enabled_backends leaves it out."
        ),
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the full records (as GET /v1/ml/anomaly/backends) as JSON",
    )
    add_config_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from anomd.backend_catalog import backend_rows

    settings = settings_from(args)
    rows = backend_rows(plugin_host(settings), settings)
    if args.json:
        print_json(rows)
        return 0
    table = [(r.backend, r.name, r.category, r.speed, _availability(r), r.plugin) for r in rows]
    print(render_table(("ID", "NAME", "CATEGORY", "SPEED", "AVAILABLE", "PLUGIN"), table))
    hints = [f"  {r.backend}: {r.install_hint}" for r in rows if r.missing]
    if hints:
        print("\nTo make unavailable backends available:")
        print("\n".join(hints))
    return 0


def _availability(row: BackendRow) -> str:
    if row.available:
        return "yes"
    if not row.enabled:
        return "no (disabled by configuration)"
    return f"no (missing {', '.join(row.missing)})"  # type: ignore[arg-type]
