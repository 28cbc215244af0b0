"""``anomd config show``: the effective configuration, as the server would see it."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from anomd.commands.common import add_command, add_config_option, add_data_dir_option, settings_from
from anomd.settings import Settings

MASK = "********"
#: ``storage_options`` keys whose values are credentials.
_SECRET_OPTION = re.compile(r"secret|password|passwd|token|credential|session", re.IGNORECASE)


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


def masked(settings: Settings) -> dict[str, Any]:
    """The settings as plain values with secrets replaced by ``********``."""
    values = msgspec.to_builtins(settings)
    if values["secret_key"]:
        values["secret_key"] = MASK
    for keys in ("admin_keys", "read_keys"):
        values[keys] = [MASK] * len(values[keys])
    for options in ("storage_options", "job_storage_options"):
        values[options] = {
            k: (MASK if _SECRET_OPTION.search(k) and v else v)
            for k, v in values[options].items()
        }
    values["storage"] = _mask_uri_password(values["storage"])
    return values


def _mask_uri_password(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{MASK}@{host}"))


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
