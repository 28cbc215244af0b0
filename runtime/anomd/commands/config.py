"""``anomd config show``: the effective configuration, as the server would see it."""

from __future__ import annotations

import argparse
import json

from anomd.commands.common import add_command, add_config_option, add_data_dir_option, settings_from
from anomd.redaction import MASK, masked

__all__ = ["MASK", "masked", "register", "run_show"]

def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub,
        "config",
        help="show the effective configuration",
        description="Inspect the configuration (see docs/configuration.md).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = add_command(
        actions,
        "show",
        help="print the effective configuration",
        description=(
            "Print the configuration the server would run with: defaults, overridden by the "
            "TOML file (--config or $ANOMD_CONFIG), overridden by ANOMD_* environment variables. "
            "Secrets (secret_key, API keys and credential-like storage options) are masked. The TOML "
            "output is a valid configuration file."
        ),
    )
    show.add_argument(
        "--format", choices=("toml", "json"), default="toml", help="output format (default toml)"
    )
    add_config_option(show)
    add_data_dir_option(show)
    show.set_defaults(run=run_show)


def run_show(args: argparse.Namespace) -> int:
    from anomd.commands import toml_writer

    settings = settings_from(args)
    values = masked(settings)
    if args.format == "json":
        print(json.dumps(values, indent=2))
        return 0
    print("# Effective anomd configuration: defaults < TOML file < ANOMD_* environment < flags.")
    if not settings.storage:
        print(f"# storage is empty: models go to data_dir ({settings.storage_uri()}).")
    if not settings.secret_key:
        print("# secret_key is empty: a key generated in data_dir signs the artifacts.")
    print(toml_writer.dumps(values), end="")
    return 0
