"""``anomd plugins``: what loaded, from which distribution, and what failed."""

from __future__ import annotations

import argparse

from anomd.commands.common import (
    add_command,
    add_config_option,
    plugin_host,
    print_json,
    settings_from,
)
from anomd.commands.tables import render_table


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub,
        "plugins",
        help="report the plugins that loaded and those that failed",
        description=(
            "Load every plugin of the `anomd` entry-point group the way the server does and "
            "report each one: status (loaded, failed, blocked), the distribution and version it "
            "comes from, what it registered, and for failures the error. One broken plugin "
            "never stops the others from loading."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 when any plugin failed (for CI; also on with strict_plugins)",
    )
    add_config_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    # Never strict while loading: the point is to report every failure, not stop at the first.
    host = plugin_host(settings, strict=False)
    records = host.report()
    failures = host.failures
    if args.json:
        print_json(
            [
                {
                    "name": r.name,
                    "module": r.module,
                    "distribution": r.distribution,
                    "version": r.version,
                    "status": r.status,
                    "error": r.error,
                    "provides": r.provides,
                }
                for r in records
            ]
        )
    else:
        rows = [
            (
                r.name,
                r.status,
                f"{r.distribution or '-'} {r.version or ''}".strip(),
                ", ".join(r.provides),
            )
            for r in records
        ]
        print(render_table(("PLUGIN", "STATUS", "DISTRIBUTION", "PROVIDES"), rows))
        loaded = sum(r.status == "loaded" for r in records)
        print(
            f"\n{loaded} loaded, {len(failures)} failed, "
            f"{sum(r.status == 'blocked' for r in records)} blocked"
        )
        for record in failures:
            print(f"\nfailed: {record.name} ({record.label})\n  {record.error}")
    strict = args.strict or settings.strict_plugins
    return 1 if strict and failures else 0
