"""Options and helpers several subcommands share: configuration, plugins, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any

from anomd.settings import Settings, load_settings


class UsageError(Exception):
    """The command line asks for something that cannot work (bad file suffix, bad JSON...).

    Printed as ``anomd: <message>`` with exit status 2, like configuration errors.
    """


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose paragraphs to the terminal, but keeps indented lines (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines):
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(
                    textwrap.fill(
                        " ".join(paragraph.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(paragraphs)


def add_command(
    subparsers: argparse._SubParsersAction, name: str, **kwargs: Any
) -> argparse.ArgumentParser:
    """``subparsers.add_parser`` with anomd's help formatting (subparsers do not inherit it)."""
    kwargs.setdefault("formatter_class", HelpFormatter)
    return subparsers.add_parser(name, **kwargs)


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML configuration file (default: $ANOMD_CONFIG); ANOMD_* variables override it",
    )


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="local data folder for models and the signing key (default: .anomd)",
    )


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    """The effective settings: file < environment < command-line flags."""
    return load_settings(
        getattr(args, "config", None), data_dir=getattr(args, "data_dir", None), **overrides
    )


def plugin_host(settings: Settings, *, strict: bool | None = None):  # -> PluginHost
    """Loads the plugins the way the server does (imported lazily: it pulls in numpy)."""
    from anomd.plugins import PluginHost

    return PluginHost(
        strict=settings.strict_plugins if strict is None else strict,
        blocked=settings.blocked_plugins,
    )


def print_json(value: Any) -> None:
    """Pretty JSON on stdout, for scripts (``--json`` flags); Structs as the HTTP API shows them."""
    import msgspec

    json.dump(msgspec.to_builtins(value), sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def parse_json_object(text: str, option: str) -> dict[str, Any]:
    """Parses a JSON object given on the command line, naming the option when it is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option} must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object, got {type(value).__name__}")
    return value
